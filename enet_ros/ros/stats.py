"""Counters, rates and latencies of the node, and the diagnostics they add up to.

Pure Python (no rclpy): the node records events here from two threads (the subscription
callback and the worker) and a timer turns a snapshot into a diagnostics status. Keeping the
arithmetic here lets tests check it directly, without a running node.
"""
import math
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

# diagnostic_msgs/DiagnosticStatus levels, repeated here so this module needs no ROS messages.
OK, WARN, ERROR = 0, 1, 2


class RateMeter:
    """Events per second over a sliding time window.

    A window (rather than a count since start) makes the figure follow the camera when it
    changes pace, and fall to zero when frames stop arriving.
    """

    def __init__(self, window_s: float = 5.0, clock: "Callable[[], float]" = time.monotonic):
        if window_s <= 0:
            raise ValueError(f"window_s must be positive, got {window_s}")
        self._window = window_s
        self._clock = clock
        self._times: "deque[float]" = deque()
        self._lock = threading.Lock()

    def tick(self) -> None:
        """Record one event now."""
        now = self._clock()
        with self._lock:
            self._times.append(now)
            self._expire(now)

    def rate(self) -> float:
        """Events per second: (n - 1) intervals over the span of the n events in the window.

        Measuring between the first and last event in the window, not over the whole window,
        gives the right figure from the second event on instead of ramping up for window_s.
        Zero once the newest event is older than the window.
        """
        now = self._clock()
        with self._lock:
            self._expire(now)
            if len(self._times) < 2:
                return 0.0
            span = self._times[-1] - self._times[0]
            return (len(self._times) - 1) / span if span > 0 else 0.0

    def _expire(self, now: float) -> None:
        while self._times and now - self._times[0] > self._window:
            self._times.popleft()


class SequenceGaps:
    """Counts frames a publisher sent that never reached our callback.

    With a depth-1 subscription the middleware itself replaces a frame the executor has not
    taken yet; the node never sees those, but their publication sequence numbers (rmw message
    info) leave a gap. Sequence numbers are per publisher and the message info does not say
    which publisher sent a frame, so a step backwards (a second or restarted publisher) starts
    over rather than counting; one camera driver per topic is the case this measures.
    """

    MAX_GAP = 10_000  # a larger jump is a different publisher, not lost frames

    def __init__(self) -> None:
        self._last: "int | None" = None

    def see(self, sequence: "int | None") -> int:
        """Record a frame's publication sequence number; how many frames went missing before it.

        0 when the middleware gives no sequence numbers (None or 0).
        """
        if not sequence:
            return 0
        last, self._last = self._last, sequence
        if last is not None and last < sequence <= last + self.MAX_GAP:
            return sequence - last - 1
        return 0


class LatencyWindow:
    """The last ``size`` latencies (seconds), summarised as median and maximum."""

    def __init__(self, size: int = 100):
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self._values: "deque[float]" = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        if math.isfinite(seconds):
            with self._lock:
                self._values.append(seconds)

    def median(self) -> "float | None":
        with self._lock:
            return statistics.median(self._values) if self._values else None

    def maximum(self) -> "float | None":
        with self._lock:
            return max(self._values) if self._values else None


@dataclass
class NodeStats:
    """Everything the node counts; ``summary`` turns it into one diagnostics status.

    Counters are plain ints bumped under one lock: the callback and the worker both write.
    """

    received: int = 0        # frames that arrived on the input topic
    lost: int = 0            # frames the middleware dropped before our callback saw them
    rejected: int = 0        # frames that could not be decoded (bad encoding, size, step)
    failed: int = 0          # frames whose segmentation raised unexpectedly
    idle: int = 0            # frames skipped because nobody listened to any output
    inferred: int = 0        # frames run through the network
    published: int = 0       # frames whose outputs were published
    counts_lost: bool = True  # False where rclpy gives no message info (Humble): lost unknown
    input_rate: RateMeter = field(default_factory=RateMeter)
    output_rate: RateMeter = field(default_factory=RateMeter)
    latency: LatencyWindow = field(default_factory=LatencyWindow)
    inference: LatencyWindow = field(default_factory=LatencyWindow)
    processing: LatencyWindow = field(default_factory=LatencyWindow)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _reported: "dict[str, int]" = field(default_factory=dict, repr=False)

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to the counter ``name`` (one of the int fields)."""
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def summary(self, dropped: int, engine: str, providers: "list[str] | tuple[str, ...]",
                extra: "dict[str, str] | None" = None) -> "tuple[int, str, list[tuple[str, str]]]":
        """(level, message, key/value pairs) of a diagnostics status for this moment.

        ERROR when segmentation failed, WARN when frames were rejected, both since the previous
        summary (so one bad frame does not mark the node for ever; the totals stay in the
        values), WARN too while no frame has arrived, OK otherwise. ``dropped`` comes from the
        frame slot, which counts it.
        """
        with self._lock:
            counts = {"frames received": self.received, "frames dropped": dropped,
                      "frames lost before delivery":
                          self.lost if self.counts_lost else "n/a (no message info in this rclpy)",
                      "frames rejected": self.rejected, "frames failed": self.failed,
                      "frames skipped (no subscribers)": self.idle,
                      "frames inferred": self.inferred, "frames published": self.published}
        latency, latency_max = self.latency.median(), self.latency.maximum()
        inference, processing = self.inference.median(), self.processing.median()
        values = [(key, str(value)) for key, value in counts.items()]
        values += [
            ("input rate (Hz)", f"{self.input_rate.rate():.2f}"),
            ("output rate (Hz)", f"{self.output_rate.rate():.2f}"),
            ("latency median (ms)", _ms(latency)),
            ("latency max (ms)", _ms(latency_max)),
            ("inference median (ms)", _ms(inference)),
            ("processing median (ms)", _ms(processing)),
            ("engine", engine),
            ("providers", ", ".join(providers)),
        ]
        values += list((extra or {}).items())
        new_failed = counts["frames failed"] - self._reported.get("failed", 0)
        new_rejected = counts["frames rejected"] - self._reported.get("rejected", 0)
        self._reported = {"failed": counts["frames failed"],
                          "rejected": counts["frames rejected"]}
        if new_failed:
            level, message = ERROR, f"{new_failed} frames failed in segmentation"
        elif new_rejected:
            level, message = WARN, f"{new_rejected} malformed frames rejected"
        elif counts["frames received"] == 0:
            level, message = WARN, "no frames received yet"
        else:
            level, message = OK, "segmenting"
        return level, message, values


def _ms(seconds: "float | None") -> str:
    return "n/a" if seconds is None else f"{seconds * 1e3:.1f}"
