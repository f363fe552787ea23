"""One client's frames read into whole messages, each frame counted against the client's budget:
the reading side of the protocol apart from the socket, as wsproto keeps it (``receive_data``,
then ``events()``). :class:`broadcast.connection.Client` feeds it each chunk it reads and acts
on what comes back: messages to handle, control frames to send back, the close."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from broadcast.frames import FrameBudget


@dataclass
class Taken:
    """What one chunk held."""

    messages: list[str | bytes] = field(default_factory=list)  # whole messages, in order
    answers: list[bytes] = field(default_factory=list)  # frames to send back: pongs, the close's answer
    pongs: list[bytes] = field(default_factory=list)  # the payloads of the pongs the client sent
    closed: int | None = None  # the client's close code, once it has closed (1005: none given)


class FrameReader:
    """Reads a client's frames on its wsproto frame connection (``conn``); a client past its
    ``budget`` raises :class:`broadcast.frames.PolicyViolation` from :meth:`take`."""

    __slots__ = ("conn", "budget", "_parts", "_frames", "_size")

    def __init__(self, conn: Any, budget: FrameBudget):
        self.conn, self.budget = conn, budget
        self._parts: list[Any] = []  # the fragments of the message being received
        self._frames = 0
        self._size = 0

    def take(self, data: bytes) -> Taken:
        """Feed one chunk and sort what it made (raises PolicyViolation, and wsproto's
        LocalProtocolError for data after the close handshake)."""
        from wsproto.connection import ConnectionState
        from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage
        from wsproto.utilities import LocalProtocolError

        taken = Taken()
        self.conn.receive_data(data)
        for event in self.conn.events():
            if isinstance(event, (TextMessage, BytesMessage)):
                if event.frame_finished:
                    self._frames += 1
                self._size += len(event.data)
                self.budget.message_part(self._frames, self._size)
                if event.data:
                    self._parts.append(event.data)
                if event.message_finished:
                    empty = "" if isinstance(event, TextMessage) else b""
                    taken.messages.append(empty.join(self._parts) if len(self._parts) != 1 else self._parts[0])
                    self._parts, self._frames, self._size = [], 0, 0
            elif isinstance(event, Ping):
                self.budget.control_frame()
                taken.answers.append(self.conn.send(event.response()))
            elif isinstance(event, Pong):
                self.budget.control_frame()
                taken.pongs.append(bytes(event.payload))
            elif isinstance(event, CloseConnection):
                if self.conn.state is not ConnectionState.CLOSED:  # not the answer to our own close
                    try:
                        taken.answers.append(self.conn.send(event.response()))
                    except LocalProtocolError:
                        pass
                taken.closed = event.code
                break
        return taken
