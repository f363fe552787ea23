"""The log stays readable under a flood: a few lines a period from each source, and the rest
counted into one summary line per source and period.

A source is whoever causes the lines: a client (``ws 10.0.0.5:51234``), a host, an MQTT topic,
a connection and the reason it was refused. Past ``lines`` lines in ``period`` seconds, a
source's lines are counted instead of written, and when its period ends one line says how
many there were (``ws 10.0.0.5:51234: 3,980 more changes in the last 10 s, not logged one by
one``). Past ``overall`` lines in a period from every source together, the same. At most
``sources`` sources are remembered (the oldest, summarised first, makes room), so a flood of
addresses costs bounded memory and a bounded log. Thread-safe; a timer writes the summaries.
Transport-free.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

PERIOD = 10.0  # seconds: the window a source's lines are counted in


class _Source:
    __slots__ = ("began", "logged", "held", "level")

    def __init__(self, now: float):
        self.began, self.logged, self.held, self.level = now, 0, 0, logging.NOTSET


def _start_timer(delay: float, function: Callable[[], None]) -> None:
    timer = threading.Timer(delay, function)  # a greenlet under gevent
    timer.daemon = True
    timer.start()


class LogLimiter:
    """Writes ``logger``'s lines of each source up to ``lines`` a period (``overall`` from all),
    and one summary of the rest, naming them ``what`` ("changes", "refused requests")."""

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        *,
        lines: int = 20,
        overall: int = 200,
        period: float = PERIOD,
        sources: int = 256,
        clock: Callable[[], float] = time.monotonic,
        start_timer: Callable[[float, Callable[[], None]], None] = _start_timer,
    ):
        self.logger, self.what = logger, what
        self.lines, self.overall, self.period, self.max_sources = lines, overall, period, sources
        self._clock, self._start_timer = clock, start_timer
        self._lock = threading.Lock()
        self._sources: OrderedDict[str, _Source] = OrderedDict()
        self._overall_began, self._overall_logged = float("-inf"), 0
        self._timer_due: float | None = None  # when the summary timer fires, if one is set
        self.held = 0  # lines counted instead of written, since start

    def info(self, source: str, msg: str, *args) -> bool:
        return self.log(logging.INFO, source, msg, *args)

    def warning(self, source: str, msg: str, *args) -> bool:
        return self.log(logging.WARNING, source, msg, *args)

    def error(self, source: str, msg: str, *args) -> bool:
        return self.log(logging.ERROR, source, msg, *args)

    def log(self, level: int, source: str, msg: str, *args) -> bool:
        """Write the line if ``source`` has lines left this period, else count it; True if written."""
        if not self.logger.isEnabledFor(level):
            return False
        summaries: list[tuple[Any, ...] | None] = []
        with self._lock:
            now = self._clock()
            entry = self._sources.get(source)
            if entry is not None and now - entry.began >= self.period:
                summaries.append(self._summary(source, entry, now))
                entry = None
            if entry is None:
                entry = self._sources[source] = _Source(now)
                while len(self._sources) > self.max_sources:  # the oldest makes room, summarised
                    old_source, old = self._sources.popitem(last=False)
                    summaries.append(self._summary(old_source, old, now))
            if now - self._overall_began >= self.period:
                self._overall_began, self._overall_logged = now, 0
            write = entry.logged < self.lines and self._overall_logged < self.overall
            if write:
                entry.logged += 1
                self._overall_logged += 1
            else:
                entry.held += 1
                entry.level = max(entry.level, level)
                self.held += 1
                self._arm(entry.began + self.period)
        self._write(summaries)
        if write:
            self.logger.log(level, msg, *args)
        return write

    def flush(self) -> None:
        """Write the summary of every source whose period is over (the timer calls this)."""
        summaries: list[tuple[Any, ...] | None] = []
        with self._lock:
            self._timer_due = None
            now = self._clock()
            due = None
            for source, entry in list(self._sources.items()):
                if now - entry.began >= self.period:
                    summaries.append(self._summary(source, entry, now))
                    del self._sources[source]
                elif entry.held:
                    due = min(due if due is not None else float("inf"), entry.began + self.period)
            if due is not None:
                self._arm(due)
        self._write(summaries)

    def forget(self, source: str) -> None:
        """``source`` is gone (a client left): write its summary now, if it has one."""
        with self._lock:
            entry = self._sources.pop(source, None)
            summary = self._summary(source, entry, self._clock()) if entry is not None else None
        self._write([summary])

    def _summary(self, source: str, entry: _Source, now: float) -> tuple | None:
        if not entry.held:
            return None
        return (
            entry.level,
            "%s: %s more %s in the last %.0f s, not logged one by one",
            source,
            f"{entry.held:,}",
            self.what,
            min(now - entry.began, self.period),
        )

    def _arm(self, due: float) -> None:
        """Make sure a summary timer fires by ``due`` (lock held)."""
        if self._timer_due is not None and self._timer_due <= due:
            return
        self._timer_due = due
        self._start_timer(max(0.0, due - self._clock()) + 0.01, self.flush)

    def _write(self, summaries: list[tuple[Any, ...] | None]) -> None:
        for summary in summaries:
            if summary is not None:
                self.logger.log(summary[0], *summary[1:])
