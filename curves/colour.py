"""Colour as the eye sees it: sRGB, linear light, OKLab and OKLCh, white of a temperature.

Pure arithmetic, no I/O. A colour light mixes its channels in linear light (what a PWM duty
cycle gives), and a fade between two colours moves through OKLCh (Björn Ottosson's OKLab,
in polar form): lightness and chroma change evenly and the hue takes the short way round, so
the middle of a fade is never dimmer or greyer than its ends, as a straight line in sRGB or
in linear light would be (red to green through a muddy brown, blue to yellow through grey).
A colour OKLab has that the LEDs cannot make keeps its lightness and hue and loses chroma
until they can, or until clipping it is a difference no one sees (CSS Color 4's gamut
mapping: bisection of chroma, with a just-noticeable difference of 0.02 in OKLab).

White of a temperature (``kelvin``) is the black body's colour: its chromaticity on the
Planckian locus (Kim et al., 2002, a cubic fit from 1667 K to 25000 K) turned into linear sRGB.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

Rgb = tuple[float, float, float]  # linear light, each channel 0..1 (a duty cycle before the curve)

HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
BLACKBODY_RANGE = (1667, 25000)  # kelvin: where the locus fit holds
JND = 0.02  # a just-noticeable difference in OKLab (CSS Color 4's gamut mapping)
_EPSILON = 0.0001  # when the bisection of chroma stops
_GREY = 1e-4  # chroma below which a colour has no hue to speak of


class Lab(NamedTuple):
    """A colour in OKLab: lightness ``L`` (0 black .. 1 white) and the opponent axes ``a``, ``b``."""

    L: float
    a: float
    b: float


class Lch(NamedTuple):
    """A colour in OKLCh: lightness, chroma (0: grey), and hue in radians."""

    L: float
    C: float
    h: float


def parse_hex(text: str) -> tuple[int, int, int]:
    """``#rrggbb`` (any case) as three bytes; ValueError for anything else."""
    if not isinstance(text, str) or not HEX_COLOR.fullmatch(text):
        raise ValueError(f"not a colour #rrggbb: {text!r}")
    return int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16)


def to_hex(red: int, green: int, blue: int) -> str:
    """Three bytes as ``#rrggbb``, lower case: how the service writes a colour."""
    return f"#{red:02x}{green:02x}{blue:02x}"


def srgb_to_linear(channel: float) -> float:
    """One sRGB channel (0..1, as a colour picker gives it) as linear light."""
    if channel <= 0.04045:
        return channel / 12.92
    return float(((channel + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(channel: float) -> float:
    channel = min(1.0, max(0.0, channel))
    if channel <= 0.0031308:
        return channel * 12.92
    return float(1.055 * channel ** (1 / 2.4) - 0.055)


def hex_to_linear(text: str) -> Rgb:
    red, green, blue = parse_hex(text)
    return srgb_to_linear(red / 255), srgb_to_linear(green / 255), srgb_to_linear(blue / 255)


def linear_to_hex(rgb: tuple[float, ...]) -> str:
    red, green, blue = (round(linear_to_srgb(channel) * 255) for channel in rgb)
    return to_hex(red, green, blue)


def oklab(rgb: Rgb) -> Lab:
    """Linear sRGB to OKLab (Ottosson's matrices, as CSS Color 4 has them)."""
    red, green, blue = rgb
    long = math.cbrt(0.4122214708 * red + 0.5363325363 * green + 0.0514459929 * blue)
    medium = math.cbrt(0.2119034982 * red + 0.6806995451 * green + 0.1073969566 * blue)
    short = math.cbrt(0.0883024619 * red + 0.2817188376 * green + 0.6299787005 * blue)
    return Lab(
        0.2104542553 * long + 0.7936177850 * medium - 0.0040720468 * short,
        1.9779984951 * long - 2.4285922050 * medium + 0.4505937099 * short,
        0.0259040371 * long + 0.7827717662 * medium - 0.8086757660 * short,
    )


def linear_from_oklab(lab: Lab) -> Rgb:
    """OKLab to linear sRGB; the result may lie outside 0..1 (out of gamut)."""
    lightness, a, b = lab
    long = (lightness + 0.3963377774 * a + 0.2158037573 * b) ** 3
    medium = (lightness - 0.1055613458 * a - 0.0638541728 * b) ** 3
    short = (lightness - 0.0894841775 * a - 1.2914855480 * b) ** 3
    return (
        4.0767416621 * long - 3.3077115913 * medium + 0.2309699292 * short,
        -1.2684380046 * long + 2.6097574011 * medium - 0.3413193965 * short,
        -0.0041960863 * long - 0.7034186147 * medium + 1.7076147010 * short,
    )


def lch(lab: Lab) -> Lch:
    return Lch(lab.L, math.hypot(lab.a, lab.b), math.atan2(lab.b, lab.a))


def lab_from_lch(colour: Lch) -> Lab:
    return Lab(colour.L, colour.C * math.cos(colour.h), colour.C * math.sin(colour.h))


def mix(start: Lch, end: Lch, progress: float) -> Lch:
    """The colour ``progress`` (0..1) of the way from ``start`` to ``end`` in OKLCh: lightness
    and chroma evenly, the hue the short way round. A grey end (black, white) has no hue of its
    own and takes the other end's, so a light turning on or going white keeps its hue."""
    start_hue, end_hue = start.h, end.h
    if start.C < _GREY:
        start_hue = end_hue
    elif end.C < _GREY:
        end_hue = start_hue
    turn = (end_hue - start_hue + math.pi) % (2 * math.pi) - math.pi  # -pi..pi: the short way
    return Lch(
        start.L + (end.L - start.L) * progress,
        start.C + (end.C - start.C) * progress,
        start_hue + turn * progress,
    )


def in_gamut(rgb: Rgb, slack: float = 1e-9) -> bool:
    return all(-slack <= channel <= 1 + slack for channel in rgb)


def to_gamut(colour: Lch) -> Rgb:
    """The linear sRGB of ``colour``, or, when the LEDs cannot make it, of the colour of the same
    lightness and hue with less chroma that they can make, clipped once clipping it is a
    difference no one sees (CSS Color 4, "binary search gamut mapping with local MINDE"). It
    moves smoothly with ``colour``, where clipping alone would bend the hue and bisecting to the
    exact edge would jump near blue's sharp corner. At most 12 bisections."""
    colour = colour._replace(L=min(1.0, max(0.0, colour.L)))
    origin = lab_from_lch(colour)
    rgb = linear_from_oklab(origin)
    if in_gamut(rgb):
        return _clamped(rgb)
    clipped = _clamped(rgb)
    if math.dist(oklab(clipped), origin) < JND:
        return clipped
    low, high, low_in_gamut = 0.0, colour.C, True
    while high - low > _EPSILON:
        chroma = (low + high) / 2
        current = lab_from_lch(colour._replace(C=chroma))
        rgb = linear_from_oklab(current)
        if low_in_gamut and in_gamut(rgb):
            low = chroma
            continue
        clipped = _clamped(rgb)
        error = math.dist(oklab(clipped), current)
        if error < JND:
            if JND - error < _EPSILON:
                return clipped
            low_in_gamut, low = False, chroma
        else:
            high = chroma
    return _clamped(linear_from_oklab(lab_from_lch(colour._replace(C=low))))


def _clamped(rgb: Rgb) -> Rgb:
    red, green, blue = (min(1.0, max(0.0, channel)) for channel in rgb)
    return red, green, blue


def blackbody_xy(kelvin: float) -> tuple[float, float]:
    """The chromaticity (CIE 1931 x, y) of a black body at ``kelvin`` (Kim et al.'s fit)."""
    kelvin = min(BLACKBODY_RANGE[1], max(BLACKBODY_RANGE[0], kelvin))
    t, t2, t3 = kelvin, kelvin * kelvin, kelvin**3
    if kelvin <= 4000:
        x = -0.2661239e9 / t3 - 0.2343589e6 / t2 + 0.8776956e3 / t + 0.179910
    else:
        x = -3.0258469e9 / t3 + 2.1070379e6 / t2 + 0.2226347e3 / t + 0.240390
    if kelvin <= 2222:
        y = -1.1063814 * x**3 - 1.34811020 * x**2 + 2.18555832 * x - 0.20219683
    elif kelvin <= 4000:
        y = -0.9549476 * x**3 - 1.37418593 * x**2 + 2.09137015 * x - 0.16748867
    else:
        y = 3.0817580 * x**3 - 5.87338670 * x**2 + 3.75112997 * x - 0.37001483
    return x, y


def blackbody(kelvin: float) -> Rgb:
    """The black body's colour at ``kelvin`` in linear sRGB at luminance 1 (the part outside
    sRGB, a little blue below 2000 K, left out)."""
    x, y = blackbody_xy(kelvin)
    big_x, big_y, big_z = x / y, 1.0, (1 - x - y) / y
    red = 3.2404542 * big_x - 1.5371385 * big_y - 0.4985314 * big_z
    green = -0.9692660 * big_x + 1.8760108 * big_y + 0.0415560 * big_z
    blue = 0.0556434 * big_x - 0.2040259 * big_y + 1.0572252 * big_z
    return max(0.0, red), max(0.0, green), max(0.0, blue)


def luminance(rgb: Rgb) -> float:
    """The luminance Y of linear sRGB (Rec. 709 weights)."""
    return 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]


def at_full(rgb: Rgb) -> Rgb:
    """The colour scaled so that its brightest channel is 1: what an RGB light shows at level 100."""
    top = max(rgb)
    if top <= 0:
        raise ValueError("black has no colour to show")
    red, green, blue = (channel / top for channel in rgb)
    return red, green, blue
