"""Pairing depth images with camera frames by header stamp: live across two threads
(``DepthPairer``, the node), or in a recording whose stamps are all known beforehand
(``RecordedPairing``, ``enet-ros bag``). Either way a frame takes the depth image whose stamp
is its own, or the nearest within a slop.

The node's subscription callback puts each depth image here; the worker, having segmented a
camera frame, takes its depth image. A registered depth image is often published a little
after its colour frame (the driver aligns it first), so the worker may wait for it, but only
while one can still come: until a depth image stamped at or after the frame arrives (later
ones are farther away), a timeout passes, or the depth stream has gone quiet (then no frame
waits at all).
"""
import bisect
import threading
import time
from collections import Counter, deque
from typing import Any, Callable, Deque, Dict, Iterable, List, Optional, Sequence, Tuple

# A depth stream that sent nothing for this long is quiet: frames stop waiting for it.
QUIET_S = 1.0


def stamp_ns(header: Any) -> int:
    """A std_msgs/Header's stamp in nanoseconds (rclpy's or rosbags' message): the pairing key."""
    return header.stamp.sec * 1000000000 + header.stamp.nanosec


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


def nearest(stamps: "Sequence[int]", stamp_ns: int, slop_ns: "Optional[int]" = None
            ) -> "Optional[int]":
    """The position in ``stamps`` (ascending) of the stamp nearest to ``stamp_ns``, the earlier
    of two as near; None when there is none, or none within ``slop_ns`` (None: any distance)."""
    after = bisect.bisect_left(stamps, stamp_ns)
    best = None
    for index in (after - 1, after):
        if 0 <= index < len(stamps) and (
                best is None or abs(stamps[index] - stamp_ns) < abs(stamps[best] - stamp_ns)):
            best = index
    if best is None or (slop_ns is not None and abs(stamps[best] - stamp_ns) > slop_ns):
        return None
    return best


class RecordedPairing:
    """The pairing of a recording's frames and depth images, told every stamp up front, then
    fed the messages in recording order, where a depth image may come before or after its
    frame. It holds only what is pending: a depth image until the last frame taking it has
    come, a frame until its depth image has. Frames and depth images are any objects.

    Several frames may take one depth image (the nearest to each); of depth images sharing a
    stamp the first fed is taken.
    """

    def __init__(self, depth_stamps: "Iterable[int]", frame_stamps: "Iterable[int]",
                 slop_ns: int) -> None:
        self._stamps = sorted(set(depth_stamps))
        self._slop_ns = slop_ns
        # depth stamp -> frames still to take it; a depth image no frame takes is not kept
        self._uses = Counter(self.depth_for(s) for s in frame_stamps)
        self._uses.pop(None, None)
        self._depths: "Dict[int, Any]" = {}
        self._waiting: "Dict[int, List[Any]]" = {}

    def depth_for(self, frame_stamp: int) -> "Optional[int]":
        """The stamp of the depth image that the frame stamped ``frame_stamp`` takes."""
        index = nearest(self._stamps, frame_stamp, self._slop_ns)
        return None if index is None else self._stamps[index]

    def add_depth(self, stamp_ns: int, depth: Any) -> "List[Tuple[Any, Any]]":
        """(frame, depth) for each frame that waited for this depth image."""
        if stamp_ns in self._depths or not self._uses[stamp_ns]:
            return []  # a frame-less stamp, a duplicate, or one whose frames all came
        waiting = self._waiting.pop(stamp_ns, [])
        self._uses[stamp_ns] -= len(waiting)
        if self._uses[stamp_ns] > 0:
            self._depths[stamp_ns] = depth
        return [(frame, depth) for frame in waiting]

    def add_frame(self, stamp_ns: int, frame: Any) -> "List[Tuple[Any, Any]]":
        """[(frame, its depth image or None when none pairs)] when that is known now, or []
        when its depth image is still to come (add_depth gives it then)."""
        stamp = self.depth_for(stamp_ns)
        if stamp in self._depths:
            return [(frame, self._take(stamp))]
        if stamp is not None and self._uses[stamp] > 0:
            self._waiting.setdefault(stamp, []).append(frame)
            return []
        return [(frame, None)]  # none pairs (or a frame the stamps up front did not list)

    def drop_frame(self, stamp_ns: int) -> None:
        """A frame that will take no depth image (it could not be decoded)."""
        stamp = self.depth_for(stamp_ns)
        if stamp is not None and self._uses[stamp] > 0:
            if stamp in self._depths:
                self._take(stamp)
            else:
                self._uses[stamp] -= 1

    def finish(self) -> "List[Tuple[Any, None]]":
        """(frame, None) for each frame still waiting: its depth image never came."""
        left = [(frame, None) for frames in self._waiting.values() for frame in frames]
        self._waiting.clear()
        self._depths.clear()
        return left

    def pending(self) -> "Tuple[int, int]":
        """Depth images and frames held now."""
        return len(self._depths), sum(len(f) for f in self._waiting.values())

    def _take(self, stamp: int) -> Any:
        """The depth image held at ``stamp``, for one frame; let go after its last frame."""
        self._uses[stamp] -= 1
        return self._depths[stamp] if self._uses[stamp] > 0 else self._depths.pop(stamp)
