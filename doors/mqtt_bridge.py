"""The MQTT door: the lights on a broker, for Home Assistant, Node-RED, scripts and fleets.

One more transport of the light core. Commands from ``ledsock/<id>/set`` (and the
fleet's ``ledsock/<group>/set``; either may name a light, or ``"*"``) and from each
light's ``ledsock/<id>/lights/<name>/set`` are parsed by :mod:`protocol` and applied by
the same lights as WebSocket and REST commands. Every change from any door is
published, retained: the default light's on ``ledsock/<id>/state`` as protocol v1 has
it, and each light's on ``ledsock/<id>/lights/<name>/state``. Home Assistant gets one
entity per light (:mod:`home_assistant`). paho-mqtt runs its own network thread; the
lights' listeners only hand the newest state to a publisher thread, so a stalled broker
never holds up a change or the WebSocket fan-out. docs/mqtt.md has the topics.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import protocol
from doors.answers import failure
from doors.home_assistant import (
    OFFLINE,
    ONLINE,
    ha_command,
)
from doors.mqtt_news import SCENE_CONFIGS, MqttNews, is_scene_config
from doors.mqtt_topics import HA_STATUS, ROOT, BrokerAddress, TopicFamily, addressed_by
from lamp.lights import Lights
from lamp.scenes import Scenes
from limits.budget import ONE, Budget
from limits.loglimit import LogLimiter

log = logging.getLogger(__name__)

MAX_PAYLOAD = 4096  # as the WebSocket's MAX_MESSAGE_SIZE default


class MqttBridge(MqttNews):
    """The lights on one MQTT broker: commands in, retained states out, Home Assistant discovery."""

    def __init__(
        self,
        lights: Lights,
        broker: BrokerAddress,
        *,
        device_id: str,
        group: str = "all",
        discovery: bool = True,
        ca_file: str | None = None,
        page_url: str = "",
        sw_version: str = "unknown",
        rate: float = 100.0,
        burst: int = 200,
        scenes: Scenes | None = None,
    ):
        self.lights, self.broker, self.scenes = lights, broker, scenes
        self.device_id, self.group, self.discovery = device_id, group, discovery
        self.ca_file, self.page_url, self.sw_version = ca_file, page_url, sw_version
        self.base = f"{ROOT}/{device_id}"
        self.connected = False
        self.last_error: str | None = None
        # Each family of topics is limited as a WebSocket connection is (RATE_LIMIT, RATE_BURST):
        # anyone may publish on a broker, so a flood on one family leaves the others their share.
        self._budgets = {family: Budget(rate, burst) for family in TopicFamily}
        self.dropped = 0  # messages dropped past their family's budget, since start
        self._drops_log = LogLimiter(log, "MQTT messages dropped", lines=1)
        self._pending: dict[str, protocol.State] = {}  # each light's newest state not yet published
        self._wake = threading.Condition()
        self._stopped = False
        self._client: Any = None  # paho's Client, once started
        self._told_unreachable = False
        self.failed_attempts = 0  # connection attempts that failed since the last that did not

    def start(self) -> None:
        import paho.mqtt.client as mqtt

        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"ledsock-{self.device_id}", protocol=mqtt.MQTTv311
        )
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
        for light in self.lights:
            light.add_listener(self._state_changed)
            if light.schedules is not None:
                light.schedules.add_listener(self._schedule_changed)
        threading.Thread(target=self._publish_loop, name="ledsock-mqtt-publisher", daemon=True).start()
        client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        client.loop_start()  # paho's own network thread: connects, reconnects with backoff
        log.info(
            "MQTT: joining %s as %s (group %s, discovery %s, %d light%s)",
            self.broker,
            self.base,
            self.group,
            "on" if self.discovery else "off",
            len(self.lights),
            "" if len(self.lights) == 1 else "s",
        )

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
        return {
            "mqtt_connected": self.connected,
            "mqtt_broker": str(self.broker),
            "mqtt_error": self.last_error,
            "mqtt_dropped": self.dropped,
            "mqtt_failed_attempts": self.failed_attempts,
        }

    # ---------------------------------------------------------------- paho's callbacks (its thread)

    def _on_connect(self, client, _userdata, _flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            self.last_error = f"refused: {reason_code}"
            log.error("MQTT: %s refused the connection: %s", self.broker, reason_code)
            return
        self.connected, self.last_error, self._told_unreachable = True, None, False
        self.failed_attempts = 0
        log.info("MQTT: connected to %s", self.broker)
        client.subscribe(
            [
                (f"{self.base}/set", 1),
                (f"{ROOT}/{self.group}/set", 1),
                (f"{self.base}/ha/set", 1),
                (f"{self.base}/lights/+/set", 1),
                (f"{self.base}/lights/+/ha/set", 1),
                (HA_STATUS, 1),
            ]
        )
        if self.discovery and self.scenes is not None:  # to clear the scenes deleted while away
            client.subscribe(SCENE_CONFIGS, 1)
        client.publish(f"{self.base}/status", ONLINE, qos=1, retain=True)
        self._announce()
        if self.scenes is not None:
            for scene in self.scenes.infos():
                self.scene_changed(scene, None)
        for light in self.lights:
            infos: list[protocol.ScheduleInfo] = light.schedules.infos() if light.schedules is not None else []
            for info in infos:
                self._schedule_changed(info, None)

    def _on_connect_fail(self, _client, _userdata) -> None:
        self.failed_attempts += 1
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
        """One message from the broker, if its family's budget allows (paho's thread: under gevent
        a greenlet on the shared loop, which gets its turn between two messages)."""
        try:
            if message.topic == HA_STATUS or is_scene_config(message.topic):
                family, addressed = TopicFamily.HA_STATUS, None  # Home Assistant's: one budget
            else:
                addressed = addressed_by(message.topic, self.base, self.group, self.lights.default.name)
                if addressed is None:
                    return
                family = addressed[1]
            budget = self._budgets[family]
            if not budget.take(ONE):
                self.dropped += 1
                self._drops_log.warning(
                    family.value,
                    "MQTT: over %g messages a second on %s (bursts of %g); "
                    "dropping them, counted in /healthz (mqtt_dropped)",
                    budget.rate,
                    family.value.replace("ID", self.device_id).replace("GROUP", self.group),
                    budget.burst,
                )
                return
            cost: float
            if is_scene_config(message.topic):
                cost = self.forget_stale_scene(message.topic, message.payload)
            elif addressed is None:
                cost = self._announce() if message.payload == b"online" else ONE  # HA restarted: it needs it all again
            else:
                cost = self._command(message, addressed[0], family)
            budget.spend(cost - ONE)
        except Exception:  # never into paho's network thread, which would stop with it
            log.exception("MQTT: a message on %s could not be handled", message.topic)
        finally:
            time.sleep(0)  # the loop's other work comes between two messages

    def _command(self, message, topic_light: str | None, family: TopicFamily) -> float:
        """Carry out a command message; returns its cost: a unit per light it acted on."""
        request_id = None
        is_ha, is_group = family is TopicFamily.HOME_ASSISTANT, family is TopicFamily.GROUP
        try:
            if len(message.payload) > MAX_PAYLOAD:
                raise protocol.ProtocolError(protocol.INVALID_MESSAGE, f"payload over {MAX_PAYLOAD} bytes")
            try:
                text = message.payload.decode("utf-8")
            except UnicodeDecodeError:
                raise protocol.ProtocolError(protocol.INVALID_MESSAGE, "payload is not UTF-8 text") from None
            commands = [
                protocol.parse_command(each) for each in (ha_command(protocol.parse_json(text)) if is_ha else [text])
            ]
            request_id = commands[0].request_id if commands else None
            if commands and isinstance(commands[0], protocol.SceneCommand):
                return self._scene(commands[0], message.topic, topic_light, family)
            for command in commands:
                if not isinstance(command, protocol.LightCommand + protocol.ScheduleCommand):
                    self._publish_states_now()  # get/ping: the state topics are the answer
                    return len(self.lights)
                if topic_light is not None and command.light not in (None, topic_light):
                    raise protocol.ProtocolError(
                        protocol.INVALID_MESSAGE,
                        f"the payload names light "
                        f"{command.light!r} and the topic {topic_light!r}: leave it out "
                        "of the payload",
                        request_id,
                    )
            cost = 0
            for command in commands:
                name = topic_light or getattr(command, "light", None)
                if is_group and name not in (None, protocol.EVERY_LIGHT) and name not in self.lights.names:
                    log.debug("MQTT: a group command for light %r, which this lamp does not have", name)
                    return ONE  # the fleet's lamps need not all have it
                self.lights.execute(
                    name,
                    command,
                    origin=f"mqtt {message.topic}",
                    requester=self,
                    failed=lambda light, exc: self._failed(exc, message.topic, request_id),
                )
                cost += len(self.lights) if name == protocol.EVERY_LIGHT else 1
            return max(ONE, cost)
        except Exception as exc:  # noqa: BLE001 - each kind answered on the error topic (a bug logged)
            self._failed(exc, message.topic, request_id)
        return ONE

    def _scene(self, command, topic: str, topic_light: str | None, family: TopicFamily) -> float:
        """Save, recall or delete a scene: on the lamp's set topic, or the group's (a recall on
        every lamp of the fleet: a lamp without that scene leaves it quietly)."""
        if topic_light is not None or family is TopicFamily.HOME_ASSISTANT or self.scenes is None:
            raise protocol.ProtocolError(
                protocol.INVALID_MESSAGE,
                "scenes are saved and recalled on the lamp's set topic or the group's, not a light's",
                command.request_id,
            )
        if family is TopicFamily.GROUP and isinstance(command, protocol.RecallScene):
            if command.name not in {info.name for info in self.scenes.infos()}:
                log.debug("MQTT: a group recall of scene %r, which this lamp does not have", command.name)
                return ONE
        answers = self.scenes.execute(command, origin=f"mqtt {topic}", requester=self)
        return max(ONE, len(answers))

    def _failed(self, exc: Exception, topic: str, request_id) -> None:
        """A command, or one light's part of it, failed: the error topic says so (doors.answers)."""
        self._publish(
            f"{self.base}/error",
            failure(exc, request_id, origin=f"mqtt {topic}", changes_log=self.lights.default.changes_log)[0],
        )
