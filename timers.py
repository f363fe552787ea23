"""Time for the light: runs the sleep timer's job on APScheduler, so no timer loop of our own.

The scheduler starts on first use, so a service that never sets a timer never imports
APScheduler (about 2 MB). A job whose time passed while the process was busy runs if it
is at most ``misfire_grace`` seconds late, else it is dropped with a log line: a lamp
must not switch minutes late by surprise.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from typing import Callable

log = logging.getLogger(__name__)
MISFIRE_GRACE = 60  # seconds a job may run late


class Scheduler:
    """``call_at(unix_seconds, fn)`` for the light; ``stop()`` at shutdown."""

    def __init__(self, *, misfire_grace: int = MISFIRE_GRACE):
        self.misfire_grace = misfire_grace
        self._lock = threading.Lock()
        self._aps = None
        self._stopped = False

    def _scheduler(self):
        with self._lock:
            if self._aps is None and not self._stopped:
                from apscheduler.schedulers.background import BackgroundScheduler

                logging.getLogger("apscheduler").setLevel(logging.WARNING)  # no lines per job run
                self._aps = BackgroundScheduler(
                    timezone=timezone.utc,  # jobs are given as instants; no local time involved
                    job_defaults={"misfire_grace_time": self.misfire_grace, "coalesce": True})
                self._aps.start()
            return self._aps

    def call_at(self, when: float, function: Callable[[], None]) -> "Timer":
        """Run ``function`` at ``when`` (Unix seconds), once; the Timer cancels it."""
        aps = self._scheduler()
        if aps is None:
            return Timer(None)
        return Timer(aps.add_job(function, "date", run_date=datetime.fromtimestamp(when, tz=timezone.utc)))

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
