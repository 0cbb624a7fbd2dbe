"""A one-place, newest-wins hand-over between the subscription callback and the worker.

A camera publishes at its own pace; inference may be slower. Queueing frames would let the
node fall further and further behind the camera, so the subscription puts each frame in this
slot and the worker takes the newest one when it is ready. A frame replaced before the worker
took it is dropped and counted: that count is what diagnostics report as dropped frames.
"""
import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestSlot(Generic[T]):
    """Holds at most one item; ``put`` replaces an untaken one, ``take`` blocks until one is there.

    Thread-safe; one producer and one consumer are the intended use, more are harmless.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: "T | None" = None
        self._full = False
        self._closed = False
        self._dropped = 0

    def put(self, item: T) -> bool:
        """Offer ``item``; True when it replaced one the consumer never took (a dropped frame).

        After ``close`` the item is ignored (returns False): the node is shutting down.
        """
        with self._cond:
            if self._closed:
                return False
            replaced = self._full
            if replaced:
                self._dropped += 1
            self._item, self._full = item, True
            self._cond.notify()
            return replaced

    def take(self, timeout: "float | None" = None) -> "T | None":
        """The newest item, removing it; None when the timeout passed or the slot was closed."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._full or self._closed, timeout):
                return None
            if not self._full:
                return None
            item, self._item, self._full = self._item, None, False
            return item

    def close(self) -> None:
        """Wake a waiting consumer and refuse further items: the way a worker thread is stopped."""
        with self._cond:
            self._closed = True
            self._item, self._full = None, False
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def dropped(self) -> int:
        """How many items were replaced before anyone took them."""
        with self._cond:
            return self._dropped
