"""The effects' shapes: what a light shows at each instant while an effect runs.

Pure arithmetic on time, like :class:`curves.looks.Fade`: the LED's one writer (the fader,
:mod:`led`) asks ``look_at(now)`` up to 60 times a second and writes it through the light's
channels. ``top`` is the light's brightness, the level the effect is built around, and
``tint`` the colour it is shown in (:mod:`curves.looks`; a single channel's is ``(1.0,)``).

- **breathe**: a smooth rise and fall between 0 and ``top``, ``period`` s from top to top.
  It begins at the level shown when it starts (on its way down), so it starts without a jump.
- **candle**: a flicker below ``top``, never under ``top * (1 - depth/100)``: a new random
  depth every ``FLICKER_STEP`` s, eased into, from a seeded generator (the same seed, the
  same flame). On a colour light the flame reddens as it dips (``deep_tint``).
- **blink**: ``top`` for ``on_time`` s, 0 for ``off_time`` s, over and over.
- **flash**: ``count`` blinks, then back: to ``back`` (the look before), or on with the
  effect that ran before it (``then``), which has kept its time meanwhile: done.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from curves.brightness import ease
from curves.looks import Look, Tint
from messages.effect import Effect, EffectName

FLICKER_STEP = 0.12  # seconds between a candle's random depths


@dataclass(frozen=True)
class Breathe:
    top: float
    period: float
    began: float
    tint: Tint = (1.0,)
    name: EffectName = EffectName.BREATHE

    @classmethod
    def starting_at(cls, shown: float, top: float, period: float, now: float, tint: Tint = (1.0,)) -> Breathe:
        """A breathe whose first level is ``shown`` (on the way down from ``top``): no jump."""
        fraction = min(1.0, max(0.0, shown / top)) if top else 1.0
        phase = math.acos(2 * fraction - 1) / (2 * math.pi)  # 0 at the top, 0.5 at 0
        return cls(top, period, now - phase * period, tint)

    def look_at(self, now: float) -> Look:
        return Look(self.top * (1 + math.cos(2 * math.pi * (now - self.began) / self.period)) / 2, self.tint)

    def done_at(self, now: float) -> bool:
        return False


@dataclass(frozen=True)
class Candle:
    top: float
    depth: float  # percent of ``top`` the flame may dip
    began: float
    seed: int = 0
    tint: Tint = (1.0,)
    deep_tint: Tint = (1.0,)  # the flame's colour at its deepest dip
    name: EffectName = EffectName.CANDLE
    _cache: dict[int, float] = field(default_factory=dict, compare=False, repr=False)

    def _dip(self, step: int) -> float:
        """The random dip (0..1) of flicker step ``step``: the same for the same seed and step."""
        dip = self._cache.get(step)
        if dip is None:
            if len(self._cache) > 4:
                self._cache.clear()
            # Small dips mostly, a deep one now and then, as a flame does.
            dip = self._cache[step] = random.Random(self.seed * 1_000_003 + step).random() ** 2
        return dip

    def look_at(self, now: float) -> Look:
        position = max(0.0, now - self.began) / FLICKER_STEP
        step = int(position)
        dip = self._dip(step) + (self._dip(step + 1) - self._dip(step)) * ease(position - step)
        deep = self.depth / 100 * dip
        if self.deep_tint == self.tint:
            return Look(self.top * (1 - deep), self.tint)
        return Look(
            self.top * (1 - deep), tuple(a + (b - a) * deep for a, b in zip(self.tint, self.deep_tint, strict=True))
        )

    def done_at(self, now: float) -> bool:
        return False


@dataclass(frozen=True)
class Blink:
    top: float
    on_time: float
    off_time: float
    began: float
    tint: Tint = (1.0,)
    name: EffectName = EffectName.BLINK

    def look_at(self, now: float) -> Look:
        return Look(_blinking(self.top, self.on_time, self.off_time, now - self.began), self.tint)

    def done_at(self, now: float) -> bool:
        return False


@dataclass(frozen=True)
class Flash:
    top: float
    on_time: float
    off_time: float
    count: int
    began: float
    back: Look  # the look before: where the flash ends
    tint: Tint = (1.0,)
    then: Shape | None = None  # the effect that ran before, which goes on when the flash ends
    name: EffectName = EffectName.FLASH

    def look_at(self, now: float) -> Look:
        if self.done_at(now):
            return self.then.look_at(now) if self.then is not None else self.back
        # Dark between blinks in the look it goes back to, so that a coloured flash never tints the dark.
        level = _blinking(self.top, self.on_time, self.off_time, now - self.began)
        return Look(level, self.tint) if level else self.back._replace(level=0.0)

    def done_at(self, now: float) -> bool:
        return now - self.began >= self.count * (self.on_time + self.off_time)


@dataclass(frozen=True)
class Dip:
    """One short dip of the level and back: how a hand's dimming says it has reached an end,
    as a wall dimmer does. Not an effect a client starts: it tells no one, and ends where it began."""

    back: Look  # the look it dips from and comes back to
    began: float
    depth: float = 0.6  # the share of the level it dips by, at its deepest
    duration: float = 0.3
    name: str = "dip"

    def look_at(self, now: float) -> Look:
        elapsed = (now - self.began) / self.duration
        if elapsed >= 1:
            return self.back
        deepest = 1 - abs(2 * elapsed - 1)  # down and back up, evenly
        return self.back._replace(level=self.back.level * (1 - self.depth * deepest))

    def done_at(self, now: float) -> bool:
        return now - self.began >= self.duration


def _blinking(top: float, on_time: float, off_time: float, elapsed: float) -> float:
    """``top`` for ``on_time`` s, then 0 for ``off_time`` s, over and over, ``elapsed`` s in."""
    return top if elapsed % (on_time + off_time) < on_time else 0.0


Shape = Breathe | Candle | Blink | Flash | Dip


class Colours(NamedTuple):
    """The colours an effect is shown in: ``tint``, and a candle's ``deep_tint`` at its deepest dip."""

    tint: Tint
    deep_tint: Tint


def shape_for(
    effect: Effect, top: float, back: Look, colours: Colours, seed: int = 0, then: Shape | None = None
) -> Callable[[float, float], Shape]:
    """``make(shown, now)``: the shape of ``effect`` (its name and fields) around ``top`` in
    ``colours``, begun at ``now`` with the level ``shown`` on the LED; a flash ends at ``back``,
    or goes on with ``then``. ValueError for an effect it knows no shape of."""
    name = EffectName(effect.name)  # ValueError for a name it knows no shape of
    fields = effect.fields()  # the effect's own, each given (protocol.parse_effect fills in the defaults)
    tint = colours.tint
    shapes: dict[EffectName, Callable[[float, float], Shape]] = {
        EffectName.BREATHE: lambda shown, now: Breathe.starting_at(shown, top, fields["period"], now, tint),
        EffectName.CANDLE: lambda shown, now: Candle(top, fields["depth"], now, seed, tint, colours.deep_tint),
        EffectName.BLINK: lambda shown, now: Blink(top, fields["on_time"], fields["off_time"], now, tint),
        EffectName.FLASH: lambda shown, now: Flash(
            top, fields["on_time"], fields["off_time"], fields["count"], now, back, tint, then
        ),
    }
    return shapes[name]
