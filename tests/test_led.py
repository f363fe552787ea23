"""The LED: the mock pin follows the level, the factory choice, and clear errors."""
import logging
import socket
import subprocess
import sys

import pytest
from gpiozero.pins.mock import MockPWMPin

from led import HardwareError, Led, PigpioUnavailable, choose_pin_factory
from support import ROOT, free_port


def test_pin_state_follows_the_level(mock_factory):
    led = Led(21, pin_factory=mock_factory)
    pin = mock_factory.pin(21)
    for level, duty in [(0, 0.0), (1, 0.01), (50, 0.5), (73, 0.73), (100, 1.0)]:
        led.set_level(level)
        assert pin.state == pytest.approx(duty)
    assert led.simulated and led.factory_name == "mock"
    led.close()


def test_configurable_pin(mock_factory):
    led = Led(18, pin_factory=mock_factory)
    led.set_level(30)
    assert mock_factory.pin(18).state == pytest.approx(0.3)
    assert mock_factory.pin(21).state == 0


class BrokenPWMPin(MockPWMPin):
    """A pin whose writes fail once ``broken`` is set, as they do when pigpiod goes away."""

    broken = False

    def _set_state(self, value):
        if self.broken:
            raise OSError("connection to pigpiod lost")
        super()._set_state(value)


def test_failed_write_raises_hardware_error():
    from gpiozero.pins.mock import MockFactory

    factory = MockFactory(pin_class=BrokenPWMPin)
    led = Led(21, pin_factory=factory)
    led.set_level(40)
    factory.pin(21).broken = True
    with pytest.raises(HardwareError, match="GPIO21.*pigpiod lost"):
        led.set_level(10)
    assert factory.pin(21).state == pytest.approx(0.4)


def test_mock_is_chosen_without_probing():
    assert choose_pin_factory("mock", environ={"PIGPIO_PORT": "1"}) == "mock"


def test_auto_falls_back_to_mock_with_a_warning_that_says_how_to_get_pwm(caplog):
    port = free_port()
    with caplog.at_level(logging.WARNING):
        assert choose_pin_factory("auto", environ={"PIGPIO_ADDR": "127.0.0.1", "PIGPIO_PORT": str(port)}) == "mock"
    assert f"127.0.0.1:{port}" in caplog.text
    assert "SIMULATED" in caplog.text and "pigpiod" in caplog.text


def test_auto_picks_pigpio_when_its_daemon_answers():
    from fake_pigpiod import FakePigpiod

    daemon = FakePigpiod().start()
    try:
        env = {"PIGPIO_ADDR": "127.0.0.1", "PIGPIO_PORT": str(daemon.port)}
        assert choose_pin_factory("auto", environ=env) == "pigpio"
        assert choose_pin_factory("pigpio", environ=env) == "pigpio"
    finally:
        daemon.stop()


def test_a_daemon_that_accepts_but_never_answers_is_not_used():
    """A wedged pigpiod (or anything else on its port) accepts connections and stays silent."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        env = {"PIGPIO_ADDR": "127.0.0.1", "PIGPIO_PORT": str(listener.getsockname()[1])}
        assert choose_pin_factory("auto", environ=env, timeout=0.3) == "mock"
        with pytest.raises(PigpioUnavailable):
            choose_pin_factory("pigpio", environ=env, timeout=0.3)


def test_explicit_pigpio_unreachable_names_the_address():
    port = free_port()
    with pytest.raises(PigpioUnavailable, match=f"127.0.0.1:{port}.*pigpiod"):
        choose_pin_factory("pigpio", environ={"PIGPIO_ADDR": "127.0.0.1", "PIGPIO_PORT": str(port)})


def test_unknown_factory_is_refused():
    with pytest.raises(ValueError, match="auto, pigpio, mock"):
        choose_pin_factory("rpigpio")


def test_service_exits_2_with_one_line_when_pigpio_is_required_but_absent():
    port = free_port()
    result = subprocess.run(
        [sys.executable, "app.py", "--pin-factory", "pigpio", "--port", str(free_port())],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
        env={"PATH": "/usr/bin:/bin", "PIGPIO_ADDR": "127.0.0.1", "PIGPIO_PORT": str(port)},
    )
    assert result.returncode == 2
    output = (result.stdout + result.stderr).strip()
    assert "Traceback" not in output
    assert len(output.splitlines()) == 1, output
    assert f"127.0.0.1:{port}" in output and "pigpiod" in output


def test_gpiozero_pin_factory_variable_is_honoured():
    import settings

    assert settings.parse_args([], environ={"GPIOZERO_PIN_FACTORY": "mock"}).pin_factory == "mock"
    assert settings.parse_args([], environ={"GPIOZERO_PIN_FACTORY": "pigpio"}).pin_factory == "pigpio"
    assert settings.parse_args([], environ={"GPIOZERO_PIN_FACTORY": "lgpio"}).pin_factory == "auto"
    assert settings.parse_args([], environ={"LED_PIN_FACTORY": "mock", "GPIOZERO_PIN_FACTORY": "pigpio"}).pin_factory == "mock"


def test_nothing_is_opened_at_import():
    code = "import app, led, protocol; import gpiozero; print(gpiozero.Device.pin_factory)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None"
