"""What a person did with a button or a knob, from the edges of its pins and the time: clicks,
double-clicks, holds, flips and detents. Pure (no pins, no clock of its own): each machine is
fed an edge with the instant it came, asked what is due at an instant, and says when it
next needs asking, so the same code runs on the service's loop and on a test's fake clock.

Pins are wired to ground with the internal pull-up: a pressed button reads 0.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

BOUNCE = 0.02  # seconds a contact may chatter after a change; a change within it waits
DOUBLE_CLICK = 0.25  # seconds from a click's release to the next press that makes a double-click
HOLD = 0.5  # seconds pressed before a press becomes a hold


class Gesture(enum.StrEnum):
    """What a button did."""

    CLICK = "click"  # pressed and released before HOLD; told at the release, never delayed
    DOUBLE_CLICK = "double_click"  # a second click within DOUBLE_CLICK of the first: told at its release
    HOLD = "hold"  # pressed for HOLD: told while it is still down
    RELEASE = "release"  # let go after a hold
    FLIP = "flip"  # a latching switch changed position


class Debounce:
    """A contact's stable level: a change is taken at once, and what the contact does for
    ``bounce`` seconds after it is chatter; the level it settles on is taken then."""

    __slots__ = ("bounce", "level", "raw", "since")

    def __init__(self, level: int, bounce: float = BOUNCE):
        self.bounce, self.level, self.raw, self.since = bounce, level, level, float("-inf")

    def edge(self, level: int, now: float) -> bool:
        """The pin read ``level`` at ``now``; whether the stable level changed."""
        self.raw = level
        if now - self.since < self.bounce or level == self.level:
            return False
        self.level, self.since = level, now
        return True

    def due(self) -> float | None:
        """When the level it settled on must be looked at again (None: nothing pending)."""
        return self.since + self.bounce if self.raw != self.level else None

    def tick(self, now: float) -> bool:
        """Take the level the contact settled on, if the chatter is over; whether it changed."""
        due = self.due()
        if due is None or now < due:
            return False
        self.level, self.since = self.raw, now
        return True


class ButtonGestures:
    """A momentary push button: its clicks, double-clicks and holds.

    A click is told at its release, at once: a second click within ``double_click`` seconds is
    told as a double-click too (after the click), so what a click does is never delayed, and
    what a double-click does must follow from either state a click leaves (full brightness
    does).
    """

    def __init__(self, *, hold: float = HOLD, double_click: float = DOUBLE_CLICK, bounce: float = BOUNCE):
        self.hold_after, self.double_click = hold, double_click
        self.contact = Debounce(1, bounce)
        self.pressed_at: float | None = None
        self.holding = False
        self.last_click: float | None = None  # when the last click was released

    def edge(self, level: int, now: float) -> list[Gesture]:
        """The pin read ``level`` (0: pressed) at ``now``."""
        return self._changed(now) if self.contact.edge(level, now) else self.tick(now)

    def tick(self, now: float) -> list[Gesture]:
        """What is due at ``now``: a hold, a level settled after chatter."""
        if self.contact.tick(now):
            return self._changed(now)
        if self.pressed_at is not None and not self.holding and now - self.pressed_at >= self.hold_after:
            self.holding = True
            return [Gesture.HOLD]
        return []

    def due(self) -> float | None:
        """When :meth:`tick` must next be called (None: only an edge changes anything)."""
        times = [self.contact.due()]
        if self.pressed_at is not None and not self.holding:
            times.append(self.pressed_at + self.hold_after)
        return min((t for t in times if t is not None), default=None)

    def _changed(self, now: float) -> list[Gesture]:
        if self.contact.level == 0:  # pressed
            self.pressed_at, self.holding = now, False
            return []
        if self.pressed_at is None:  # a release with no press seen (it was down at start)
            return []
        held, pressed_at, self.pressed_at, self.holding = self.holding, self.pressed_at, None, False
        if held:
            self.last_click = None
            return [Gesture.RELEASE]
        if self.last_click is not None and pressed_at - self.last_click <= self.double_click:
            self.last_click = None
            return [Gesture.CLICK, Gesture.DOUBLE_CLICK]
        self.last_click = now
        return [Gesture.CLICK]


class SwitchGestures:
    """A latching switch: every settled change of position is a flip."""

    def __init__(self, level: int = 1, *, bounce: float = BOUNCE):
        self.contact = Debounce(level, bounce)

    def edge(self, level: int, now: float) -> list[Gesture]:
        return [Gesture.FLIP] if self.contact.edge(level, now) else self.tick(now)

    def tick(self, now: float) -> list[Gesture]:
        return [Gesture.FLIP] if self.contact.tick(now) else []

    def due(self) -> float | None:
        return self.contact.due()


# Quadrature: the four (A, B) positions in the order a clockwise turn goes through them.
# With pull-ups an encoder rests at (1, 1) between detents, and one detent is the whole cycle.
_CYCLE = ((1, 1), (0, 1), (0, 0), (1, 0))


class Detents:
    """A rotary encoder's detents from the edges of its A and B pins: +1 clockwise, -1
    anticlockwise, told when it comes to rest after a whole cycle. A bounce moves a quarter
    and back, and an edge missed leaves a cycle incomplete: neither counts."""

    __slots__ = ("position", "travel")

    def __init__(self, a: int = 1, b: int = 1):
        self.position = _CYCLE.index((a, b))
        self.travel = 0  # quarter steps since the last rest, signed

    def edge(self, a: int, b: int) -> int:
        """A and B now read ``a`` and ``b``; the detent this completes (0: none)."""
        position = _CYCLE.index((a, b))
        move = (position - self.position) % 4
        self.position = position
        if move == 1:
            self.travel += 1
        elif move == 3:
            self.travel -= 1
        elif move == 2:  # an edge missed: which way is not known
            self.travel = 0
        if position != 0:
            return 0
        detent, self.travel = (self.travel // 4 if self.travel > 0 else -(-self.travel // 4)), 0
        return detent


class Acceleration(NamedTuple):
    """Steps a detent is worth, by how fast the knob turns: one step slow, more when spun."""

    fast: float = 0.05  # seconds between detents under which a detent is worth 2 steps
    faster: float = 0.02  # and under which it is worth 4

    def factor(self, since_last: float) -> int:
        if since_last < self.faster:
            return 4
        return 2 if since_last < self.fast else 1
