"""When a schedule fires, and its name: the rules for a schedule message's time fields (at,
cron, sun with offset, days) and for its name. Pure checks that return the value or raise
:class:`fields.ProtocolError`; :mod:`protocol` re-exports them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from messages.fields import INVALID_MESSAGE, OUT_OF_RANGE, Message, ProtocolError, describe

DAILY = "daily"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SUN_EVENTS = ("sunrise", "sunset")
SUN_OFFSET_MAX = 720  # minutes


@dataclass(frozen=True)
class When:
    """When a schedule fires: one of ``at`` (a local time of day), ``cron`` (a crontab line)
    and ``sun`` (sunrise or sunset, ``offset`` minutes after), on ``days``."""

    at: str | None = None  # "HH:MM" or "HH:MM:SS"
    cron: str | None = None  # "MIN HOUR DOM MON DOW"; it has its own days
    sun: str | None = None  # "sunrise" or "sunset"
    offset: int = 0  # minutes, with sun
    days: str = "daily"  # "daily" or weekdays such as "mon,tue,wed,thu,fri"


_NAME = re.compile(r"[A-Za-z0-9 _.-]{1,32}")
_TIME_OF_DAY = re.compile(r"([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?")


def parse_schedule_name(message: Message) -> str:
    """A schedule's name: 1 to 32 letters, digits, spaces, '_', '.' or '-'."""
    value = message.get("name")
    if not isinstance(value, str) or not _NAME.fullmatch(value) or value.strip() != value:
        raise ProtocolError(
            INVALID_MESSAGE, f"name must be 1 to 32 letters, digits, spaces, '_', '.' or '-', got {describe(value)}"
        )
    return value


def parse_days(value: object) -> str:
    """``daily`` (or absent), or weekdays: ``mon-fri``, ``sat,sun``, ``mon,wed-fri``; canonical out."""
    rule = 'days must be "daily" or weekdays such as "mon-fri" or "sat,sun"'
    if value is None:
        return DAILY
    if not isinstance(value, str):
        raise ProtocolError(INVALID_MESSAGE, f"{rule}, got {describe(value)}")
    text = value.strip().lower()
    if text in (DAILY, "mon-sun"):
        return DAILY
    chosen: set[str] = set()
    for part in text.split(","):
        ends = [end.strip() for end in part.split("-")]
        if len(ends) > 2 or not all(end in WEEKDAYS for end in ends):
            raise ProtocolError(INVALID_MESSAGE, f"{rule}, got {describe(value)}")
        first, last = WEEKDAYS.index(ends[0]), WEEKDAYS.index(ends[-1])
        if last < first:
            raise ProtocolError(INVALID_MESSAGE, f"{rule} (a range runs from mon to sun), got {describe(value)}")
        chosen.update(WEEKDAYS[first : last + 1])
    return DAILY if len(chosen) == 7 else ",".join(day for day in WEEKDAYS if day in chosen)


def parse_time_of_day(value: object) -> str:
    """A local time of day, ``HH:MM`` or ``HH:MM:SS`` (24-hour)."""
    match = _TIME_OF_DAY.fullmatch(value) if isinstance(value, str) else None
    if not isinstance(value, str) or not match or int(match[1]) > 23 or int(match[2]) > 59 or int(match[3] or 0) > 59:
        raise ProtocolError(
            INVALID_MESSAGE, f'at must be a time of day such as "06:45" (00:00 to 23:59), got {describe(value)}'
        )
    return value


def parse_when(message: Message) -> When:
    """One of at, cron and sun (with offset), and days; see protocol.When."""
    given = [field for field in ("at", "cron", "sun") if field in message]
    if len(given) != 1:
        raise ProtocolError(
            INVALID_MESSAGE,
            'a schedule needs one of at ("06:45"), cron ("30 23 * * *") '
            f'and sun ("sunrise" or "sunset"), got {" and ".join(given) or "none"}',
        )
    if "offset" in message and given != ["sun"]:
        raise ProtocolError(INVALID_MESSAGE, "offset goes with sun only")
    if given == ["at"]:
        return When(at=parse_time_of_day(message["at"]), days=parse_days(message.get("days")))
    if given == ["cron"]:
        cron = message["cron"]
        if not isinstance(cron, str) or len(cron.split()) != 5 or len(cron) > 100:
            raise ProtocolError(
                INVALID_MESSAGE,
                f'cron must be five fields, minute hour day month weekday ("30 23 * * *"), got {describe(cron)}',
            )
        if "days" in message:
            raise ProtocolError(INVALID_MESSAGE, "a cron line has its own days: leave days out")
        return When(cron=" ".join(cron.split()))
    sun = message["sun"]
    if sun not in SUN_EVENTS:
        raise ProtocolError(INVALID_MESSAGE, f'sun must be "sunrise" or "sunset", got {describe(sun)}')
    offset = message.get("offset", 0)
    if isinstance(offset, bool) or not isinstance(offset, int):
        raise ProtocolError(INVALID_MESSAGE, f"offset must be whole minutes, got {describe(offset)}")
    if abs(offset) > SUN_OFFSET_MAX:
        raise ProtocolError(
            OUT_OF_RANGE, f"offset must be from -{SUN_OFFSET_MAX} to {SUN_OFFSET_MAX} minutes, got {offset}"
        )
    return When(sun=sun, offset=offset, days=parse_days(message.get("days")))
