"""Home Assistant's MQTT JSON-schema light, as ledsock speaks it: the discovery config of
each light, HA's command as the protocol message it stands for, and the state HA reads.

Pure: :mod:`mqtt_bridge` publishes and subscribes. One HA device per service, one light
entity per light. The default light keeps the entity a single-light service has always
had (``ledsock_<id>``, topics ``ledsock/<id>/ha/...``), so adding a light to a lamp
leaves Home Assistant's automations as they were; every other light is
``ledsock_<id>_<name>`` on ``ledsock/<id>/lights/<name>/ha/...``. docs/mqtt.md has it all.
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal

import protocol
from curves import colour
from curves.looks import Channels, LightKind, RgbChannels

ONLINE, OFFLINE = "online", "offline"
# What discovery says a light does: every light the first ones; an RGB light "color" ({"r", "g",
# "b"}), a CCT light "color_temp" (kelvin: color_temp_kelvin is true).
HA_COMMAND_FIELDS = ("state", "brightness", "transition", "effect", "flash", "color", "color_temp")
HA_COLOR_MODES = {LightKind.SINGLE: "brightness", LightKind.RGB: "rgb", LightKind.CCT: "color_temp"}
HA_EFFECTS = tuple(
    effect for effect in protocol.EffectName if effect is not protocol.EffectName.FLASH
)  # HA has its own flash
FLASH_SHORT, FLASH_LONG = 2, 10  # seconds: flash_time_short and flash_time_long, as HA sends them
FLASH_BLINK = 0.5  # seconds on, then off: one blink a second


def ha_command(payload: dict) -> list[str]:
    """Home Assistant's JSON-schema command, as the protocol messages it stands for, in order.

    ``{"state":"ON","brightness":40,"effect":"candle"}`` is a level, then the effect;
    ``{"state":"ON","flash":2}`` (``flash_time_short``, in seconds) is a flash of two blinks,
    one a second, that ends where the light was; ``"color": {"r":255,"g":136,"b":0}`` is the
    colour ``#ff8800`` and ``"color_temp": 2700`` the white of 2700 K, with the level or alone.
    A field no light does (``hs``, ``xy``, mireds) or an effect not in the list is refused,
    never ignored: the sender learns it on the error topic, and nothing changes; so is a colour
    the light cannot show (its own check, as on every door).
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
    tone = _ha_tone(payload)
    if tone and payload["state"] == "ON":
        message.update(tone)
        if message.get("on") is True:
            del message["on"]  # a colour alone turns the light on at the brightness it keeps
    if "transition" in payload:
        message["transition"] = payload["transition"]
    messages = [json.dumps(message, default=_exact_number)]
    if payload["state"] == "ON" and "effect" in payload:
        if "brightness" not in payload and "transition" not in payload and not tone:
            messages = []  # the effect turns the light on by itself
        messages.append(json.dumps({"effect": payload["effect"]}))
    return messages


def _ha_tone(payload: dict) -> dict:
    """HA's colour (``color``: r, g, b from 0 to 255) or white (``color_temp`` in kelvin) as
    the protocol's ``color`` or ``kelvin``; {} when it sends neither."""
    if "color" in payload and "color_temp" in payload:
        raise protocol.ProtocolError(protocol.INVALID_MESSAGE, "send color or color_temp, not both")
    if "color_temp" in payload:
        return {"kelvin": payload["color_temp"]}  # the protocol's own rules check it
    if "color" not in payload:
        return {}
    given = payload["color"]
    channels = [given.get(name) for name in "rgb"] if isinstance(given, dict) and len(given) == 3 else []
    if len(channels) != 3 or not all(
        isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 255 for value in channels
    ):
        raise protocol.ProtocolError(
            protocol.INVALID_MESSAGE,
            'color must be {"r": R, "g": G, "b": B}, each an integer from 0 to 255 (this light takes rgb), '
            f"got {protocol.describe(given)}",
        )
    red, green, blue = (int(value) for value in channels if value is not None)
    return {"color": colour.to_hex(red, green, blue)}


def _exact_number(value):
    """protocol.parse_json keeps fractions exact (Decimal); write them back as the numbers they are."""
    if isinstance(value, Decimal) and value.is_finite():
        return int(value) if -(10**20) < value < 10**20 and value == value.to_integral_value() else float(value)
    raise TypeError(type(value).__name__)


def ha_state(state: protocol.State, channels: Channels | None = None) -> str:
    """The state HA reads: a flash is not an effect HA lists, so it shows as none. An RGB light's
    colour as HA's ``color`` (a white as the colour the light shows for it: HA's rgb mode), a CCT
    light's white as ``color_temp`` in kelvin."""
    effect = state.effect if state.effect in HA_EFFECTS else None
    kind = channels.kind if channels is not None else LightKind.SINGLE
    reported: dict = {
        "state": "ON" if state.on else "OFF",
        "brightness": state.brightness,
        "color_mode": HA_COLOR_MODES[kind],
    }
    if isinstance(channels, RgbChannels):
        shown = state.color or colour.linear_to_hex(channels.of_kelvin(state.kelvin))
        red, green, blue = colour.parse_hex(shown)
        reported["color"] = {"r": red, "g": green, "b": blue}
    elif kind is LightKind.CCT:
        reported["color_temp"] = state.kelvin
    reported["effect"] = effect
    return protocol.to_json(reported)


def scene_id(device_id: str, scene: str) -> str:
    """A scene's ``unique_id`` (and, after ``scene.``, its entity id): its name made a topic's
    node (letters, digits, ``_``), and a hash of the name, so that "tv night" and "tv_night"
    stay two entities."""
    slug = re.sub(r"[^a-z0-9]+", "_", scene.lower()).strip("_") or "scene"
    return f"ledsock_{device_id}_scene_{slug}_{hashlib.sha1(scene.encode()).hexdigest()[:6]}"


def scene_discovery_config(
    *, device_id: str, scene: str, command_topic: str, availability_topic: str, device: dict, sw_version: str
) -> dict:
    """One scene's discovery config: HA's MQTT scene, which publishes ``payload_on`` (the recall)
    on ``command_topic`` when it is activated. HA's scene schema has ``payload_on`` with no
    default in the versions that need it, so it is always given."""
    unique_id = scene_id(device_id, scene)
    return {
        "name": scene,
        "unique_id": unique_id,
        "default_entity_id": f"scene.{unique_id}",
        "command_topic": command_topic,
        "payload_on": protocol.to_json({"scene": scene}),
        "availability_topic": availability_topic,
        "payload_available": ONLINE,
        "payload_not_available": OFFLINE,
        "qos": 1,
        "device": device,
        "origin": {"name": "ledsock", "sw_version": sw_version},
    }


def entity_id(device_id: str, light: str, is_default: bool) -> str:
    """The light's ``unique_id`` (and, after ``light.``, its entity id)."""
    return f"ledsock_{device_id}" if is_default else f"ledsock_{device_id}_{light}"


def device_model(leds: list[tuple[str, str]]) -> str:
    """What drives the lamp's lights, for Home Assistant's device page: each LED's pins and the
    factory that drives them, as (pins, factory) pairs ("GPIO18 via kernel, GPIO17/27/22 via
    lgpio"; "simulated" for gpiozero's simulation)."""
    return "ledsock: " + ", ".join(
        f"{pins} " + ("simulated" if factory == "mock" else f"via {factory}") for pins, factory in leds
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
    kind: LightKind = LightKind.SINGLE,
    kelvin_range: tuple[int, int] | None = None,
) -> dict:
    """One light's discovery config: HA's MQTT light, JSON schema: brightness, transitions,
    effects and flash; an RGB light's colour (``rgb``), a CCT light's white (``color_temp`` in
    kelvin, within ``kelvin_range``: no mireds, which HA 2026.3 removed).

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
        "supported_color_modes": [HA_COLOR_MODES[kind]],
        **(
            {"color_temp_kelvin": True, "min_kelvin": kelvin_range[0], "max_kelvin": kelvin_range[1]}
            if kind is LightKind.CCT and kelvin_range is not None
            else {}
        ),
        "transition": True,
        "effect": True,
        "effect_list": list(HA_EFFECTS),
        "flash": True,  # HA's flash: a flash effect of flash_time seconds
        "flash_time_short": FLASH_SHORT,
        "flash_time_long": FLASH_LONG,
        "qos": 1,
        "device": device_info(device_id, model, sw_version, page_url),
        "origin": {"name": "ledsock", "sw_version": sw_version},
    }


def device_info(device_id: str, model: str, sw_version: str, page_url: str = "") -> dict:
    """The lamp as Home Assistant's device, which its lights and scenes belong to."""
    return {
        "identifiers": [f"ledsock_{device_id}"],
        "name": f"ledsock {device_id}",
        "model": model,
        "manufacturer": "ledsock",
        "sw_version": sw_version,
        **({"configuration_url": page_url} if page_url else {}),
    }
