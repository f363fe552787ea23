"""The fakes the tests share: time the tests move by hand (one clock, and one scheduler
standing where the service's lamp.timers.Scheduler stands, for the sleep timer and the
schedules alike), and a simulated pin that fails, as pigpiod's do when it goes away."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from gpiozero.pins.mock import MockPWMPin

from curves.brightness import Curve
from led import Led

LONDON = ZoneInfo("Europe/London")  # where the schedules' tests keep time: DST, and a sunrise to check


class FakeClock:
    """A clock the test moves: calling it (or ``clock()``) tells ``now``. ``sleep`` moves it at
    once and runs whatever ``at`` set for that time (from the caller's own thread): a fader's
    time that needs no waiting."""

    def __init__(self, now: float = 0.0):
        self.now = now
        self._due: list = []

    def __call__(self) -> float:
        return self.now

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        for when, do in [due for due in self._due if due[0] <= self.now]:
            self._due.remove((when, do))
            do()

    def at(self, when: float, do) -> None:
        """Call ``do()`` once the clock has reached ``when``."""
        self._due.append((when, do))


class FakeScheduler:
    """lamp.timers.Scheduler as the light and its schedules use it (``call_at`` for the sleep
    timer; ``schedule``, ``unschedule`` and ``next_fire`` for the schedules), on time the test
    moves: ``now`` (a datetime) and ``clock`` (the same instant in Unix seconds, a light's wall
    clock). ``advance`` and ``advance_to`` run every job that comes due, in order."""

    def __init__(self, now: datetime):
        self.clock = FakeClock(now.timestamp())
        self._zone = now.tzinfo or UTC
        self.timers: list[list] = []  # call_at's: [Unix seconds, function, cancelled]
        self.jobs: dict[str, list] = {}  # schedule's: id -> [trigger, function, next fire]

    @property
    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now, self._zone)

    def call_at(self, when: float, function):
        job = [when, function, False]
        self.timers.append(job)

        class Handle:
            def cancel(self_):
                job[2] = True

        return Handle()

    def pending(self) -> list:
        """The sleep timers not yet fired nor cancelled."""
        return [job for job in self.timers if not job[2]]

    def schedule(self, job_id: str, trigger, function) -> None:
        self.jobs[job_id] = [trigger, function, trigger.get_next_fire_time(None, self.now)]

    def unschedule(self, job_id: str) -> None:
        self.jobs.pop(job_id, None)

    def next_fire(self, job_id: str) -> float:
        job = self.jobs.get(job_id)
        return job[2].timestamp() if job and job[2] else 0.0

    def advance(self, seconds: float) -> int:
        return self.advance_to(self.now + timedelta(seconds=seconds))

    def advance_to(self, moment: datetime) -> int:
        """Run every job due up to ``moment``, in order; the number of runs."""
        runs = 0
        until = moment.timestamp()
        while True:
            due = [(job[0], "timer", index) for index, job in enumerate(self.timers) if not job[2] and job[0] <= until]
            due += [
                (job[2].timestamp(), "job", job_id)
                for job_id, job in self.jobs.items()
                if job[2] and job[2].timestamp() <= until
            ]
            if not due:
                self.clock.now = until
                return runs
            when, kind, key = min(due)
            self.clock.now = when
            if kind == "timer":
                timer = self.timers[key]
                timer[2] = True
                timer[1]()
            else:
                job = self.jobs[key]
                fired_at = job[2]
                job[2] = job[0].get_next_fire_time(fired_at, fired_at + timedelta(seconds=1))
                job[1]()
            runs += 1


class ClockedPWMPin(MockPWMPin):
    """A MockPWMPin that keeps its history (``timeline``: (instant, duty)) on the fake clock
    the fader runs on (``ClockedPWMPin.clock``, set by the test)."""

    clock: Callable[[], float] | None = None

    def _set_state(self, value):
        super()._set_state(value)
        if not hasattr(self, "timeline"):
            self.timeline = []
        assert ClockedPWMPin.clock is not None
        self.timeline.append((round(ClockedPWMPin.clock(), 6), value))


def fader_at_rest() -> bool:
    """No fader thread is left: the fake clock moves only when the test moves it."""
    return not any(thread.name == "ledsock-fader" for thread in threading.enumerate())


def at_instant(fake: FakeClock, when: float, action, timeout: float = 10.0):
    """``action()`` at the fake instant ``when``, and its answer: from the fader's thread while a
    fade or an effect runs (it moves the clock), else from here, moving the clock by hand."""
    answer: list = []
    done = threading.Event()

    def call():
        answer.append(action())
        done.set()

    fake.at(when, call)
    deadline = time.monotonic() + timeout
    while not done.wait(0.001):
        if fader_at_rest():
            fake.sleep(max(0.0, min(0.01, when - fake.now)))
        assert time.monotonic() < deadline, f"the fake clock never got to {when}"
    return answer[0]


class BrokenPWMPin(MockPWMPin):
    """A pin whose writes fail once ``broken`` is set, as they do when pigpiod goes away."""

    broken = False

    def _set_state(self, value):
        if self.broken:
            raise OSError("connection to pigpiod lost")
        super()._set_state(value)


def fading_led(mock_factory, fake: FakeClock) -> Led:
    """An LED on a simulated pin whose fader runs on ``fake``'s time, through the linear curve
    (a level reads as its duty cycle)."""
    return Led(21, pin_factory=mock_factory, curve=Curve("linear"), fade_rate=60, clock=fake.clock, sleep=fake.sleep)


def wait_for_the_fade(led: Led) -> None:
    """Until the fader has written its last step (it runs in a thread of its own)."""
    deadline = time.monotonic() + 10
    while led.fade_remaining() > 0 or led._fade is not None:
        assert time.monotonic() < deadline, "the fade never ended"
        time.sleep(0.001)
