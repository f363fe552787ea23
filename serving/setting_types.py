"""How a setting's text becomes its value: one reader per kind of setting, each refusing a bad
value with argparse's error, which names the flag or variable and says what it takes."""

from __future__ import annotations

import argparse

import protocol
from boards.pins import PinFactory
from curves.brightness import parse_curve
from lamp import state
from lamp.input_specs import parse_buttons, parse_encoders
from lamp.light_specs import parse_lights


def level(text):
    try:
        return protocol.parse_level(text)
    except protocol.ProtocolError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def positive(kind):
    def check(text):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
        return value

    check.__name__ = kind.__name__
    return check


def power_on(text):
    try:
        return state.parse_power_on(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def degrees(limit: float):
    def parse(text):
        value = float(text)
        if not -limit <= value <= limit:
            raise ValueError(f"must be from -{limit:g} to {limit:g} degrees, got {text}")
        return value

    parse.__name__ = "degrees"
    return parse


def seconds(text):
    try:
        return protocol.parse_transition(float(text))
    except (ValueError, protocol.ProtocolError) as exc:
        raise argparse.ArgumentTypeError(getattr(exc, "message", str(exc))) from None


def curve(text):
    try:
        parse_curve(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return str(text).strip().lower()


def lights(text):
    try:
        return parse_lights(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def buttons(text):
    try:
        return parse_buttons(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def encoders(text):
    try:
        return parse_encoders(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def flag(text):
    value = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(
        str(text).strip().lower()
    )
    if value is None:
        raise argparse.ArgumentTypeError(f"must be true or false, got {text!r}")
    return value


def names(text):
    return tuple(part.strip() for part in str(text).split(",") if part.strip())


def factory_from_gpiozero(environ) -> str:
    """gpiozero's own GPIOZERO_PIN_FACTORY is honoured when it names a factory we have."""
    named = environ.get("GPIOZERO_PIN_FACTORY", "")
    return named if named in (PinFactory.PIGPIO, PinFactory.LGPIO, PinFactory.MOCK) else PinFactory.AUTO
