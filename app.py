"""ledsock: set an LED's brightness over a native WebSocket and keep every client in sync.

``create_app`` builds the Flask app (page, ``/ws``, ``/led``, ``/healthz``) around
one :class:`LedService`, which owns the level and the :class:`Subscribers`.
``main`` is what ``make run`` starts: it reads the configuration, picks the pin
factory, and serves the app from gunicorn: one worker process, because the
subscriber set and the GPIO live in one process, with gevent greenlets by default
(``--worker gthread`` for OS threads; docs/performance.md has the comparison).
"""
from __future__ import annotations

import argparse
import hmac
import json
import logging
import os
import signal
import socket
import struct
import sys
import threading
import time
from collections import deque
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from typing import TYPE_CHECKING

import protocol
import state
from led import PIN_FACTORIES, HardwareError, PigpioUnavailable, choose_pin_factory, open_led

# Flask and the WebSocket stack are imported where the app is built, not here: main()
# runs in gunicorn's master, which only supervises the worker, and without them it
# needs about 16 MB less memory (docs/performance.md).
if TYPE_CHECKING:
    from flask import Flask, Response

log = logging.getLogger(__name__)

GOING_AWAY = 1001
CLOSE_REPLY_WAIT = 1.0  # seconds a finished connection waits for its close handshake
CONNECTION_THREAD = "ledsock-connection"  # name prefix of the threads a connection owns
WORKERS = ("gevent", "gthread")  # gunicorn worker classes main() can serve from
GEVENT_MAX_CLIENTS = 2000  # default MAX_CLIENTS under gevent (measured in docs/performance.md)
HTTP_HEADROOM = 50  # connections kept for HTTP beyond MAX_CLIENTS under gevent

DEFAULT_CONFIG = {
    "LED_PIN": 21,
    # "auto", "pigpio" or "mock"; main() resolves "auto" before the worker starts.
    "LED_PIN_FACTORY": "auto",
    "INITIAL_LEVEL": 50,
    # A client whose socket cannot take a message for this long is disconnected.
    "SEND_TIMEOUT": 10.0,
    # Replies a client may have waiting before the server stops reading its requests.
    "MAX_PENDING_REPLIES": 64,
    # How long shutdown waits for clients to answer its close frames before cutting sockets.
    "SHUTDOWN_GRACE": 2.0,
    # flask-sock's options for each connection. ping_interval is the seconds between the
    # server's pings (None: no pings); a client that has not answered one by the next is
    # dropped. One keep-alive loop pings every client (see Subscribers), and ping_interval
    # is kept from simple-websocket: its own pinging keeps a selector per connection,
    # which costs memory that thousands of clients add up.
    "SOCK_SERVER_OPTIONS": {"max_message_size": 4096, "ping_interval": 25.0},
    # WebSocket clients served at once; more get HTTP 503 at once. main() sets it from
    # --max-clients (2000 under gevent; under gthread, below the thread count).
    "MAX_CLIENTS": 80,
    # Per-connection message rate: on average RATE_LIMIT a second, bursts up to RATE_BURST.
    "RATE_LIMIT": 100.0,
    "RATE_BURST": 200,
    # Browser origins other than the service's own that may use /ws and POST /led.
    "ALLOWED_ORIGINS": (),
    # When set, /ws and POST /led need it (Authorization: Bearer, or ?token= on /ws).
    "LED_TOKEN": None,
    # Where the level is kept across restarts (None: not kept), and what to do at start:
    # "last" (the saved level, else INITIAL_LEVEL), "off", or a level.
    "STATE_FILE": None,
    "POWER_ON": "last",
}


# Kinds of outbox entry. Only a STATE may be replaced by a newer one, only REPLYs count
# towards MAX_PENDING_REPLIES; REST is the unsent tail of a frame, PING a keep-alive.
STATE, REPLY, REST, PING = "state", "reply", "rest", "ping"
PING_FRAME = b"\x89\x00"  # an empty WebSocket ping


def text_frame(text: str) -> bytes:
    """One unmasked, uncompressed WebSocket text frame (RFC 6455 5.2), as a server sends it.

    A broadcast builds its frame once and hands the same bytes to every subscriber.
    The server accepts no extensions, so these bytes are exactly what goes on the wire.
    """
    payload = text.encode()
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 1 << 16:
        return struct.pack("!BBH", 0x81, 126, size) + payload
    return struct.pack("!BBQ", 0x81, 127, size) + payload


class Subscriber:
    """One WebSocket client's outbox, and the writer thread that drains it.

    Nothing that happens to this client's socket can hold up anyone else. A frame is
    written at once by whoever produced it (usually the broadcast) only when nothing
    is waiting and the socket takes it without waiting; otherwise it is queued, and
    this client's writer thread sends it, blocking on this client alone. States are
    snapshots, so of the states waiting to go out only the newest is kept; replies to
    the client's own requests are kept in order and never dropped.
    """

    def __init__(self, ws, peer: str, *, max_pending_replies: int = 64):
        self.ws = ws
        self.peer = peer
        self._max_replies = max_pending_replies
        self._cond = threading.Condition(threading.Lock())
        self._outbox: deque[tuple[str, bytes]] = deque()  # (STATE | REPLY | REST, frame)
        self._replies = 0
        self._close: tuple[int, str] | None = None
        self._stopped = False
        self._writing = False  # the writer is sending, outside the lock
        self._sending_since: float | None = None
        # Under gevent the connection's socket wraps a non-blocking OS socket: a send on
        # that one returns at once instead of switching to another greenlet.
        self._os_socket = getattr(ws.sock, "_sock", ws.sock)
        self._writer: threading.Thread | None = None  # started the first time a frame must wait
        self.next_ping = float("inf")  # when the keep-alive pings it next (set when it subscribes)
        self.dropped: str | None = None  # why the server cut this client off, if it did

    def push_state(self, frame: bytes) -> None:
        """Send a state frame (see :func:`text_frame`), or replace a state still waiting."""
        with self._cond:
            if self._stopped or self._close:  # closing: only what was queued before goes out
                return
            if self._outbox and self._outbox[-1][0] is STATE:
                self._outbox[-1] = (STATE, frame)
            else:
                self._send_or_queue(STATE, frame)

    def push_reply(self, text: str) -> None:
        """Send a reply to this client's own request; replies are never dropped."""
        with self._cond:
            if self._stopped or self._close:
                return
            self._send_or_queue(REPLY, text_frame(text))

    def push_ping(self) -> None:
        """Send a keep-alive ping; the client's pong shows in ``ws.pong_received``."""
        with self._cond:
            if self._stopped or self._close:
                return
            self.ws.pong_received = False
            self._send_or_queue(PING, PING_FRAME)

    def _send_or_queue(self, kind: str, frame: bytes) -> None:
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
                kind, frame = REST, frame[sent:]
        self._outbox.append((kind, frame))
        if kind is REPLY:
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
                lambda: self._replies < self._max_replies or self._stopped, timeout
            )

    def close(self, code: int, reason: str) -> None:
        """Send what is queued, then a close frame with ``code``."""
        with self._cond:
            if self._close is None:
                self._close = (code, reason)
                self._wake_writer()

    def stop(self) -> None:
        """End the writer without sending anything more (the connection is over)."""
        with self._cond:
            self._stopped = True
            self._outbox.clear()
            self._cond.notify_all()

    def drop(self, why: str) -> None:
        """Cut this client off (its handler logs ``why``)."""
        self.dropped = why
        self.abort()

    def abort(self) -> None:
        """Cut the TCP connection at once; unblocks a send stuck on a full buffer."""
        try:
            self.ws.sock.shutdown(socket.SHUT_RDWR)
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

        self.ws.sock.sendall(self.ws.ws.send(CloseConnection(code=code, reason=reason)))

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._outbox or self._close or self._stopped)
                if self._stopped:
                    return
                if self._outbox:
                    kind, frame = self._outbox.popleft()
                    if kind is REPLY:
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


class RateLimit:
    """A token bucket: ``rate`` messages a second on average, bursts of up to ``burst``."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, burst
        self._tokens = float(burst)
        self._stamp = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


class Subscribers:
    """The set of connected clients that every state change is sent to.

    One keep-alive loop serves them all, started with the first: every ``check_every``
    seconds it drops clients whose socket has taken nothing for ``send_timeout`` s or
    who left a ping unanswered for ``ping_interval`` s, and pings the others when due.
    One loop instead of a timer per connection keeps thousands of idle clients cheap.
    """

    def __init__(self, *, send_timeout: float = 10.0, ping_interval: float = 25.0):
        self._lock = threading.Lock()
        self._members: set[Subscriber] = set()
        self.send_timeout = send_timeout
        self.ping_interval = ping_interval
        self.check_every = min(1.0, send_timeout / 4, ping_interval / 4)
        self._keepalive: threading.Thread | None = None
        self._stopped = threading.Event()

    def add(self, subscriber: Subscriber) -> int:
        subscriber.next_ping = time.monotonic() + self.ping_interval
        with self._lock:
            self._members.add(subscriber)
            if self._keepalive is None:
                self._keepalive = threading.Thread(target=self._keep_alive, name="ledsock-keepalive", daemon=True)
                self._keepalive.start()
            return len(self._members)

    def stop(self) -> None:
        """End the keep-alive loop (the service is closing)."""
        self._stopped.set()

    def _keep_alive(self) -> None:
        while not self._stopped.wait(self.check_every):
            self.check()

    def check(self) -> None:
        """Drop clients that stopped reading or answering pings; ping the others when due."""
        now = time.monotonic()
        for subscriber in self.snapshot():
            if subscriber.dropped:
                continue
            if subscriber.stalled_for() > self.send_timeout:
                subscriber.drop(f"not reading for over {self.send_timeout:g} s")
            elif now >= subscriber.next_ping:
                if not subscriber.ws.pong_received:
                    subscriber.drop(f"no answer to a ping within {self.ping_interval:g} s")
                else:
                    subscriber.next_ping = now + self.ping_interval
                    subscriber.push_ping()

    def discard(self, subscriber: Subscriber) -> int:
        with self._lock:
            self._members.discard(subscriber)
            return len(self._members)

    def snapshot(self) -> list[Subscriber]:
        with self._lock:
            return list(self._members)

    def __len__(self) -> int:
        with self._lock:
            return len(self._members)

    def broadcast(self, text: str, *, skip: Subscriber | None = None) -> None:
        """Send a state to every subscriber but ``skip``; never blocks on a client."""
        frame = text_frame(text)
        for subscriber in self.snapshot():
            if subscriber is not skip:
                subscriber.push_state(frame)


class LedService:
    """The one source of truth for the level: drives the LED, counts changes, tells everyone.

    One lock covers the LED write, the change counter and the queueing of the
    broadcast, so every client receives the changes in the same order.
    """

    def __init__(self, led, *, initial_level: int = 50, state_file: state.StateFile | None = None,
                 subscribers: Subscribers | None = None):
        self.led = led
        self.state_file = state_file
        self.subscribers = subscribers if subscribers is not None else Subscribers()
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._closing = False
        self._slots = 0  # WebSocket connections admitted, including ones still in their handshake
        self.seq = 0
        self.level = protocol.parse_level(initial_level)
        led.set_level(self.level)

    def state(self) -> tuple[int, int]:
        with self._lock:
            return self.level, self.seq

    def subscribe(self, subscriber: Subscriber) -> int:
        """Send the current state to a new client and add it to the set."""
        with self._lock:
            if self._closing:
                subscriber.close(GOING_AWAY, "server shutting down")
            else:
                subscriber.push_state(text_frame(protocol.state_message(self.level, self.seq)))
            return self.subscribers.add(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> int:
        return self.subscribers.discard(subscriber)

    def reserve_slot(self, limit: int) -> bool:
        """Admit one more WebSocket connection if fewer than ``limit`` are open."""
        with self._lock:
            if self._slots >= limit:
                return False
            self._slots += 1
            return True

    def release_slot(self) -> None:
        with self._lock:
            self._slots -= 1

    def set_level(self, level: int, *, origin: str, requester: Subscriber | None = None,
                  request_id: protocol.RequestId = None) -> tuple[int, int]:
        """Apply a valid level; broadcast it if it changed. Raises HardwareError.

        The requester (if any) gets its state as a reply, carrying ``request_id``.
        """
        with self._lock:
            old = self.level
            if level != old and not self._closing:  # after shutdown began, nothing changes
                self.led.set_level(level)  # raises HardwareError: nothing changes then
                self.level = level
                self.seq += 1
                if self.state_file is not None:
                    self.state_file.save_soon(level)
                self.subscribers.broadcast(
                    protocol.state_message(level, self.seq), skip=requester
                )
            if requester is not None:
                requester.push_reply(protocol.state_message(self.level, self.seq, request_id))
            level, seq = self.level, self.seq
        if level != old:
            log.info("level %d -> %d (seq %d) by %s", old, level, seq, origin)
        return level, seq

    def reply_state(self, subscriber: Subscriber, request_id: protocol.RequestId) -> None:
        with self._lock:
            subscriber.push_reply(protocol.state_message(self.level, self.seq, request_id))

    def handle_message(self, subscriber: Subscriber, message) -> None:
        """Answer one WebSocket message; every failure becomes one typed error reply."""
        request_id = None
        try:
            command = protocol.parse_command(message)
            request_id = command.request_id
            if isinstance(command, protocol.SetLevel):
                self.set_level(command.level, origin=f"ws {subscriber.peer}",
                               requester=subscriber, request_id=request_id)
            elif isinstance(command, protocol.GetState):
                self.reply_state(subscriber, request_id)
            else:
                subscriber.push_reply(protocol.pong_message(request_id))
        except protocol.ProtocolError as exc:
            log.debug("rejected from %s: %s", subscriber.peer, exc.message)
            subscriber.push_reply(protocol.error_message(exc.code, exc.message, exc.request_id))
        except HardwareError as exc:
            log.error("%s (set from %s); level stays %d", exc, subscriber.peer, self.level)
            subscriber.push_reply(protocol.error_message(
                protocol.HARDWARE_ERROR, f"the LED could not be set: {exc}", request_id))

    def shutdown(self, grace: float = 2.0) -> None:
        """Close every WebSocket with 1001, waiting up to ``grace`` s for clients to answer."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
        members = self.subscribers.snapshot()
        log.info("shutting down: closing %d WebSocket(s) with %d", len(members), GOING_AWAY)
        for subscriber in members:
            subscriber.close(GOING_AWAY, "server shutting down")
        if self.state_file is not None:
            self.state_file.flush()  # no change can follow: the level saved is the last one sent
        deadline = time.monotonic() + grace
        while len(self.subscribers) and time.monotonic() < deadline:
            time.sleep(0.02)  # each connection leaves once its client has answered the close
        for subscriber in self.subscribers.snapshot():
            subscriber.abort()  # no answer within the grace period

    def close(self) -> None:
        """Release the GPIO."""
        self.subscribers.stop()
        self.led.close()

    def health(self) -> dict:
        level, seq = self.state()
        return {
            "status": "degraded" if self.led.error else "ok",
            "clients": len(self.subscribers),
            "pin": self.led.pin,
            "pin_factory": self.led.factory_name,
            "simulated": self.led.simulated,
            "level": level,
            "seq": seq,
            "uptime_s": round(time.monotonic() - self.started, 1),
            "threads": _os_threads(),
            # Threads that belong to connections (our writers, simple-websocket's readers; under
            # gevent they are greenlets): zero when no client is connected.
            "connection_threads": sum(1 for t in threading.enumerate() if t.name.startswith(CONNECTION_THREAD)),
            "state_file": str(self.state_file.path) if self.state_file else None,
            "hardware_error": self.led.error,
        }


def _os_threads() -> int:
    """The process's OS threads (under gevent, threading also counts greenlets)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _peer(environ) -> str:
    host = environ.get("REMOTE_ADDR", "?")
    port = environ.get("REMOTE_PORT")
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}" if port else host


def _json(text: str, status: int = 200) -> Response:
    from flask import Response

    return Response(text + "\n", status=status, mimetype="application/json")


def _rest_state(level: int, seq: int) -> str:
    return f'{{"level":{level},"seq":{seq}}}'


def _origin_allowed(origin: str, host: str, allowed) -> bool:
    """A browser's Origin may act here if it is this service's own host or is listed."""
    if origin in allowed:
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


def _presented_token(req, *, allow_query: bool) -> str | None:
    header = req.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return req.args.get("token") if allow_query else None


def _level_from_post(req) -> int:
    """Read the level of ``POST /led`` from a form field ``level`` or a JSON body.

    The body is read once, as text: ``curl -d '{"level": 5}'`` labels JSON as a form,
    and Flask's form parser would consume it before it could be read as JSON.
    """
    if req.mimetype == "multipart/form-data" and "level" in req.form:
        return protocol.parse_level(req.form["level"])
    body = req.get_data(as_text=True)
    if req.mimetype == "application/x-www-form-urlencoded":
        fields = parse_qs(body, keep_blank_values=True)
        if "level" in fields:
            return protocol.parse_level(fields["level"][-1])
    command = protocol.parse_command(body)
    if not isinstance(command, protocol.SetLevel):
        raise protocol.ProtocolError(
            protocol.INVALID_MESSAGE, "POST /led takes {\"level\": N} or the form field level=N")
    return command.level


def _power_on_level(config, state_file) -> int:
    """The level at start: POWER_ON "last" (the saved level, else INITIAL_LEVEL), "off", or a level."""
    power_on = state.parse_power_on(config["POWER_ON"])
    if power_on == "off":
        return 0
    if power_on == "last":
        saved = state_file.load() if state_file else None
        if saved is not None:
            log.info("restoring level %d from %s", saved, state_file.path)
            return saved
        return protocol.parse_level(config["INITIAL_LEVEL"])
    return power_on


def create_app(config=None, led=None) -> Flask:
    """Build the service around ``led`` (opened from the config when not given)."""
    from flask import Flask, Response, g, render_template, request
    from flask_sock import Sock
    from simple_websocket import ConnectionClosed

    app = Flask(__name__)
    app.config.from_mapping(DEFAULT_CONFIG)
    if config:
        app.config.from_mapping(config)
    options = app.config["SOCK_SERVER_OPTIONS"] = dict(app.config["SOCK_SERVER_OPTIONS"])
    ping_interval = options.pop("ping_interval", DEFAULT_CONFIG["SOCK_SERVER_OPTIONS"]["ping_interval"])
    ping_interval = float("inf") if ping_interval is None else float(ping_interval)
    if app.config.get("MAX_CONTENT_LENGTH") is None:  # REST bodies get the WebSocket's limit
        app.config["MAX_CONTENT_LENGTH"] = options.get("max_message_size") or 4096

    if led is None:
        factory = choose_pin_factory(app.config["LED_PIN_FACTORY"])
        led = open_led(int(app.config["LED_PIN"]), pin_factory=factory)
    state_file = state.StateFile(app.config["STATE_FILE"]) if app.config["STATE_FILE"] else None
    send_timeout = float(app.config["SEND_TIMEOUT"])
    subscribers = Subscribers(send_timeout=send_timeout, ping_interval=ping_interval)
    service = LedService(led, initial_level=_power_on_level(app.config, state_file), state_file=state_file,
                         subscribers=subscribers)
    app.extensions["ledsock"] = service
    log.info("LED on GPIO%d via %s%s, level %d", led.pin, led.factory_name,
             " (SIMULATED)" if led.simulated else "", service.level)

    max_clients = int(app.config["MAX_CLIENTS"])
    allowed_origins = frozenset(app.config["ALLOWED_ORIGINS"])
    token = app.config["LED_TOKEN"] or None
    sock = Sock(app)

    @app.before_request
    def admit():
        """Refuse, before any upgrade or change: foreign browser origins, a missing token, a full house."""
        is_ws = request.path == "/ws"
        if not (is_ws or (request.path == "/led" and request.method == "POST")):
            return None
        peer = _peer(request.environ)
        origin = request.headers.get("Origin")
        if origin is not None and not _origin_allowed(origin, request.host, allowed_origins):
            log.warning("refused %s %s from %s: Origin %s is not allowed", request.method, request.path, peer, origin)
            return _json(protocol.error_message(
                protocol.FORBIDDEN_ORIGIN,
                f"pages from {origin} may not use this service; ALLOWED_ORIGINS lists other allowed origins"), 403)
        if token is not None:
            presented = _presented_token(request, allow_query=is_ws)
            if presented is None or not hmac.compare_digest(presented.encode(), token.encode()):
                log.warning("refused %s %s from %s: %s token", request.method, request.path, peer,
                            "no" if presented is None else "wrong")
                refusal = _json(protocol.error_message(
                    protocol.UNAUTHORIZED,
                    "this service needs its token: send 'Authorization: Bearer TOKEN'"
                    + (" or add ?token=TOKEN to the URL" if is_ws else "")), 401)
                refusal.headers["WWW-Authenticate"] = 'Bearer realm="ledsock"'
                return refusal
        if is_ws:
            if not service.reserve_slot(max_clients):
                log.warning("refused a WebSocket from %s: all %d client slots are taken", peer, max_clients)
                refusal = _json(protocol.error_message(
                    protocol.TOO_MANY_CLIENTS,
                    f"the server already has its maximum of {max_clients} WebSocket clients; try again later"), 503)
                refusal.headers["Retry-After"] = "5"
                return refusal
            g.ledsock_slot = True
            # No permessage-deflate, whatever the client offers: every message is under 100
            # bytes, so compressing saves nothing, and each connection would keep zlib streams
            # (hundreds of KB) and spend CPU on every broadcast. simple-websocket accepts only
            # what the request offers, so the offer is dropped here; it also lets one broadcast
            # frame be shared by all subscribers (see text_frame).
            request.environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        return None

    @app.teardown_request
    def release_slot(_error):
        if g.pop("ledsock_slot", False):
            service.release_slot()

    @app.get("/")
    def index():
        page = Response(render_template("index.html", pin=led.pin, simulated=led.simulated))
        # Everything the page loads comes from here; its only connection is its own WebSocket.
        host = request.host
        page.headers["Content-Security-Policy"] = (
            f"default-src 'self'; connect-src 'self' ws://{host} wss://{host}; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
        page.headers["X-Content-Type-Options"] = "nosniff"
        page.headers["Referrer-Policy"] = "no-referrer"
        return page

    @sock.route("/ws")
    def websocket(ws):
        subscriber = Subscriber(ws, _peer(request.environ),
                                max_pending_replies=app.config["MAX_PENDING_REPLIES"])
        rate = RateLimit(float(app.config["RATE_LIMIT"]), int(app.config["RATE_BURST"]))
        count = service.subscribe(subscriber)
        log.info("client %s connected (%d clients)", subscriber.peer, count)
        why = "client closed"
        try:
            while True:
                message = ws.receive()  # the keep-alive loop cuts off a client gone silent
                if message is None:
                    continue
                if not subscriber.wait_for_room(send_timeout):
                    subscriber.drop(f"not reading its replies for over {send_timeout:g} s")
                    break
                if not rate.allow():
                    subscriber.push_reply(protocol.error_message(
                        protocol.RATE_LIMITED,
                        f"over {rate.rate:g} messages a second (bursts of {rate.burst}); this one was dropped"))
                    continue
                service.handle_message(subscriber, message)
        except ConnectionClosed:
            if ws.close_reason not in (1000, 1005):
                why = f"closed with code {ws.close_reason}"
        finally:
            count = service.unsubscribe(subscriber)
            subscriber.stop()
            log.info("client %s disconnected: %s (%d clients)", subscriber.peer, subscriber.dropped or why, count)
            # simple-websocket's reader thread marks the connection closed before it sends
            # its close reply; let it finish, or the server's socket may close first.
            ws.thread.join(CLOSE_REPLY_WAIT)

    @app.get("/led")
    def get_led():
        return _json(_rest_state(*service.state()))

    @app.post("/led")
    def post_led():
        try:
            level = _level_from_post(request)
            level, seq = service.set_level(level, origin=f"http {_peer(request.environ)}")
        except protocol.ProtocolError as exc:
            return _json(protocol.error_message(exc.code, exc.message), 400)
        except HardwareError as exc:
            log.error("%s (POST from %s)", exc, _peer(request.environ))
            return _json(protocol.error_message(
                protocol.HARDWARE_ERROR, f"the LED could not be set: {exc}"), 503)
        return _json(_rest_state(level, seq))

    @app.get("/healthz")
    def healthz():
        return _json(json.dumps(service.health(), separators=(",", ":")))

    @app.errorhandler(413)
    def too_large(_error):
        return _json(protocol.error_message(
            protocol.INVALID_MESSAGE, f"request body over {app.config['MAX_CONTENT_LENGTH']} bytes"), 413)

    return app


# ---------------------------------------------------------------- running it


def _env(environ, name, default):
    return environ.get(name) or default


def parse_args(argv=None, environ=os.environ) -> argparse.Namespace:
    """Read the configuration: each flag defaults to its environment variable."""
    def level(text):
        try:
            return protocol.parse_level(text)
        except protocol.ProtocolError as exc:
            raise argparse.ArgumentTypeError(exc.message) from None

    def positive(kind):
        def check(text):
            value = kind(text)
            if value <= 0:
                raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
            return value
        check.__name__ = kind.__name__
        return check

    def power_on(text):
        try:
            return state.parse_power_on(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    gpiozero_factory = environ.get("GPIOZERO_PIN_FACTORY", "")
    default_factory = gpiozero_factory if gpiozero_factory in ("pigpio", "mock") else "auto"
    parser = argparse.ArgumentParser(
        prog="ledsock", description="Serve an LED's brightness over a WebSocket (see README.md).")
    add = parser.add_argument
    add("--host", default=_env(environ, "HOST", "0.0.0.0"), help="address to listen on (HOST, default 0.0.0.0)")
    add("--port", type=positive(int), default=_env(environ, "PORT", "5000"), help="TCP port (PORT, default 5000)")
    add("--pin", type=positive(int), default=_env(environ, "LED_PIN", "21"), help="BCM pin of the LED (LED_PIN, default 21)")
    add("--pin-factory", choices=PIN_FACTORIES, default=_env(environ, "LED_PIN_FACTORY", default_factory),
        help="auto, pigpio or mock (LED_PIN_FACTORY, default auto)")
    add("--initial-level", type=level, default=_env(environ, "INITIAL_LEVEL", "50"),
        help="level at start, 0..100 (INITIAL_LEVEL, default 50)")
    add("--worker", choices=WORKERS, default=_env(environ, "WORKER", "gevent"),
        help="how connections are served: gevent (greenlets, the default) or gthread (one OS thread "
             "each) (WORKER; docs/performance.md compares them)")
    add("--threads", type=positive(int), default=_env(environ, "THREADS", "100"),
        help="gthread only: connections served at once; each WebSocket holds one thread (THREADS, default 100)")
    add("--ping-interval", type=positive(float), default=_env(environ, "PING_INTERVAL", "25"),
        help="seconds between WebSocket pings that find dead peers (PING_INTERVAL, default 25)")
    add("--send-timeout", type=positive(float), default=_env(environ, "SEND_TIMEOUT", "10"),
        help="drop a client that cannot be written to for this many seconds (SEND_TIMEOUT, default 10)")
    add("--max-message-size", type=positive(int), default=_env(environ, "MAX_MESSAGE_SIZE", "4096"),
        help="largest WebSocket message in bytes; larger ones close with 1009 (MAX_MESSAGE_SIZE, default 4096)")
    add("--max-clients", type=positive(int), default=environ.get("MAX_CLIENTS") or None,
        help="WebSocket clients at once; more get HTTP 503 (MAX_CLIENTS, default 2000 under gevent, "
             "80%% of --threads under gthread)")
    add("--rate-limit", type=positive(float), default=_env(environ, "RATE_LIMIT", "100"),
        help="messages a second one connection may send on average (RATE_LIMIT, default 100)")
    add("--rate-burst", type=positive(int), default=_env(environ, "RATE_BURST", "200"),
        help="messages one connection may send in a burst (RATE_BURST, default 200)")
    add("--allowed-origins", default=_env(environ, "ALLOWED_ORIGINS", ""),
        help="comma-separated browser origins besides the service's own, e.g. https://dash.example "
             "(ALLOWED_ORIGINS)")
    add("--state-file", type=Path, default=str(state.default_path(environ)),
        help="where the level is kept across restarts (STATE_FILE; default $STATE_DIRECTORY/state.json "
             "under systemd, else ~/.local/state/ledsock/state.json)")
    add("--power-on", type=power_on, default=_env(environ, "POWER_ON", "last"),
        help="level at start: last (saved level, else --initial-level), off, or 0..100 (POWER_ON, default last)")
    add("--log-level", default=_env(environ, "LOG_LEVEL", "info"),
        choices=("debug", "info", "warning", "error"), help="(LOG_LEVEL, default info)")
    args = parser.parse_args(argv)
    if args.max_clients is None:
        args.max_clients = GEVENT_MAX_CLIENTS if args.worker == "gevent" else max(1, args.threads * 4 // 5)
    if args.worker == "gthread" and args.max_clients >= args.threads:
        parser.error(f"--max-clients ({args.max_clients}) must be below --threads ({args.threads}), "
                     "so that HTTP requests always find a thread")
    args.allowed_origins = tuple(o.strip() for o in args.allowed_origins.split(",") if o.strip())
    args.token = environ.get("LED_TOKEN") or None  # not a flag: command lines are visible to every user
    return args


def _install_shutdown(worker) -> None:
    """In the gunicorn worker: on SIGTERM/SIGINT/SIGQUIT, close every WebSocket with 1001 first."""
    service = worker.wsgi.extensions["ledsock"]
    grace = worker.wsgi.config["SHUTDOWN_GRACE"]
    closing = []  # non-empty once a shutdown has begun in this (the main) thread

    cooperative = worker.cfg.worker_class_str == "gevent"

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        previous = signal.getsignal(signum)

        def close_then_exit(sig, frame, previous):
            service.shutdown(grace)
            if callable(previous):
                previous(sig, frame)

        def on_signal(sig, frame, previous=previous):
            # Ctrl+C sends SIGINT to the worker and, through the master, SIGQUIT too. Only
            # the first signal acts: a second one must neither cut the close handshakes short
            # nor run gunicorn's exit again while the worker is already exiting.
            if closing:
                return
            closing.append(sig)
            if cooperative:  # gevent runs signal handlers in its hub, which must never wait
                import gevent
                gevent.spawn(close_then_exit, sig, frame, previous)
            else:
                close_then_exit(sig, frame, previous)

        signal.signal(signum, on_signal)


def _release_led(_arbiter, worker) -> None:
    wsgi = getattr(worker, "wsgi", None)
    if wsgi is not None:
        service = wsgi.extensions["ledsock"]
        service.shutdown(0.5)
        service.close()
        log.info("GPIO%d released", service.led.pin)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        factory = choose_pin_factory(args.pin_factory)
    except PigpioUnavailable as exc:
        log.error("%s", exc)
        return 2
    config = {
        "LED_PIN": args.pin,
        "LED_PIN_FACTORY": factory,
        "INITIAL_LEVEL": args.initial_level,
        "SEND_TIMEOUT": args.send_timeout,
        "MAX_CLIENTS": args.max_clients,
        "RATE_LIMIT": args.rate_limit,
        "RATE_BURST": args.rate_burst,
        "ALLOWED_ORIGINS": args.allowed_origins,
        "LED_TOKEN": args.token,
        "STATE_FILE": args.state_file,
        "POWER_ON": args.power_on,
        "SOCK_SERVER_OPTIONS": {
            "max_message_size": args.max_message_size,
            "ping_interval": args.ping_interval,
            # Daemon threads: a reader blocked on a silent peer never holds up exit.
            "thread_class": _reader_thread,
        },
    }
    _raise_open_files_limit(args.max_clients)
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self):
            for key, value in {
                "bind": f"[{args.host}]:{args.port}" if ":" in args.host else f"{args.host}:{args.port}",
                "workers": 1,  # the subscriber set and the GPIO live in one process
                "worker_class": args.worker,
                "threads": args.threads,
                # gevent: connections at once. The headroom above MAX_CLIENTS keeps HTTP
                # requests (and the 503 for one client too many) served when /ws is full.
                "worker_connections": args.max_clients + HTTP_HEADROOM,
                "backlog": 2048,
                "graceful_timeout": 10,
                "loglevel": args.log_level,
                "proc_name": "ledsock",
                "post_worker_init": _install_shutdown,
                "worker_exit": _release_led,
            }.items():
                self.cfg.set(key, value)
            if "control_socket_disable" in self.cfg.settings:  # gunicorn >= 24
                self.cfg.set("control_socket_disable", True)

        def load(self):
            return create_app(config)

    log.info("ledsock on http://%s:%d/ (WebSocket /ws), up to %d WebSocket clients, %s worker, %s",
             args.host, args.port, args.max_clients, args.worker, "token required" if args.token else "no token")
    Server().run()
    return 0


def _raise_open_files_limit(max_clients: int) -> None:
    """Let the process hold a socket per client: the usual soft limit of 1024 is too low."""
    import resource

    wanted = max_clients + HTTP_HEADROOM + 256  # listeners, log files, pigpio, state file
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new_soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
        if new_soft < wanted:
            log.warning("open files are limited to %d (ulimit -n), too few for %d clients; "
                        "raise LimitNOFILE or lower MAX_CLIENTS", new_soft, max_clients)


def _reader_thread(*args, **kwargs) -> threading.Thread:
    """simple-websocket's reader thread: a daemon, and named as a connection's thread.

    A function rather than a Thread subclass: gevent patches the threading module in
    the worker, after this module is imported, and a subclass made before that would
    never report its end to join().
    """
    kwargs.setdefault("daemon", True)
    kwargs.setdefault("name", f"{CONNECTION_THREAD} reader")
    return threading.Thread(*args, **kwargs)


if __name__ == "__main__":
    import app as _app  # run under the module's own name, so its logger is "app"

    sys.exit(_app.main())
