"""One WebSocket connection as the hub drives it: its frames, its outbox, its writer, its close.

Every reach into simple-websocket, wsproto or gevent internals lives in this file
(``ws.sock._sock``, ``ws.ws``, ``ws._handle_events``, ``input_buffer``,
``pong_received``, the handshake's environ, the reader's thread and event classes),
so an upgrade of those packages breaks here.
"""
from __future__ import annotations

import enum
import socket
import struct
import threading
import time

CONNECTION_THREAD = "ledsock-connection"  # name prefix of the threads a connection owns
PING_FRAME = b"\x89\x00"  # an empty WebSocket ping
# Bytes of kernel send buffer per client (the kernel doubles it), about 900 states. Left
# to autotuning it grows to megabytes for a client that stopped reading, which then
# takes minutes to fill before SEND_TIMEOUT can start to count.
SEND_BUFFER = 32 * 1024


class CloseCode(enum.IntEnum):
    """WebSocket close codes (RFC 6455 7.4.1) this service sends or expects."""

    NORMAL = 1000
    GOING_AWAY = 1001
    NO_STATUS = 1005  # what a close frame without a code reads as


class Outgoing(enum.Enum):
    """Kinds of outbox entry. Only a STATE may be replaced by a newer one; only REPLYs
    count towards the pending-reply limit; REST is a frame's unsent tail, PING a keep-alive."""

    STATE = "state"
    REPLY = "reply"
    REST = "rest"
    PING = "ping"


class ClientGone(Exception):
    """The client's side of the connection ended (``code``: its close code, if any)."""

    def __init__(self, code: int | None):
        super().__init__(code)
        self.code = code


def text_frame(text: str) -> bytes:
    """One unmasked, uncompressed WebSocket text frame (RFC 6455 5.2), as a server sends it.

    A broadcast builds its frame once and hands the same bytes to every client. The
    server accepts no extensions (see :func:`decline_extensions`), so these bytes are
    exactly what goes on the wire.
    """
    payload = text.encode()
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 1 << 16:
        return struct.pack("!BBH", 0x81, 126, size) + payload
    return struct.pack("!BBQ", 0x81, 127, size) + payload


def decline_extensions(environ: dict) -> None:
    """Make the handshake accept no extension, whatever the client offers.

    Every message is under 100 bytes, so permessage-deflate saves nothing, and each
    connection would keep zlib streams (hundreds of KB) and spend CPU on every
    broadcast. simple-websocket accepts only what the request offers, so the offer is
    dropped before it sees the request; this also lets one frame serve every client.
    """
    environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)


class _NoReaderThread:
    """simple-websocket's reader thread (its ``thread_class``), which never runs: the
    connection's handler reads its frames itself (:meth:`Client.receive`).

    One thread (under gevent, a greenlet with its stacks) per client fewer, and a client
    that sends faster than its commands are handled is held back by TCP instead of
    queueing without bound in simple-websocket's input buffer.
    """

    __slots__ = ("name",)

    def __init__(self, *args, **kwargs):
        self.name = f"{CONNECTION_THREAD} reader"

    def start(self) -> None:
        pass


class _NoEvent:
    """simple-websocket's message event (its ``event_class``): nobody waits on it."""

    __slots__ = ()

    def set(self) -> None:
        pass

    def clear(self) -> None:
        pass


SERVER_OPTIONS = {"thread_class": _NoReaderThread, "event_class": _NoEvent}  # for SOCK_SERVER_OPTIONS

# How a WSGI server hands simple-websocket the connection's socket as it is. Without it,
# under gevent's server simple-websocket duplicates the socket (two descriptors per
# client); with it, flask-sock ends a finished WebSocket's response by raising
# StopIteration, which the server must take as "the connection is over, say nothing".
RAW_SOCKET_KEY = "gunicorn.socket"
WebSocketOver = StopIteration


def connection_threads() -> int:
    """Threads that belong to connections (writers; greenlets under gevent)."""
    return sum(1 for t in threading.enumerate() if t.name.startswith(CONNECTION_THREAD))


class Client:
    """One WebSocket client: its outbox, and the writer thread that drains it.

    Nothing that happens to this client's socket can hold up anyone else. A frame is
    written at once by whoever produced it (usually the broadcast) only when nothing
    is waiting and the socket takes it without waiting; otherwise it is queued, and
    this client's writer sends it, blocking on this client alone. States are
    snapshots, so of the states waiting to go out only the newest is kept; replies to
    the client's own requests are kept in order and never dropped.

    It ends in one of three ways: :meth:`close` (a close handshake), :meth:`disconnect`
    (cut off by the server) and, whichever came first, :meth:`finish` once the
    connection is over.
    """

    __slots__ = ("ws", "peer", "_max_replies", "_lock", "_cond", "_outbox", "_replies", "_close", "_finished",
                 "_writing", "_sending_since", "_os_socket", "_writer", "next_ping", "dropped")

    def __init__(self, ws, peer: str, *, max_pending_replies: int = 64):
        self.ws = ws  # simple-websocket's Server
        if getattr(ws.ws, "connection", None) is not None:
            # The handshake is done: keep wsproto's frame connection alone, without the
            # handshake's h11 state (a few KB per client for the connection's life).
            ws.ws = ws.ws.connection
        self.peer = peer
        self._max_replies = max_pending_replies
        self._lock = threading.Lock()  # taken bare on the broadcast's path: one call less per client
        self._cond = threading.Condition(self._lock)
        # A list, not a deque: it is nearly always empty, never long (states replace each
        # other, replies are capped), and a deque costs 600 bytes per client from the start.
        self._outbox: list[tuple[Outgoing, bytes]] = []
        self._replies = 0
        self._close: tuple[int, str] | None = None
        self._finished = False
        self._writing = False  # the writer is sending, outside the lock
        self._sending_since: float | None = None
        # Under gevent the connection's socket wraps a non-blocking OS socket: a send on
        # that one returns at once instead of switching to another greenlet.
        self._os_socket = getattr(ws.sock, "_sock", ws.sock)
        try:  # bound what the kernel holds for a client that stopped reading
            self._os_socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        except OSError:
            pass
        self._writer: threading.Thread | None = None  # started the first time a frame must wait
        self.next_ping = float("inf")  # when the keep-alive pings it next (set when it joins)
        self.dropped: str | None = None  # why the server cut this client off, if it did

    def receive(self):
        """The client's next message (text or bytes); raises ClientGone.

        Reads the socket in the caller, as simple-websocket's reader thread would (see
        :data:`SERVER_OPTIONS`): wsproto answers pings and the client's close frame,
        and a pong marks the keep-alive answered.
        """
        from wsproto.utilities import LocalProtocolError

        # Let the others run first: a client that keeps its socket full would otherwise
        # never make this greenlet wait, and starve every other connection and the
        # shutdown (under gevent, sleep(0) yields to the hub; with OS threads, the GIL).
        time.sleep(0)
        ws = self.ws
        while not ws.input_buffer:
            if not ws.connected:
                raise ClientGone(ws.close_reason)
            try:
                data = ws.sock.recv(ws.receive_bytes)
                if not data:
                    raise ConnectionResetError("the client's side is closed")
                ws.ws.receive_data(data)
                ws.connected = ws._handle_events()
            except (OSError, LocalProtocolError):
                ws.connected = False
        return ws.input_buffer.pop(0)

    def send_state(self, frame: bytes) -> None:
        """Send a state frame (see :func:`text_frame`), or replace a state still waiting."""
        with self._lock:
            if self._finished or self._close:  # closing: only what was queued before goes out
                return
            if self._outbox and self._outbox[-1][0] is Outgoing.STATE:
                self._outbox[-1] = (Outgoing.STATE, frame)
            else:
                self._send_or_queue(Outgoing.STATE, frame)

    def send_reply(self, text: str) -> None:
        """Send a reply to this client's own request; replies are never dropped."""
        with self._cond:
            if self._finished or self._close:
                return
            self._send_or_queue(Outgoing.REPLY, text_frame(text))

    def send_ping(self) -> None:
        """Send a keep-alive ping; :meth:`answered_ping` tells whether the pong came."""
        with self._cond:
            if self._finished or self._close:
                return
            self.ws.pong_received = False
            self._send_or_queue(Outgoing.PING, PING_FRAME)

    def answered_ping(self) -> bool:
        return self.ws.pong_received

    def _send_or_queue(self, kind: Outgoing, frame: bytes) -> None:
        """Write ``frame`` now if the socket takes it without waiting; queue what is left.

        Called with the lock held. The send never blocks, so a full socket costs the
        caller one system call, and the frame's unsent tail goes first in the queue.
        """
        if not self._outbox and not self._writing and self.ws.connected:
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
        self._outbox.append((kind, frame))
        if kind is Outgoing.REPLY:
            self._replies += 1
        self._wake_writer()

    def _wake_writer(self) -> None:
        """Start the writer if this client never needed one, else wake it (lock held).

        Most clients read as fast as states arrive and never need a writer, which
        saves each of them a thread (under gevent, a greenlet and its stack).
        """
        if self._writer is None:
            self._writer = threading.Thread(
                target=self._write_loop, name=f"{CONNECTION_THREAD} writer {self.peer}", daemon=True)
            self._writer.start()
        else:
            self._cond.notify_all()

    def wait_for_room(self, timeout: float) -> bool:
        """Wait until another reply may be queued; False if the client stays backed up."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._replies < self._max_replies or self._finished, timeout
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
            self.ws.sock.shutdown(socket.SHUT_RDWR)
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
        self.ws.connected = False
        try:
            self.ws.sock.close()
        except OSError:
            pass

    def stalled_for(self) -> float:
        """Seconds the current send has been blocked (0 when not sending)."""
        since = self._sending_since
        return time.monotonic() - since if since is not None else 0.0

    def _start_closing(self, code: int, reason: str) -> None:
        """Send a close frame, and keep reading until the client answers it.

        simple-websocket's own close() stops its reader at once, and closing a socket
        with the client's data still unread makes the kernel send a TCP reset, which
        can destroy the close frame before the client reads it. Here the reader goes
        on until the client's close frame arrives, then closes the socket cleanly.
        """
        from wsproto.events import CloseConnection

        self.ws.sock.sendall(self.ws.ws.send(CloseConnection(code=int(code), reason=reason)))

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._outbox or self._close or self._finished)
                if self._finished:
                    return
                if self._outbox:
                    kind, frame = self._outbox.pop(0)
                    if kind is Outgoing.REPLY:
                        self._replies -= 1
                        self._cond.notify_all()
                    close = None
                else:
                    frame, close = None, self._close
                self._writing = True
            self._sending_since = time.monotonic()
            try:
                if close is not None:
                    self._start_closing(*close)
                    return
                if not self.ws.connected:
                    return  # the client closed: nothing may follow its close frame
                self.ws.sock.sendall(frame)
            except OSError:
                return  # the handler sees the connection end and cleans up
            finally:
                self._sending_since = None
                with self._cond:
                    self._writing = False
