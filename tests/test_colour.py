"""Colour arithmetic (curves/colour.py) and the channels of each kind of light (curves/looks.py):
pure, no pins. The fades' promise is checked over many colour pairs: along every fade the
colour given off stays within its ends' lightness, no greyer than the LEDs must make it, and
no channel jumps; a straight line in sRGB or in linear light fails the same checks."""

import math
import random

import pytest

from curves import colour
from curves.brightness import Curve, parse_curve
from curves.looks import CctChannels, LightKind, Look, RgbChannels, SingleChannel, channels_for

RGB = RgbChannels(Curve("cie"))
CCT = CctChannels(Curve("cie"), (2700, 6500))
STEPS = 400  # points along each fade
L_TOLERANCE = 0.02  # OKLab: a just-noticeable difference (what the gamut mapping may clip)
JUMP = 0.05  # a channel's duty moving more in 1/400 of a fade is looked at closer...
CONCENTRATED = 0.5  # ...and is a jump when half of that move happens in a tenth of the time


def test_hex_colours_both_ways():
    assert colour.parse_hex("#FF8800") == (255, 136, 0)
    assert colour.to_hex(255, 136, 0) == "#ff8800"
    assert colour.linear_to_hex(colour.hex_to_linear("#1a2B3c")) == "#1a2b3c"
    for bad in ("ff8800", "#ff880", "#ff88000", "#gg8800", "", None, 0xFF8800):
        with pytest.raises(ValueError):
            colour.parse_hex(bad)


def test_srgb_and_linear_light_are_inverse_and_meet_the_standard_points():
    assert colour.srgb_to_linear(0.5) == pytest.approx(0.21404, abs=1e-5)
    assert colour.linear_to_srgb(0.0031308) == pytest.approx(0.04045, abs=1e-5)
    for byte in range(256):
        assert round(colour.linear_to_srgb(colour.srgb_to_linear(byte / 255)) * 255) == byte


def test_oklab_matches_its_reference_values():
    """Björn Ottosson's published values: white, and sRGB red, green and blue."""
    assert colour.oklab((1, 1, 1)) == pytest.approx((1.0, 0.0, 0.0), abs=1e-6)
    assert colour.oklab((1, 0, 0)) == pytest.approx((0.627955, 0.224863, 0.125846), abs=1e-5)
    assert colour.oklab((0, 1, 0)) == pytest.approx((0.866440, -0.233888, 0.179498), abs=1e-5)
    assert colour.oklab((0, 0, 1)) == pytest.approx((0.452014, -0.032457, -0.311528), abs=1e-5)
    rgb = (0.2, 0.5, 0.8)
    assert colour.linear_from_oklab(colour.oklab(rgb)) == pytest.approx(rgb, abs=1e-6)  # 10-digit matrices


def test_white_of_a_temperature_is_the_black_body_s_warm_to_cold():
    warm, neutral, daylight, cold = (colour.at_full(colour.blackbody(k)) for k in (2700, 4000, 6500, 10000))
    assert warm[0] == 1 and warm[2] < 0.15  # 2700 K: red, little blue
    assert min(daylight) > 0.93  # 6500 K: near the sRGB white (D65)
    assert cold[2] == 1 and cold[0] < 0.7  # 10000 K: blue leads
    blues = [colour.at_full(colour.blackbody(k))[2] for k in range(1700, 10001, 100)]
    assert blues == sorted(blues)  # ever bluer as it gets hotter
    assert warm[2] < neutral[2] < daylight[2]


@pytest.mark.parametrize("curve", ["cie", "linear", "gamma:2.2", "gamma:0.5"])
def test_a_curve_read_backwards_gives_the_level_again(curve):
    parsed = parse_curve(curve)
    for level in [0, 0.5, 1, 7.9, 8, 8.1, 33.3, 50, 99, 100]:
        assert parsed.level_for(parsed.duty(level)) == pytest.approx(level, abs=1e-9)


def emitted_lab(channels, look):
    return colour.oklab(tuple(channels.duties(look)))


def max_chroma(lightness, hue):
    """The most chroma the LEDs can give at a lightness and hue (a bisection, apart from the service's)."""
    low, high = 0.0, 0.5
    for _ in range(30):
        middle = (low + high) / 2
        rgb = colour.linear_from_oklab(colour.lab_from_lch(colour.Lch(lightness, middle, hue)))
        low, high = (middle, high) if colour.in_gamut(rgb) else (low, middle)
    return low


def fade_faults(channels, start, end, path):
    """Why a fade's path does not look right, or [] when it does: lightness outside the ends',
    chroma lower than the LEDs must make it, a channel that jumps."""
    faults = []
    first, last = emitted_lab(channels, start), emitted_lab(channels, end)
    low, high = min(first.L, last.L) - L_TOLERANCE, max(first.L, last.L) + L_TOLERANCE
    begin, finish = colour.lch(first), colour.lch(last)
    before = None
    for step in range(STEPS + 1):
        progress = step / STEPS
        duties = channels.duties(path(progress))
        lab = colour.oklab(tuple(duties))
        if not low <= lab.L <= high:
            faults.append(f"lightness {lab.L:.3f} at {progress:.3f}, outside {low:.3f}..{high:.3f}")
        if len(duties) == 3 and begin.C > 0.05 and finish.C > 0.05:
            nominal = colour.mix(begin, finish, progress)
            possible = min(nominal.C, max_chroma(lab.L, nominal.h))
            if colour.lch(lab).C < possible - 0.03:
                faults.append(f"chroma {colour.lch(lab).C:.3f} at {progress:.3f}, where {possible:.3f} can be made")
        if before is not None and _moved(before, duties) > JUMP:
            # Steep is allowed (near blue's corner the gamut bends sharply); a jump is not: it does
            # not spread out when looked at closer.
            sub = [channels.duties(path(progress - (10 - k) / (10 * STEPS))) for k in range(11)]
            if max(_moved(a, b) for a, b in zip(sub, sub[1:], strict=False)) > CONCENTRATED * _moved(before, duties):
                faults.append(f"a channel jumps at {progress:.3f}: {before} -> {duties}")
        before = duties
    return faults


def _moved(before, after):
    return max(abs(a - b) for a, b in zip(before, after, strict=True))


def random_pairs(count, seed):
    rnd = random.Random(seed)
    for _ in range(count):
        start_hex, end_hex = (colour.to_hex(*(rnd.randint(0, 255) for _ in range(3))) for _ in range(2))
        if "#000000" in (start_hex, end_hex):
            continue
        yield (
            Look(rnd.randint(1, 100), RGB.of_color(start_hex)),
            Look(rnd.choice([0, rnd.randint(1, 100)]), RGB.of_color(end_hex)),
        )


def test_rgb_fades_over_many_colour_pairs_look_right():
    pairs = [
        *random_pairs(300, seed=29),
        (Look(100, RGB.of_color("#ff0000")), Look(100, RGB.of_color("#00ff00"))),  # through yellow, not brown
        (Look(100, RGB.of_color("#0000ff")), Look(100, RGB.of_color("#ffff00"))),  # through colour, not grey
        (Look(80, RGB.of_kelvin(2700)), Look(30, RGB.of_kelvin(6500))),
        (Look(0, RGB.of_color("#ff8800")), Look(100, RGB.of_color("#0088ff"))),
    ]
    for start, end in pairs:
        assert fade_faults(RGB, start, end, RGB.path(start, end)) == [], (start, end)


def straight_in_srgb(start, end):
    """The planted fault: a straight line between the ends in sRGB (what a hex picker's numbers suggest)."""
    first = [colour.linear_to_srgb(d) for d in RGB.duties(start)]
    last = [colour.linear_to_srgb(d) for d in RGB.duties(end)]

    def at(progress):
        rgb = tuple(colour.srgb_to_linear(a + (b - a) * progress) for a, b in zip(first, last, strict=True))
        return RGB.look_of(rgb, end.tint)

    return at


def straight_in_linear_light(start, end):
    """The other planted fault: a straight line in linear light (what mixing the duties does)."""
    first, last = RGB.duties(start), RGB.duties(end)
    return lambda progress: RGB.look_of(
        tuple(a + (b - a) * progress for a, b in zip(first, last, strict=True)), end.tint
    )


def test_straight_lines_in_srgb_or_linear_light_fail_the_same_checks():
    red, green = Look(100, RGB.of_color("#ff0000")), Look(100, RGB.of_color("#00ff00"))
    blue, yellow = Look(100, RGB.of_color("#0000ff")), Look(100, RGB.of_color("#ffff00"))
    assert any("lightness" in fault for fault in fade_faults(RGB, red, green, straight_in_srgb(red, green)))
    assert any("chroma" in fault for fault in fade_faults(RGB, blue, yellow, straight_in_linear_light(blue, yellow)))
    failing = sum(
        1 for start, end in random_pairs(100, seed=5) if fade_faults(RGB, start, end, straight_in_srgb(start, end))
    )
    assert failing > 10


def test_a_fade_of_one_colour_is_a_fade_of_the_level_as_on_one_channel():
    """Brightness alone: the same levels as a single-channel light's fade, in the same colour."""
    orange = RGB.of_color("#ff8800")
    start, end = Look(20, orange), Look(90, orange)
    path, single = RGB.path(start, end), SingleChannel(Curve("cie")).path(Look(20, (1.0,)), Look(90, (1.0,)))
    for step in range(0, 101):
        look = path(step / 100)
        assert look.level == pytest.approx(single(step / 100).level, abs=1e-6)
        assert look.tint == pytest.approx(orange, abs=1e-6)


def test_rgb_duties_are_the_curve_s_duty_times_the_colour_at_full():
    look = Look(100, RGB.of_color("#ff8800"))
    assert RGB.duties(look) == pytest.approx((1.0, colour.srgb_to_linear(0x88 / 255), 0.0))
    half = RGB.duties(look._replace(level=50))
    assert half == pytest.approx(tuple(Curve("cie").duty(50) * share for share in look.tint))


def test_a_cct_light_keeps_its_brightness_across_its_range():
    for kelvin in range(2700, 6501, 100):
        duties = CCT.duties(Look(70, CCT.of_kelvin(kelvin)))
        assert sum(duties) == pytest.approx(Curve("cie").duty(70))
    assert CCT.of_kelvin(2700) == (1.0, 0.0) and CCT.of_kelvin(6500) == (0.0, 1.0)
    middle = CCT.of_kelvin(round(2 / (1 / 2700 + 1 / 6500)))  # halfway in mireds: half of each
    assert middle == pytest.approx((0.5, 0.5), abs=1e-3)


def test_a_cct_fade_walks_warm_to_cold_at_an_even_pace_and_even_light():
    start, end = Look(60, CCT.of_kelvin(2700)), Look(60, CCT.of_kelvin(6500))
    path = CCT.path(start, end)
    warm, cold = (colour.blackbody(k) for k in (2700, 6500))

    def seen(look):  # the white the two channels make, in OKLab
        return colour.oklab(tuple(look.tint[0] * w + look.tint[1] * c for w, c in zip(warm, cold, strict=True)))

    points = [seen(path(step / 64)) for step in range(65)]
    paces = [math.dist(a, b) for a, b in zip(points, points[1:], strict=False)]
    assert max(paces) / min(paces) < 1.1  # even, where mixing by the share alone would not be
    assert max(p.L for p in points) - min(p.L for p in points) < L_TOLERANCE
    assert path(0.5).level == 60 and path(1) == end


def test_each_kind_has_its_channels_and_white():
    assert channels_for(LightKind.SINGLE).roles == ("light",)
    assert channels_for(LightKind.RGB).roles == ("red", "green", "blue")
    assert channels_for(LightKind.CCT, kelvin_range=(2200, 5000)).kelvin_range == (2200, 5000)
    assert channels_for(LightKind.CCT).kelvin_range == (2700, 6500)
    flame, deep = RGB.flame()
    assert flame[0] == 1 and flame[2] == 0 and deep[1] < flame[1]  # a flame reddens as it dips
    assert CCT.flame() == ((1.0, 0.0), (1.0, 0.0))  # a CCT candle: its warmest


def test_black_has_no_colour_to_show():
    with pytest.raises(ValueError, match="black"):
        RGB.of_color("#000000")
