"""A real Mosquitto broker on loopback for the tests, and a paho client that records what it hears."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from support import free_port

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


class Broker:
    """`mosquitto -c` with a generated config: one loopback listener, anonymous, no persistence."""

    def __init__(self, folder: Path, port: int | None = None):
        assert Path(MOSQUITTO).exists(), "mosquitto is missing: `make test` installs Debian's mosquitto"
        self.port = port or free_port()
        self.folder = folder
        self.proc: subprocess.Popen | None = None

    def start(self) -> Broker:
        config = self.folder / f"mosquitto-{self.port}.conf"
        # Mosquitto 2.x: once a listener line exists, -p is ignored; the port is in the file.
        config.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        self.log = open(self.folder / f"mosquitto-{self.port}.log", "ab")
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(config)], stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                assert self.proc.poll() is None, (
                    f"mosquitto exited: {(self.folder / f'mosquitto-{self.port}.log').read_text()}"
                )
                assert time.monotonic() < deadline, "mosquitto did not listen within 10 s"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)  # by its pid; a killed broker is also a test case
            self.proc.wait(10)
        self.log.close()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


class Listener:
    """A paho client subscribed to ``topics``, keeping every (topic, payload, retained) it receives."""

    def __init__(self, broker: Broker, *topics: str):
        self.heard: list[tuple[str, bytes, bool]] = []
        self._taken: set[int] = set()  # what next_on has given
        self._cond = threading.Condition()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{time.monotonic_ns()}")
        subscribed = threading.Event()
        self.client.on_connect = lambda c, *_: c.subscribe([(t, 1) for t in topics])
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert subscribed.wait(10), "the test client could not subscribe"

    def _on_message(self, _client, _userdata, message):
        with self._cond:
            self.heard.append((message.topic, message.payload, bool(message.retain)))
            self._cond.notify_all()

    def wait_for(self, topic: str, predicate=lambda payload: True, timeout: float = 10):
        """The first payload on ``topic`` (decoded from JSON when it is) that matches."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for heard_topic, payload, _ in self.heard:
                    if heard_topic == topic:
                        value = decode(payload)
                        if predicate(value):
                            return value
                left = deadline - time.monotonic()
                assert left > 0, f"nothing matching on {topic} within {timeout} s; heard {self.heard[-10:]}"
                self._cond.wait(left)

    def next_on(self, pattern: str, timeout: float = 10) -> tuple[str, object]:
        """The next message not yet taken on a topic ``pattern`` matches (MQTT wildcards): its
        topic and its payload (decoded; None for an empty one: a retained topic cleared)."""
        deadline = time.monotonic() + timeout
        taken = self._taken
        with self._cond:
            while True:
                for index, (topic, payload, _) in enumerate(self.heard):
                    if index not in taken and mqtt.topic_matches_sub(pattern, topic):
                        taken.add(index)
                        return topic, (decode(payload) if payload else None)
                left = deadline - time.monotonic()
                assert left > 0, f"nothing new on {pattern} within {timeout} s; heard {self.heard[-10:]}"
                self._cond.wait(left)

    def on(self, topic: str) -> list:
        with self._cond:
            return [decode(p) for t, p, _ in self.heard if t == topic]

    def publish(self, topic: str, payload, retain: bool = False) -> None:
        data = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
        self.client.publish(topic, data, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def decode(payload: bytes):
    try:
        return json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return payload.decode(errors="replace")
