"""Every reach into the WebSocket stack's internals, each with its reason: simple-websocket's
``Server`` (which flask-sock hands the route) after its handshake, gevent's socket, and the
WSGI environ key that puts simple-websocket in its gunicorn mode. Nothing else in the service
reaches into these libraries; tests/test_adapters.py pins each reach against the locked
versions, so an upgrade that moves one fails there first. Where a public way exists, the
service uses it instead (wsproto's ``WSConnection.connection``, ``receive_data``, ``events``,
``send``; simple-websocket's ``thread_class`` and ``event_class`` options).
"""

from __future__ import annotations

# simple-websocket takes the connection's socket from this environ key as it is, in its
# "gunicorn" mode; without it, under gevent's server it duplicates the socket (two descriptors
# per client). In that mode flask-sock ends a finished WebSocket's response by raising
# StopIteration, which the server must take as "the connection is over, say nothing".
RAW_SOCKET_KEY = "gunicorn.socket"
WebSocketOver = StopIteration


def frame_connection(ws):
    """The wsproto frame connection of simple-websocket's ``Server`` after its handshake.

    ``ws.ws`` is its wsproto ``WSConnection`` (no public accessor); its ``connection`` (public
    in wsproto) is the frame connection alone. It is put back in ``ws.ws``, the one flask-sock's
    ``ws.close()`` sends through, so the handshake's h11 state (a few KB a client) can go.
    """
    from wsproto import WSConnection

    connection = ws.ws.connection if isinstance(ws.ws, WSConnection) else ws.ws
    ws.ws = connection
    return connection


def socket_of(ws):
    """The connection's socket: simple-websocket's ``Server`` keeps it as ``sock`` (no accessor)."""
    return ws.sock


def is_open(ws) -> bool:
    """simple-websocket's ``connected``: flask-sock reads it after the route returns, and sends
    a close frame of its own unless it is False."""
    return bool(ws.connected)


def mark_closed(ws, code: int | None = None) -> None:
    """The connection is over (``code``: the client's close code, if it sent one): flask-sock
    must send nothing more (``connected``), and ``close_reason`` holds the code."""
    if code is not None:
        ws.close_reason = code
    ws.connected = False


def close_code(ws) -> int | None:
    """The close code the client sent, as simple-websocket keeps it (``close_reason``)."""
    return ws.close_reason


def os_socket(sock):
    """The OS socket under gevent's cooperative one (its ``_sock``, no public accessor): a send
    on it returns at once when the kernel's buffer is full, where gevent's would switch
    greenlets and wait. With OS threads the socket is already the OS one."""
    return getattr(sock, "_sock", sock)
