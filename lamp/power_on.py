"""Where the state file lives, and what the LED does when the service starts (``POWER_ON``)."""

from __future__ import annotations

import os
from pathlib import Path

import protocol

POWER_ON_CHOICES = "last, on, off, or a level from 0 to 100"


def default_path(environ=os.environ) -> Path:
    """$STATE_FILE, else systemd's $STATE_DIRECTORY, else ~/.local/state/ledsock/state.json."""
    if environ.get("STATE_FILE"):
        return Path(environ["STATE_FILE"])
    if environ.get("STATE_DIRECTORY"):  # systemd's StateDirectory=; may list several, ':'-separated
        return Path(environ["STATE_DIRECTORY"].split(":")[0]) / "state.json"
    base = environ.get("XDG_STATE_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".local" / "state")
    return Path(base) / "ledsock" / "state.json"


def parse_power_on(text: str) -> str | int:
    """``last``, ``on``, ``off`` or a level: what the LED does when the service starts."""
    text = str(text).strip().lower()
    if text in ("last", "on", "off"):
        return text
    try:
        return protocol.parse_level(text)
    except protocol.ProtocolError:
        raise ValueError(f"POWER_ON must be {POWER_ON_CHOICES}, got {text!r}") from None


def power_on_state(power_on: str | int, initial_level: int, saved: tuple[int | None, bool] | None) -> tuple[int, bool]:
    """Brightness and power at start, by POWER_ON: "last" (as saved, else on at
    ``initial_level``), "on" or "off" (at the saved brightness), or a level (0: off).

    Where no brightness was saved, it is ``initial_level`` (100 when that is 0).
    """
    policy = parse_power_on(str(power_on))
    initial = protocol.parse_level(initial_level)
    brightness = (saved[0] if saved else None) or initial or 100
    if policy == "last":
        return (brightness, saved[1]) if saved else (brightness, initial > 0)
    if isinstance(policy, str):  # "on" or "off"
        return brightness, policy == "on"
    return (policy or brightness), policy > 0
