"""Which pin factory reads the buttons and knobs, and building it: one that reports edges from a
thread of its own (pigpio's notifications, lgpio's alerts), or the simulation."""

from __future__ import annotations

import logging
import os

from boards.pins import (
    DEFAULT_PIGPIO_TIMEOUT,
    PinFactory,
    PinFactoryUnavailable,
    check_lgpio,
    check_pigpio,
    connect_pigpio,
    make_pin_factory,
)

log = logging.getLogger(__name__)

INPUT_FACTORIES = (PinFactory.PIGPIO, PinFactory.LGPIO)  # auto's order for inputs: the kernel's PWM reads none


def choose_input_factory(
    requested: str = PinFactory.AUTO,
    environ=os.environ,
    *,
    timeout: float = DEFAULT_PIGPIO_TIMEOUT,
    probes: dict | None = None,
) -> str:
    """The factory that reads the buttons and knobs: pigpio or lgpio (which report edges from a
    thread of their own), or ``mock``. ``auto`` takes the first that works, else ``mock`` with
    one warning; ``kernel`` (whose PWM reads nothing) takes lgpio; a factory named that cannot
    work raises PinFactoryUnavailable saying why. ``probes`` (tests) replaces a factory's check.
    """

    def check(name: str) -> None:
        if probes and name in probes:
            probes[name](None)
        elif name == PinFactory.PIGPIO:
            check_pigpio(environ, timeout)
        else:
            check_lgpio()

    if requested == PinFactory.MOCK:
        return PinFactory.MOCK
    if requested in (PinFactory.PIGPIO, PinFactory.LGPIO):
        check(requested)
        return requested
    if requested == PinFactory.KERNEL:
        try:
            check(PinFactory.LGPIO)
        except PinFactoryUnavailable as exc:
            raise PinFactoryUnavailable(
                f"the kernel's PWM drives LEDs but reads no input, and lgpio, which would, cannot work: {exc}"
            ) from None
        return PinFactory.LGPIO
    tried = []
    for name in INPUT_FACTORIES:
        try:
            check(name)
            return name
        except PinFactoryUnavailable as exc:
            tried.append(f"{name}: {str(exc).split(';')[0]}")
    log.warning("no GPIO to read the inputs from, so they are SIMULATED. Tried %s.", "; ".join(tried))
    return PinFactory.MOCK


def make_input_factory(
    name: str, environ=os.environ, *, timeout: float = DEFAULT_PIGPIO_TIMEOUT, pins: tuple[int, ...] = ()
):
    """The pin factory called ``name`` for inputs on ``pins``: its edge reports left running (an
    LED's factory stops pigpio's), and ended when the daemon goes away.

    pigpio's notification thread reads every level once, when it connects, and tells an edge
    only as a change from what it last read: a pin pulled up after that would have its first
    press missed. So the pull-ups are set through a first connection, and the factory that
    reads the inputs connects once they are at rest."""
    if name == PinFactory.MOCK:
        from gpiozero.pins.mock import MockFactory

        return MockFactory()
    if name == PinFactory.PIGPIO:
        if pins:
            pulling = connect_pigpio(environ, timeout=timeout)
            try:
                for pin in pins:
                    pulling.connection.set_pull_up_down(pin, 2)  # pigpio.PUD_UP
            finally:
                pulling.close()
        return connect_pigpio(environ, timeout=timeout, edges=True)
    if name == PinFactory.LGPIO:
        return make_pin_factory(PinFactory.LGPIO, environ)
    raise ValueError(f"no inputs on the pin factory {name!r}")
