"""The WebSocket hub: the set of connected clients, and what goes to all of them.

It delivers frames: a broadcast to all, keep-alive pings, and the close handshake
at shutdown. It knows no Flask and no light; the HTTP edge hands it each connection
(a :class:`connection.Client`) and tells it what to send.
"""

from __future__ import annotations

import logging
import threading
import time

from broadcast.connection import Client
from broadcast.frames import CloseCode, text_frame

log = logging.getLogger(__name__)


class Hub:
    """The set of connected clients that every state change is sent to.

    One keep-alive loop serves them all, started with the first: every ``check_every``
    seconds it cuts off clients whose socket has taken nothing for ``send_timeout`` s
    or who left a ping unanswered for ``ping_interval`` s, and pings the others when
    due. One loop instead of a timer per connection keeps thousands of idle clients cheap.
    """

    def __init__(self, *, send_timeout: float, ping_interval: float, max_clients: int, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._members: set[Client] = set()
        self._slots = 0  # connections admitted, including ones still in their handshake
        self._closing = False
        self.max_clients = max_clients
        self.send_timeout = send_timeout
        self.ping_interval = ping_interval
        self.check_every = min(1.0, send_timeout / 4, ping_interval / 4)
        self._keepalive: threading.Thread | None = None
        self._stopped = threading.Event()

    def reserve_slot(self) -> bool:
        """Admit one more connection if fewer than ``max_clients`` are open."""
        with self._lock:
            if self._slots >= self.max_clients:
                return False
            self._slots += 1
            return True

    def release_slot(self) -> None:
        with self._lock:
            self._slots -= 1

    def add(self, client: Client, first_states: list[tuple[object, str]]) -> int:
        """Send a new client its first states, as (light, text) pairs, and count it in
        (closing it if shutdown began)."""
        client.next_ping = self._clock() + self.ping_interval
        with self._lock:
            if self._closing:
                client.close(CloseCode.GOING_AWAY, "server shutting down")
            else:
                for key, text in first_states:
                    client.send_state(text_frame(text), key)
            self._members.add(client)
            if self._keepalive is None:
                self._keepalive = threading.Thread(target=self._keep_alive, name="ledsock-keepalive", daemon=True)
                self._keepalive.start()
            return len(self._members)

    def remove(self, client: Client) -> int:
        with self._lock:
            self._members.discard(client)
            return len(self._members)

    def snapshot(self) -> list[Client]:
        with self._lock:
            return list(self._members)

    def __len__(self) -> int:
        with self._lock:
            return len(self._members)

    def broadcast_state(self, key: object, plain: str | None, named, *, skip: object = None) -> None:
        """Send a light's state to the clients that see that light, but ``skip``; never blocks.

        ``plain`` is the state as protocol v1 has it, given for the default light only: every
        client sees that light, and gets ``plain`` unless it names lights. ``named()`` is the
        state with its light's name, made once and only if a client needs it: for those that
        name lights, and for those that watch every light (the only ones that see the others).
        """
        plain_frame = text_frame(plain) if plain is not None else None
        named_frame = None
        for client in self.snapshot():
            if client is skip:
                continue
            if _gets_named(client, plain is not None):
                if named_frame is None:
                    named_frame = text_frame(named())
                client.send_state(named_frame, key)
            elif plain_frame is not None:
                client.send_state(plain_frame, key)

    def broadcast_news(
        self, key: object, text: str | None, named=None, *, skip: object = None, scenes: bool = False
    ) -> None:
        """Send news that no state replaces (a schedule's; a scene's with ``scenes``) to the
        clients that asked for it; one that has not read the news of ``key`` yet gets only the
        newest. ``text`` and ``named()`` are as a state's in :meth:`broadcast_state` (without
        ``named``, every client gets ``text``)."""
        named_text = None
        for client in self.snapshot():
            if not (client.wants_scenes if scenes else client.wants_news) or client is skip:
                continue
            if named is not None and _gets_named(client, text is not None):
                if named_text is None:
                    named_text = named()
                client.send_news(key, named_text)
            elif text is not None:
                client.send_news(key, text)

    def _keep_alive(self) -> None:
        while not self._stopped.wait(self.check_every):
            self.check()

    def check(self) -> None:
        """Cut off clients that stopped reading or answering pings; ping the others when due."""
        now = self._clock()
        for client in self.snapshot():
            if client.dropped:
                continue
            if client.stalled_for() > self.send_timeout:
                client.disconnect(f"not reading for over {self.send_timeout:g} s")
            elif now >= client.next_ping:
                if not client.answered_ping():  # only a pong with the ping's payload answers it
                    client.disconnect(f"no answer to a ping within {self.ping_interval:g} s")
                else:
                    client.next_ping = now + self.ping_interval
                    client.send_ping()

    def close_all(self) -> bool:
        """Close every client with 1001 (shutdown); clients that join later are closed too.

        Returns False when a shutdown had already begun (nothing more is done then).
        """
        with self._lock:
            if self._closing:
                return False
            self._closing = True
        members = self.snapshot()
        log.info("shutting down: closing %d WebSocket(s) with %d", len(members), CloseCode.GOING_AWAY)
        for client in members:
            client.close(CloseCode.GOING_AWAY, "server shutting down")
        return True

    def wait_closed(self, grace: float) -> None:
        """Wait up to ``grace`` s for the closed clients to leave, then cut off the rest."""
        deadline = time.monotonic() + grace
        while len(self) and time.monotonic() < deadline:
            time.sleep(0.02)  # each connection leaves once its client has answered the close
        for client in self.snapshot():
            client.disconnect()  # no answer within the grace period

    def stop(self) -> None:
        """End the keep-alive loop (the service is closing)."""
        self._stopped.set()


def _gets_named(client: Client, has_plain: bool) -> bool:
    """Whether ``client`` gets a message with its light's name rather than as protocol v1 has it
    (``has_plain``: there is a v1 version, which only the default light's messages have): a
    client that watches every light does, and one that has named a light."""
    return client.watches_lights or (client.names_lights and has_plain)
