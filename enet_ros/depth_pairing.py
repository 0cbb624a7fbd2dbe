"""Pairing depth images with camera frames by header stamp, across two threads.

The subscription callback puts each depth image here; the worker, having segmented a camera
frame, takes the depth image whose stamp is the frame's (exactly, or the nearest within a
slop). A registered depth image is often published a little after its colour frame (the
driver aligns it first), so the worker may wait for it, but only while one can still come:
until a depth image stamped at or after the frame arrives (later ones are farther away), a
timeout passes, or the depth stream has gone quiet (then no frame waits at all).
"""
import threading
import time
from collections import deque
from typing import Any, Callable, Deque, Optional, Tuple

# A depth stream that sent nothing for this long is quiet: frames stop waiting for it.
QUIET_S = 1.0


class DepthPairer:
    """The newest ``capacity`` depth images by stamp (nanoseconds), for the worker to match.

    Capacity bounds memory (a 1280x720 16UC1 image is 1.8 MB) and covers the time a frame
    spends in the node: a few frames at camera rates.
    """

    def __init__(self, capacity: int = 8, clock: "Callable[[], float]" = time.monotonic) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self._items: "Deque[Tuple[int, Any]]" = deque(maxlen=capacity)
        self._clock = clock
        self._last_put: "Optional[float]" = None
        self._changed = threading.Condition()

    def put(self, stamp_ns: int, depth: Any) -> None:
        """Keep a depth image (any object) stamped ``stamp_ns``; the oldest goes when full."""
        with self._changed:
            self._items.append((stamp_ns, depth))
            self._last_put = self._clock()
            self._changed.notify_all()

    def take(self, stamp_ns: int, slop_ns: int, timeout_s: float) -> "Optional[Any]":
        """The depth image nearest to ``stamp_ns`` within ``slop_ns``, or None.

        Waits up to ``timeout_s`` while a nearer one may still arrive: none stamped at or
        after ``stamp_ns`` yet, and the stream not quiet.
        """
        deadline = self._clock() + timeout_s
        with self._changed:
            while True:
                best = self._nearest(stamp_ns, slop_ns)
                if best is not None and best[0] == stamp_ns:
                    return best[1]
                newest = max((s for s, _ in self._items), default=None)
                now = self._clock()
                quiet = self._last_put is None or now - self._last_put > QUIET_S
                if (newest is not None and newest >= stamp_ns) or quiet or now >= deadline:
                    return None if best is None else best[1]
                self._changed.wait(deadline - now)

    def _nearest(self, stamp_ns: int, slop_ns: int) -> "Optional[Tuple[int, Any]]":
        near = [(abs(s - stamp_ns), s, d) for s, d in self._items if abs(s - stamp_ns) <= slop_ns]
        if not near:
            return None
        _, stamp, depth = min(near, key=lambda n: n[0])
        return stamp, depth
