"""Where a lamp is on a broker: the broker's address (MQTT_URL), the lamp's and its fleet's
names in a topic, and the families of topics it takes messages on. Pure: no paho here, so
``main()`` checks MQTT_URL before anything is imported for the bridge.
"""

from __future__ import annotations

import enum
import re
import socket
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

ROOT = "ledsock"
HA_STATUS = "homeassistant/status"


def default_device_id(hostname: str | None = None) -> str:
    """The host name in the characters a topic level may hold here: ``[a-z0-9_-]``."""
    name = re.sub(r"[^a-z0-9_-]+", "-", (hostname or socket.gethostname()).lower().split(".")[0]).strip("-")
    return name or "ledsock"


def check_topic_name(name: str, what: str) -> str:
    if not re.fullmatch(r"[a-z0-9_-]{1,64}", name):
        raise ValueError(f"{what} must be 1 to 64 of a-z, 0-9, _ and -, got {name!r}")
    return name


@dataclass(frozen=True)
class BrokerAddress:
    """Where the broker is, from MQTT_URL: ``mqtt://[user:pass@]host[:1883]`` or ``mqtts://``."""

    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("MQTT_URL must look like mqtt://[user:pass@]host[:1883] or mqtts://host[:8883]")
        try:
            port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        except ValueError:
            raise ValueError("MQTT_URL has a port that is not a number") from None
        return cls(
            parts.hostname,
            port,
            parts.scheme == "mqtts",
            unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None,
        )

    def __str__(self) -> str:  # never shows the password
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


class TopicFamily(enum.Enum):
    """The topics a lamp takes messages on, each family with its own budget (ID: the lamp's
    MQTT_DEVICE_ID, GROUP: its MQTT_GROUP; a light's own topics are in its lamp's families)."""

    SET = "ledsock/ID/set and ledsock/ID/lights/+/set"
    HOME_ASSISTANT = "ledsock/ID/ha/set and ledsock/ID/lights/+/ha/set"
    GROUP = "ledsock/GROUP/set"
    HA_STATUS = HA_STATUS


def addressed_by(topic: str, base: str, group: str, default_light: str) -> tuple[str | None, TopicFamily] | None:
    """What a command topic says, for the lamp at ``base`` (``ledsock/ID``) in ``group``: the
    light it names, if it does, and its family; None for a topic that is no command of it."""
    if topic == f"{base}/set":
        return None, TopicFamily.SET
    if topic == f"{base}/ha/set":
        return default_light, TopicFamily.HOME_ASSISTANT
    if topic == f"{ROOT}/{group}/set":
        return None, TopicFamily.GROUP
    prefix = f"{base}/lights/"
    if topic.startswith(prefix):
        name, _, rest = topic[len(prefix) :].partition("/")
        if rest == "set":
            return name, TopicFamily.SET
        if rest == "ha/set":
            return name, TopicFamily.HOME_ASSISTANT
    return None
