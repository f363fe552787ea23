"""Events from any thread handed to one reader on the service's loop, safely.

lgpio delivers edges from a real OS thread of its own; pigpio from its callback thread (a
greenlet under gevent); a simulated pin from whoever drives it. Under gevent, a thread other
than the loop's may not touch the loop's objects: the events go into a deque (thread-safe
appends) and gevent's ``async_`` watcher, the one thread-safe way into its loop, wakes the
reader. With OS threads, a ``threading.Event`` does.
"""

from __future__ import annotations

from collections import deque

from serving.serve import gevent_hub


class Inbox:
    """``put(item)`` from any thread, never blocking; ``get(timeout)`` from the one reader:
    every item put since its last call, waiting up to ``timeout`` seconds (None: until one)."""

    def __init__(self):
        self._items: deque = deque()
        self._woken = False
        hub = gevent_hub()
        if hub is not None:
            from gevent.event import Event

            self._ready = Event()
            self._watcher = hub.loop.async_()
            self._watcher.start(self._ready.set)  # runs on the loop, woken from any thread
            self._wake = self._watcher.send
        else:
            import threading

            self._watcher = None
            self._ready = threading.Event()
            self._wake = self._ready.set

    def put(self, item) -> None:
        self._items.append(item)
        if not self._woken:  # one wake until the reader takes what came: not a syscall an edge
            self._woken = True
            self._wake()

    def wake(self) -> None:
        """Wake the reader with nothing to read (it is stopping)."""
        self._woken = True
        self._wake()

    def get(self, timeout: float | None) -> list:
        if not self._items:
            self._ready.wait(timeout)
        self._ready.clear()
        self._woken = False  # from here, a put wakes it again: what it appends is read now or then
        items = []
        while self._items:
            items.append(self._items.popleft())
        return items

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
