"""gevent's WSGI server, fitted for this service: a connection's greenlet only once its first
bytes arrive, a deadline for each phase of a request, request bodies read ahead of the app,
and connections a WebSocket takes over (made on first use: gevent is imported after the
monkey-patching, which serve.py does).
"""

from __future__ import annotations

import logging

from limits.budget import ENVIRON_KEY, ONE, Budget
from limits.loglimit import LogLimiter
from protocol import INVALID_MESSAGE, TOO_MANY_CLIENTS, error_message

BODY_LIMIT = 64 * 1024  # bytes of a request body read ahead of the app (it refuses far less: 413)
LOGGED_CHARS = 200  # of gevent's line about a request it could not read
REQUEST_BUFFER = 1024  # bytes of the HTTP request reader's buffer (longer lines still parse)


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

    from serving.http_guard import DEADLINES

    deadlines = deadlines or DEADLINES
    full = (
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
        b"Retry-After: 5\r\n\r\n" + protocol_error_body(TOO_MANY_CLIENTS, "the server is full; try again later")
    )

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
    """The JSON error object a refusal made here carries, as the app's would."""
    return (error_message(code, message) + "\n").encode()


def websocket_aware_handler(waiting, deadlines=None, make_budget=None):
    """gevent's WSGI handler class, fitted for connections a WebSocket takes over, for the
    deadlines of http_guard and for each connection's budget (made on first use: gevent must
    be imported after the monkey-patching). ``waiting`` is the http_guard.WaitingRoom of the
    server; ``make_budget()`` makes a connection's budget.Budget (RATE_LIMIT, RATE_BURST)."""
    import io
    import socket

    import gevent
    from gevent.pywsgi import WSGIHandler

    from adapters.websocket_stack import RAW_SOCKET_KEY, WebSocketOver
    from serving.http_guard import DEADLINES

    deadlines = deadlines or DEADLINES
    make_budget = make_budget or (lambda: Budget(100, 200))
    malformed_log = LogLimiter(logging.getLogger("serve.http"), "malformed requests", lines=1)

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

        A connection gets its turn and no more: each request costs a unit of its budget (the
        app spends more for a request that does more, through ``environ[ENVIRON_KEY]``), and
        before its next request it yields to every other connection, then waits while its
        budget is spent. So requests it pipelines wait behind the others' work, and one that
        keeps hundreds in flight is served at RATE_LIMIT requests a second, not all at once.
        """

        def __init__(self, sock, address, server, rfile=None):
            # The request's reader lives as long as the connection; a WebSocket never
            # reads it again after the handshake, so it gets a small buffer (default 8 KiB).
            super().__init__(sock, address, server, rfile or sock.makefile("rb", REQUEST_BUFFER))
            self.requests = 0
            self._deadline = None
            self.budget = make_budget()

        def log_error(self, msg, *args):
            """gevent's line about a request it could not read, which quotes the request line
            (up to 8 KiB): cut to LOGGED_CHARS, and once a period per host, then counted. Each
            was a line of its own, and a client that reconnects per bad request wrote 19 MB/s."""
            text = msg % args if args else msg
            host = self.client_address[0] if isinstance(self.client_address, tuple) else str(self.client_address)
            malformed_log.warning(host, "HTTP: %s", text if len(text) <= LOGGED_CHARS else text[:LOGGED_CHARS] + "...")

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
            if not first:  # the others' turn first; then, with its budget spent, it waits
                gevent.sleep(0)
                if (wait := self.budget.wait()) > 0:
                    gevent.sleep(wait)
            self._start_deadline(
                deadlines.headers if first else deadlines.keep_alive,
                "the request line and headers" if first else "an idle keep-alive",
            )
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
            environ[ENVIRON_KEY] = self.budget
            if environ.get("HTTP_UPGRADE", "").lower() != "websocket":  # a WebSocket counts its own messages
                self.budget.spend(ONE)
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
            self.close_connection = True
            try:
                self.socket.shutdown(socket.SHUT_RD)  # gevent's discard of the body's rest ends at once
            except OSError:
                pass
            body = protocol_error_body(INVALID_MESSAGE, message)
            self.start_response(
                status,
                [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Connection", "close")],
            )
            self.result = [body]
            self.process_result()
            self.result = None
            return False

    return Handler
