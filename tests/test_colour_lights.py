"""RGB and tunable-white lights on simulated pins, on a fake clock: the duty cycle of each pin
for a colour, a white, a fade retargeted midway, effects in colour, and a flash that gives back
exactly what it found (a candle included). Then what each light refuses, changing nothing."""

import threading
import time

import pytest
from gpiozero.pins.mock import MockFactory

import protocol
from curves import colour
from curves.brightness import Curve
from curves.looks import LightKind, Look, channels_for
from lamp import light_report
from lamp.light import Light
from led import Led

from fakes import ClockedPWMPin, FakeClock

CIE = Curve("cie")
RED_PINS, CCT_PINS = (17, 27, 22), (18, 19)


@pytest.fixture
def fake():
    fake = FakeClock()
    ClockedPWMPin.clock = fake.clock
    return fake


def make_light(fake, kind, pins, **options):
    factory = MockFactory(pin_class=ClockedPWMPin)
    led = Led(
        pins,
        pin_factory=factory,
        channels=channels_for(kind, CIE, options.pop("kelvin_range", None)),
        fade_rate=60,
        clock=fake.clock,
        sleep=fake.sleep,
    )
    light = Light(led, name=kind.value, brightness=options.pop("brightness", 100), clock=fake.clock, **options)
    light.pins = [factory.pin(pin) for pin in ((pins,) if isinstance(pins, int) else pins)]
    return light


@pytest.fixture
def rgb(fake):
    light = make_light(fake, LightKind.RGB, RED_PINS)
    yield light
    light.release()


@pytest.fixture
def cct(fake):
    light = make_light(fake, LightKind.CCT, CCT_PINS)
    yield light
    light.release()


def duties(light):
    return tuple(pin.state for pin in light.pins)


def send(light, text):
    return light.execute(protocol.parse_command(text), origin="test")


def run(light, fake, text, checkpoints):
    """Send ``text``, and call each of ``checkpoints`` (seconds from then, a function) in the fader's
    thread at that instant of fake time; their answers. The fader's clock races ahead while it
    runs, so they are set before the command starts it, or, when something runs already, the
    command is sent from the fader's own thread at its next step."""
    answers, done = {}, threading.Event()

    def checkpoint(index, function):
        def call():
            answers[index] = function()
            if len(answers) == len(checkpoints):
                done.set()

        return call

    def begin():
        start = fake.now
        for index, (seconds, function) in enumerate(checkpoints):
            fake.at(start + seconds, checkpoint(index, function))
        send(light, text)

    if light.led.running() is None:
        begin()  # no fader: nothing moves the clock meanwhile
    else:
        fake.at(fake.now, begin)
    deadline = time.monotonic() + 10
    while not done.wait(0.001):
        if light.led.running() is None:  # nothing runs: the clock moves only by hand
            fake.sleep(0.01)
        assert time.monotonic() < deadline, "the fader never got there"
    return [answers[index] for index in range(len(checkpoints))]


def test_an_rgb_light_shows_its_colour_at_its_level(rgb):
    state = send(rgb, '{"color": "#FF8800", "level": 100}')
    assert (state.color, state.kelvin, state.level, state.on) == ("#ff8800", 0, 100, True)
    assert duties(rgb) == pytest.approx((1.0, colour.srgb_to_linear(0x88 / 255), 0.0))
    send(rgb, '{"level": 50}')  # brightness alone keeps the colour
    assert duties(rgb) == pytest.approx(tuple(CIE.duty(50) * d for d in (1.0, colour.srgb_to_linear(0x88 / 255), 0)))
    assert rgb.state().color == "#ff8800"
    assert protocol.state_message(rgb.state()) == (
        '{"type":"state","level":50,"on":true,"brightness":50,"color":"#ff8800","seq":2}'
    )


def test_an_rgb_light_takes_a_white_of_a_temperature_and_says_kelvin(rgb):
    state = send(rgb, '{"kelvin": 2700}')
    assert (state.color, state.kelvin) == ("", 2700)
    assert duties(rgb) == pytest.approx(colour.at_full(colour.blackbody(2700)))
    assert '"kelvin":2700' in protocol.state_message(state) and '"color"' not in protocol.state_message(state)


def test_a_cct_light_mixes_its_whites_at_constant_brightness(cct):
    assert cct.state().kelvin == 4000  # its default: neutral
    send(cct, '{"kelvin": 2700, "level": 80}')
    assert duties(cct) == pytest.approx((CIE.duty(80), 0.0))
    send(cct, '{"kelvin": 6500}')
    assert duties(cct) == pytest.approx((0.0, CIE.duty(80)))
    send(cct, '{"kelvin": 3800}')
    warm, cold = duties(cct)
    assert warm + cold == pytest.approx(CIE.duty(80)) and 0 < cold < warm


def test_a_fade_between_colours_retargeted_midway_goes_on_from_the_colour_shown(rgb, fake):
    send(rgb, '{"color": "#ff0000", "level": 100}')

    def retarget():
        before = duties(rgb)
        first = len(rgb.pins[1].timeline)
        state = send(rgb, '{"color": "#00ff00", "transition": 2}')
        return before, duties(rgb), state, first

    (at_retarget, after, state, first), _ = run(
        rgb, fake, '{"color": "#0000ff", "transition": 4}', [(2.0, retarget), (4.5, lambda: None)]
    )
    assert 0 < at_retarget[0] < 1 and 0 < at_retarget[2] < 1  # between red and blue, on its way
    assert after == pytest.approx(at_retarget, abs=0.03)  # no jump back to either end
    assert state.transition == 2 and state.color == "#00ff00"
    assert duties(rgb) == pytest.approx((0.0, 1.0, 0.0))
    greens = [value for _, value in rgb.pins[1].timeline[first:]]
    assert greens == sorted(greens)  # green only rises on its way to full


def test_a_coloured_flash_blinks_red_and_gives_back_exactly_what_it_found(rgb, fake):
    send(rgb, '{"color": "#00ff00", "level": 60}')
    before, pins_before = rgb.state(), duties(rgb)
    lit, dark, _ = run(
        rgb,
        fake,
        '{"effect": "flash", "color": "#ff0000", "count": 3, "on_time": 0.2, "off_time": 0.2}',
        [(0.1, lambda: duties(rgb)), (0.3, lambda: duties(rgb)), (1.3, lambda: None)],
    )
    assert lit == pytest.approx((CIE.duty(60), 0.0, 0.0))  # red, at the light's brightness
    assert dark == (0.0, 0.0, 0.0)  # dark between blinks
    assert rgb.state().effect == ""
    assert duties(rgb) == pins_before
    assert rgb.state()._replace(seq=0) == before._replace(seq=0)


def test_a_flash_during_a_candle_gives_the_candle_back(rgb, fake):
    heard = []
    rgb.add_listener(lambda new, requester: heard.append(new.effect))
    first = [len(pin.timeline) for pin in rgb.pins]
    flash = '{"effect": "flash", "color": "#0000ff", "count": 2, "on_time": 0.1, "off_time": 0.1}'
    candles, flashing, _, again = run(
        rgb,
        fake,
        '{"effect": "candle"}',
        [
            (0.5, lambda: (rgb.led.running(), send(rgb, flash))[0]),
            (0.55, lambda: duties(rgb)),
            (1.5, lambda: None),
            (1.8, lambda: (rgb.led.running(), duties(rgb))),
        ],
    )
    reds = {round(value, 3) for _, value in rgb.pins[0].timeline[first[0] :]}
    assert len(reds) > 3  # a flame: a flickering red...
    assert flashing[0] == 0 and flashing[2] == pytest.approx(1.0)  # ...then blue (red off)
    assert again[0] is candles  # the same flame goes on, on its own clock
    assert again[1][2] == 0 and again[1][0] > 0  # flickering in its flame again
    assert rgb.state().effect == "candle"
    assert heard == ["candle", "flash", "candle"]
    assert rgb.kept_effect() == {"effect": "candle", "depth": 30}


def test_a_flash_during_a_candle_on_a_single_channel_gives_it_back_too(fake):
    light = make_light(fake, LightKind.SINGLE, 21, brightness=70)
    try:
        flash = '{"effect": "flash", "count": 1, "on_time": 0.1, "off_time": 0.1}'
        (candle, kept), (running, effect) = run(
            light,
            fake,
            '{"effect": "candle", "depth": 50}',
            [
                (0.2, lambda: (light.led.running(), send(light, flash) and light.kept_effect())),
                (0.7, lambda: (light.led.running(), light.state().effect)),
            ],
        )
        assert kept == {"effect": "candle", "depth": 50}  # a restart during the flash brings the candle back
        assert running is candle and effect == "candle"
        send(light, '{"level": 20}')  # a change ends it all
        assert light.led.running() is None and light.kept_effect() is None
    finally:
        light.release()


def test_a_candle_flickers_at_its_warmest_on_a_cct_light(cct, fake):
    samples = run(cct, fake, '{"effect": "candle"}', [(t / 10, lambda: duties(cct)) for t in range(1, 10)])
    assert all(cold == 0 for _, cold in samples) and len({warm for warm, _ in samples}) > 3  # warm only, flickering


def test_a_candle_flickers_in_its_flame_on_an_rgb_light_and_an_effect_takes_a_colour(rgb, fake):
    [(red, green, blue)] = run(rgb, fake, '{"effect": "candle"}', [(0.3, lambda: duties(rgb))])
    assert red > green > 0 and blue == 0
    [(red, _, blue)] = run(rgb, fake, '{"effect": "breathe", "color": "#0000ff"}', [(0.5, lambda: duties(rgb))])
    assert red == 0 and blue > 0


def test_a_wake_up_fades_from_dark_and_warm_to_bright_and_neutral(cct, fake):
    send(cct, '{"kelvin": 2700, "level": 0}')
    assert duties(cct) == (0.0, 0.0)
    samples = run(
        cct, fake, '{"level": 100, "kelvin": 4000, "transition": 10}', [(t, lambda: duties(cct)) for t in range(1, 12)]
    )
    assert [w + c for w, c in samples] == sorted(w + c for w, c in samples)  # ever brighter
    shares = [c / (w + c) for w, c in samples]
    assert shares == sorted(shares)  # ever cooler
    assert samples[-1] == pytest.approx(tuple(share for share in cct.channels.of_kelvin(4000)))


@pytest.mark.parametrize(
    ("kind", "text", "code"),
    [
        (LightKind.SINGLE, '{"color": "#ff0000"}', protocol.NOT_SUPPORTED),
        (LightKind.SINGLE, '{"kelvin": 3000}', protocol.NOT_SUPPORTED),
        (LightKind.SINGLE, '{"effect": "flash", "color": "#ff0000"}', protocol.NOT_SUPPORTED),
        (LightKind.CCT, '{"color": "#ff0000", "level": 20}', protocol.NOT_SUPPORTED),
        (LightKind.CCT, '{"kelvin": 2000}', protocol.OUT_OF_RANGE),
        (LightKind.CCT, '{"kelvin": 6501}', protocol.OUT_OF_RANGE),
        (LightKind.CCT, '{"effect": "blink", "kelvin": 9000}', protocol.OUT_OF_RANGE),
        (LightKind.RGB, '{"kelvin": 12000}', protocol.OUT_OF_RANGE),
    ],
)
def test_a_colour_the_light_cannot_show_changes_nothing_and_tells_no_one(fake, kind, text, code):
    pins = {LightKind.SINGLE: 21, LightKind.RGB: RED_PINS, LightKind.CCT: CCT_PINS}[kind]
    light = make_light(fake, kind, pins, brightness=40)
    try:
        heard = []
        light.add_listener(lambda new, requester: heard.append(new))
        before, pins_before = light.state(), duties(light)
        with pytest.raises(protocol.ProtocolError) as refused:
            send(light, text)
        assert refused.value.code == code
        assert light.state() == before and duties(light) == pins_before and heard == []
    finally:
        light.release()


def test_a_cct_light_s_range_is_its_own(fake):
    light = make_light(fake, LightKind.CCT, CCT_PINS, kelvin_range=(2200, 5000))
    try:
        send(light, '{"kelvin": 2200}')
        assert duties(light) == pytest.approx((CIE.duty(100), 0.0))
        with pytest.raises(protocol.ProtocolError, match="from 2200 to 5000"):
            send(light, '{"kelvin": 6500}')
    finally:
        light.release()


def test_a_colour_light_starts_in_its_saved_colour_or_its_default_when_it_cannot_show_it(fake):
    saved = make_light(fake, LightKind.RGB, RED_PINS, tone=protocol.Tone("#123456"))
    kept_white = make_light(fake, LightKind.CCT, CCT_PINS, tone=protocol.Tone(kelvin=3000))
    gone = make_light(fake, LightKind.CCT, (5, 6), tone=protocol.Tone("#123456"))  # it was RGB before
    try:
        assert saved.state().color == "#123456"
        assert kept_white.state().kelvin == 3000
        assert (gone.state().color, gone.state().kelvin) == ("", 4000)
    finally:
        for light in (saved, kept_white, gone):
            light.release()


def test_each_channel_says_what_it_drives(rgb):
    send(rgb, '{"color": "#ff0000", "level": 100}')
    assert light_report.channel_duties(rgb) == [
        {"pin": 17, "drives": "red", "duty": 1.0},
        {"pin": 27, "drives": "green", "duty": 0.0},
        {"pin": 22, "drives": "blue", "duty": 0.0},
    ]
    assert light_report.led_health(rgb)["kind"] == "rgb"


def test_a_look_written_is_the_look_shown(rgb):
    send(rgb, '{"color": "#336699", "level": 70}')
    assert rgb.led.shown_look() == Look(70, rgb.channels.of_color("#336699"))
    assert rgb.led.shown() == 70
