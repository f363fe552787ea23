"""Deadlines for HTTP connections that are not being served, and who makes room when the
server is full: how long a request may take to arrive, and which connection gives way.

A connection waits while the server reads its request line, headers or body, or while it
is kept alive between two requests. Waiting costs the server a greenlet and a socket and
gives it nothing, so each phase has a deadline (:class:`Deadlines`), and when the server
is crowded (too few connections left to accept, or over a thousand waiting and the first
for over a second), each new one closes the connection that has waited longest
(:class:`WaitingRoom`). So a burst of clients that
are slow to send their requests (a thousand reconnecting at once) is never cut off while
there is room, and idle connections never keep a real request waiting. A request that has
arrived is never closed for this; a WebSocket, once open, is the hub's to count (MAX_CLIENTS).
Transport-free: the server (serve.py) calls it, and a test drives it with a fake clock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

log = logging.getLogger(__name__)


class Deadlines(NamedTuple):
    """Seconds each phase of an HTTP request may take, from its first wait."""

    headers: float = 10.0  # a new connection's request line and headers
    keep_alive: float = 5.0  # an idle kept-alive connection, until its next request's headers are in
    body: float = 10.0  # a request's whole body


DEADLINES = Deadlines()
WAITING_SOFT_LIMIT = 1000  # past this many waiting...
PATIENCE = 1.0  # ...one that has waited this many seconds gives way (a real client sends at once)


def crowded(waiting: int, longest_wait: float, *, free: int, headroom: int) -> bool:
    """Whether a new connection should close the longest waiting one: when fewer than
    ``headroom`` connections can still be accepted, or when over WAITING_SOFT_LIMIT wait and
    the first of them has for PATIENCE s (a burst of real clients sends its requests sooner)."""
    return free < headroom or (waiting > WAITING_SOFT_LIMIT and longest_wait >= PATIENCE)


LOG_EVERY = 10.0  # seconds between two lines about closed waiting connections


class WaitingRoom:
    """The connections waiting for a request; while ``crowded(waiting, longest_wait)`` (how
    many wait, and for how many seconds the first of them has), the longest waiting is
    closed as each one arrives.

    ``close`` is called with the connection to close (outside the lock): the server shuts
    its socket, so that connection's read ends at once.
    """

    def __init__(
        self,
        *,
        crowded: Callable[[int, float], bool],
        close: Callable[[Any], None],
        clock: Callable[[], float] = time.monotonic,
    ):
        self.crowded = crowded
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
            oldest = next(iter(self._waiting))
            if oldest is not connection and self.crowded(len(self._waiting), self._clock() - self._waiting[oldest][0]):
                evicted = oldest
                since, evicted_peer = self._waiting.pop(evicted)
                self.closed += 1
                self._unlogged += 1
                now = self._clock()
                if now - self._logged_at >= LOG_EVERY:
                    log.warning(
                        "HTTP: the server is full, %d connections waiting for a request; closed the "
                        "longest waiting (%d since the last line), the last from %s after %.1f s "
                        "(docs/security.md: limiting connections per host)",
                        len(self._waiting) + 1,
                        self._unlogged,
                        evicted_peer,
                        now - since,
                    )
                    self._logged_at, self._unlogged = now, 0
        if evicted is not None:
            self._close(evicted)

    def waited_over(self, seconds: float) -> list[object]:
        """The connections that have waited over ``seconds`` (oldest first)."""
        limit = self._clock() - seconds
        with self._lock:
            return [connection for connection, (since, _peer) in self._waiting.items() if since < limit]

    def served(self, connection: object) -> None:
        """``connection``'s request has arrived (or it is gone): it waits no more."""
        with self._lock:
            self._waiting.pop(connection, None)
