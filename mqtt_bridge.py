"""The MQTT door: the light on a broker, for Home Assistant, Node-RED, scripts and fleets.

One more transport of the light core. Commands from ``ledsock/<id>/set`` (and the
fleet's ``ledsock/<group>/set``) are parsed by :mod:`protocol` and applied by the same
light as WebSocket and REST commands; every change from any door is published,
retained, on ``ledsock/<id>/state``. Home Assistant gets discovery and its own JSON
schema on ``ledsock/<id>/ha/...``. paho-mqtt runs its own network thread; the light's
listener only hands the newest state to a publisher thread, so a stalled broker
never holds up a change or the WebSocket fan-out. docs/mqtt.md has the topics.
"""
from __future__ import annotations

import json
import logging
import re
import socket
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Optional
from urllib.parse import unquote, urlsplit

import protocol
from led import HardwareError
from light import Light

log = logging.getLogger(__name__)

ROOT = "ledsock"
HA_STATUS = "homeassistant/status"
ONLINE, OFFLINE = "online", "offline"
MAX_PAYLOAD = 4096  # as the WebSocket's MAX_MESSAGE_SIZE default
PUBLISH_WAIT = 5.0  # seconds the publisher waits for the broker's ack before sending the newest state


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
    username: Optional[str] = None
    password: Optional[str] = None

    @classmethod
    def parse(cls, url: str) -> "BrokerAddress":
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("MQTT_URL must look like mqtt://[user:pass@]host[:1883] or mqtts://host[:8883]")
        try:
            port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        except ValueError:
            raise ValueError("MQTT_URL has a port that is not a number") from None
        return cls(parts.hostname, port, parts.scheme == "mqtts",
                   unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None)

    def __str__(self) -> str:  # never shows the password
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


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


class MqttBridge:
    """The light on one MQTT broker: commands in, retained states out, Home Assistant discovery."""

    def __init__(self, light: Light, broker: BrokerAddress, *, device_id: str, group: str = "all",
                 discovery: bool = True, ca_file: str | None = None, page_url: str = "", sw_version: str = "1"):
        self.light, self.broker = light, broker
        self.device_id, self.group, self.discovery = device_id, group, discovery
        self.ca_file, self.page_url, self.sw_version = ca_file, page_url, sw_version
        self.base = f"{ROOT}/{device_id}"
        self.connected = False
        self.last_error: str | None = None
        self._pending: protocol.State | None = None  # newest state not yet published
        self._wake = threading.Condition()
        self._stopped = False
        self._client = None
        self._told_unreachable = False

    # ---------------------------------------------------------------- life

    def start(self) -> None:
        import paho.mqtt.client as mqtt

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"ledsock-{self.device_id}",
                             protocol=mqtt.MQTTv311)
        if self.broker.username:
            client.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls:
            client.tls_set(ca_certs=self.ca_file)
        client.will_set(f"{self.base}/status", OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client
        self.light.add_listener(self._state_changed)
        if self.light.schedules is not None:
            self.light.schedules.add_listener(self._schedule_changed)
        threading.Thread(target=self._publish_loop, name="ledsock-mqtt-publisher", daemon=True).start()
        client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        client.loop_start()  # paho's own network thread: connects, reconnects with backoff
        log.info("MQTT: joining %s as %s (group %s, discovery %s)", self.broker, self.base, self.group,
                 "on" if self.discovery else "off")

    def stop(self) -> None:
        """Say offline (the will is for deaths, not for a clean stop) and leave the broker."""
        with self._wake:
            self._stopped = True
            self._wake.notify_all()
        if self._client is not None:
            if self.connected:
                try:  # the broker may go in between; the GPIO release after this must still run
                    self._client.publish(f"{self.base}/status", OFFLINE, qos=1, retain=True).wait_for_publish(1)
                except (RuntimeError, ValueError) as exc:
                    log.warning("MQTT: could not say offline (%s); the broker's last will will", exc)
            self._client.disconnect()
            self._client.loop_stop()

    def health(self) -> dict:
        return {"mqtt_connected": self.connected, "mqtt_broker": str(self.broker), "mqtt_error": self.last_error}

    # ---------------------------------------------------------------- paho's callbacks (its thread)

    def _on_connect(self, client, _userdata, _flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            self.last_error = f"refused: {reason_code}"
            log.error("MQTT: %s refused the connection: %s", self.broker, reason_code)
            return
        self.connected, self.last_error, self._told_unreachable = True, None, False
        log.info("MQTT: connected to %s", self.broker)
        client.subscribe([(f"{self.base}/set", 1), (f"{ROOT}/{self.group}/set", 1), (f"{self.base}/ha/set", 1),
                          (HA_STATUS, 1)])
        client.publish(f"{self.base}/status", ONLINE, qos=1, retain=True)
        self._announce()
        for info in self.light.schedules.infos() if self.light.schedules is not None else ():
            self._schedule_changed(info, None)

    def _on_connect_fail(self, _client, _userdata) -> None:
        self.last_error = f"cannot reach {self.broker}"
        if not self._told_unreachable:  # one line, not one per retry
            log.warning("MQTT: cannot reach %s; retrying with backoff (up to 30 s apart)", self.broker)
            self._told_unreachable = True

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        if self._stopped:
            log.info("MQTT: left %s (the service is stopping)", self.broker)
        elif self.connected:
            log.warning("MQTT: lost %s (%s); reconnecting", self.broker, reason_code)
        self.connected = False
        if not self._stopped:
            self.last_error = f"disconnected: {reason_code}"

    def _on_message(self, _client, _userdata, message) -> None:
        if message.topic == HA_STATUS:
            if message.payload == b"online":
                self._announce()  # Home Assistant restarted: it needs discovery and the state again
            return
        is_ha = message.topic == f"{self.base}/ha/set"
        request_id = None
        try:
            if len(message.payload) > MAX_PAYLOAD:
                raise protocol.ProtocolError(protocol.INVALID_MESSAGE, f"payload over {MAX_PAYLOAD} bytes")
            try:
                text = message.payload.decode("utf-8")
            except UnicodeDecodeError:
                raise protocol.ProtocolError(protocol.INVALID_MESSAGE, "payload is not UTF-8 text") from None
            if is_ha:
                text = ha_command(protocol.parse_json(text))
            command = protocol.parse_command(text)
            request_id = command.request_id
            if not isinstance(command, protocol.LightCommand + protocol.ScheduleCommand):
                self._publish_state_now()  # get/ping: the state topic is the answer
                return
            self.light.execute(command, origin=f"mqtt {message.topic}", requester=self)
        except protocol.ProtocolError as exc:
            log.debug("MQTT: rejected on %s: %s", message.topic, exc.message)
            self._publish(f"{self.base}/error", protocol.error_message(exc.code, exc.message, exc.request_id))
        except HardwareError as exc:
            log.error("%s (set on %s)", exc, message.topic)
            self._publish(f"{self.base}/error", protocol.hardware_error_message(exc, request_id))
        except Exception:  # never into paho's network thread, which would stop with it
            log.exception("MQTT: a message on %s could not be handled", message.topic)
            self._publish(f"{self.base}/error", protocol.internal_error_message(request_id))

    # ---------------------------------------------------------------- publishing

    def _state_changed(self, state: protocol.State, _requester) -> None:
        """The light's listener (under its lock): only note the newest state."""
        with self._wake:
            self._pending = state
            self._wake.notify_all()

    def _publish_state_now(self) -> None:
        self._state_changed(self.light.state(), None)

    def _publish_loop(self) -> None:
        """Publish the newest state, one at a time: while the broker is slow or stalled,
        newer states replace the waiting one instead of piling up in paho's queue.
        While disconnected nothing is queued; the reconnect publishes the current state."""
        while True:
            with self._wake:
                while self._pending is None and not self._stopped:
                    self._wake.wait()
                if self._stopped:
                    return
                state, self._pending = self._pending, None
            if not self.connected:
                continue
            sent = [self._client.publish(f"{self.base}/state", protocol.state_message(state), qos=1, retain=True)]
            if self.discovery:
                sent.append(self._client.publish(f"{self.base}/ha/state", ha_state(state), qos=1, retain=True))
            for info in sent:
                try:
                    info.wait_for_publish(PUBLISH_WAIT)
                except (RuntimeError, ValueError):  # lost meanwhile: the reconnect re-publishes
                    break

    def _schedule_changed(self, news, _requester) -> None:
        """Each schedule retained on ``<base>/schedules/<name>``; a deleted one clears its topic."""
        if isinstance(news, protocol.ScheduleDeleted):
            self._client.publish(f"{self.base}/schedules/{news.name}", b"", qos=1, retain=True)
        else:
            self._client.publish(f"{self.base}/schedules/{news.name}", protocol.reply_message(news),
                                 qos=1, retain=True)

    def _publish(self, topic: str, text: str) -> None:
        self._client.publish(topic, text, qos=1)

    def _announce(self) -> None:
        if self.discovery:
            self._client.publish(f"homeassistant/light/ledsock_{self.device_id}/config",
                                 json.dumps(self.discovery_config()), qos=1, retain=True)
        self._publish_state_now()

    def discovery_config(self) -> dict:
        """Home Assistant's MQTT light, JSON schema, brightness only."""
        return {
            "name": None,  # the device's name is the entity's
            "unique_id": f"ledsock_{self.device_id}",
            # HA 2026.4 and later: the entity id. HA 2025.x ignores it and takes the device's
            # name, "ledsock <id>", which gives the same light.ledsock_<id>.
            "default_entity_id": f"light.ledsock_{self.device_id}",
            "schema": "json",
            "command_topic": f"{self.base}/ha/set",
            "state_topic": f"{self.base}/ha/state",
            "availability_topic": f"{self.base}/status",
            "payload_available": ONLINE,
            "payload_not_available": OFFLINE,
            "brightness": True,
            "brightness_scale": 100,
            "supported_color_modes": ["brightness"],
            "transition": True,
            "flash": False,  # HA would offer flash, and the lamp does not flash: never advertise it
            "qos": 1,
            "device": {"identifiers": [f"ledsock_{self.device_id}"], "name": f"ledsock {self.device_id}",
                       "model": "ledsock LED (Raspberry Pi PWM)", "manufacturer": "ledsock",
                       "sw_version": self.sw_version, **({"configuration_url": self.page_url} if self.page_url else {})},
            "origin": {"name": "ledsock", "sw_version": self.sw_version},
        }
