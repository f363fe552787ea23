"""What each input of ``BUTTONS`` and ``ENCODERS`` is: the light it works, its kind and pins.

``BUTTONS=desk:5,shelf:6:switch`` is a push button on GPIO 5 for the light ``desk`` and a
latching wall switch on GPIO 6 for ``shelf``; ``ENCODERS=desk:17/27/22`` a rotary encoder on
GPIO 17 (A) and 27 (B) with its push switch on 22 (optional: ``desk:17/27``). Each pin is
wired to ground, read with the internal pull-up (docs/boards.md).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import NamedTuple

import protocol
from lamp.light_specs import GPIO_PINS, LightSpec


class InputKind(enum.StrEnum):
    BUTTON = "button"  # a momentary push button
    SWITCH = "switch"  # a latching switch: every flip toggles
    ENCODER = "encoder"  # a rotary encoder, with or without its push switch


class InputSpec(NamedTuple):
    """One input: the light it works, its kind, its pins (A, B and push for an encoder)."""

    light: str
    kind: InputKind
    pins: tuple[int, ...]
    scene: str | None = None  # what a push button's double-click recalls (None: full brightness)

    @property
    def name(self) -> str:
        """How the log, the states' origin and /healthz name it: ``button GPIO5``, ``encoder GPIO17/27/22``."""
        return f"{self.kind} GPIO" + "/".join(map(str, self.pins))


def _pin(text: str, setting: str, part: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) not in GPIO_PINS:
        raise ValueError(f"{setting}: {part!r}: {text!r} is not a BCM GPIO number from 0 to 27")
    return int(text)


def parse_buttons(text: str) -> tuple[InputSpec, ...]:
    """``desk:5,shelf:6:switch``; ValueError saying which part is wrong."""
    specs = []
    for part in (part.strip() for part in str(text or "").split(",")):
        if not part:
            continue
        fields = part.split(":")
        option = fields[2] if len(fields) == 3 else None
        scene = option.removeprefix("scene=") if option and option.startswith("scene=") else None
        if len(fields) not in (2, 3) or (option is not None and option != InputKind.SWITCH and scene is None):
            raise ValueError(
                f"BUTTONS: {part!r} is not LIGHT:PIN, LIGHT:PIN:switch or LIGHT:PIN:scene=NAME, e.g. BUTTONS=desk:5"
            )
        if scene is not None:
            try:
                scene = protocol.parse_save_scene({"name": scene}, None).name
            except protocol.ProtocolError as exc:
                raise ValueError(f"BUTTONS: {part!r}: the scene's {exc.message}") from None
        kind = InputKind.SWITCH if option == InputKind.SWITCH else InputKind.BUTTON
        specs.append(InputSpec(fields[0], kind, (_pin(fields[1], "BUTTONS", part),), scene))
    return tuple(specs)


def parse_encoders(text: str) -> tuple[InputSpec, ...]:
    """``desk:17/27/22`` (A/B/push) or ``desk:17/27``; ValueError saying which part is wrong."""
    specs = []
    for part in (part.strip() for part in str(text or "").split(",")):
        if not part:
            continue
        light, colon, pins = part.partition(":")
        numbers = pins.split("/")
        if not colon or len(numbers) not in (2, 3):
            raise ValueError(f"ENCODERS: {part!r} is not LIGHT:A/B or LIGHT:A/B/PUSH, e.g. ENCODERS=desk:17/27/22")
        specs.append(InputSpec(light, InputKind.ENCODER, tuple(_pin(n, "ENCODERS", part) for n in numbers)))
    return tuple(specs)


def check_inputs(inputs: Iterable[InputSpec], lights: Iterable[LightSpec]) -> tuple[InputSpec, ...]:
    """The inputs, each for a light there is and on a pin of its own; ValueError naming the
    light or the pin (and both of its users) otherwise."""
    lights = tuple(lights)
    names = [light.name for light in lights]
    taken = {pin: f"the light {light.name!r}" for light in lights for pin in light.every_pin}
    checked = []
    for spec in inputs:
        if spec.light not in names:
            raise ValueError(
                f"{spec.name} is for the light {spec.light!r}, and there is none: the lights are "
                f"{', '.join(names)}" + ("" if len(names) > 1 else f" (without LIGHTS, {protocol.DEFAULT_LIGHT_NAME})")
            )
        for pin in spec.pins:
            if pin in taken:
                raise ValueError(f"GPIO{pin} is given to both {taken[pin]} and the {spec.name}")
            taken[pin] = f"the {spec.name}"
        checked.append(spec)
    return tuple(checked)
