"""What each light of ``LIGHTS`` is: its name, its kind (one channel, RGB, or warm and cold
white), its pins, the range of its whites, and whether its LEDs are lit by a high or a low pin.

``LIGHTS=desk:21,strip:rgb:17/27/22,bulb:cct:18/19`` is a single-channel light on GPIO 21, an
RGB light on 17, 27 and 22 (red, green, blue) and a tunable white on 18 (warm) and 19 (cold).
After the pins may come, each after a colon: a white range ``2200-6500`` (kelvin, warmest
first; a colour light's), and ``active-low`` for LEDs lit when their pin is low (a
common-anode strip). docs/boards.md shows the wiring.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import protocol
from curves.looks import DEFAULT_KELVIN, LightKind

GPIO_PINS = range(0, 28)  # BCM GPIO 0..27: the 40-pin header of every Raspberry Pi
PIN_COUNT = {LightKind.SINGLE: 1, LightKind.RGB: 3, LightKind.CCT: 2}
PIN_NAMES = {LightKind.SINGLE: "PIN", LightKind.RGB: "R/G/B", LightKind.CCT: "WARM/COLD"}
ACTIVE_LOW = "active-low"
_RANGE = re.compile(r"([0-9]{4,5})-([0-9]{4,5})")
_EXAMPLE = "e.g. LIGHTS=desk:21,strip:rgb:17/27/22,bulb:cct:18/19"


class LightSpec(NamedTuple):
    """One light of LIGHTS: its name and the BCM pin of its LED (the first of a colour light's);
    its kind, every pin in channel order, its white range and its LEDs' polarity."""

    name: str
    pin: int
    kind: LightKind = LightKind.SINGLE
    pins: tuple[int, ...] = ()  # empty for a single channel: (pin,)
    kelvin_range: tuple[int, int] | None = None  # None: the kind's default
    active_high: bool = True

    @property
    def every_pin(self) -> tuple[int, ...]:
        return self.pins or (self.pin,)

    @property
    def pin_names(self) -> str:
        """``GPIO21``, ``GPIO17/27/22``: the pins as the log names them."""
        return "GPIO" + "/".join(map(str, self.every_pin))

    def white_range(self) -> tuple[int, int] | None:
        """The whites it shows (kelvin, warmest first); None for a single channel."""
        if self.kind is LightKind.SINGLE:
            return None
        return self.kelvin_range or DEFAULT_KELVIN[self.kind]


def parse_light_spec(part: str) -> LightSpec:
    """One light of LIGHTS (``NAME:PIN``, ``NAME:rgb:R/G/B``, ``NAME:cct:WARM/COLD``, then its
    options); ValueError saying what is wrong and what would be right."""
    name, colon, rest = part.partition(":")
    name = name.strip()
    if not colon or not protocol.LIGHT_NAME.fullmatch(name):
        raise ValueError(f"LIGHTS: {part!r} is not NAME:PIN ({protocol.LIGHT_NAME_RULE}), {_EXAMPLE}")
    words = [word.strip() for word in rest.split(":")]
    kind = LightKind.SINGLE
    if words[0].lower() in (LightKind.RGB, LightKind.CCT):
        kind = LightKind(words.pop(0).lower())
    elif words[0].isascii() and words[0].isalpha():  # a kind it does not know (a pin's errors are _pin's)
        raise ValueError(
            f"LIGHTS: light {name!r} has {words[0]!r} where its pin or kind goes: "
            f"NAME:PIN, NAME:rgb:R/G/B or NAME:cct:WARM/COLD, {_EXAMPLE}"
        )
    if not words:
        raise ValueError(f"LIGHTS: the {kind} light {name!r} needs its pins, {kind}:{PIN_NAMES[kind]}")
    pins = tuple(_pin(name, text) for text in words.pop(0).split("/"))
    if len(pins) != PIN_COUNT[kind]:
        has = "a single-channel light has one" if kind is LightKind.SINGLE else f"an {kind} light has {PIN_COUNT[kind]}"
        raise ValueError(
            f"LIGHTS: light {name!r} has {len(pins)} pin{'s' if len(pins) != 1 else ''}; {has} ({PIN_NAMES[kind]})"
        )
    if len(set(pins)) != len(pins):
        raise ValueError(f"LIGHTS: light {name!r} has a pin twice: {'/'.join(map(str, pins))}")
    kelvin_range, active_high = None, True
    for option in words:
        if option.lower() == ACTIVE_LOW:
            active_high = False
        elif _RANGE.fullmatch(option) and kind is not LightKind.SINGLE:
            kelvin_range = _kelvin_range(name, option)
        else:
            takes = f"a white range such as 2700-6500, or {ACTIVE_LOW}" if kind is not LightKind.SINGLE else ACTIVE_LOW
            raise ValueError(f"LIGHTS: light {name!r} has {option!r} after its pins; it takes {takes}")
    return LightSpec(name, pins[0], kind, pins if kind is not LightKind.SINGLE else (), kelvin_range, active_high)


def _pin(name: str, text: str) -> int:
    if not text.isascii() or not text.isdecimal() or int(text) not in GPIO_PINS:
        raise ValueError(
            f"LIGHTS: light {name!r} has pin {text!r}; a pin is a BCM GPIO number "
            f"from {GPIO_PINS.start} to {GPIO_PINS.stop - 1}"
        )
    return int(text)


def _kelvin_range(name: str, text: str) -> tuple[int, int]:
    match = _RANGE.fullmatch(text)
    assert match is not None
    warmest, coldest = int(match[1]), int(match[2])
    if not protocol.KELVIN_MIN <= warmest < coldest <= protocol.KELVIN_MAX:
        raise ValueError(
            f"LIGHTS: light {name!r} has the white range {text!r}; give WARMEST-COLDEST in kelvin, "
            f"from {protocol.KELVIN_MIN} to {protocol.KELVIN_MAX}, e.g. 2700-6500"
        )
    return warmest, coldest


def parse_lights(text: str) -> tuple[LightSpec, ...]:
    """``desk:21,shelf:20``: the lights in order, the first the default; ValueError saying which
    part is wrong (a name, a kind, a pin, a name or a pin given twice)."""
    specs: list[LightSpec] = []
    for part in (part.strip() for part in str(text).split(",")):
        if not part:
            continue
        spec = parse_light_spec(part)
        for other in specs:
            if other.name == spec.name:
                raise ValueError(f"LIGHTS: the name {spec.name!r} is given twice")
            for pin in set(other.every_pin) & set(spec.every_pin):
                raise ValueError(f"LIGHTS: GPIO{pin} is given to both {other.name!r} and {spec.name!r}")
        specs.append(spec)
    if not specs:
        raise ValueError(f"LIGHTS is empty: give NAME:PIN pairs, {_EXAMPLE}")
    return tuple(specs)
