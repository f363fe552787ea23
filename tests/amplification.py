"""Attacks that make one client's message cost the service many: pipelined HTTP, watches turned
on and off, commands for every light, an MQTT flood, and candles left burning on simulated pins.

Shared by tests/test_amplification.py (which asserts the defences) and bench/attack.py (which
prints the figures), like tests/attacks.py. Each is bounded in time and count, loopback only.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

from attacks import rss_kb, run_together
from support import Client, client_frame, raw_websocket

EVERY_PIN = ",".join(f"l{pin}:{pin}" for pin in range(28))  # 28 lights: every GPIO of the header
SCHEDULES_PER_LIGHT = 32  # the most a light may have

HOST = b"Host: 127.0.0.1\r\n"
GET_HEALTHZ = b"GET /healthz HTTP/1.1\r\n" + HOST + b"\r\n"
GET_PAGE = b"GET / HTTP/1.1\r\n" + HOST + b"\r\n"


def post(path: str, body: str) -> bytes:
    data = body.encode()
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    ).encode() + data


POST_NO_TOKEN = post("/led", '{"level": 5}')  # to a service with LED_TOKEN: 401 each
POST_EVERY_LIGHT = post("/lights/*", '{"type": "toggle"}')  # a change of every light each time
MALFORMED = b"GET /" + b"x" * 4000 + b" HTTP/9.9\r\n\r\n"  # 400 and closed: the attacker connects again


def pipelined_http(server, seconds: float, request: bytes = GET_HEALTHZ, in_flight: int = 200) -> dict:
    """One connection that keeps ``in_flight`` requests in flight for ``seconds``, reading the
    answers as they come and sending a request for each; connects again if it is closed."""
    answered = connections = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock = socket.create_connection(("127.0.0.1", server.port))
        connections += 1
        sock.settimeout(0.2)
        try:
            sock.sendall(request * in_flight)
            outstanding, tail = in_flight, b""
            while time.monotonic() < deadline:
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    break
                done = (tail + chunk).count(b"HTTP/1.1 ")  # a status line split across reads counts once
                tail = chunk[-8:]
                answered += done
                outstanding -= done
                if outstanding < in_flight:
                    sock.sendall(request * (in_flight - outstanding))
                    outstanding = in_flight
        except OSError:
            pass
        finally:
            sock.close()
    return {"answered": answered, "connections": connections}


def state_file_of_many_schedules(path: Path, names: list[str], per_light: int = SCHEDULES_PER_LIGHT) -> Path:
    """A state file in which each light has ``per_light`` schedules (28 x 32: 896, a 130 KB file)."""

    def line(light: str) -> dict:
        return {
            "brightness": 50,
            "on": True,
            "level": 50,
            "schedules": [
                {"name": f"s{k}", "at": f"{k % 24:02d}:{k:02d}", "days": "daily", "level": 5} for k in range(per_light)
            ],
        }

    document = {"light": names[0], **line(names[0]), "lights": {name: line(name) for name in names[1:]}}
    path.write_text(json.dumps(document))
    return path


def watch_toggles(server, seconds: float, rate: float = 100) -> dict:
    """A client that watches every light and turns its watch of the schedules on and off
    ``rate`` times a second for ``seconds``, reading everything it is sent."""
    sock = raw_websocket(server.port, path="/ws?watch=lights")
    received = sent = 0
    deadline = time.monotonic() + seconds
    sock.settimeout(0.001)
    try:
        while time.monotonic() < deadline:
            sock.sendall(client_frame(0x1, json.dumps({"type": "watch", "schedules": sent % 2 == 0}).encode()))
            sent += 1
            until = time.monotonic() + 1 / rate
            while time.monotonic() < until:
                try:
                    chunk = sock.recv(262144)
                    if not chunk:
                        return {"messages": sent, "received_bytes": received, "closed": True}
                    received += len(chunk)
                except TimeoutError:
                    pass
    finally:
        sock.close()
    return {"messages": sent, "received_bytes": received, "closed": False}


def every_light_commands(server, seconds: float, clients: int = 4, watchers: int = 10, rate: float = 100) -> dict:
    """``clients`` that each send a command for every light (``"light": "*"``) ``rate`` times a
    second, reading their replies, while ``watchers`` watch every light; for ``seconds``."""
    counts = {"messages": 0, "replies": 0, "rate_limited": 0}
    deadline = time.monotonic() + seconds
    watching = [Client(server.ws_url + "?watch=lights") for _ in range(watchers)]
    stop = threading.Event()

    def read(watcher: Client) -> None:
        while not stop.is_set():
            try:
                watcher.conn.recv(0.2)
            except TimeoutError:
                continue
            except Exception:  # noqa: BLE001 - closed at the end
                return

    readers = [threading.Thread(target=read, args=(w,), daemon=True) for w in watching]
    for reader in readers:
        reader.start()

    def attacker(seed: int) -> None:
        n = seed
        with Client(server.ws_url) as me:
            me.recv()
            while time.monotonic() < deadline:
                n += 1
                me.send({"level": 1 + n % 100, "light": "*", "id": n})
                counts["messages"] += 1
                time.sleep(1 / rate)
                while True:
                    try:
                        reply = json.loads(me.conn.recv(0))
                    except TimeoutError:
                        break
                    counts["replies"] += 1
                    counts["rate_limited"] += reply.get("code") == "rate_limited"

    try:
        run_together(attacker, [(i * 100_000,) for i in range(clients)])
    finally:
        stop.set()
        for reader in readers:
            reader.join(2)
        for watcher in watching:
            watcher.close()
    return counts


def mqtt_flood(server, broker, seconds: float, rate: float = 1000, topic: str = "ledsock/all/set") -> dict:
    """A candle for every light published on ``topic`` ``rate`` times a second for ``seconds``
    (QoS 0), as any device on the broker may; each with another depth, so that each is a change."""
    import paho.mqtt.client as mqtt

    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"flood-{time.monotonic_ns()}")
    publisher.connect("127.0.0.1", broker.port)
    publisher.loop_start()
    sent = 0
    started = time.monotonic()
    try:
        while (elapsed := time.monotonic() - started) < seconds:
            while sent < elapsed * rate:
                publisher.publish(topic, b'{"effect": "candle", "depth": %d, "light": "*"}' % (1 + sent % 100), qos=0)
                sent += 1
            time.sleep(0.005)
    finally:
        publisher.loop_stop()
        publisher.disconnect()
    return {"published": sent}


def candles_burning(server, seconds: float, every: float = 0.5) -> dict:
    """Every light's candle lit once, then the service's RSS sampled for ``seconds``: how
    much it grows while effects run (simulated pins keep their states)."""
    with Client(server.ws_url) as lighter:
        lighter.recv()
        lighter.request({"effect": "candle", "light": "*", "id": "lit"})
    samples = []
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        samples.append((time.monotonic() - started, rss_kb(server.proc.pid)))
        time.sleep(every)
    half = len(samples) // 2  # the second half: after the start's own allocations
    (t0, first), (t1, last) = samples[half], samples[-1]
    return {"rss_kb": [kb for _, kb in samples], "growth_kb_per_s": round((last - first) / max(t1 - t0, 1e-9), 1)}


def _until(moment: float) -> None:
    """Wait for ``moment`` to the tens of microseconds (a sleep wakes a millisecond late)."""
    while (left := moment - time.monotonic()) > 0:
        time.sleep(left - 0.001 if left > 0.002 else 0)  # 0: the GIL to this process's other threads


def noise_storm(pigpiod, gpio: int, seconds: float, every: float = 0.0001) -> dict:
    """A line picking up noise: ``gpio`` flips every ``every`` seconds (10,000 edges a second)
    for ``seconds``, each reported by the fake pigpio daemon as the real one reports an edge
    (none, when its glitch filter is longer than ``every``)."""
    edges, level = 0, 0
    started = time.monotonic()
    while edges * every < seconds:
        _until(started + edges * every)  # each edge on time: a pause would be a steady level
        level ^= 1
        pigpiod.set_input(gpio, level)
        edges += 1
    pigpiod.set_input(gpio, 1)  # it settles open
    return {"edges": edges, "per_s": round(edges / seconds)}


def knob_spin(pigpiod, a: int, b: int, seconds: float, detents_per_s: float = 1000) -> dict:
    """A rotary knob on ``a`` and ``b`` spun at ``detents_per_s`` for ``seconds``, a quarter of
    a second each way in turn (so that its level keeps changing, never pinned at an end)."""
    clockwise = ((0, 1), (0, 0), (1, 0), (1, 1))
    anticlockwise = ((1, 0), (0, 0), (0, 1), (1, 1))
    detents = 0
    started = time.monotonic()
    while detents < seconds * detents_per_s:
        way = clockwise if int(detents / detents_per_s / 0.25) % 2 == 0 else anticlockwise
        for quarter, (level_a, level_b) in enumerate(way):
            _until(started + (detents + quarter / 4) / detents_per_s)  # a quarter step every 250 µs
            pigpiod.set_input(a, level_a)
            pigpiod.set_input(b, level_b)
        detents += 1
    return {"detents": detents, "per_s": round(detents / seconds)}


def scene_churn(server, seconds: float, clients: int = 3, watchers: int = 5, rate: float = 100) -> dict:
    """``clients`` clients each saving and recalling scenes ``rate`` times a second (a save of
    ``s{n % 8}``, then its recall with a transition, in turn), with ``watchers`` clients watching
    every light and the scenes, all reading everything they are sent."""
    sockets = [raw_websocket(server.port) for _ in range(clients)]
    watching = [raw_websocket(server.port, path="/ws?watch=lights,scenes") for _ in range(watchers)]
    for sock in sockets + watching:
        sock.settimeout(0.001)
    sent = received = 0
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            for index, sock in enumerate(sockets):
                name = f"s{(sent + index) % 8}"
                message = {"type": "save_scene", "name": name} if sent % 2 == 0 else {"scene": name, "transition": 0.5}
                sock.sendall(client_frame(0x1, json.dumps(message).encode()))
            sent += 1
            until = time.monotonic() + 1 / rate
            while time.monotonic() < until:
                for sock in sockets + watching:
                    try:
                        received += len(sock.recv(262144))
                    except (TimeoutError, BlockingIOError):
                        pass
    finally:
        for sock in sockets + watching:
            sock.close()
    return {"messages": sent * clients, "received_bytes": received}
