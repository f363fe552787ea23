"""The pin factory behind each light's LED: which one drives its pin on this board, and building it.

``auto`` tries, in order: pigpio when its daemon answers (hardware-timed PWM on any pin of a
Pi 1 to 4 or Zero); the kernel's hardware PWM when the pin has a channel the kernel exposes
(flicker-free on every Pi, the Pi 5 included); lgpio when a GPIO chip opens (every Pi on
current Raspberry Pi OS, PWM timed in software); and only then gpiozero's simulation, with
one line saying what was tried and why each failed. Also here: where pigpiod is (gpiozero's
own PIGPIO_ADDR and PIGPIO_PORT), whether it really answers, and the deadline every call to
it gets. Nothing here touches hardware at import.
"""

from __future__ import annotations

import enum
import logging
import os
import socket
import struct
from typing import Any

from adapters.gpio_stack import (
    LgpioTooLate,
    end_pigpio_notifications_at_eof,
    fine_duty_lgpio_pin,
    import_lgpio,
    set_pigpio_deadline,
    stop_pigpio_notifications,
)

log = logging.getLogger(__name__)


class PinFactory(enum.StrEnum):
    """What drives a light's pin (docs/boards.md): pigpio's daemon, the kernel's PWM, lgpio, or
    gpiozero's simulation; ``auto`` chooses the first of REAL_FACTORIES that works, else the simulation."""

    AUTO = "auto"
    PIGPIO = "pigpio"
    KERNEL = "kernel"
    LGPIO = "lgpio"
    MOCK = "mock"


PIN_FACTORIES = tuple(PinFactory)
REAL_FACTORIES = (PinFactory.PIGPIO, PinFactory.KERNEL, PinFactory.LGPIO)  # auto's order
DEFAULT_PIGPIO_ADDR = "localhost"
DEFAULT_PIGPIO_PORT = 8888
DEFAULT_PIGPIO_TIMEOUT = 1.0  # seconds any one call to the daemon may take
_PIGPIO_TICK = 16  # pigpio's TICK command: the cheapest question that needs an answer


class PinFactoryUnavailable(Exception):
    """A pin factory was asked for by name and cannot drive the LED here (the message says what to do)."""

    light: str | None = None  # the light whose pin it cannot drive, when there are several


class PigpioUnavailable(PinFactoryUnavailable):
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


def pigpio_answers(host: str, port: int, timeout: float = DEFAULT_PIGPIO_TIMEOUT) -> bool:
    """Whether a pigpio daemon answers a command (TICK) within ``timeout`` seconds.

    Accepting the TCP connection is not enough: a wedged or stopped daemon still
    accepts (the kernel does that for it) and then never answers.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout) as probe:
            probe.sendall(struct.pack("<IIII", _PIGPIO_TICK, 0, 0, 0))
            answer = b""
            while len(answer) < 16:
                chunk = probe.recv(16 - len(answer))
                if not chunk:
                    return False
                answer += chunk
            return True
    except OSError:  # refused, unreachable, or timed out
        return False


def choose_pin_factories(
    pins: dict,
    requested: str = PinFactory.AUTO,
    environ=os.environ,
    *,
    timeout: float = DEFAULT_PIGPIO_TIMEOUT,
    probes: dict | None = None,
) -> dict:
    """Each light's factory for its pins (``pins``: light name -> BCM pin, or a tuple of them for
    a colour light: one factory drives them all): one of ``pigpio``, ``kernel``, ``lgpio`` or
    ``mock``; under ``auto`` GPIO 18 may get the kernel's PWM, GPIO 21 lgpio, and a CCT light
    on 18 and 19 both of the kernel's channels.

    A factory asked for by name that cannot drive a light's pin raises PinFactoryUnavailable
    (with ``light`` set), whose message says what to do; ``auto`` takes the first of
    REAL_FACTORIES that works, else ``mock``, and the lights left simulated get one warning
    between them, naming each factory tried and why it failed. pigpio's and lgpio's checks,
    which do not depend on the pin, run once for all the lights. ``probes`` (tests) replaces
    the check of a factory: name -> callable(pin) raising PinFactoryUnavailable.
    """
    if requested not in PIN_FACTORIES:
        raise ValueError(f"pin factory must be one of {', '.join(PIN_FACTORIES)}, got {requested!r}")
    checks = {
        PinFactory.PIGPIO: lambda pin: check_pigpio(environ, timeout),
        PinFactory.KERNEL: _check_kernel,
        PinFactory.LGPIO: lambda pin: check_lgpio(),
        **(probes or {}),
    }
    for pinless in (PinFactory.PIGPIO, PinFactory.LGPIO):
        checks[pinless] = _once(checks[pinless])
    chosen: dict[str, str] = {}
    simulated: list[int] = []
    reasons: list[str] = []
    for light, pin in pins.items():
        if requested == PinFactory.MOCK:
            chosen[light] = PinFactory.MOCK
            continue
        if requested != PinFactory.AUTO:
            try:
                checks[requested](pin)  # raises, saying what to do
            except PinFactoryUnavailable as exc:
                exc.light = light
                raise
            chosen[light] = requested
            continue
        tried = []
        for name in REAL_FACTORIES:
            try:
                checks[name](pin)
                chosen[light] = name
                break
            except PinFactoryUnavailable as exc:
                tried.append(f"{name}: {str(exc).split(';')[0]}")  # the reason; the advice is for a named one
        else:
            chosen[light] = PinFactory.MOCK
            simulated.extend((pin,) if isinstance(pin, int) else pin)
            reasons = reasons or tried
    if simulated:
        log.warning(
            "no real PWM for %s, so %s SIMULATED (gpiozero MockFactory). Tried %s. docs/boards.md says "
            "what each board needs; LED_PIN_FACTORY=pigpio, kernel or lgpio refuses to start without it.",
            ", ".join(f"GPIO{pin}" for pin in simulated),
            "the LED is" if len(simulated) == 1 else "these LEDs are",
            "; ".join(reasons),
        )
    return chosen


def _once(check):
    """A check whose answer does not depend on the pin, asked once (its failure raised again)."""
    answers: list[PinFactoryUnavailable | None] = []

    def checked(pin: int) -> None:
        if not answers:
            try:
                check(pin)
                answers.append(None)
            except PinFactoryUnavailable as exc:
                answers.append(exc)
        if answers[0] is not None:
            raise answers[0]

    return checked


def check_pigpio(environ, timeout: float) -> None:
    host, port = pigpio_address(environ)
    if not pigpio_answers(host, port, timeout):
        raise PigpioUnavailable(
            f"no pigpio daemon answers at {host}:{port}; start it with "
            f"'sudo systemctl enable --now pigpiod' (or set PIGPIO_ADDR/PIGPIO_PORT; pigpio never runs on a "
            f"Pi 5, 500 or CM5: use kernel or lgpio there), or use LED_PIN_FACTORY=mock to simulate the LED"
        )


def _check_kernel(pins: int | tuple[int, ...]) -> None:
    make_pin_factory(PinFactory.KERNEL, pin=pins).close()  # finds the channels; touches no hardware


def check_lgpio() -> None:
    make_pin_factory(PinFactory.LGPIO).close()  # opens the GPIO chip and closes it again


def make_pin_factory(
    name: str, environ=os.environ, *, timeout: float = DEFAULT_PIGPIO_TIMEOUT, pin: int | tuple[int, ...] = 21
):
    """Build the pin factory called ``name`` (``pigpio``, ``kernel``, ``lgpio`` or ``mock``) for
    a light's ``pin`` (or pins: the kernel's must find a channel for each).

    pigpio's calls have no timeout of their own; each call on the factory's connection
    gets ``timeout`` seconds, so a hung daemon costs a failed write, never a stall.
    """
    if name == PinFactory.MOCK:
        from gpiozero.pins.mock import MockFactory

        return MockFactory(pin_class=bounded_mock_pwm_pin())
    if name == PinFactory.KERNEL:
        from boards.kernel_pwm import KernelPwmFactory, KernelPwmUnavailable

        try:
            return KernelPwmFactory(pin)
        except KernelPwmUnavailable as exc:
            raise PinFactoryUnavailable(str(exc)) from None
    if name == PinFactory.LGPIO:
        try:
            import_lgpio(environ)  # where it can make its FIFO: LG_WD
            from gpiozero.pins.lgpio import LGPIOFactory
        except ImportError as exc:
            raise PinFactoryUnavailable(f"the lgpio module is missing ({exc})") from None
        except LgpioTooLate as exc:
            raise PinFactoryUnavailable(str(exc)) from None
        except OSError as exc:
            raise PinFactoryUnavailable(
                f"the lgpio module cannot start ({exc}); give it a writable folder: LG_WD=/run/ledsock"
            ) from None
        try:
            factory = LGPIOFactory()
            factory.pin_class = fine_duty_lgpio_pin()
            return factory
        except Exception as exc:  # noqa: BLE001 - lgpio.error('can not open gpiochip'), gpiozero's PinUnknownPi
            raise PinFactoryUnavailable(
                f"cannot open a GPIO chip ({exc}); is this a Raspberry Pi, and is the service's user in the gpio group?"
            ) from None
    if name == PinFactory.PIGPIO:
        return connect_pigpio(environ, timeout=timeout)
    raise ValueError(f"unknown pin factory {name!r}")


def connect_pigpio(environ=os.environ, *, timeout: float = DEFAULT_PIGPIO_TIMEOUT, edges: bool = False):
    """gpiozero's pigpio factory on the daemon of ``environ``, each call within ``timeout``.
    An LED's stops pigpio's notification thread (an output needs no edges); with ``edges`` (the
    inputs') it is kept, and made to end when the daemon goes away."""
    from gpiozero.pins.pigpio import PiGPIOFactory

    host, port = pigpio_address(environ)
    try:
        factory = PiGPIOFactory(host=host, port=port)
    except OSError as exc:
        raise PigpioUnavailable(f"cannot use the pigpio daemon at {host}:{port}: {exc}") from None
    if edges:
        end_pigpio_notifications_at_eof(factory.connection)
    else:
        stop_pigpio_notifications(factory.connection)
    set_pigpio_deadline(factory.connection, timeout)
    return factory


def import_before_serving(factories) -> None:
    """Import what the chosen factories need before gevent patches threading: lgpio, whose
    notification thread would otherwise be a greenlet blocked reading its FIFO."""
    if PinFactory.LGPIO in factories:
        try:
            import_lgpio()
        except (ImportError, OSError):
            pass  # its factory says why when it is made


SIMULATED_HISTORY = 100  # the states a simulated pin keeps: the newest, for a look at what it did last


def bounded_mock_pwm_pin():
    """gpiozero's MockPWMPin, keeping only its newest SIMULATED_HISTORY states.

    gpiozero's mock pins keep every state they were ever set to (``states``, a list, for tests
    that assert the history), and an effect sets one up to 60 times a second: a simulated
    lamp running a candle for a day would keep five million. The service's simulated pins
    keep a bounded ``deque`` instead; tests that assert a history build gpiozero's own.
    """
    from collections import deque

    from gpiozero.pins.mock import MockPWMPin

    class BoundedMockPWMPin(MockPWMPin):
        states: Any  # gpiozero's list of PinState, here a deque

        def clear_states(self) -> None:
            super().clear_states()  # gpiozero's own start: its clock and first state
            self.states = deque(self.states, maxlen=SIMULATED_HISTORY)

    return BoundedMockPWMPin
