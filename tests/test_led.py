"""The LED: the mock pin follows the level, the factory choice, and clear errors."""

import logging
import socket
import subprocess
import sys

import pytest

from boards.pins import PigpioUnavailable
from curves.brightness import Curve, parse_curve
from led import HardwareError, Led

from fakes import BrokenPWMPin, FakeClock, fading_led, wait_for_the_fade
from support import ROOT, chosen_factory, free_port

# docs/brightness.md's table: level -> duty cycle (%) under each curve.
CURVE_TABLE = [  # level, cie, linear, gamma:2.2
    (0, 0.00, 0.00, 0.00),
    (1, 0.11, 1.00, 0.00),
    (5, 0.55, 5.00, 0.14),
    (10, 1.13, 10.00, 0.63),
    (25, 4.42, 25.00, 4.74),
    (50, 18.42, 50.00, 21.76),
    (75, 48.28, 75.00, 53.10),
    (100, 100.00, 100.00, 100.00),
]


@pytest.mark.parametrize("curve,column", [(Curve("cie"), 1), (Curve("linear"), 2), (parse_curve("gamma:2.2"), 3)])
def test_the_pin_follows_the_documented_curve(mock_factory, curve, column):
    led = Led(21, pin_factory=mock_factory, curve=curve)
    pin = mock_factory.pin(21)
    for row in CURVE_TABLE:
        led.set_level(row[0])
        assert pin.state * 100 == pytest.approx(row[column], abs=0.005), (curve, row)
    assert led.simulated and led.factory_name == "mock"
    led.close()


def test_curve_names():
    assert str(parse_curve("CIE")) == "cie" and str(parse_curve("gamma:2.2")) == "gamma:2.2"
    for bad in ("log", "gamma:", "gamma:0", "gamma:nan", "gamma:9"):
        with pytest.raises(ValueError, match="cie, linear, or gamma:G"):
            parse_curve(bad)


def test_configurable_pin(mock_factory):
    led = Led(18, pin_factory=mock_factory, curve=Curve("linear"))
    led.set_level(30)
    assert mock_factory.pin(18).state == pytest.approx(0.3)
    assert mock_factory.pin(21).state == 0


def test_failed_write_raises_hardware_error():
    from gpiozero.pins.mock import MockFactory

    factory = MockFactory(pin_class=BrokenPWMPin)
    led = Led(21, pin_factory=factory, curve=Curve("linear"))
    led.set_level(40)
    factory.pin(21).broken = True
    with pytest.raises(HardwareError, match="GPIO21.*pigpiod lost"):
        led.set_level(10)
    assert factory.pin(21).state == pytest.approx(0.4)


def test_mock_is_chosen_without_probing():
    assert chosen_factory("mock", environ={"PIGPIO_PORT": "1"}) == "mock"


def test_auto_falls_back_to_mock_with_a_warning_that_says_how_to_get_pwm(caplog):
    port = free_port()
    with caplog.at_level(logging.WARNING):
        assert chosen_factory("auto", environ={"PIGPIO_ADDR": "127.0.0.1", "PIGPIO_PORT": str(port)}) == "mock"
    assert f"127.0.0.1:{port}" in caplog.text
    assert "SIMULATED" in caplog.text and "docs/boards.md" in caplog.text  # where the way to real PWM is


def test_auto_picks_pigpio_when_its_daemon_answers():
    from fake_pigpiod import FakePigpiod

    daemon = FakePigpiod().start()
    try:
        env = {"PIGPIO_ADDR": "127.0.0.1", "PIGPIO_PORT": str(daemon.port)}
        assert chosen_factory("auto", environ=env) == "pigpio"
        assert chosen_factory("pigpio", environ=env) == "pigpio"
    finally:
        daemon.stop()


def test_a_daemon_that_accepts_but_never_answers_is_not_used():
    """A wedged pigpiod (or anything else on its port) accepts connections and stays silent."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        env = {"PIGPIO_ADDR": "127.0.0.1", "PIGPIO_PORT": str(listener.getsockname()[1])}
        assert chosen_factory("auto", environ=env, timeout=0.3) == "mock"
        with pytest.raises(PigpioUnavailable):
            chosen_factory("pigpio", environ=env, timeout=0.3)


def test_explicit_pigpio_unreachable_names_the_address():
    port = free_port()
    with pytest.raises(PigpioUnavailable, match=f"127.0.0.1:{port}.*pigpiod"):
        chosen_factory("pigpio", environ={"PIGPIO_ADDR": "127.0.0.1", "PIGPIO_PORT": str(port)})


def test_unknown_factory_is_refused():
    with pytest.raises(ValueError, match="auto, pigpio, kernel, lgpio, mock"):
        chosen_factory("rpigpio")


def test_service_exits_2_with_one_line_when_pigpio_is_required_but_absent():
    port = free_port()
    result = subprocess.run(
        [sys.executable, "app.py", "--pin-factory", "pigpio", "--port", str(free_port())],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", "PIGPIO_ADDR": "127.0.0.1", "PIGPIO_PORT": str(port)},
    )
    assert result.returncode == 2
    output = (result.stdout + result.stderr).strip()
    assert "Traceback" not in output
    assert len(output.splitlines()) == 1, output
    assert f"127.0.0.1:{port}" in output and "pigpiod" in output


def test_gpiozero_pin_factory_variable_is_honoured():
    from serving import settings

    assert settings.parse_args([], environ={"GPIOZERO_PIN_FACTORY": "mock"}).pin_factory == "mock"
    assert settings.parse_args([], environ={"GPIOZERO_PIN_FACTORY": "pigpio"}).pin_factory == "pigpio"
    assert settings.parse_args([], environ={"GPIOZERO_PIN_FACTORY": "lgpio"}).pin_factory == "lgpio"
    assert settings.parse_args([], environ={"GPIOZERO_PIN_FACTORY": "rpigpio"}).pin_factory == "auto"
    assert (
        settings.parse_args([], environ={"LED_PIN_FACTORY": "mock", "GPIOZERO_PIN_FACTORY": "pigpio"}).pin_factory
        == "mock"
    )


def test_nothing_is_opened_at_import():
    code = "import app, led, protocol; import gpiozero; print(gpiozero.Device.pin_factory)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None"


# ---------------------------------------------------------------- fades, on a fake clock


def test_a_fade_eases_from_the_shown_level_to_the_target_at_60_steps_a_second(mock_factory):
    fake = FakeClock()
    led = fading_led(mock_factory, fake)
    pin = mock_factory.pin(21)
    led.set_level(20)
    written_before = len(pin.states)
    led.set_level(80, transition=1.0)
    wait_for_the_fade(led)
    duties = [round(state * 100, 6) for _, state in pin.states[written_before - 1 :]]  # from the shown 20
    assert duties[0] == 20 and duties[1] == pytest.approx(20, abs=0.2) and duties[-1] == pytest.approx(80)
    assert duties == sorted(duties)  # monotonic
    steps = [b - a for a, b in zip(duties, duties[1:])]
    assert max(steps) < 3 * (60 / 60)  # smooth: no step is a jump (60 levels in 60 steps, eased)
    assert steps[0] < steps[len(steps) // 2] > steps[-1]  # eased: slow, fast, slow
    assert 59 <= len(duties) <= 62, len(duties)  # 60 updates in the 1 s fade, plus the ends
    assert fake.now == pytest.approx(1.0, abs=1 / 60 + 1e-9)  # reached within the transition ± one tick
    assert led.shown() == 80 and led.level == 80
    led.close()


def test_a_new_level_mid_fade_continues_from_what_is_shown_then(mock_factory):
    fake = FakeClock()
    led = fading_led(mock_factory, fake)
    pin = mock_factory.pin(21)
    led.set_level(0)
    shown_at_retarget = []

    def retarget():
        shown_at_retarget.append(led.shown())
        led.set_level(20, transition=1.0)

    fake.at(0.4, retarget)  # 40 % into the fade to 100
    start = len(pin.states) - 1  # from the shown 0
    led.set_level(100, transition=1.0)
    wait_for_the_fade(led)
    duties = [round(state * 100, 6) for _, state in pin.states[start:]]
    peak = duties.index(max(duties))
    shown = shown_at_retarget[0]
    assert 20 < shown < 100 and duties[peak] == pytest.approx(shown)
    assert duties[: peak + 1] == sorted(duties[: peak + 1])  # up to the retarget
    assert duties[peak:] == sorted(duties[peak:], reverse=True)  # then down from there: no jump back
    assert duties[peak + 1] == pytest.approx(shown, abs=1)  # continues from the value shown then
    assert duties[-1] == pytest.approx(20) and 100 not in duties  # the first fade never finished
    led.close()


def test_a_jump_cancels_a_fade_and_a_failed_step_stops_it(mock_factory):
    fake = FakeClock()
    led = fading_led(mock_factory, fake)
    fake.at(0.2, lambda: led.set_level(5))  # transition 0: at once
    led.set_level(90, transition=1.0)
    wait_for_the_fade(led)
    assert led.shown() == 5 and mock_factory.pin(21).state == pytest.approx(0.05)
    assert led.fade_remaining() == 0
    led.close()
