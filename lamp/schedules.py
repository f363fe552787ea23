"""Named schedules: a light command at a time of day, a crontab line, or sunrise/sunset.

Each schedule is a job on the scheduler (timers.py), fires its command through the light
like any other door, and is kept in the state file, so a restart neither loses nor
doubles one. A time that passed while the service was down is not made up for; a job
delayed while it runs fires up to a minute late (timers.MISFIRE_GRACE), never later.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import protocol
from lamp import timers

log = logging.getLogger(__name__)

MAX_SCHEDULES = 32
NOT_FOUND = protocol.NOT_FOUND
TOO_MANY = "too_many_schedules"
JOB_PREFIX = "schedule:"

# Told of every schedule made, changed (ScheduleInfo) or deleted (ScheduleDeleted), and who asked.
ScheduleListener = Callable[["protocol.ScheduleInfo | protocol.ScheduleDeleted", object], None]


class Schedules:
    """One light's schedules; ``execute`` takes protocol's PutSchedule and DeleteSchedule."""

    def __init__(
        self,
        light,
        scheduler: timers.Scheduler,
        *,
        state_file=None,
        timezone=None,
        location: tuple[float, float] | None = None,
        max_schedules: int = MAX_SCHEDULES,
    ):
        self.light = light
        self.scheduler = scheduler
        self.state_file = state_file
        self.timezone = timezone
        self.location = location
        self.max_schedules = max_schedules
        self._lock = threading.Lock()
        self._items: dict[str, protocol.PutSchedule] = {}
        self._listeners: list[ScheduleListener] = []
        self.light_name = getattr(light, "name", protocol.DEFAULT_LIGHT_NAME)
        self._job_prefix = f"{JOB_PREFIX}{self.light_name}:"  # one scheduler serves every light
        # The scenes' execute(command, origin=...), for a schedule of a scene (set by app.py).
        self.recall: Callable[..., object] | None = None

    def add_listener(self, listener: ScheduleListener) -> None:
        self._listeners.append(listener)

    def load(self, saved: list[dict]) -> None:
        """Take the schedules a state file kept; one that no longer parses is logged and dropped."""
        for fields in saved:
            try:
                command = protocol.parse_message({**fields, "type": "schedule"})
                if isinstance(command, protocol.PutSchedule):
                    self._put(command, save=False)
            except (protocol.ProtocolError, TypeError, ValueError) as exc:
                log.warning("a saved schedule was dropped: %s (%s)", getattr(exc, "message", exc), fields)
        if self._items:
            log.info("restored %d schedule(s): %s", len(self._items), ", ".join(sorted(self._items)))

    def execute(self, command, *, origin: str, requester: object = None, reply=None, note=None):
        """Put or delete a schedule; the listeners hear of it unless nothing changed (the
        same schedule put again is answered, and neither written nor told to anyone). Its log
        line is the light's (``Light.tell``: to ``note`` when given)."""
        answer: protocol.ScheduleInfo | protocol.ScheduleDeleted
        if isinstance(command, protocol.PutSchedule):
            answer, changed = self._put(command)
            if changed:
                self.light.tell(origin, note, "schedule %r set: %s", command.name, protocol.schedule_fields(answer))
        else:
            answer, changed = self._delete(command), True
            self.light.tell(origin, note, "schedule %r deleted", command.name)
        for listener in self._listeners if changed else ():
            listener(answer, requester)
        if reply is not None:
            reply(answer)
        return answer

    def infos(self) -> list[protocol.ScheduleInfo]:
        with self._lock:
            return [self._info(name) for name in sorted(self._items)]

    def _put(self, command: protocol.PutSchedule, save: bool = True) -> tuple[protocol.ScheduleInfo, bool]:
        """The schedule as put, and whether anything changed."""
        item = protocol.PutSchedule(command.name, command.when, command.action)  # whichever light it named
        with self._lock:
            if self._items.get(command.name) == item:
                return self._info(command.name), False
        try:
            trigger = timers.trigger_for(command.when, self.timezone, self.location)
        except ValueError as exc:
            raise protocol.ProtocolError(
                protocol.INVALID_MESSAGE, f"schedule {command.name!r}: {exc}", command.request_id
            ) from None
        with self._lock:
            if command.name not in self._items and len(self._items) >= self.max_schedules:
                raise protocol.ProtocolError(
                    TOO_MANY, f"at most {self.max_schedules} schedules; delete one first", command.request_id
                )
            self._items[command.name] = item
            self.scheduler.schedule(self._job_prefix + command.name, trigger, lambda: self._fire(command.name))
            if save:
                self._save()
            return self._info(command.name), True

    def _delete(self, command: protocol.DeleteSchedule) -> protocol.ScheduleDeleted:
        with self._lock:
            if command.name not in self._items:
                raise protocol.ProtocolError(NOT_FOUND, f"no schedule named {command.name!r}", command.request_id)
            del self._items[command.name]
            self.scheduler.unschedule(self._job_prefix + command.name)
            self._save()
        return protocol.ScheduleDeleted(command.name, self.light_name)

    def _info(self, name: str) -> protocol.ScheduleInfo:
        item = self._items[name]
        return protocol.ScheduleInfo(
            name, item.when, item.action, round(self.scheduler.next_fire(self._job_prefix + name)), self.light_name
        )

    def _save(self) -> None:
        if self.state_file is not None:
            self.state_file.save_schedules([protocol.schedule_fields(self._info(name)) for name in sorted(self._items)])

    def _fire(self, name: str) -> None:
        with self._lock:
            item = self._items.get(name)
        if item is None:
            return
        try:
            if isinstance(item.action, protocol.RecallScene):  # every light of the scene, not only its own
                if self.recall is None:
                    raise RuntimeError("no scenes to recall")
                self.recall(item.action, origin=f"schedule {name!r}")
            else:
                self.light.execute(item.action, origin=f"schedule {name!r}")
        except Exception:  # a hardware error, a frozen light: logged, and the next time comes
            log.exception("schedule %r could not run", name)
        info = None
        with self._lock:
            if name in self._items:
                info = self._info(name)
        if info is not None:  # its next time, for everyone
            for listener in self._listeners:
                listener(info, None)
