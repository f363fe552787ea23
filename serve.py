"""Serving: one process on gevent's WSGI server (or gunicorn for OS threads), shutdown signals,
and the open-files limit.

The hub's clients and the GPIO live in one process. The default, gevent, serves from
that process alone with gevent's own WSGI server: no master process to pay for (it
cost 29 MB under gunicorn). ``--worker gthread`` serves OS threads from gunicorn's
gthread worker, which needs its master. docs/performance.md has the figures. Flask's
development server is never used: it writes stray bytes after a WebSocket close frame.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from typing import Callable

log = logging.getLogger(__name__)

HTTP_HEADROOM = 50  # connections kept for HTTP beyond MAX_CLIENTS; the last of them make room (http_guard)
BODY_LIMIT = 64 * 1024  # bytes of a request body read ahead of the app (it refuses far less: 413)
HANDLER_GRACE = 5.0  # seconds the connections' handlers get to end after the close handshakes
# Connections accepted per turn of the loop (gevent's default is 100). A burst of thousands
# of connections (idle ones, an attack) then has a few greenlets at a time, not hundreds:
# 4,200 at once left RSS 5 MB higher after they were gone with 100, 0.7 MB with 10.
ACCEPT_BATCH = 10
REQUEST_BUFFER = 1024  # bytes of the HTTP request reader's buffer (longer lines still parse)
SHUTDOWN_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)


def serve(args: argparse.Namespace, load_app: Callable, *, shutdown: Callable, release: Callable) -> None:
    """Serve ``load_app()`` as ``args`` say until a signal ends it.

    The first SIGTERM/SIGINT/SIGQUIT calls ``shutdown(app)`` (every WebSocket closed
    with 1001), then the server stops and ``release(app)`` runs.
    """
    raise_open_files_limit(args.max_clients)
    if args.worker == "gevent":
        _serve_gevent(args, load_app, shutdown=shutdown, release=release)
    else:
        _serve_gunicorn(args, load_app, shutdown=shutdown, release=release)


def _serve_gevent(args: argparse.Namespace, load_app: Callable, *, shutdown: Callable, release: Callable) -> None:
    """Serve from this process: gevent's WSGI server, one greenlet per connection."""
    from gevent import monkey

    monkey.patch_all()  # before the app exists: its locks, threads and sockets become gevent's
    import gevent
    from gevent.event import Event
    from gevent.pool import Pool

    from http_guard import WaitingRoom, crowded

    app = load_app()
    # Connections served at once: MAX_CLIENTS WebSockets (the hub refuses more with a 503)
    # and 2 * HTTP_HEADROOM more. A connection takes its greenlet only once its first bytes
    # arrive (first_bytes_server); while waiting for a request it is in the waiting room,
    # and when the server is crowded (http_guard.crowded) each new connection closes the one
    # that has waited longest: idle connections never keep a real request waiting.
    pool = Pool(args.max_clients + 2 * HTTP_HEADROOM)
    waiting = WaitingRoom(crowded=lambda count, longest: crowded(count, longest, free=pool.free_count(),
                                                                 headroom=HTTP_HEADROOM),
                          close=lambda connection: connection.cut_off())
    server = first_bytes_server(waiting)(
        (args.host, args.port), app, handler_class=websocket_aware_handler(waiting),
        spawn=pool, backlog=2048, log=None, error_log=logging.getLogger("serve.http"))
    app.extensions["ledsock_waiting"] = waiting  # /healthz reports it
    server.max_accept = ACCEPT_BATCH
    server.start()
    log.info("serving from one process (pid %d), gevent", os.getpid())
    stopping = Event()
    for signum in SHUTDOWN_SIGNALS:
        gevent.signal_handler(signum, stopping.set)  # a second signal finds it set: no-op
    stopping.wait()
    log.info("shutting down")
    try:
        shutdown(app)
        server.stop(timeout=HANDLER_GRACE)
    finally:
        release(app)


def first_bytes_server(waiting, deadlines=None):
    """gevent's WSGIServer, which gives a connection its greenlet only once its first bytes
    arrive (made on first use, after the monkey-patching).

    Until then a connection is a socket and a read watcher on the loop, a few hundred
    bytes instead of a greenlet and its stack: thousands of idle connections cost little,
    and give it all back when they go. It waits in ``waiting`` (http_guard.WaitingRoom),
    closed past ``deadlines.headers`` s, or by a newer one when the server is crowded.
    """
    import socket

    from gevent.pywsgi import WSGIServer

    from http_guard import DEADLINES

    deadlines = deadlines or DEADLINES
    full = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
            b"Retry-After: 5\r\n\r\n" + protocol_error_body("too_many_clients", "the server is full; try again later"))

    class Arrival:
        """A connection whose first bytes have not come yet (closed by the server's sweep
        past ``deadlines.headers``: one timer for all of them, not one each)."""

        __slots__ = ("socket", "address", "watcher")

        def __init__(self, server, client_socket, address):
            self.socket, self.address = client_socket, address
            self.watcher = server.loop.io(client_socket.fileno(), 1)

        def stop(self) -> None:
            self.watcher.stop()
            waiting.served(self)

        def cut_off(self) -> None:  # the waiting room's close, or the deadline's
            self.stop()
            try:
                self.socket.close()
            except OSError:
                pass

    class Server(WSGIServer):
        def start(self):
            super().start()
            self._sweep = self.loop.timer(1.0, 1.0)  # every second
            self._sweep.start(self._close_silent)

        def stop(self, *args, **kwargs):
            self._sweep.stop()
            super().stop(*args, **kwargs)

        def _close_silent(self):
            for connection in waiting.waited_over(deadlines.headers):
                if isinstance(connection, Arrival):  # a handler keeps its own deadlines
                    connection.cut_off()

        def do_handle(self, client_socket, address):
            arrival = Arrival(self, client_socket, address)
            waiting.wait(arrival, address[0] if address else "?")
            arrival.watcher.start(self._arrived, arrival)

        def _arrived(self, arrival):
            arrival.stop()
            try:  # readable: the first bytes, or the end (a client that left without a word)
                first = arrival.socket.recv(1, socket.MSG_PEEK)
            except OSError:
                first = b""
            if not first:
                arrival.socket.close()
                return
            if self.pool is not None and self.pool.full():  # in the loop: never wait for a greenlet
                try:
                    arrival.socket.send(full)
                except OSError:
                    pass
                arrival.socket.close()
                return
            WSGIServer.do_handle(self, arrival.socket, arrival.address)

    return Server


def protocol_error_body(code: str, message: str) -> bytes:
    import protocol

    return (protocol.error_message(code, message) + "\n").encode()


def websocket_aware_handler(waiting, deadlines=None):
    """gevent's WSGI handler class, fitted for connections a WebSocket takes over and for
    the deadlines of http_guard (made on first use: gevent must be imported after the
    monkey-patching). ``waiting`` is the http_guard.WaitingRoom of the server."""
    import io
    import socket

    import gevent
    from gevent.pywsgi import WSGIHandler

    from connection import RAW_SOCKET_KEY, WebSocketOver
    from http_guard import DEADLINES

    deadlines = deadlines or DEADLINES

    class TooSlow(socket.timeout, ValueError):
        """A phase of a request passed its deadline. An OSError, so gevent takes it for a
        lost connection while it reads the request line; a ValueError, so it takes it
        for a bad request (400, then close) while it reads the headers."""

    class Handler(WSGIHandler):
        """gevent's handler, with deadlines, and fitted for connections a WebSocket takes over.

        Every request's line and headers must arrive within ``deadlines.headers`` s (on
        a kept-alive connection, ``deadlines.keep_alive`` s from the last response), and
        its body within ``deadlines.body`` s; meanwhile the connection is in the waiting
        room. simple-websocket gets the connection's own socket (not a duplicate), and
        once the WebSocket is over the connection closes without another byte: no HTTP
        response after the close frame, no wait for a next request on it.
        """

        def __init__(self, sock, address, server, rfile=None):
            # The request's reader lives as long as the connection; a WebSocket never
            # reads it again after the handshake, so it gets a small buffer (default 8 KiB).
            super().__init__(sock, address, server, rfile or sock.makefile("rb", REQUEST_BUFFER))
            self.requests = 0
            self._deadline = None

        def cut_off(self) -> None:
            """Close this waiting connection from another greenlet: its read ends at once."""
            try:
                self.socket.shutdown(socket.SHUT_RDWR)
            except (OSError, AttributeError):  # already closed
                pass

        def _start_deadline(self, seconds: float, what: str) -> None:
            self._stop_deadline()
            self._deadline = gevent.Timeout(seconds, TooSlow(f"{what} took over {seconds:g} s"))
            self._deadline.start()

        def _stop_deadline(self) -> None:
            if self._deadline is not None:
                self._deadline.close()
                self._deadline = None

        def handle_one_request(self):
            first = self.requests == 0
            self.requests += 1
            waiting.wait(self, f"{self.client_address[0]}" if self.client_address else "?")
            self._start_deadline(deadlines.headers if first else deadlines.keep_alive,
                                 "the request line and headers" if first else "an idle keep-alive")
            try:
                return super().handle_one_request()
            finally:
                self._stop_deadline()
                waiting.served(self)

        def read_request(self, raw_requestline):
            try:
                return super().read_request(raw_requestline)
            except TooSlow:
                return False  # gevent answers 400 Bad Request and closes

        def get_environ(self):
            self._stop_deadline()  # the line and headers are in
            environ = super().get_environ()
            environ[RAW_SOCKET_KEY] = self.socket
            return environ

        def run_application(self):
            environ = self.environ
            if environ.get("HTTP_UPGRADE", "").lower() != "websocket" and not self._read_body(environ):
                return
            waiting.served(self)
            try:
                super().run_application()
            except WebSocketOver:
                self.close_connection = True
                self.result = None

        def _read_body(self, environ) -> bool:
            """Read the whole body, within its deadline, before the app sees the request.

            False when the request was answered here instead (408 or 413) and the
            connection is to close: the app then never waits on a slow client.
            """
            chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if not length and not chunked:
                return True
            if length > BODY_LIMIT:
                return self._refuse("413 Content Too Large", f"request body over {BODY_LIMIT} bytes")
            self._start_deadline(deadlines.body, "the request body")
            try:
                body = environ["wsgi.input"].read(length if not chunked else BODY_LIMIT + 1)
            except TooSlow:
                return self._refuse("408 Request Timeout", f"the request body took over {deadlines.body:g} s")
            finally:
                self._stop_deadline()
            if len(body) > BODY_LIMIT:
                return self._refuse("413 Content Too Large", f"request body over {BODY_LIMIT} bytes")
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            environ["wsgi.input_terminated"] = True
            return True

        def _refuse(self, status: str, message: str) -> bool:
            """Answer with the JSON error object and close; the body's rest is never read."""
            import protocol

            self.close_connection = True
            try:
                self.socket.shutdown(socket.SHUT_RD)  # gevent's discard of the body's rest ends at once
            except OSError:
                pass
            body = (protocol.error_message(protocol.INVALID_MESSAGE, message) + "\n").encode()
            self.start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                                         ("Connection", "close")])
            self.result = [body]
            self.process_result()
            self.result = None
            return False

    return Handler


def _serve_gunicorn(args: argparse.Namespace, load_app: Callable, *, shutdown: Callable, release: Callable) -> None:
    """Serve from gunicorn's gthread worker: one worker process under gunicorn's master."""
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self):
            for key, value in {
                "bind": f"[{args.host}]:{args.port}" if ":" in args.host else f"{args.host}:{args.port}",
                "workers": 1,  # the hub's clients and the GPIO live in one process
                "worker_class": args.worker,
                "threads": args.threads,
                # Connections the worker keeps at once (gunicorn's default is 1,000).
                "worker_connections": args.max_clients + HTTP_HEADROOM,
                "backlog": 2048,
                "graceful_timeout": 10,
                "loglevel": args.log_level,
                "proc_name": "ledsock",
                "post_worker_init": lambda worker: _install_shutdown(worker, shutdown),
                "worker_exit": lambda _arbiter, worker: _worker_exit(worker, release),
            }.items():
                self.cfg.set(key, value)
            if "control_socket_disable" in self.cfg.settings:  # gunicorn >= 24
                self.cfg.set("control_socket_disable", True)

        def load(self):
            return load_app()

    Server().run()


def _install_shutdown(worker, shutdown: Callable) -> None:
    """In the gunicorn worker: on SIGTERM/SIGINT/SIGQUIT, close every WebSocket with 1001 first."""
    app = worker.wsgi
    closing = []  # non-empty once a shutdown has begun in this (the main) thread

    for signum in SHUTDOWN_SIGNALS:
        previous = signal.getsignal(signum)

        def close_then_exit(sig, frame, previous):
            shutdown(app)
            if callable(previous):
                previous(sig, frame)

        def on_signal(sig, frame, previous=previous):
            # Ctrl+C sends SIGINT to the worker and, through the master, SIGQUIT too. Only
            # the first signal acts: a second one must neither cut the close handshakes short
            # nor run gunicorn's exit again while the worker is already exiting.
            if closing:
                return
            closing.append(sig)
            close_then_exit(sig, frame, previous)

        signal.signal(signum, on_signal)


def _worker_exit(worker, release: Callable) -> None:
    app = getattr(worker, "wsgi", None)
    if app is not None:
        release(app)


def raise_open_files_limit(max_clients: int) -> None:
    """Let the process hold a socket per client: the usual soft limit of 1024 is too low."""
    import resource

    wanted = max_clients + HTTP_HEADROOM + 256  # listeners, log files, pigpio, state file
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    if hard != resource.RLIM_INFINITY and hard < wanted:
        try:  # allowed to root (CAP_SYS_RESOURCE); the systemd unit sets LimitNOFILE instead
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
            return
        except (ValueError, OSError):
            pass
    new_soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
    if new_soft < wanted:
        log.warning("open files are limited to %d (ulimit -n), too few for %d clients; "
                    "raise LimitNOFILE or lower MAX_CLIENTS", new_soft, max_clients)


def off_the_event_loop(function, *args):
    """Run blocking I/O (the state file's fsync) where it stalls no one.

    With OS threads that is the calling thread. Under gevent (the default worker) every
    connection shares one OS thread, and an fsync there would stall them all, so the
    call goes to gevent's pool of real threads while its greenlet waits.
    """
    if "gevent" in sys.modules:
        from gevent import get_hub, monkey

        if monkey.is_module_patched("threading"):
            return get_hub().threadpool.apply(function, args)
    return function(*args)


_deadline_threads = None  # without gevent: a small pool of OS threads for with_deadline


def with_deadline(function, seconds: float):
    """``function()``, or TimeoutError after ``seconds`` (it then goes on in its thread).

    For a device write that could hang (the kernel's PWM files, lgpio): it runs in a real
    thread, so a hung system call costs that thread, never the event loop or the caller
    past its deadline. Under gevent the caller's greenlet waits and the others run.
    """
    global _deadline_threads
    if "gevent" in sys.modules:
        from gevent import Timeout, get_hub, monkey

        if monkey.is_module_patched("threading"):
            call = get_hub().threadpool.spawn(function)
            try:
                return call.get(timeout=seconds)
            except Timeout:
                raise TimeoutError(f"no answer within {seconds:g} s") from None
    if _deadline_threads is None:
        from concurrent.futures import ThreadPoolExecutor

        _deadline_threads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ledsock-deadline")
    try:
        return _deadline_threads.submit(function).result(timeout=seconds)
    except TimeoutError:
        raise TimeoutError(f"no answer within {seconds:g} s") from None
