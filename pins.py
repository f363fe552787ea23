"""The pin factory behind the LED: pigpio's daemon when it answers, else gpiozero's simulation.

Finding and building the factory: where pigpiod is (gpiozero's own PIGPIO_ADDR and
PIGPIO_PORT), whether it really answers, and the deadline every call to it gets.
Nothing here touches hardware at import.
"""
from __future__ import annotations

import logging
import os
import socket
import struct

log = logging.getLogger(__name__)

PIN_FACTORIES = ("auto", "pigpio", "mock")
DEFAULT_PIGPIO_ADDR = "localhost"
DEFAULT_PIGPIO_PORT = 8888
DEFAULT_PIGPIO_TIMEOUT = 1.0  # seconds any one call to the daemon may take
_PIGPIO_TICK = 16  # pigpio's TICK command: the cheapest question that needs an answer



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


def choose_pin_factory(requested: str = "auto", environ=os.environ, *,
                       timeout: float = DEFAULT_PIGPIO_TIMEOUT) -> str:
    """Resolve ``auto``/``pigpio``/``mock`` to the factory to use: ``pigpio`` or ``mock``.

    Raises PigpioUnavailable when ``pigpio`` is requested and its daemon does not
    answer; ``auto`` falls back to ``mock`` with a warning that says how to get PWM.
    """
    if requested not in PIN_FACTORIES:
        raise ValueError(f"pin factory must be one of {', '.join(PIN_FACTORIES)}, got {requested!r}")
    if requested == "mock":
        return "mock"
    host, port = pigpio_address(environ)
    if pigpio_answers(host, port, timeout):
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


def make_pin_factory(name: str, environ=os.environ, *, timeout: float = DEFAULT_PIGPIO_TIMEOUT):
    """Build the gpiozero pin factory called ``name`` (``pigpio`` or ``mock``).

    pigpio's calls have no timeout of their own; each call on the factory's connection
    gets ``timeout`` seconds, so a hung daemon costs a failed write, never a stall.
    """
    if name == "mock":
        from gpiozero.pins.mock import MockFactory, MockPWMPin

        return MockFactory(pin_class=MockPWMPin)
    if name == "pigpio":
        from gpiozero.pins.pigpio import PiGPIOFactory

        host, port = pigpio_address(environ)
        try:
            factory = PiGPIOFactory(host=host, port=port)
        except OSError as exc:
            raise PigpioUnavailable(f"cannot use the pigpio daemon at {host}:{port}: {exc}") from None
        _stop_notifications(factory.connection)
        _set_deadline(factory.connection, timeout)
        return factory
    raise ValueError(f"unknown pin factory {name!r}")


def _stop_notifications(connection) -> None:
    """End pigpio's notification thread: an LED is an output and needs no edge events.

    When the daemon goes away, that thread loops on its dead socket without ever
    blocking; with threads it burns a core, and under gevent, where it never yields,
    it would stop the whole service. Once stopped, it ends as soon as its socket does.
    pigpio has no public way to do this, hence its private ``_notify``.
    """
    notify = getattr(connection, "_notify", None)
    if notify is not None:
        try:
            notify.stop()
        except OSError:
            pass


def _set_deadline(connection, timeout: float) -> None:
    """Give every command on pigpio's command socket a deadline (pigpio opens it with none).

    pigpio has no public way to do this, hence its private ``sl.s``. A call past the
    deadline raises ``TimeoutError``; the Led then drops the connection, whose late
    answers would otherwise be read as the answers to later commands.
    """
    command_socket = getattr(getattr(connection, "sl", None), "s", None)
    if command_socket is not None:
        command_socket.settimeout(timeout)
