"""Who asked for a light's command, and where its answer, its log line and its news go: the
types a light and its commands' mixins share."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import protocol
from protocol import State

# Called under the ordering lock with each new state and the requester that caused it
# (None for a change that no client asked for), so it must only queue, never wait.
StateListener = Callable[[State, object], None]
Replier = Callable[[protocol.Reply], None]
# Takes a change's log line (the light's name, and what changed) in the place of the log: a
# command for every light gathers its lights' lines into one (lights.Lights.execute).
Note = Callable[[str, str], None]


class Asked(NamedTuple):
    """Who asked for a command (``origin``: the door and the client, as the log names them;
    ``requester``: who the listeners skip), and where its answer and its log line go."""

    origin: str
    requester: object = None
    reply: Replier | None = None
    note: Note | None = None
