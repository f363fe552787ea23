"""The rules for an effect message's fields: which effects there are, each one's fields with
their range and default, and the checks that return an :class:`Effect` or raise
:class:`messages.fields.ProtocolError`. :mod:`protocol` re-exports them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, NamedTuple

from messages.fields import (
    INVALID_MESSAGE,
    Message,
    ProtocolError,
    describe,
    parse_color,
    parse_kelvin,
    seconds,
    whole,
)


class EffectName(enum.StrEnum):
    """The effects a light runs (docs/protocol.md, "Effects")."""

    BREATHE = "breathe"
    CANDLE = "candle"
    BLINK = "blink"
    FLASH = "flash"


class FieldRange(NamedTuple):
    """One field of an effect: its range, its default, and whether it is whole (else seconds)."""

    low: float
    high: float
    default: float
    whole: bool = False


EFFECTS = tuple(EffectName)
EFFECT_FIELDS: dict[EffectName, dict[str, FieldRange]] = {
    EffectName.BREATHE: {"period": FieldRange(0.5, 600, 4)},
    EffectName.CANDLE: {"depth": FieldRange(1, 100, 30, whole=True)},
    EffectName.BLINK: {"on_time": FieldRange(0.05, 3600, 0.5), "off_time": FieldRange(0.05, 3600, 0.5)},
    EffectName.FLASH: {
        "count": FieldRange(1, 100, 3, whole=True),
        "on_time": FieldRange(0.05, 60, 0.5),
        "off_time": FieldRange(0.05, 60, 0.5),
    },
}
ALL_EFFECT_FIELDS = tuple(dict.fromkeys(name for fields in EFFECT_FIELDS.values() for name in fields))


@dataclass(frozen=True)
class Effect:
    """An effect and its fields (the ones it does not take are None), and the colour or white
    it is shown in (None: the light's own; a candle's flame)."""

    name: EffectName
    period: float | None = None  # breathe: seconds from top to top
    depth: int | None = None  # candle: percent of the brightness the flame may dip
    on_time: float | None = None  # blink, flash: seconds on...
    off_time: float | None = None  # ...and off
    count: int | None = None  # flash: blinks
    color: str | None = None  # "#rrggbb", lower case
    kelvin: int | None = None

    @property
    def tone(self) -> Tone:
        return Tone(self.color, self.kelvin)

    def fields(self) -> dict[str, Any]:
        """The flat JSON fields that start it again: ``effect``, its own, and its colour if it has one."""
        own = {name: getattr(self, name) for name in EFFECT_FIELDS[self.name]}
        return {"effect": str(self.name), **own, **self.tone.fields()}


COLOR_FIELDS = ("color", "kelvin")  # the colour of a set, an effect or a schedule: one of them at most


class Tone(NamedTuple):
    """The colour a message asks for: ``color`` ("#rrggbb", lower case) or a white of
    ``kelvin``; both None when it asks for none (the light keeps its own)."""

    color: str | None = None
    kelvin: int | None = None

    def fields(self) -> dict[str, Any]:
        """As its flat JSON field: ``color`` or ``kelvin`` (none when it has neither)."""
        if self.color is not None:
            return {"color": self.color}
        return {"kelvin": self.kelvin} if self.kelvin is not None else {}


def parse_tone(message: Message) -> Tone:
    """A message's ``color`` or ``kelvin`` (at most one of them), each None when absent."""
    given = [field for field in COLOR_FIELDS if field in message]
    if len(given) > 1:
        raise ProtocolError(
            INVALID_MESSAGE, "send color or kelvin, not both: a light shows one colour (kelvin is a white)"
        )
    color = parse_color(message["color"]) if "color" in message else None
    kelvin = parse_kelvin(message["kelvin"]) if "kelvin" in message else None
    return Tone(color, kelvin)


def parse_effect(message: Message) -> Effect | None:
    """A message's ``effect`` and its fields; None for ``"effect": null`` (stop the effect)."""
    name = message["effect"]
    given = [field for field in ALL_EFFECT_FIELDS if field in message]
    if name is None:
        given += [field for field in COLOR_FIELDS if field in message]
        if given:
            raise ProtocolError(INVALID_MESSAGE, f'"effect": null stops the effect and takes no {given[0]}')
        return None
    if not isinstance(name, str) or name not in EFFECTS:
        raise ProtocolError(
            INVALID_MESSAGE,
            f"effect must be one of {', '.join(map(describe, EFFECTS))} (or null to stop it), got {describe(name)}",
        )
    effect = EffectName(name)
    own = EFFECT_FIELDS[effect]
    foreign = [field for field in given if field not in own]
    if foreign:
        takes = ", ".join(own)
        raise ProtocolError(INVALID_MESSAGE, f"{foreign[0]} does not go with {effect}, which takes {takes}")
    values: dict[str, Any] = {}
    for field_name, field in own.items():
        value = message.get(field_name, field.default)
        rule = (
            f"{field_name} must be {'an integer' if field.whole else 'a number of seconds'} "
            f"from {field.low:g} to {field.high:g}"
        )
        values[field_name] = (whole if field.whole else seconds)(value, rule, field.low, field.high)
    color, kelvin = parse_tone(message)
    return Effect(effect, **values, color=color, kelvin=kelvin)
