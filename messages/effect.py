"""The rules for an effect message's fields: which effects there are, each one's fields with
their range and default, and the checks that return an :class:`Effect` or raise
:class:`messages.fields.ProtocolError`. :mod:`protocol` re-exports them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, NamedTuple

from messages.fields import INVALID_MESSAGE, Message, ProtocolError, describe, seconds, whole


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
    """An effect and its fields (the ones it does not take are None)."""

    name: EffectName
    period: float | None = None  # breathe: seconds from top to top
    depth: int | None = None  # candle: percent of the brightness the flame may dip
    on_time: float | None = None  # blink, flash: seconds on...
    off_time: float | None = None  # ...and off
    count: int | None = None  # flash: blinks

    def fields(self) -> dict[str, Any]:
        """The flat JSON fields that start it again: ``effect`` and its own."""
        return {"effect": str(self.name), **{name: getattr(self, name) for name in EFFECT_FIELDS[self.name]}}


def parse_effect(message: Message) -> Effect | None:
    """A message's ``effect`` and its fields; None for ``"effect": null`` (stop the effect)."""
    name = message["effect"]
    given = [field for field in ALL_EFFECT_FIELDS if field in message]
    if name is None:
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
    return Effect(effect, **values)
