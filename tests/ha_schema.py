"""Home Assistant's discovery schema of an MQTT JSON-schema light, as its MQTT integration
validates a config published on ``homeassistant/light/<id>/config``: copied from
home-assistant/core (2025.x to 2026.x), with voluptuous, the library HA validates with.

- ``homeassistant/components/mqtt/light/schema_json.py``: ``_PLATFORM_SCHEMA_BASE`` and
  ``DISCOVERY_SCHEMA_JSON`` (keys it no longer has are removed with a warning, keys it does not
  know are dropped: ``extra=vol.REMOVE_EXTRA``);
- ``.../mqtt/config.py``: ``MQTT_RW_SCHEMA``; ``.../mqtt/schemas.py``: ``MQTT_ENTITY_COMMON_SCHEMA``
  (availability, device, origin); ``.../mqtt/light/schema.py``: ``MQTT_LIGHT_SCHEMA_SCHEMA``;
  ``.../mqtt/util.py``: the topic checks;
- ``homeassistant/components/light/__init__.py``: ``VALID_COLOR_MODES`` and
  ``valid_supported_color_modes``;
- ``homeassistant/helpers/config_validation.py``: ``boolean``, ``string``, ``positive_int``,
  ``ensure_list``, ``removed``, ``configuration_url``, as they behave for these keys.

What HA then does with a valid config (``MqttLightJson._setup_from_config``) is kept too, for
what the tests read from it: its colour modes and its kelvin range.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from numbers import Number
from typing import Any
from urllib.parse import urlparse

import voluptuous as vol

log = logging.getLogger(__name__)


class ColorMode(StrEnum):
    UNKNOWN = "unknown"
    ONOFF = "onoff"
    BRIGHTNESS = "brightness"
    COLOR_TEMP = "color_temp"
    HS = "hs"
    XY = "xy"
    RGB = "rgb"
    RGBW = "rgbw"
    RGBWW = "rgbww"
    WHITE = "white"


VALID_COLOR_MODES = {mode for mode in ColorMode if mode is not ColorMode.UNKNOWN}
COLOR_MODES_COLOR = {ColorMode.HS, ColorMode.RGB, ColorMode.RGBW, ColorMode.RGBWW, ColorMode.XY}
DEFAULT_MIN_KELVIN, DEFAULT_MAX_KELVIN = 2000, 6535  # homeassistant/components/light/const.py


# homeassistant/helpers/config_validation.py
def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        value = value.lower().strip()
        if value in ("1", "true", "yes", "on", "enable"):
            return True
        if value in ("0", "false", "no", "off", "disable"):
            return False
    elif isinstance(value, Number):
        return value != 0
    raise vol.Invalid(f"invalid boolean value {value}")


def string(value: Any) -> str:
    if value is None:
        raise vol.Invalid("string value is None")
    if isinstance(value, (list, dict)):
        raise vol.Invalid("value should be a string")
    return str(value)


def ensure_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


positive_int = vol.All(vol.Coerce(int), vol.Range(min=0))


def configuration_url(value: Any) -> str:
    url_in = str(value)
    if urlparse(url_in).scheme in ("http", "https"):
        return str(vol.Schema(vol.Url())(url_in))
    if urlparse(url_in).scheme == "homeassistant":
        return url_in
    raise vol.Invalid("invalid url")


def removed(key: str, raise_if_present: bool = False):
    def validator(config: dict) -> dict:
        if key in config:
            if raise_if_present:
                raise vol.Invalid(f"The '{key}' option has been removed, please remove it from your configuration")
            log.warning("The '%s' option has been removed, please remove it from your configuration", key)
            config = dict(config)
            config.pop(key)
        return config

    return validator


# homeassistant/components/mqtt/util.py
def valid_topic(topic: Any) -> str:
    validated = string(topic)
    raw = validated.encode("utf-8")
    if not raw:
        raise vol.Invalid("MQTT topic name/filter must not be empty.")
    if len(raw) > 65535:
        raise vol.Invalid("MQTT topic name/filter must not be longer than 65535 encoded bytes.")
    for char in validated:
        if char == "\0" or char <= "\u001f" or "\u007f" <= char <= "\u009f":
            raise vol.Invalid("MQTT topic name/filter must not contain control characters.")
        if "\ufdd0" <= char <= "\ufdef" or (ord(char) & 0xFFFF) in (0xFFFE, 0xFFFF):
            raise vol.Invalid("MQTT topic name/filter must not contain non-characters.")
    return validated


def valid_subscribe_topic(topic: Any) -> str:
    validated = valid_topic(topic)
    for i in (i for i, c in enumerate(validated) if c == "+"):
        if (i > 0 and validated[i - 1] != "/") or (i < len(validated) - 1 and validated[i + 1] != "/"):
            raise vol.Invalid("Single-level wildcard must occupy an entire level of the filter")
    index = validated.find("#")
    if index != -1:
        if index != len(validated) - 1:
            raise vol.Invalid("Multi-level wildcard must be the last character in the topic filter.")
        if len(validated) > 1 and validated[index - 1] != "/":
            raise vol.Invalid("Multi-level wildcard must be after a topic level separator.")
    return validated


def valid_publish_topic(topic: Any) -> str:
    validated = valid_topic(topic)
    if "+" in validated or "#" in validated:
        raise vol.Invalid("Wildcards cannot be used in topic names")
    return validated


valid_qos_schema = vol.All(vol.Coerce(int), vol.In([0, 1, 2]))


# homeassistant/components/light/__init__.py
def color_supported(color_modes) -> bool:
    return bool(color_modes) and not COLOR_MODES_COLOR.isdisjoint(color_modes)


def valid_supported_color_modes(color_modes):
    color_modes = set(color_modes)
    if (
        not color_modes
        or ColorMode.UNKNOWN in color_modes
        or (ColorMode.BRIGHTNESS in color_modes and len(color_modes) > 1)
        or (ColorMode.ONOFF in color_modes and len(color_modes) > 1)
        or (ColorMode.WHITE in color_modes and not color_supported(color_modes))
    ):
        raise vol.Error(f"Invalid supported_color_modes {sorted(color_modes)}")
    return color_modes


# homeassistant/components/mqtt/config.py
MQTT_BASE_SCHEMA = vol.Schema(
    {
        vol.Optional("qos", default=0): valid_qos_schema,
        vol.Optional("encoding", default="utf-8"): string,
        vol.Optional("group"): vol.All(ensure_list, [string]),
    }
)
MQTT_RW_SCHEMA = MQTT_BASE_SCHEMA.extend(
    {
        vol.Required("command_topic"): valid_publish_topic,
        vol.Optional("optimistic", default=False): boolean,
        vol.Optional("retain", default=False): boolean,
        vol.Optional("state_topic"): valid_subscribe_topic,
    }
)

# homeassistant/components/mqtt/schemas.py
MQTT_AVAILABILITY_SCHEMA = vol.Schema(
    {
        vol.Exclusive("availability_topic", "availability"): valid_subscribe_topic,
        vol.Optional("availability_template"): string,
        vol.Optional("payload_available", default="online"): string,
        vol.Optional("payload_not_available", default="offline"): string,
        vol.Optional("availability_mode", default="latest"): vol.All(string, vol.In(["all", "any", "latest"])),
        vol.Exclusive("availability", "availability"): vol.All(
            ensure_list,
            [
                {
                    vol.Required("topic"): valid_subscribe_topic,
                    vol.Optional("payload_available", default="online"): string,
                    vol.Optional("payload_not_available", default="offline"): string,
                    vol.Optional("value_template"): string,
                }
            ],
        ),
    }
)


def validate_device_has_at_least_one_identifier(value: dict) -> dict:
    if value.get("identifiers") or value.get("connections"):
        return value
    raise vol.Invalid("Device must have at least one identifying value in 'identifiers' and/or 'connections'")


MQTT_ENTITY_DEVICE_INFO_SCHEMA = vol.All(
    vol.Schema(
        {
            vol.Optional("identifiers", default=list): vol.All(ensure_list, [string]),
            vol.Optional("connections", default=list): vol.All(ensure_list, [vol.All(vol.Length(2), [string])]),
            vol.Optional("manufacturer"): string,
            vol.Optional("model"): string,
            vol.Optional("model_id"): string,
            vol.Optional("name"): string,
            vol.Optional("hw_version"): string,
            vol.Optional("serial_number"): string,
            vol.Optional("sw_version"): string,
            vol.Optional("via_device"): string,
            vol.Optional("suggested_area"): string,
            vol.Optional("configuration_url"): configuration_url,
        }
    ),
    validate_device_has_at_least_one_identifier,
)
MQTT_ORIGIN_INFO_SCHEMA = vol.Schema(
    {
        vol.Required("name"): string,
        vol.Optional("sw_version"): string,
        vol.Optional("support_url"): configuration_url,
    }
)
MQTT_ENTITY_COMMON_SCHEMA = MQTT_AVAILABILITY_SCHEMA.extend(
    {
        vol.Optional("device"): MQTT_ENTITY_DEVICE_INFO_SCHEMA,
        vol.Optional("origin"): MQTT_ORIGIN_INFO_SCHEMA,
        vol.Optional("enabled_by_default", default=True): boolean,
        vol.Optional("entity_category"): vol.In(["config", "diagnostic"]),
        vol.Optional("icon"): string,
        vol.Optional("json_attributes_topic"): valid_subscribe_topic,
        vol.Optional("json_attributes_template"): string,
        vol.Optional("object_id"): string,
        vol.Optional("default_entity_id"): string,  # 2026.4: object_id's successor
        vol.Optional("unique_id"): string,
    }
)

# homeassistant/components/mqtt/light/schema.py
MQTT_LIGHT_SCHEMA_SCHEMA = vol.Schema(
    {vol.Optional("schema", default="basic"): vol.All(vol.Lower, vol.Any("basic", "json", "template"))}
)

# homeassistant/components/mqtt/light/schema_json.py
_PLATFORM_SCHEMA_BASE = (
    MQTT_RW_SCHEMA.extend(
        {
            vol.Optional("brightness", default=False): boolean,
            vol.Optional("brightness_scale", default=255): vol.All(vol.Coerce(int), vol.Range(min=1)),
            vol.Optional("color_temp_kelvin", default=False): boolean,
            vol.Optional("effect", default=False): boolean,
            vol.Optional("effect_list"): vol.All(ensure_list, [string]),
            vol.Optional("flash", default=True): boolean,
            vol.Optional("flash_time_long", default=10): positive_int,
            vol.Optional("flash_time_short", default=2): positive_int,
            vol.Optional("max_mireds"): positive_int,
            vol.Optional("min_mireds"): positive_int,
            vol.Optional("max_kelvin"): positive_int,
            vol.Optional("min_kelvin"): positive_int,
            vol.Optional("name"): vol.Any(string, None),
            vol.Optional("qos", default=0): vol.All(vol.Coerce(int), vol.In([0, 1, 2])),
            vol.Optional("retain", default=False): boolean,
            vol.Optional("state_topic"): valid_subscribe_topic,
            vol.Optional("supported_color_modes"): vol.All(
                ensure_list, [vol.In(VALID_COLOR_MODES)], vol.Unique(), valid_supported_color_modes
            ),
            vol.Optional("transition", default=True): boolean,
            vol.Optional("white_scale", default=255): vol.All(vol.Coerce(int), vol.Range(min=1)),
        }
    )
    .extend(MQTT_ENTITY_COMMON_SCHEMA.schema)
    .extend(MQTT_LIGHT_SCHEMA_SCHEMA.schema)
)
DISCOVERY_SCHEMA_JSON = vol.All(
    removed("color_mode"),
    removed("color_temp"),
    removed("hs"),
    removed("rgb"),
    removed("xy"),
    _PLATFORM_SCHEMA_BASE.extend({}, extra=vol.REMOVE_EXTRA),
)


# homeassistant/components/mqtt/scene.py: PLATFORM_SCHEMA_MODERN and DISCOVERY_SCHEMA
SCENE_DISCOVERY_SCHEMA = (
    MQTT_BASE_SCHEMA.extend(
        {
            vol.Required("command_topic"): valid_publish_topic,
            vol.Optional("name"): vol.Any(string, None),
            vol.Optional("payload_on"): string,
            vol.Optional("retain", default=False): boolean,
        }
    )
    .extend(MQTT_ENTITY_COMMON_SCHEMA.schema)
    .extend({}, extra=vol.REMOVE_EXTRA)
)


def validate_scene_discovery(config: dict) -> dict:
    """A scene's discovery config as HA's MQTT integration takes it; MqttScene.async_activate
    then publishes ``payload_on`` on ``command_topic`` (a config without it would fail there)."""
    valid = SCENE_DISCOVERY_SCHEMA(config)
    if "payload_on" not in valid:
        raise vol.Invalid("payload_on: activating the scene would fail (HA reads it with no default)")
    return valid


def validate_discovery(config: dict) -> dict:
    """A discovery config as HA's MQTT integration takes it: the light schema chosen by its
    ``schema`` key (ledsock's is ``json``), then that schema's discovery validation. Raises
    vol.Invalid as HA does, where it logs the config as invalid and makes no entity."""
    if MQTT_LIGHT_SCHEMA_SCHEMA.extend({}, extra=vol.ALLOW_EXTRA)(config)["schema"] != "json":
        raise vol.Invalid("not a JSON-schema light")
    return DISCOVERY_SCHEMA_JSON(config)


def entity_setup(config: dict) -> dict:
    """What ``MqttLightJson._setup_from_config`` makes of a valid config: the colour modes, the
    colour mode of a light with one, whether color_temp is in kelvin, and the kelvin range."""
    modes = config.get("supported_color_modes")
    if not modes and config.get("brightness"):
        modes = {ColorMode.BRIGHTNESS}
    return {
        "supported_color_modes": set(modes or ()),
        "color_mode": next(iter(modes)) if modes and len(modes) == 1 else ColorMode.UNKNOWN,
        "color_temp_kelvin": config["color_temp_kelvin"],
        "min_color_temp_kelvin": config.get("min_kelvin", DEFAULT_MIN_KELVIN),
        "max_color_temp_kelvin": config.get("max_kelvin", DEFAULT_MAX_KELVIN),
    }
