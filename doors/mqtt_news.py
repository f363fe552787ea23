"""What the lamp tells its broker: each light's newest state (a publisher thread, so a stalled
broker never holds up a change), its schedules and scenes (retained), and Home Assistant's
discovery configs. A mixin of :class:`doors.mqtt_bridge.MqttBridge`, which connects and takes
commands."""

from __future__ import annotations

from typing import Any

import protocol
from doors.home_assistant import device_model, discovery_config, entity_id, ha_state, scene_discovery_config, scene_id
from lamp.light import Light
from lamp.lights import Lights

SCENE_CONFIGS = "homeassistant/scene/+/config"  # every scene entity's config on the broker, the lamp's among them
PUBLISH_WAIT = 5.0  # seconds the publisher waits for the broker's ack before sending the newest state


def is_scene_config(topic: str) -> bool:
    """Whether ``topic`` is one SCENE_CONFIGS subscribes to."""
    levels = topic.split("/")
    return len(levels) == 4 and levels[:2] == ["homeassistant", "scene"] and levels[3] == "config"


class MqttNews:
    """``_state_changed`` (a light's listener), ``_publish_loop`` (the publisher thread),
    ``_schedule_changed`` and ``scene_changed`` (their news), ``_announce`` (at connect)."""

    # The bridge's (doors.mqtt_bridge.MqttBridge sets them).
    _client: Any
    _wake: Any
    _pending: dict
    _stopped: bool
    lights: Lights
    base: str
    discovery: bool
    connected: bool
    device_id: str
    page_url: str
    sw_version: str

    scenes: Any

    def forget_stale_scene(self, topic: str, config: bytes) -> int:
        """A scene entity's config, retained on the broker: if it is one of this lamp's and the
        scene is gone (deleted while the bridge was away), clear it, so that it leaves Home
        Assistant. Another device's, or a current scene's, is left alone. Returns its cost."""
        node = topic.split("/")[2]
        if not config or not node.startswith(f"ledsock_{self.device_id}_scene_") or self.scenes is None:
            return 1
        if node not in {scene_id(self.device_id, info.name) for info in self.scenes.infos()}:
            self._client.publish(topic, b"", qos=1, retain=True)
        return 1

    def light_topics(self, light: Light) -> str:
        """Where a light's own topics are: ``<base>/lights/<name>``."""
        return f"{self.base}/lights/{light.name}"

    def ha_topics(self, light: Light) -> str:
        """Where a light's Home Assistant topics are: the default light's where one light's always were."""
        return self.base if light is self.lights.default else self.light_topics(light)

    def _state_changed(self, state: protocol.State, _requester) -> None:
        """A light's listener (under its lock): only note its newest state."""
        with self._wake:
            self._pending[state.light] = state
            self._wake.notify_all()

    def _publish_states_now(self) -> None:
        for light in self.lights:
            self._state_changed(light.state(), None)

    def _publish_loop(self) -> None:
        """Publish each light's newest state, one round at a time: while the broker is slow or
        stalled, newer states replace the waiting ones instead of piling up in paho's queue.
        While disconnected nothing is queued; the reconnect publishes the current states."""
        while True:
            with self._wake:
                while not self._pending and not self._stopped:
                    self._wake.wait()
                if self._stopped:
                    return
                states, self._pending = list(self._pending.values()), {}
            if not self.connected:
                continue
            sent = []
            for state in states:
                light = self.lights.get(state.light)
                if light is self.lights.default:
                    sent.append(
                        self._client.publish(f"{self.base}/state", protocol.state_message(state), qos=1, retain=True)
                    )
                sent.append(
                    self._client.publish(
                        f"{self.light_topics(light)}/state",
                        protocol.state_message(state, named=True),
                        qos=1,
                        retain=True,
                    )
                )
                if self.discovery:
                    sent.append(
                        self._client.publish(
                            f"{self.ha_topics(light)}/ha/state", ha_state(state, light.channels), qos=1, retain=True
                        )
                    )
            for info in sent:
                try:
                    info.wait_for_publish(PUBLISH_WAIT)
                except (RuntimeError, ValueError):  # lost meanwhile: the reconnect re-publishes
                    break

    def _schedule_changed(self, news, _requester) -> None:
        """Each schedule retained on ``<base>/schedules/<name>`` (the default light's) or
        ``<base>/lights/<light>/schedules/<name>``; a deleted one clears its topic."""
        light = self.lights.get(news.light)
        if light is self.lights.default:
            topic, payload = f"{self.base}/schedules/{news.name}", protocol.reply_message(news)
        else:
            topic, payload = (
                f"{self.light_topics(light)}/schedules/{news.name}",
                protocol.reply_message(news, named=True),
            )
        self._client.publish(topic, b"" if isinstance(news, protocol.ScheduleDeleted) else payload, qos=1, retain=True)

    def scene_changed(self, news, _requester) -> None:
        """A scene saved: its Home Assistant scene entity (a new one, or the same one again); a
        scene deleted: its entity removed (an empty retained config)."""
        if not self.discovery or not self.connected:
            return
        topic = f"homeassistant/scene/{scene_id(self.device_id, news.name)}/config"
        if isinstance(news, protocol.SceneDeleted):
            self._client.publish(topic, b"", qos=1, retain=True)
            return
        config = scene_discovery_config(
            device_id=self.device_id,
            scene=news.name,
            command_topic=f"{self.base}/set",
            availability_topic=f"{self.base}/status",
            device=self.discovery_config()["device"],
            sw_version=self.sw_version,
        )
        self._client.publish(topic, protocol.to_json(config), qos=1, retain=True)

    def _publish(self, topic: str, text: str) -> None:
        self._client.publish(topic, text, qos=1)

    def _announce(self) -> int:
        """Home Assistant's discovery configs and every light's state; returns the messages it costs."""
        if self.discovery:
            for light in self.lights:
                unique_id = entity_id(self.device_id, light.name, light is self.lights.default)
                self._client.publish(
                    f"homeassistant/light/{unique_id}/config",
                    protocol.to_json(self.discovery_config(light)),
                    qos=1,
                    retain=True,
                )
        self._publish_states_now()
        return len(self.lights) * (2 if self.discovery else 1)

    def discovery_config(self, light: Light | None = None) -> dict:
        """Home Assistant's discovery config of ``light`` (the default one when None)."""
        light = light or self.lights.default
        return discovery_config(
            device_id=self.device_id,
            light=light.name,
            is_default=light is self.lights.default,
            several=len(self.lights) > 1,
            topics=self.ha_topics(light),
            availability_topic=f"{self.base}/status",
            page_url=self.page_url,
            model=device_model([(each.led.pin_names, each.led.factory_name) for each in self.lights]),
            sw_version=self.sw_version,
            kind=light.channels.kind,
            kelvin_range=light.channels.kelvin_range,
        )
