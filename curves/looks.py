"""What a light shows, channel by channel, for each kind of light, and the way a fade goes.

A :class:`Look` is a level (the perceived brightness of the whole light, 0..100, as on a
single-channel light) and a tint (each channel's share at full brightness). The kind of light
turns it into duty cycles: a single-channel light through its curve; an RGB light the curve's
duty times its colour (the brightest channel at the curve's duty); a tunable-white (CCT) light
the duty shared between warm and cold, their sum constant across the range (ESPHome's
``constant_brightness``), the share of cold linear in mireds, as a bulb's makers do.

A fade on a single-channel light moves the level; on an RGB light it moves the colour it
gives off through OKLCh (:mod:`curves.colour`), brightness and colour on one clock; on a CCT
light it moves the level and walks the warm-to-cold mix at an even pace in OKLab. Pure
arithmetic, no I/O, no protocol: :mod:`lamp.colours` says what a message's colour means.
"""

from __future__ import annotations

import bisect
import enum
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from curves import colour
from curves.brightness import Curve, ease

Tint = tuple[float, ...]  # each channel's share at full brightness
Path = Callable[[float], "Look"]  # where a fade is at progress 0..1 (already eased)


class Look(NamedTuple):
    """What a light shows: ``level`` (0..100, fractions during a fade) in ``tint``."""

    level: float
    tint: Tint


class LightKind(enum.StrEnum):
    """What a light is (docs/boards.md): one channel, red-green-blue, or warm and cold white."""

    SINGLE = "single"
    RGB = "rgb"
    CCT = "cct"


DEFAULT_KELVIN = {LightKind.RGB: (1700, 10000), LightKind.CCT: (2700, 6500)}  # the range when LIGHTS gives none
FLAME_KELVIN = (1900, 1700)  # a candle's flame on an RGB light: at rest, and at its deepest dip


@dataclass(frozen=True)
class SingleChannel:
    """One PWM channel: today's light, byte for byte."""

    curve: Curve = Curve("cie")
    kind: LightKind = LightKind.SINGLE
    roles: tuple[str, ...] = ("light",)
    kelvin_range: tuple[int, int] | None = None
    takes_color: bool = False

    @property
    def white(self) -> Tint:
        return (1.0,)

    def duties(self, look: Look) -> tuple[float, ...]:
        return (self.curve.duty(look.level),)

    def path(self, start: Look, end: Look) -> Path:
        return lambda progress: Look(start.level + (end.level - start.level) * progress, end.tint)

    def flame(self) -> tuple[Tint, Tint]:
        return self.white, self.white


@dataclass(frozen=True)
class RgbChannels:
    """Red, green and blue: any colour, and white of a temperature through the black body's."""

    curve: Curve = Curve("cie")
    kelvin_range: tuple[int, int] = DEFAULT_KELVIN[LightKind.RGB]
    kind: LightKind = LightKind.RGB
    roles: tuple[str, ...] = ("red", "green", "blue")
    takes_color: bool = True

    @property
    def white(self) -> Tint:
        return (1.0, 1.0, 1.0)

    def of_color(self, hex_color: str) -> Tint:
        """The tint of ``#rrggbb``; ValueError for black (it has none)."""
        return colour.at_full(colour.hex_to_linear(hex_color))

    def of_kelvin(self, kelvin: float) -> Tint:
        return colour.at_full(colour.blackbody(kelvin))

    def duties(self, look: Look) -> tuple[float, ...]:
        duty = self.curve.duty(look.level)
        return tuple(duty * share for share in look.tint)

    def emitted(self, look: Look) -> colour.Rgb:
        red, green, blue = self.duties(look)
        return red, green, blue

    def path(self, start: Look, end: Look) -> Path:
        """Through OKLCh, from the colour given off at ``start`` to the one at ``end``: lightness
        and chroma evenly, the hue the short way round, kept inside what the LEDs can make."""
        first, last = colour.lch(colour.oklab(self.emitted(start))), colour.lch(colour.oklab(self.emitted(end)))

        def at(progress: float) -> Look:
            if progress >= 1:
                return end
            if progress <= 0:
                return start
            return self.look_of(colour.to_gamut(colour.mix(first, last, progress)), end.tint)

        return at

    def look_of(self, rgb: colour.Rgb, dark_tint: Tint) -> Look:
        """The look that gives off ``rgb``: its brightest channel says the level (``dark_tint``
        when it is black)."""
        top = max(rgb)
        if top <= 0:
            return Look(0.0, dark_tint)
        return Look(self.curve.level_for(top), tuple(channel / top for channel in rgb))

    def flame(self) -> tuple[Tint, Tint]:
        return self.of_kelvin(FLAME_KELVIN[0]), self.of_kelvin(FLAME_KELVIN[1])


@dataclass(frozen=True)
class CctChannels:
    """Warm and cold white on two channels, mixed at constant brightness."""

    curve: Curve = Curve("cie")
    kelvin_range: tuple[int, int] = DEFAULT_KELVIN[LightKind.CCT]
    kind: LightKind = LightKind.CCT
    roles: tuple[str, ...] = ("warm", "cold")
    takes_color: bool = False
    _walk: tuple[float, ...] = field(default=(), compare=False, repr=False)  # OKLab distance along the mix

    STEPS = 64  # the mix is walked in this many pieces: the pace is even to a 64th

    def __post_init__(self) -> None:
        warm, cold = (colour.blackbody(kelvin) for kelvin in self.kelvin_range)
        points = [
            colour.oklab(tuple(w * (1 - share) + c * share for w, c in zip(warm, cold, strict=True)))  # type: ignore[arg-type]
            for share in (index / self.STEPS for index in range(self.STEPS + 1))
        ]
        walk = [0.0]
        for before, after in zip(points, points[1:], strict=False):
            walk.append(walk[-1] + math.dist(before, after))
        object.__setattr__(self, "_walk", tuple(walk))

    @property
    def white(self) -> Tint:
        return self.of_kelvin(self.kelvin_range[0])

    def of_kelvin(self, kelvin: float) -> Tint:
        """Warm and cold's shares of ``kelvin``: the cold share linear in mireds, as white LEDs mix."""
        warm_mired, cold_mired = (1e6 / kelvin for kelvin in self.kelvin_range)
        cold = (warm_mired - 1e6 / kelvin) / (warm_mired - cold_mired)
        cold = min(1.0, max(0.0, cold))
        return (1.0 - cold, cold)

    def duties(self, look: Look) -> tuple[float, ...]:
        duty = self.curve.duty(look.level)
        return duty * look.tint[0], duty * look.tint[1]

    def path(self, start: Look, end: Look) -> Path:
        """The level as on a single channel, and the mix at an even pace in OKLab."""
        first, last = self._distance(start.tint[1]), self._distance(end.tint[1])

        def at(progress: float) -> Look:
            if progress >= 1:
                return end
            cold = self._share(first + (last - first) * progress)
            return Look(start.level + (end.level - start.level) * progress, (1.0 - cold, cold))

        return at

    def _distance(self, cold: float) -> float:
        position = min(1.0, max(0.0, cold)) * self.STEPS
        index = min(int(position), self.STEPS - 1)
        return self._walk[index] + (self._walk[index + 1] - self._walk[index]) * (position - index)

    def _share(self, distance: float) -> float:
        index = min(max(bisect.bisect_right(self._walk, distance) - 1, 0), self.STEPS - 1)
        piece = self._walk[index + 1] - self._walk[index]
        within = (distance - self._walk[index]) / piece if piece else 0.0
        return min(1.0, max(0.0, (index + within) / self.STEPS))

    def flame(self) -> tuple[Tint, Tint]:
        return (1.0, 0.0), (1.0, 0.0)  # its warmest


Channels = SingleChannel | RgbChannels | CctChannels


def channels_for(kind: LightKind, curve: Curve = Curve("cie"), kelvin_range: tuple[int, int] | None = None) -> Channels:
    """The channels of a light of ``kind``, through ``curve``, white from ``kelvin_range``."""
    if kind is LightKind.RGB:
        return RgbChannels(curve, kelvin_range or DEFAULT_KELVIN[kind])
    if kind is LightKind.CCT:
        return CctChannels(curve, kelvin_range or DEFAULT_KELVIN[kind])
    return SingleChannel(curve)


@dataclass(frozen=True)
class Fade:
    """A fade from ``start`` to ``target`` over ``duration`` s, begun at ``began``, along ``path``
    (the light's kind's :meth:`path` between them), eased in and out."""

    start: Look
    target: Look
    began: float
    duration: float
    path: Path = field(compare=False, repr=False)

    def look_at(self, now: float) -> Look:
        return self.path(ease((now - self.began) / self.duration))

    def done_at(self, now: float) -> bool:
        return now - self.began >= self.duration

    def remaining(self, now: float) -> float:
        return max(0.0, self.began + self.duration - now)
