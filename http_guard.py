"""Deadlines and a cap for HTTP connections that are not being served: how long a request may
take to arrive, and how many connections may wait for one at once.

A connection waits while the server reads its request line, headers or body, or while it
is kept alive between two requests. Waiting costs the server a greenlet and a socket and
gives it nothing, so each phase has a deadline (:class:`Deadlines`), and at most
``limit`` connections wait at once: one more and the connection that has waited longest
is closed (:class:`WaitingRoom`). A request that has arrived is never closed for this; a
WebSocket, once open, is the hub's to count (MAX_CLIENTS).
Transport-free: the server (serve.py) calls it, and a test drives it with a fake clock.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable, NamedTuple

log = logging.getLogger(__name__)


class Deadlines(NamedTuple):
    """Seconds each phase of an HTTP request may take, from its first wait."""

    headers: float = 10.0  # a new connection's request line and headers
    keep_alive: float = 5.0  # an idle kept-alive connection, until its next request's headers are in
    body: float = 10.0  # a request's whole body


DEADLINES = Deadlines()
WAITING_LIMIT = 50  # connections waiting for a request at once (the HTTP headroom above MAX_CLIENTS)
LOG_EVERY = 10.0  # seconds between two lines about closed waiting connections


class WaitingRoom:
    """The connections waiting for a request; past ``limit``, the longest waiting is closed.

    ``close`` is called with the connection to close (outside the lock): the server shuts
    its socket, so that connection's read ends at once.
    """

    def __init__(self, *, limit: int = WAITING_LIMIT, close: Callable[[object], None],
                 clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self._close = close
        self._clock = clock
        self._lock = threading.Lock()
        self._waiting: dict[object, tuple[float, str]] = {}  # connection -> (since, peer); oldest first
        self.closed = 0  # connections closed for waiting too long, since start
        self._unlogged = 0
        self._logged_at = float("-inf")

    def __len__(self) -> int:
        with self._lock:
            return len(self._waiting)

    def wait(self, connection: object, peer: str) -> None:
        """``connection`` waits for a request (again); may close the longest waiting one."""
        evicted = None
        with self._lock:
            self._waiting.pop(connection, None)
            self._waiting[connection] = (self._clock(), peer)
            if len(self._waiting) > self.limit:
                evicted = next(iter(self._waiting))
                since, evicted_peer = self._waiting.pop(evicted)
                self.closed += 1
                self._unlogged += 1
                now = self._clock()
                if now - self._logged_at >= LOG_EVERY:
                    log.warning("HTTP: over %d connections waiting for a request; closed %d, the last from %s "
                                "after %.1f s (docs/security.md: limiting connections per host)",
                                self.limit, self._unlogged, evicted_peer, now - since)
                    self._logged_at, self._unlogged = now, 0
        if evicted is not None:
            self._close(evicted)

    def served(self, connection: object) -> None:
        """``connection``'s request has arrived (or it is gone): it waits no more."""
        with self._lock:
            self._waiting.pop(connection, None)
