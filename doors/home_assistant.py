"""Home Assistant's MQTT JSON-schema light, as ledsock speaks it: the discovery config of
each light, HA's command as the protocol message it stands for, and the state HA reads.

Pure: :mod:`mqtt_bridge` publishes and subscribes. One HA device per service, one light
entity per light. The default light keeps the entity a single-light service has always
had (``ledsock_<id>``, topics ``ledsock/<id>/ha/...``), so adding a light to a lamp
leaves Home Assistant's automations as they were; every other light is
``ledsock_<id>_<name>`` on ``ledsock/<id>/lights/<name>/ha/...``. docs/mqtt.md has it all.
"""

from __future__ import annotations

import json
from decimal import Decimal

import protocol

ONLINE, OFFLINE = "online", "offline"
HA_COMMAND_FIELDS = ("state", "brightness", "transition", "effect", "flash")  # what discovery says this light does
HA_EFFECTS = tuple(
    effect for effect in protocol.EffectName if effect is not protocol.EffectName.FLASH
)  # HA has its own flash
FLASH_SHORT, FLASH_LONG = 2, 10  # seconds: flash_time_short and flash_time_long, as HA sends them
FLASH_BLINK = 0.5  # seconds on, then off: one blink a second


def ha_command(payload: dict) -> list[str]:
    """Home Assistant's JSON-schema command, as the protocol messages it stands for, in order.

    ``{"state":"ON","brightness":40,"effect":"candle"}`` is a level, then the effect;
    ``{"state":"ON","flash":2}`` (``flash_time_short``, in seconds) is a flash of two blinks,
    one a second, that ends where the light was. A field this light does not do (a colour)
    or an effect not in the list is refused, never ignored: the sender learns it on the
    error topic, and nothing changes.
    """
    if not isinstance(payload, dict) or payload.get("state") not in ("ON", "OFF"):
        raise protocol.ProtocolError(protocol.INVALID_MESSAGE, 'a Home Assistant command needs "state": "ON" or "OFF"')
    unsupported = [field for field in payload if field not in HA_COMMAND_FIELDS]
    if unsupported:
        raise protocol.ProtocolError(
            protocol.INVALID_MESSAGE,
            f"this light does not support {', '.join(map(repr, sorted(unsupported)))}; "
            f"a Home Assistant command may have {', '.join(HA_COMMAND_FIELDS)}",
        )
    if "flash" in payload:
        seconds = payload["flash"]
        if isinstance(seconds, bool) or not isinstance(seconds, (int, Decimal)) or not 1 <= seconds <= 100:
            raise protocol.ProtocolError(
                protocol.INVALID_MESSAGE,
                "flash must be whole seconds from 1 to 100 "
                f"(HA sends {FLASH_SHORT} or {FLASH_LONG}), got {protocol.describe(seconds)}",
            )
        return [
            json.dumps(
                {
                    "effect": protocol.EffectName.FLASH,
                    "count": int(seconds),
                    "on_time": FLASH_BLINK,
                    "off_time": FLASH_BLINK,
                }
            )
        ]
    if "effect" in payload and payload["effect"] not in HA_EFFECTS:
        raise protocol.ProtocolError(
            protocol.INVALID_MESSAGE,
            f"effect must be one of {', '.join(HA_EFFECTS)}, got {protocol.describe(payload['effect'])}",
        )
    message: dict = {"on": payload["state"] == "ON"}
    if payload["state"] == "ON" and "brightness" in payload:
        message = {"level": payload["brightness"]}
    if "transition" in payload:
        message["transition"] = payload["transition"]
    messages = [json.dumps(message, default=_exact_number)]
    if payload["state"] == "ON" and "effect" in payload:
        if "brightness" not in payload and "transition" not in payload:
            messages = []  # the effect turns the light on by itself
        messages.append(json.dumps({"effect": payload["effect"]}))
    return messages


def _exact_number(value):
    """protocol.parse_json keeps fractions exact (Decimal); write them back as the numbers they are."""
    if isinstance(value, Decimal) and value.is_finite():
        return int(value) if -(10**20) < value < 10**20 and value == value.to_integral_value() else float(value)
    raise TypeError(type(value).__name__)


def ha_state(state: protocol.State) -> str:
    """The state HA reads: a flash is not an effect HA lists, so it shows as none."""
    effect = state.effect if state.effect in HA_EFFECTS else None
    return protocol.to_json(
        {
            "state": "ON" if state.on else "OFF",
            "brightness": state.brightness,
            "color_mode": "brightness",
            "effect": effect,
        }
    )


def entity_id(device_id: str, light: str, is_default: bool) -> str:
    """The light's ``unique_id`` (and, after ``light.``, its entity id)."""
    return f"ledsock_{device_id}" if is_default else f"ledsock_{device_id}_{light}"


def device_model(leds: list[tuple[int, str]]) -> str:
    """What drives the lamp's lights, for Home Assistant's device page: each LED's pin and the
    factory that drives it, as (pin, factory) pairs ("GPIO18 via kernel, GPIO21 via lgpio";
    "simulated" for gpiozero's simulation)."""
    return "ledsock: " + ", ".join(
        f"GPIO{pin} " + ("simulated" if factory == "mock" else f"via {factory}") for pin, factory in leds
    )


def discovery_config(
    *,
    device_id: str,
    light: str,
    is_default: bool,
    several: bool,
    topics: str,
    availability_topic: str,
    model: str,
    page_url: str = "",
    sw_version: str = "unknown",
) -> dict:
    """One light's discovery config: HA's MQTT light, JSON schema: brightness, transitions,
    effects and flash.

    ``topics`` is where its ``ha/set`` and ``ha/state`` are; ``several``: the service has
    more than one light, so each entity is named after its light (one light takes the device's name).
    """
    unique_id = entity_id(device_id, light, is_default)
    return {
        "name": light if several else None,  # None: the device's name is the entity's
        "unique_id": unique_id,
        # HA 2026.4 and later: the entity id. HA 2025.x ignores it and makes one of the
        # device's name and the entity's: light.ledsock_<id> for one light, as here.
        "default_entity_id": f"light.{unique_id}",
        "schema": "json",
        "command_topic": f"{topics}/ha/set",
        "state_topic": f"{topics}/ha/state",
        "availability_topic": availability_topic,
        "payload_available": ONLINE,
        "payload_not_available": OFFLINE,
        "brightness": True,
        "brightness_scale": 100,
        "supported_color_modes": ["brightness"],
        "transition": True,
        "effect": True,
        "effect_list": list(HA_EFFECTS),
        "flash": True,  # HA's flash: a flash effect of flash_time seconds
        "flash_time_short": FLASH_SHORT,
        "flash_time_long": FLASH_LONG,
        "qos": 1,
        "device": {
            "identifiers": [f"ledsock_{device_id}"],
            "name": f"ledsock {device_id}",
            "model": model,
            "manufacturer": "ledsock",
            "sw_version": sw_version,
            **({"configuration_url": page_url} if page_url else {}),
        },
        "origin": {"name": "ledsock", "sw_version": sw_version},
    }
