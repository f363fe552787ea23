"""One WebSocket connection as the hub drives it: its frames in and out, its outbox, its close.

The handshake is flask-sock's (simple-websocket's ``Server``); from then on this module
owns the connection's frame loop on wsproto's public API (``receive_data``,
``events()``, ``send``), so every frame a client sends is counted against its budget
(:class:`FrameBudget`) and the loop yields after each chunk read. What it needs of
simple-websocket's ``Server`` and of gevent's socket beyond their public API goes through
:mod:`adapters.websocket_stack`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from adapters.websocket_stack import close_code, frame_connection, is_open, mark_closed, os_socket, socket_of
from broadcast.frames import CloseCode, FrameBudget, PolicyViolation, ping_frame, text_frame
from broadcast.handshake import CONNECTION_THREAD
from broadcast.outbox import Outbox, Outgoing
from broadcast.reader import FrameReader

log = logging.getLogger(__name__)

# Bytes of kernel send buffer per client (the kernel doubles it), about 900 states. Left
# to autotuning it grows to megabytes for a client that stopped reading, which then
# takes minutes to fill before SEND_TIMEOUT can start to count.
SEND_BUFFER = 32 * 1024
RECEIVE_BYTES = 4096  # one read of a client's socket: the work between two yields to the loop
# Bytes one client may have waiting in its outbox (states are replaced and schedule news
# coalesced, so a client that reads at all stays far below it); past it, it is dropped.
OUTBOX_BUDGET = 64 * 1024
DRAIN_AFTER_CLOSE = 1.0  # seconds a violator's socket is read (not parsed) after its close frame...
DRAIN_BYTES = 64 * 1024  # ...and at most this much of it


class ClientGone(Exception):
    """The client's side of the connection ended (``code``: its close code, if any)."""

    def __init__(self, code: int | None):
        super().__init__(code)
        self.code = code


def connection_threads() -> int:
    """Threads that belong to connections (writers; greenlets under gevent)."""
    return sum(1 for t in threading.enumerate() if t.name.startswith(CONNECTION_THREAD))


class Client:
    """One WebSocket client: its frame loop, its outbox, and the writer thread that drains it.

    Nothing that happens to this client's socket can hold up anyone else. A frame is
    written at once by whoever produced it (usually the broadcast) only when nothing
    is waiting and the socket takes it without waiting; otherwise it waits in the
    :class:`outbox.Outbox` (whose rules keep it short), and this client's writer sends
    it, blocking on this client alone. A client past ``outbox_budget`` bytes waiting is
    cut off, whatever it sends.

    It ends in one of three ways: :meth:`close` (a close handshake), :meth:`disconnect`
    (cut off by the server) and, whichever came first, :meth:`finish` once the
    connection is over.
    """

    # Thousands of clients: no __dict__ each.
    __slots__ = tuple(
        "ws sock conn peer _max_replies _lock _cond _outbox _close _finished _writing _sending_since _os_socket "
        "_writer _messages _reader _ping_payload _pong_seen _pings_sent next_ping dropped wants_news wants_scenes "
        "watches_lights names_lights".split()
    )

    def __init__(
        self,
        ws,
        peer: str,
        *,
        max_pending_replies: int = 64,
        outbox_budget: int = OUTBOX_BUDGET,
        budget: FrameBudget | None = None,
    ):
        self.ws = ws  # simple-websocket's Server, after its handshake
        self.sock = socket_of(ws)
        self.conn = frame_connection(ws)  # wsproto's frame connection alone
        self.peer = peer
        self._max_replies = max_pending_replies
        self._lock = threading.Lock()  # taken bare on the broadcast's path: one call less per client
        self._cond = threading.Condition(self._lock)
        self._outbox = Outbox(outbox_budget)  # what waits to be sent, guarded by _lock
        self._close: tuple[int, str] | None = None
        self._finished = False
        self._writing = False  # the writer is sending, outside the lock
        self._sending_since: float | None = None
        self._os_socket = os_socket(self.sock)  # a send on it returns at once: it never waits
        try:  # bound what the kernel holds for a client that stopped reading
            self._os_socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
            # Every frame is a whole message, sent at once: without this, Nagle's algorithm
            # holds a state back until the client's delayed ACK of the last one (40 ms).
            self._os_socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self._writer: threading.Thread | None = None  # started the first time a frame must wait
        self._reader = FrameReader(
            self.conn, budget or FrameBudget(max_message_size=getattr(ws, "max_message_size", None))
        )
        self._messages: list = []  # whole messages read and not yet handled (one chunk's worth)
        self._ping_payload = b""  # the payload of the server's last ping
        self._pong_seen = True  # whether a pong answered it
        self._pings_sent = 0
        self.next_ping = float("inf")  # when the keep-alive pings it next (set when it joins)
        self.dropped: str | None = None  # why the server cut this client off, if it did
        self.wants_news = False  # whether it asked for news (the schedules'): see Hub.broadcast_news
        self.wants_scenes = False  # whether it asked for the scenes' news
        self.watches_lights = False  # whether it asked for every light's states: see Hub.broadcast_state
        self.names_lights = False  # whether it named a light: its states then say whose they are

    # ------------------------------------------------------------------ reading

    def receive(self):
        """The client's next whole message (text or bytes); raises ClientGone.

        Reads at most RECEIVE_BYTES at a time and yields to the loop before each read
        and each message, so a client that keeps its socket full (whole messages,
        fragments that complete none, control frames) gets its turn and no more. Pings
        are answered here; the client's close frame is answered and ends the loop.
        """
        # Let the others run first: a client that keeps its socket full would otherwise
        # never make this greenlet wait, and starve every other connection and the
        # shutdown (under gevent, sleep(0) yields to the hub; with OS threads, the GIL).
        from wsproto.utilities import LocalProtocolError

        time.sleep(0)
        while not self._messages:
            if not is_open(self.ws):
                raise ClientGone(close_code(self.ws))
            try:
                data = self.sock.recv(RECEIVE_BYTES)
            except OSError:
                data = b""
            if not data:
                mark_closed(self.ws)
                raise ClientGone(None)
            try:
                self._take(data)
            except PolicyViolation as violation:
                self._violated(violation)
                raise ClientGone(violation.code) from None
            except LocalProtocolError:  # data after the close handshake
                mark_closed(self.ws)
                raise ClientGone(close_code(self.ws)) from None
            if self._messages:
                break
            time.sleep(0)  # a chunk that completed no message: the others' turn
        return self._messages.pop(0)

    def _take(self, data: bytes) -> None:
        """Feed one chunk to the reader and act on what it held (raises PolicyViolation)."""
        taken = self._reader.take(data)
        self._messages.extend(taken.messages)
        for frame in taken.answers:
            self._send_control(frame)
        # Only the answer to the server's own ping proves the client is there: an unsolicited
        # pong (RFC 6455 allows them) is read and counts for nothing.
        if self._ping_payload in taken.pongs:
            self._pong_seen = True
        if taken.closed is not None:
            mark_closed(self.ws, taken.closed)

    def _violated(self, violation: PolicyViolation) -> None:
        """Close a client that broke its budget: the close frame, then its socket.

        The socket is read (not parsed) for up to DRAIN_AFTER_CLOSE s first, so the close
        frame is not destroyed by the reset that closing a socket with unread data sends.
        """
        from wsproto.events import CloseConnection
        from wsproto.utilities import LocalProtocolError

        self.dropped = f"closed with {int(violation.code)}: {violation.reason}"
        with self._cond:
            self._outbox.clear()
            self._close = (violation.code, violation.reason)  # nothing else may go out now
            self._cond.notify_all()
        try:
            frame = self.conn.send(CloseConnection(code=int(violation.code), reason=violation.reason))
            self._os_socket.send(frame, socket.MSG_DONTWAIT)
            self.sock.shutdown(socket.SHUT_WR)
        except (OSError, LocalProtocolError):
            pass
        mark_closed(self.ws)
        deadline, drained = time.monotonic() + DRAIN_AFTER_CLOSE, 0
        try:
            while (left := deadline - time.monotonic()) > 0 and drained < DRAIN_BYTES:
                self.sock.settimeout(left)
                chunk = self.sock.recv(RECEIVE_BYTES)
                if not chunk:
                    break
                drained += len(chunk)
                time.sleep(0)  # a recv that finds data does not yield: the others' turn
        except OSError:
            pass

    # ------------------------------------------------------------------ writing

    def send_state(self, frame: bytes, key: object = None) -> None:
        """Send a state frame (see :func:`text_frame`) of the light ``key``, or replace that
        light's state still waiting at the outbox's end (after any reply, so order holds)."""
        with self._lock:
            if self._finished or self._close:  # closing: only what was queued before goes out
                return
            if not (self._outbox.entries and self._outbox.replace_state(frame, key)):
                self._send_or_queue(Outgoing.STATE, frame, key)

    def send_reply(self, text: str) -> None:
        """Send a reply to this client's own request (kept in order, capped by the handler)."""
        with self._cond:
            if self._finished or self._close:
                return
            self._send_or_queue(Outgoing.REPLY, text_frame(text))

    def send_news(self, key: object, text: str) -> None:
        """Send news that no state replaces (a schedule's): of the news still waiting
        under ``key``, only the newest is kept, in the place of the first."""
        frame = text_frame(text)
        with self._cond:
            if self._finished or self._close:
                return
            if not self._outbox.replace_news(frame, key):
                self._send_or_queue(Outgoing.NEWS, frame, key)

    def send_ping(self) -> None:
        """Send a keep-alive ping; :meth:`answered_ping` tells whether its pong came."""
        with self._cond:
            if self._finished or self._close:
                return
            self._pings_sent += 1
            self._ping_payload = self._pings_sent.to_bytes(4, "big") + os.urandom(4)
            self._pong_seen = False
            self._send_or_queue(Outgoing.CONTROL, ping_frame(self._ping_payload))

    def answered_ping(self) -> bool:
        return self._pong_seen

    def _send_control(self, frame: bytes) -> None:
        with self._cond:
            if not self._finished and not self._close:
                self._send_or_queue(Outgoing.CONTROL, frame)

    def _send_or_queue(self, kind: Outgoing, frame: bytes, key: object = None) -> None:
        """Write ``frame`` now if the socket takes it without waiting; queue what is left.

        Called with the lock held. The send never blocks, so a full socket costs the
        caller one system call, and the frame's unsent tail goes first in the queue.
        """
        if self.dropped:  # cut off: its handler is ending, nothing more is kept for it
            return
        if not self._outbox.entries and not self._writing and is_open(self.ws):
            try:
                sent = self._os_socket.send(frame, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                return  # the connection is gone; its handler cleans up
            if sent == len(frame):
                return
            if sent:
                kind, frame = Outgoing.REST, frame[sent:]
        if not self._outbox.append(kind, frame, key):
            self.disconnect(f"over its outbox budget ({self._outbox.budget // 1024} KiB waiting to be read)")
            return
        self._wake_writer()

    def queued_bytes(self) -> int:
        return self._outbox.queued

    def _wake_writer(self) -> None:
        """Start the writer if this client never needed one, else wake it (lock held).

        Most clients read as fast as states arrive and never need a writer, which
        saves each of them a thread (under gevent, a greenlet and its stack).
        """
        if self._writer is None:
            self._writer = threading.Thread(
                target=self._write_loop, name=f"{CONNECTION_THREAD} writer {self.peer}", daemon=True
            )
            self._writer.start()
        else:
            self._cond.notify_all()

    def wait_for_room(self, timeout: float) -> bool:
        """Wait until another reply may be queued; False if the client stays backed up."""
        with self._cond:
            return self._cond.wait_for(lambda: self._outbox.replies < self._max_replies or self._finished, timeout)

    def wait_until_sent(self, timeout: float) -> bool:
        """Wait until everything queued has gone to the socket; False if it stays backed up."""
        with self._cond:
            return self._cond.wait_for(
                lambda: (not self._outbox.entries and not self._writing) or self._finished or self._close is not None,
                timeout,
            )

    def close(self, code: CloseCode, reason: str) -> None:
        """Send what is queued, then a close frame with ``code``; the client answers it."""
        with self._cond:
            if self._close is None:
                self._close = (code, reason)
                self._wake_writer()

    def disconnect(self, why: str | None = None) -> None:
        """Cut the TCP connection at once (its handler logs ``why``); unblocks a stuck send."""
        if why is not None:
            self.dropped = why
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def finish(self) -> None:
        """The connection is over: end the writer, sending nothing more, and close the socket.

        The close reply, if one was due, went out in :meth:`receive`.
        """
        with self._cond:
            self._finished = True
            self._outbox.clear()
            self._cond.notify_all()
        mark_closed(self.ws)
        try:
            self.sock.close()
        except OSError:
            pass

    def stalled_for(self) -> float:
        """Seconds the current send has been blocked (0 when not sending)."""
        since = self._sending_since
        return time.monotonic() - since if since is not None else 0.0

    def _start_closing(self, code: int, reason: str) -> None:
        """Send a close frame; the frame loop (:meth:`receive`) goes on reading until the
        client's close answers it, and only then is the socket closed.

        Closing a socket with the client's data still unread makes the kernel send a TCP
        reset, which can destroy the close frame before the client reads it.
        """
        from wsproto.events import CloseConnection

        self.sock.sendall(self.conn.send(CloseConnection(code=int(code), reason=reason)))

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._outbox.entries or self._close or self._finished)
                if self._finished:
                    return
                if self._outbox.entries:
                    kind, frame = self._outbox.pop()
                    if kind is Outgoing.REPLY:
                        self._cond.notify_all()  # room for another reply: wait_for_room
                    close = None
                else:
                    frame, close = None, self._close
                self._writing = True
            self._sending_since = time.monotonic()
            try:
                if close is not None:
                    if is_open(self.ws):  # not after a violation's close, already sent
                        self._start_closing(*close)
                    return
                if not is_open(self.ws):
                    return  # the client closed: nothing may follow its close frame
                self.sock.sendall(frame)
            except Exception:  # noqa: BLE001 - OSError, or wsproto's LocalProtocolError after the client's close
                return  # the handler sees the connection end and cleans up
            finally:
                self._sending_since = None
                with self._cond:
                    self._writing = False
                    if not self._outbox.entries:
                        self._cond.notify_all()  # all sent: wait_until_sent
