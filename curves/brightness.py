"""How a level looks: the curve from level to PWM duty cycle, and the shape of a fade.

Pure arithmetic, no I/O. The eye's response is far from linear: a 50 % duty cycle
looks nearly full. CIE 1931 lightness (the default) maps level L (0..100, the
perceived lightness) to the luminance the LED must give, so level 50 looks half as
bright and level 1 is visibly on. ``docs/brightness.md`` has the table.
"""

from __future__ import annotations

from dataclasses import dataclass

CURVES = "cie, linear, or gamma:G (G from 0.1 to 5)"


@dataclass(frozen=True)
class Curve:
    """Level (0..100, fractions allowed during a fade) to duty cycle (0..1)."""

    name: str
    gamma: float | None = None  # for "gamma:G"

    def duty(self, level: float) -> float:
        level = min(100.0, max(0.0, level))
        if self.name == "linear":
            return level / 100
        if self.name == "gamma" and self.gamma is not None:
            return float((level / 100) ** self.gamma)
        # CIE 1931: L* = 116 (Y)^(1/3) - 16 above L* = 8, and L* = 903.3 Y below it.
        if level > 8:
            return ((level + 16) / 116) ** 3
        return level / 903.3

    def level_for(self, duty: float) -> float:
        """The level whose duty cycle is ``duty``: the curve read backwards (what a colour
        light's brightest channel says of its brightness)."""
        duty = min(1.0, max(0.0, duty))
        if self.name == "linear":
            return duty * 100
        if self.name == "gamma" and self.gamma is not None:
            return float(100 * duty ** (1 / self.gamma))
        if duty > 8 / 903.3:
            return float(116 * duty ** (1 / 3) - 16)
        return duty * 903.3

    def __str__(self) -> str:
        return f"gamma:{self.gamma:g}" if self.name == "gamma" else self.name


def parse_curve(text: str) -> Curve:
    """``cie``, ``linear`` or ``gamma:G``; raises ValueError naming the choices."""
    text = str(text).strip().lower()
    if text in ("cie", "linear"):
        return Curve(text)
    if text.startswith("gamma:"):
        try:
            gamma = float(text[6:])
        except ValueError:
            gamma = float("nan")
        if 0.1 <= gamma <= 5:
            return Curve("gamma", gamma)
    raise ValueError(f"BRIGHTNESS_CURVE must be {CURVES}, got {text!r}")


def ease(progress: float) -> float:
    """Ease in and out (smoothstep): a fade starts and ends gently, in perceived lightness."""
    progress = min(1.0, max(0.0, progress))
    return progress * progress * (3 - 2 * progress)
