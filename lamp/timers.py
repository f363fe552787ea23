"""Time for the light: the sleep timer's and the schedules' jobs on APScheduler, and the
schedules' triggers (time of day, crontab, sunrise/sunset with astral). No timer loop of
our own.

The scheduler starts on first use, so a service that never sets a timer never imports
APScheduler (about 2 MB). A job whose time passed while the process was busy runs if it
is at most ``misfire_grace`` seconds late, else it is dropped with a log line: a lamp
must not switch minutes late by surprise.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)
MISFIRE_GRACE = 60  # seconds a job may run late


class Scheduler:
    """``call_at(unix_seconds, fn)`` for the light; ``stop()`` at shutdown."""

    def __init__(self, *, misfire_grace: int = MISFIRE_GRACE):
        self.misfire_grace = misfire_grace
        self._lock = threading.Lock()
        self._aps: Any = None  # APScheduler's BackgroundScheduler, once started
        self._stopped = False

    def _scheduler(self):
        with self._lock:
            if self._aps is None and not self._stopped:
                from apscheduler.schedulers.background import BackgroundScheduler

                logging.getLogger("apscheduler").setLevel(logging.WARNING)  # no lines per job run
                self._aps = BackgroundScheduler(
                    timezone=UTC,  # jobs are given as instants; no local time involved
                    job_defaults={"misfire_grace_time": self.misfire_grace, "coalesce": True},
                )
                self._aps.start()
            return self._aps

    def call_at(self, when: float, function: Callable[[], None]) -> Timer:
        """Run ``function`` at ``when`` (Unix seconds), once; the Timer cancels it."""
        aps = self._scheduler()
        if aps is None:
            return Timer(None)
        return Timer(aps.add_job(function, "date", run_date=datetime.fromtimestamp(when, tz=UTC)))

    def schedule(self, job_id: str, trigger, function: Callable[[], None]) -> None:
        """Run ``function`` whenever ``trigger`` fires; replaces the job of that id."""
        aps = self._scheduler()
        if aps is not None:
            aps.add_job(function, trigger, id=job_id, replace_existing=True)

    def unschedule(self, job_id: str) -> None:
        from apscheduler.jobstores.base import JobLookupError

        aps = self._scheduler()
        try:
            if aps is not None:
                aps.remove_job(job_id)
        except JobLookupError:
            pass

    def next_fire(self, job_id: str) -> float:
        """When the job runs next (Unix seconds; 0 when never or unknown)."""
        aps = self._scheduler()
        job = aps.get_job(job_id) if aps is not None else None
        return job.next_run_time.timestamp() if job is not None and job.next_run_time else 0.0

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            aps, self._aps = self._aps, None
        if aps is not None:
            aps.shutdown(wait=False)


class Timer:
    """One job on the scheduler."""

    __slots__ = ("_job",)

    def __init__(self, job):
        self._job = job

    def cancel(self) -> None:
        from apscheduler.jobstores.base import JobLookupError

        if self._job is None:
            return
        try:
            self._job.remove()
        except JobLookupError:  # it has run, or the scheduler stopped
            pass
        self._job = None


def local_timezone():
    """The system's time zone (``TZ`` first), as APScheduler uses it."""
    from tzlocal import get_localzone

    return get_localzone()


def trigger_for(when, timezone, location=None):
    """The APScheduler trigger of a schedule's ``when`` (protocol.When); ValueError if it
    cannot fire (a crontab line that matches no time, sun without a location)."""
    from apscheduler.triggers.cron import CronTrigger

    if when.at is not None:
        hour, minute, *second = (int(part) for part in when.at.split(":"))
        inner = CronTrigger(
            hour=hour,
            minute=minute,
            second=second[0] if second else 0,
            day_of_week="*" if when.days == "daily" else when.days,
            timezone=timezone,
        )
    elif when.cron is not None:
        inner = CronTrigger.from_crontab(when.cron, timezone=timezone)
        check_cron_fires(when.cron, inner, timezone)
    else:
        if location is None:
            raise ValueError("sunrise and sunset need the lamp's place: set LATITUDE and LONGITUDE")
        inner = sun_trigger(when.sun, when.offset, when.days, location, timezone)
    trigger = once_per_wall_time(inner, timezone)
    if trigger.get_next_fire_time(None, datetime.now(timezone)) is None:
        raise ValueError("it matches no time: it would never fire")
    return trigger


LOOKAHEAD_YEARS = 30  # a crontab line must fire within this many years (Feb 29 on a Monday: 28)


def check_cron_fires(line: str, trigger, timezone) -> None:
    """Raise ValueError unless the crontab ``trigger`` fires within LOOKAHEAD_YEARS, at a
    bounded cost on the shared loop (APScheduler's own search for a line that never
    fires runs to the year 9999: 0.4 s and more).

    First a calendar check, 12 months of a leap year: is any (month, day) of the line a
    date at all? ``0 0 31 2,4,6,9,11 *`` is not, and is refused for that in microseconds.
    Then the search itself, stopped LOOKAHEAD_YEARS from now (a few ms at worst).
    """
    from calendar import monthrange
    from datetime import timedelta

    from apscheduler.triggers.cron import CronTrigger

    fields = {field.name: field for field in trigger.fields}
    leap = 2028
    if not any(
        fields["month"].get_next_value(datetime(leap, month, 1)) == month
        and fields["day"].get_next_value(datetime(leap, month, 1)) is not None
        and fields["day"].get_next_value(datetime(leap, month, 1)) <= monthrange(leap, month)[1]
        for month in range(1, 13)
    ):
        raise ValueError(f"{line!r} names no day of any month: it would never fire")
    probe = CronTrigger.from_crontab(line, timezone=timezone)
    now = datetime.now(timezone)
    probe.end_date = now + timedelta(days=366 * LOOKAHEAD_YEARS)  # end_date: a public attribute of CronTrigger
    if probe.get_next_fire_time(None, now) is None:
        raise ValueError(f"{line!r} does not fire in the next {LOOKAHEAD_YEARS} years")


def once_per_wall_time(inner, timezone):
    """``inner``, but a time of day that a DST change makes happen twice fires once."""
    from datetime import timedelta

    from apscheduler.triggers.base import BaseTrigger

    class OncePerWallTime(BaseTrigger):
        def get_next_fire_time(self, previous, now):
            fire = inner.get_next_fire_time(previous, now)
            while fire is not None and previous is not None and _wall(fire, timezone) == _wall(previous, timezone):
                later = (fire.astimezone(timezone_utc()) + timedelta(seconds=1)).astimezone(timezone)
                fire = inner.get_next_fire_time(fire, later)
            return fire

        def __str__(self):
            return str(inner)

    return OncePerWallTime()


def sun_trigger(event: str, offset_minutes: int, days: str, location: tuple[float, float], timezone):
    """Fires at sunrise or sunset (plus ``offset_minutes``) at ``location`` on ``days``."""
    from datetime import timedelta

    from apscheduler.triggers.base import BaseTrigger
    from astral import Observer
    from astral.sun import sunrise, sunset

    observer = Observer(latitude=location[0], longitude=location[1])
    compute = sunrise if event == "sunrise" else sunset
    weekdays = (
        None
        if days == "daily"
        else {("mon", "tue", "wed", "thu", "fri", "sat", "sun").index(d) for d in days.split(",")}
    )

    class SunTrigger(BaseTrigger):
        def get_next_fire_time(self, previous, now):
            start = max(now, previous + timedelta(seconds=1)) if previous else now
            day = start.astimezone(timezone).date()
            for _ in range(400):  # a polar place may have no sunrise for months
                if weekdays is None or day.weekday() in weekdays:
                    try:
                        fire = compute(observer, date=day, tzinfo=timezone) + timedelta(minutes=offset_minutes)
                    except ValueError:  # the sun neither rises nor sets that day
                        fire = None
                    if fire is not None and fire >= start:
                        return fire.astimezone(timezone)
                day += timedelta(days=1)
            return None

        def __str__(self):
            return f"{event}{offset_minutes:+d} min"

    return SunTrigger()


def timezone_utc():
    return UTC


def _wall(moment, zone):
    """The local wall-clock time of ``moment``, without its UTC offset."""
    return moment.astimezone(zone).replace(tzinfo=None)
