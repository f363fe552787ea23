"""Where a command takes a light's state, pure: its brightness, power and colour after a level,
power, toggle, step or colour command; the colour a command asks for; and how a change reads in
the log. :class:`lamp.light.Light` carries the commands out.
"""

from __future__ import annotations

import protocol
from protocol import State


def next_state(current: State, command) -> State:
    """Where a command takes the light (brightness, power and colour; seq is the light's to count).

    A level above 0 is the brightness and turns the light on; level 0, ``on: false`` and
    a step down to 0 turn it off and keep the brightness to come back to; a step moves
    from the state's level (during a fade, the fade's target; 0 when off) and clamps to 0..100.
    A colour (or kelvin) replaces the one the light has, with its level or power, or turns the
    light on when it comes alone.
    """
    match command:
        case protocol.SetColor(tone=tone, level=level, on=on):
            if level is not None:
                shown = next_state(current, protocol.SetLevel(level))
            else:
                shown = current._replace(on=True if on is None else on)
            return shown._replace(color=tone.color or "", kelvin=tone.kelvin or 0)
        case protocol.SetLevel(level=level):
            return current._replace(brightness=level or current.brightness, on=level > 0)
        case protocol.SetPower(on=on):
            return current._replace(on=on)
        case protocol.Toggle():
            return current._replace(on=not current.on)
        case protocol.Step(delta=delta):
            level = min(protocol.LEVEL_MAX, max(protocol.LEVEL_MIN, current.level + delta))
            return current._replace(brightness=level or current.brightness, on=level > 0)
    raise TypeError(f"not a light command: {command!r}")


def tone_of(action: protocol.Action) -> protocol.Tone:
    """The colour a command asks for (none when it asks for none)."""
    if isinstance(action, protocol.SetColor):
        return action.tone
    if isinstance(action, protocol.SetEffect) and action.effect is not None:
        return action.effect.tone
    return protocol.Tone()


def shows(state: State) -> tuple:
    """What a state shows (a change of any of it is a change of the light)."""
    return state.brightness, state.on, state.color, state.kelvin


def colour_of(state: State) -> tuple[str, int]:
    return state.color, state.kelvin


def change_text(old: State, new: State) -> str:
    """A change as its log line says it: ``level 30 -> 80``, ``level 30 -> 80, color #ff8800``,
    ``white 2700 K at level 80``."""
    if colour_of(old) == colour_of(new):
        return f"level {old.level} -> {new.level}"
    shown = f"color {new.color}" if new.color else f"white {new.kelvin} K"
    if old.level == new.level:
        return f"{shown} at level {new.level}"
    return f"level {old.level} -> {new.level}, {shown}"
