"""One light's sleep timer: when it turns the light off and over how long, on the service's
scheduler. It keeps the timer and tells its firing; the light (:mod:`lamp.light`) makes the
change, under its locks, and tells everyone. Not kept across a restart."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple


class Armed(NamedTuple):
    """A timer that runs: when it fires (Unix seconds), the fade it asks for, the scheduler's job."""

    fires_at: float
    transition: float | None
    job: Any  # lamp.timers.Timer: cancel()


class SleepTimer:
    """At most one timer at a time; ``scheduler.call_at(unix_seconds, fn)`` runs it."""

    __slots__ = ("scheduler", "wall_clock", "armed")

    def __init__(self, scheduler: Any, wall_clock: Callable[[], float]):
        self.scheduler, self.wall_clock = scheduler, wall_clock
        self.armed: Armed | None = None

    def start(self, after: float, transition: float | None, fired: Callable[[Armed], None]) -> None:
        """Off in ``after`` seconds, fading over ``transition``; one that ran is replaced.
        ``fired(armed)`` is called when its time comes."""
        self.cancel()
        fires_at = self.wall_clock() + after
        armed: list[Armed] = []
        job = self.scheduler.call_at(fires_at, lambda: fired(armed[0]))
        armed.append(Armed(fires_at, transition, job))
        self.armed = armed[0]

    def cancel(self) -> bool:
        """End the timer; whether one ran."""
        if self.armed is None:
            return False
        self.armed.job.cancel()
        self.armed = None
        return True

    def remaining(self) -> tuple[int, float] | None:
        """When it fires (Unix seconds, whole) and in how many seconds from now; None when none runs."""
        if self.armed is None:
            return None
        return round(self.armed.fires_at), max(0.0, self.armed.fires_at - self.wall_clock())
