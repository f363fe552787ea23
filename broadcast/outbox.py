"""What waits to go out to one WebSocket client, and the rules for what may wait.

States are snapshots: of a light's states waiting at the end, only the newest is kept.
News (a schedule's) is kept newest per key, in the place of the first. Replies to the
client's own requests are kept in order and counted. Everything counts against a byte
budget. Pure bookkeeping: :class:`connection.Client` holds one, under its own lock, and
does the sending.
"""

from __future__ import annotations

import enum


class Outgoing(enum.Enum):
    """Kinds of outbox entry. A STATE is replaced by a newer state of its light and a NEWS
    entry by newer news of the same key; only REPLYs count towards the pending-reply limit;
    REST is a frame's unsent tail, CONTROL a ping or a pong."""

    STATE = "state"
    REPLY = "reply"
    NEWS = "news"
    REST = "rest"
    CONTROL = "control"


class Outbox:
    """The frames waiting for one client, in order, and their bytes and replies counted.

    A list, not a deque: it is nearly always empty, never long (states replace each other,
    news coalesces, replies are capped), and a deque costs 600 bytes per client.
    """

    __slots__ = ("entries", "queued", "replies", "budget")

    def __init__(self, budget: int):
        self.entries: list[tuple[Outgoing, bytes, object]] = []
        self.queued = 0  # bytes waiting
        self.replies = 0  # replies waiting
        self.budget = budget

    def replace_state(self, frame: bytes, key: object) -> bool:
        """Put ``frame`` in the place of the state of light ``key`` waiting at the end (after
        any reply, so the order of a client's replies and states holds); False if none waits."""
        entries = self.entries
        index = len(entries) - 1
        while index >= 0 and entries[index][0] is Outgoing.STATE:  # the states at the end: one per light
            if entries[index][2] == key:
                self.queued += len(frame) - len(entries[index][1])
                entries[index] = (Outgoing.STATE, frame, key)
                return True
            index -= 1
        return False

    def replace_news(self, frame: bytes, key: object) -> bool:
        """Put ``frame`` in the place of the news of ``key`` still waiting; False if none waits."""
        for index, (kind, waiting, waiting_key) in enumerate(self.entries):
            if kind is Outgoing.NEWS and waiting_key == key:
                self.queued += len(frame) - len(waiting)
                self.entries[index] = (Outgoing.NEWS, frame, key)
                return True
        return False

    def append(self, kind: Outgoing, frame: bytes, key: object = None) -> bool:
        """Queue ``frame``; False (and nothing kept) once the waiting bytes pass the budget."""
        self.entries.append((kind, frame, key))
        self.queued += len(frame)
        if kind is Outgoing.REPLY:
            self.replies += 1
        if self.queued > self.budget:
            self.clear()
            return False
        return True

    def pop(self) -> tuple[Outgoing, bytes]:
        """The first frame waiting, and its kind, taken off."""
        kind, frame, _key = self.entries.pop(0)
        self.queued -= len(frame)
        if kind is Outgoing.REPLY:
            self.replies -= 1
        return kind, frame

    def clear(self) -> None:
        self.entries.clear()
        self.queued = self.replies = 0
