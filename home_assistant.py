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
HA_COMMAND_FIELDS = ("state", "brightness", "transition")  # what discovery says this light does


def ha_command(payload: dict) -> str:
    """Home Assistant's JSON-schema command, as the protocol message it stands for.

    A field this light does not do (``flash``, ``effect``, a colour) is refused, never
    ignored: the sender learns it on the error topic, and nothing changes.
    """
    if not isinstance(payload, dict) or payload.get("state") not in ("ON", "OFF"):
        raise protocol.ProtocolError(
            protocol.INVALID_MESSAGE, 'a Home Assistant command needs "state": "ON" or "OFF"')
    unsupported = [field for field in payload if field not in HA_COMMAND_FIELDS]
    if unsupported:
        raise protocol.ProtocolError(
            protocol.INVALID_MESSAGE, f"this light does not support {', '.join(map(repr, sorted(unsupported)))}; "
            f"a Home Assistant command may have {', '.join(HA_COMMAND_FIELDS)}")
    message: dict = {"on": payload["state"] == "ON"}
    if payload["state"] == "ON" and "brightness" in payload:
        message = {"level": payload["brightness"]}
    if "transition" in payload:
        message["transition"] = payload["transition"]
    return json.dumps(message, default=_exact_number)


def _exact_number(value):
    """protocol.parse_json keeps fractions exact (Decimal); write them back as the numbers they are."""
    if isinstance(value, Decimal) and value.is_finite():
        return int(value) if -10**20 < value < 10**20 and value == value.to_integral_value() else float(value)
    raise TypeError(type(value).__name__)


def ha_state(state: protocol.State) -> str:
    return json.dumps({"state": "ON" if state.on else "OFF", "brightness": state.brightness,
                       "color_mode": "brightness"}, separators=(",", ":"))


def entity_id(device_id: str, light: str, is_default: bool) -> str:
    """The light's ``unique_id`` (and, after ``light.``, its entity id)."""
    return f"ledsock_{device_id}" if is_default else f"ledsock_{device_id}_{light}"


def discovery_config(*, device_id: str, light: str, is_default: bool, several: bool, topics: str,
                     availability_topic: str, page_url: str = "", sw_version: str = "1") -> dict:
    """One light's discovery config: HA's MQTT light, JSON schema, brightness only.

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
        "flash": False,  # HA would offer flash, and the lamp does not flash: never advertise it
        "qos": 1,
        "device": {"identifiers": [f"ledsock_{device_id}"], "name": f"ledsock {device_id}",
                   "model": "ledsock LED (Raspberry Pi PWM)", "manufacturer": "ledsock",
                   "sw_version": sw_version, **({"configuration_url": page_url} if page_url else {})},
        "origin": {"name": "ledsock", "sw_version": sw_version},
    }
