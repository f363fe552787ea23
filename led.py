"""The LED this service drives, and the choice between real PWM (pigpio) and a simulation.

Nothing here touches hardware at import: :func:`open_led` does, when the app is
built. ``auto`` uses pigpio when its daemon answers and otherwise a gpiozero
``MockFactory``, so the service also runs on a laptop.
"""
from __future__ import annotations

import logging
import os
import socket
import threading

log = logging.getLogger(__name__)

PIN_FACTORIES = ("auto", "pigpio", "mock")
DEFAULT_PIGPIO_ADDR = "localhost"
DEFAULT_PIGPIO_PORT = 8888


class HardwareError(Exception):
    """Writing to the LED failed (for example, the pigpio daemon went away)."""


class PigpioUnavailable(Exception):
    """pigpio was asked for explicitly, but its daemon does not answer."""


def pigpio_address(environ=os.environ) -> tuple[str, int]:
    """Where pigpiod is, read from the same variables gpiozero reads (PIGPIO_ADDR/PORT)."""
    host = environ.get("PIGPIO_ADDR") or DEFAULT_PIGPIO_ADDR
    port_text = environ.get("PIGPIO_PORT") or str(DEFAULT_PIGPIO_PORT)
    try:
        port = int(port_text)
    except ValueError:
        raise PigpioUnavailable(f"PIGPIO_PORT must be a port number, got {port_text!r}") from None
    return host, port


def pigpio_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections where pigpiod should be."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def choose_pin_factory(requested: str = "auto", environ=os.environ) -> str:
    """Resolve ``auto``/``pigpio``/``mock`` to the factory to use: ``pigpio`` or ``mock``.

    Raises PigpioUnavailable when ``pigpio`` is requested and its daemon does not
    answer; ``auto`` falls back to ``mock`` with a warning that says how to get PWM.
    """
    if requested not in PIN_FACTORIES:
        raise ValueError(f"pin factory must be one of {', '.join(PIN_FACTORIES)}, got {requested!r}")
    if requested == "mock":
        return "mock"
    host, port = pigpio_address(environ)
    if pigpio_answers(host, port):
        return "pigpio"
    if requested == "pigpio":
        raise PigpioUnavailable(
            f"cannot reach the pigpio daemon at {host}:{port}; start it with "
            f"'sudo systemctl enable --now pigpiod' (or set PIGPIO_ADDR/PIGPIO_PORT), "
            f"or use LED_PIN_FACTORY=mock to simulate the LED"
        )
    log.warning(
        "no pigpio daemon answers at %s:%s, so the LED is SIMULATED (gpiozero MockFactory). "
        "For real PWM on a Raspberry Pi: 'sudo apt install pigpiod && sudo systemctl enable --now pigpiod', "
        "then restart; set LED_PIN_FACTORY=pigpio to refuse to start without it.",
        host,
        port,
    )
    return "mock"


def make_pin_factory(name: str, environ=os.environ):
    """Build the gpiozero pin factory called ``name`` (``pigpio`` or ``mock``)."""
    if name == "mock":
        from gpiozero.pins.mock import MockFactory, MockPWMPin

        return MockFactory(pin_class=MockPWMPin)
    if name == "pigpio":
        from gpiozero.pins.pigpio import PiGPIOFactory

        host, port = pigpio_address(environ)
        try:
            return PiGPIOFactory(host=host, port=port)
        except OSError as exc:
            raise PigpioUnavailable(f"cannot use the pigpio daemon at {host}:{port}: {exc}") from None
    raise ValueError(f"unknown pin factory {name!r}")


class Led:
    """One PWM LED as a level from 0 to 100, mapped to gpiozero's ``value = level / 100``."""

    def __init__(self, pin: int = 21, *, pin_factory, factory_name: str | None = None):
        from gpiozero import PWMLED

        self.pin = pin
        self.pin_factory = pin_factory
        self.factory_name = factory_name or _factory_name(pin_factory)
        self._device = PWMLED(pin, pin_factory=pin_factory)
        self._lock = threading.Lock()

    @property
    def simulated(self) -> bool:
        return self.factory_name != "pigpio"

    def set_level(self, level: int) -> None:
        """Drive the LED to ``level``; raise HardwareError if the pin cannot be written."""
        with self._lock:
            try:
                self._device.value = level / 100
            except Exception as exc:  # pigpio raises socket errors, gpiozero its own
                raise HardwareError(f"could not write GPIO{self.pin}: {exc or type(exc).__name__}") from exc

    def close(self) -> None:
        """Release the pin (the LED goes dark) and the factory's resources."""
        with self._lock:
            try:
                self._device.close()
            finally:
                try:
                    self.pin_factory.close()
                except Exception:  # closing a dead pigpio connection may fail; nothing to do
                    log.debug("closing the pin factory failed", exc_info=True)


def _factory_name(pin_factory) -> str:
    return "pigpio" if type(pin_factory).__name__ == "PiGPIOFactory" else "mock"


def open_led(pin: int = 21, *, pin_factory: str = "mock", environ=os.environ) -> Led:
    """Open the LED on BCM ``pin`` with a resolved factory name (``pigpio`` or ``mock``)."""
    factory = make_pin_factory(pin_factory, environ)
    try:
        return Led(pin, pin_factory=factory, factory_name=pin_factory)
    except Exception:
        factory.close()
        raise
