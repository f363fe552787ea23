"""What flask-sock's handshake (simple-websocket's ``Server``) is given, so that the
connection then belongs to :mod:`connection`: no extension, no reader thread or event of
its own, and the connection's own socket, never a duplicate.
"""

from __future__ import annotations

CONNECTION_THREAD = "ledsock-connection"  # name prefix of the threads a connection owns


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
