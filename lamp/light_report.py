"""What a light says of itself to a person or a script checking on it: /healthz's line (the
state, the LED, the state file) and what each channel of a colour light drives at this instant
(GET /lights/NAME). Read-only: nothing here changes a light.
"""

from __future__ import annotations

import protocol
from curves.looks import LightKind
from lamp.light import Light


def health(light: Light) -> dict:
    """What /healthz tells of the light: the LED, the state, the state file."""
    state_file = light.state_file
    return {
        **led_health(light),
        "uptime_s": round(light.uptime(), 1),
        "state_file": str(state_file.path) if state_file else None,
        "state_file_writes": state_file.writes if state_file else 0,
        "state_file_pending": state_file.pending if state_file else False,
    }


def led_health(light: Light) -> dict:
    """This light's state and its LED's: the level shown, the pin and factory, degraded or not;
    a colour light's kind and what each of its channels drives now."""
    led = light.led
    report = {
        **protocol.state_fields(light.state()),
        "shown": round(led.shown(), 2),
        "status": "degraded" if led.error else "ok",
        "pin": led.pin,
        "pin_factory": led.factory_name,
        "simulated": led.simulated,
        "hardware_error": led.error,
    }
    channels = channel_duties(light)
    if channels is not None:
        report.update(kind=str(light.channels.kind), channels=channels)
    return report


def channel_duties(light: Light) -> list[dict] | None:
    """A colour light's channels as the LED drives them at this instant: each one's pin, what
    it drives (red, green, blue; warm, cold) and its duty cycle (0..1). None for a
    single-channel light, whose ``shown`` level says it all."""
    if light.channels.kind is LightKind.SINGLE:
        return None
    return [
        {"pin": pin, "drives": role, "duty": round(duty, 4)}
        for pin, role, duty in zip(light.led.pins, light.channels.roles, light.led.duties(), strict=True)
    ]
