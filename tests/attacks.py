"""Hostile and broken clients, and a watcher that measures what everyone else gets meanwhile.

Shared by tests/test_attacks.py (which asserts the defences) and bench/attack.py (which
prints the figures). Every attack is bounded in time and count and talks to loopback only.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from pathlib import Path

from support import Client, client_frame, raw_websocket

EMPTY_PONG = client_frame(0xA, b"")
UNFINISHED_TEXT = bytes([0x01, 0x80]) + b"\0\0\0\0"  # a text frame with FIN clear and no payload
EMPTY_CONTINUATION = bytes([0x00, 0x80]) + b"\0\0\0\0"  # an empty continuation frame, FIN clear
IMPOSSIBLE_CRON = {"type": "schedule", "name": "x", "cron": "0 0 31 2,4,6,9,11 *", "level": 5}


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


class Watcher:
    """Another client and /healthz, measured while an attack runs.

    A thread takes turns at three things every ``every`` s and keeps each one's time:
    a WebSocket ``get`` round trip, a ``GET /healthz``, and (with ``fan_out``) a level
    set by a writer client (its reply included) until a second, watching client holds it. One that does not
    answer within ``timeout`` counts as that long and as a failure.
    """

    def __init__(self, server, every: float = 0.02, timeout: float = 5.0, fan_out: bool = False, query: str = ""):
        self.server, self.every, self.timeout, self.fan_out = server, every, timeout, fan_out
        self.url = server.ws_url + query  # query: "?token=..." for a service with LED_TOKEN
        self.gets: list[float] = []
        self.healthz: list[float] = []
        self.fan_outs: list[float] = []
        self.failures: list[str] = []
        self.converged: bool | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Watcher:
        self.client = Client(self.url)
        self.client.recv()  # the state on connect
        if self.fan_out:
            self.writer = Client(self.url)
            self.writer.recv()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(self.timeout * 3)
        if self.fan_out:
            self.writer.close()
        self.client.close()

    def more_rounds(self, count: int = 3) -> None:
        """Wait until the watcher has measured ``count`` more rounds (figures before or after an attack)."""
        wanted = len(self.healthz) + count
        deadline = time.monotonic() + self.timeout * 3
        while len(self.healthz) < wanted:
            assert time.monotonic() < deadline, self.summary()
            time.sleep(self.every)

    def _timed(self, into: list[float], what: str, action) -> None:
        started = time.monotonic()
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - every failure is a figure here
            self.failures.append(f"{what}: {exc!r}")
        into.append(time.monotonic() - started)

    def _get(self, n: int) -> None:
        reply, _ = self.client.request({"type": "get", "id": n}, timeout=self.timeout)
        assert reply["type"] == "state", reply

    def _healthz(self) -> None:
        with urllib.request.urlopen(self.server.http + "/healthz", timeout=self.timeout) as response:
            json.loads(response.read())

    def _set_and_watch(self, level: int) -> None:
        """The writer's set, until the watching client holds it or a later change (another
        client may change the same light meanwhile: states are snapshots, the newest kept)."""
        reply, _ = self.writer.request({"level": level, "id": "w"}, self.timeout)
        self.client.recv_until(lambda m: m.get("type") == "state" and m["seq"] >= reply["seq"], self.timeout)

    def _run(self) -> None:
        n = 0
        level = 0
        while not self._stop.is_set():
            n += 1
            self._timed(self.gets, "get", lambda: self._get(n))
            self._timed(self.healthz, "healthz", self._healthz)
            if self.fan_out:
                level = 1 + n % 100
                self._timed(self.fan_outs, "fan-out", lambda: self._set_and_watch(level))
            self._stop.wait(self.every)
        if self.fan_out:  # converged: the watching client's last state is the writer's last level
            try:
                reply, _ = self.client.request({"type": "get", "id": "last"}, timeout=self.timeout)
                self.converged = reply["level"] == level
            except Exception as exc:  # noqa: BLE001
                self.failures.append(f"converge: {exc!r}")
                self.converged = False

    def summary(self) -> dict:
        def ms(values, fraction):
            return round(percentile(values, fraction) * 1000, 1) if values else None

        return {
            "gets": len(self.gets),
            "get_p50_ms": ms(self.gets, 0.5),
            "get_p99_ms": ms(self.gets, 0.99),
            "get_max_ms": round(max(self.gets, default=0) * 1000, 1),
            "healthz_p50_ms": ms(self.healthz, 0.5),
            "healthz_p99_ms": ms(self.healthz, 0.99),
            "healthz_max_ms": round(max(self.healthz, default=0) * 1000, 1),
            "fan_out_p50_ms": ms(self.fan_outs, 0.5),
            "fan_out_p99_ms": ms(self.fan_outs, 0.99),
            "converged": self.converged,
            "failures": self.failures[:5],
            "failed": len(self.failures),
        }


# What the watching client and /healthz must get while an attack runs. The targets (p99 50 /
# 100 ms) are met and printed by `make bench`; a test asserts an order of magnitude the
# undefended server misses by far (it answered nothing for seconds).
WATCH_MAX = 1.0  # seconds, the slowest answer allowed during an attack


def assert_served(watcher: Watcher) -> None:
    figures = watcher.summary()
    assert watcher.gets and watcher.healthz, figures
    assert not watcher.failures, figures
    assert max(watcher.gets) < WATCH_MAX and max(watcher.healthz) < WATCH_MAX, figures


def close_code(data: bytes) -> int | None:
    """The code of the first close frame in what the server sent (its frames are unmasked)."""
    at = 0
    while at + 2 <= len(data):
        opcode, size = data[at] & 0x0F, data[at + 1] & 0x7F
        start = at + 2
        if size == 126:
            size, start = int.from_bytes(data[at + 2 : at + 4], "big"), at + 4
        elif size == 127:
            size, start = int.from_bytes(data[at + 2 : at + 10], "big"), at + 10
        if opcode == 0x8:
            return int.from_bytes(data[start : start + 2], "big") if size >= 2 else 1005
        at = start + size
    return None


class Flood:
    """Send ``head`` once, then ``unit`` over and over on a raw WebSocket for up to ``seconds``
    (about ``rate`` bytes a second; 0: as fast as the socket takes them), reading what the
    server sends; it ends when the server closes the connection."""

    def __init__(self, port: int, unit: bytes, *, head: bytes = b"", seconds: float = 8.0, rate: int = 0):
        self.port, self.unit, self.head, self.seconds, self.rate = port, unit, head, seconds, rate
        self.received = b""
        self.sent = 0
        self.ended_after: float | None = None  # seconds from the start until the server ended it
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Flood:
        self.sock = raw_websocket(self.port)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._started = time.monotonic()
        self._reader.start()
        self._thread.start()
        return self

    def _read(self) -> None:
        self.sock.settimeout(self.seconds + 5)
        try:
            while chunk := self.sock.recv(65536):
                self.received += chunk
        except OSError:
            pass
        self.ended_after = time.monotonic() - self._started

    def _run(self) -> None:
        batch = self.unit * max(1, 8192 // len(self.unit))
        deadline = self._started + self.seconds
        try:
            self.sock.sendall(self.head)
            while time.monotonic() < deadline and self.ended_after is None:
                self.sock.sendall(batch)
                self.sent += len(batch)
                if self.rate:
                    time.sleep(len(batch) / self.rate)
        except OSError:
            pass

    def join(self) -> Flood:
        self._thread.join(self.seconds + 10)
        self._reader.join(self.seconds + 10)
        self.sock.close()
        return self

    @property
    def close_code(self) -> int | None:
        return close_code(self.received)


def idle_connections(port: int, count: int) -> list[socket.socket]:
    """``count`` TCP connections to the server that never send a byte."""
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sockets.append(sock)
    return sockets


# ---------------------------------------------------------------- the attacks, each for a while


def frame_floods(port: int, unit: bytes, head: bytes, seconds: float) -> dict:
    """Flood after flood for ``seconds``: each one reconnects when the server closes it."""
    codes, count = [], 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        flood = Flood(port, unit, head=head, seconds=max(0.5, deadline - time.monotonic())).start().join()
        codes.append(flood.close_code)
        count += 1
    return {"floods": count, "closed_with_1008": sum(code == 1008 for code in codes)}


def cron_flood(server, seconds: float) -> dict:
    """Impossible crontab lines as fast as the server answers them, for ``seconds``."""
    answered = errors = rate_limited = 0
    deadline = time.monotonic() + seconds
    with Client(server.ws_url) as attacker:
        attacker.recv()
        while time.monotonic() < deadline:
            attacker.send({**IMPOSSIBLE_CRON, "id": answered})
            reply, _ = attacker.recv_until(lambda m: m["type"] == "error")  # its error, or rate_limited
            answered += 1
            errors += reply["type"] == "error"
            rate_limited += reply.get("code") == "rate_limited"
    return {"messages": answered, "errors": errors, "rate_limited": rate_limited}


def overflow_flood(server, seconds: float) -> dict:
    """``{"step": 1e999999999}`` and such an id on the WebSocket and REST, for ``seconds``."""
    texts = ['{"step": 1e999999999}', '{"id": 1e999999999, "type": "get"}']
    answered = 0
    deadline = time.monotonic() + seconds
    with Client(server.ws_url) as attacker:
        attacker.recv()
        while time.monotonic() < deadline:
            attacker.send(texts[answered % 2])
            attacker.recv_until(lambda m: m["type"] == "error")  # states of others' changes may come first
            status, _ = server.post("/led", texts[answered % 2])
            assert status == 400, status
            answered += 1
    return {"rounds": answered}


def idle_flood(server, seconds: float, count: int = 4200) -> dict:
    """``count`` idle connections and one that trickles its headers, held for ``seconds``."""
    idle = idle_connections(server.port, count)
    trickler = socket.create_connection(("127.0.0.1", server.port))
    try:
        trickler.sendall(b"GET /healthz HTTP/1.1\r\n")
        deadline = time.monotonic() + seconds
        for byte in b"Host: 127.0.0.1\r\n":
            if time.monotonic() > deadline:
                break
            time.sleep(min(0.5, seconds / 20))
            try:
                trickler.send(bytes([byte]))
            except OSError:
                break
        time.sleep(max(0.0, deadline - time.monotonic()))
    finally:
        for sock in idle + [trickler]:
            sock.close()
    return {"connections": count + 1}


def slow_readers(server, seconds: float, count: int = 50, rate: float = 80) -> dict:
    """``count`` clients that read 64 bytes at a time and send unsolicited pongs, while a
    writer replaces schedules ``rate`` times a second, for ``seconds``; when each was dropped."""
    slow = [raw_websocket(server.port, rcvbuf=4096, path="/ws?watch=schedules") for _ in range(count)]
    dropped_at: dict[int, float] = {}
    started = time.monotonic()
    n = 0
    try:
        with Client(server.ws_url) as writer:
            writer.recv()
            while time.monotonic() - started < seconds:
                for i, sock in enumerate(slow):
                    if i in dropped_at:
                        continue
                    try:
                        sock.setblocking(False)
                        got = sock.recv(64)  # 64 bytes a round: a few KB a second
                        if not got:
                            dropped_at[i] = time.monotonic() - started
                        elif n % 50 == 0:
                            sock.send(client_frame(0xA, b""))  # an unsolicited pong
                    except BlockingIOError:
                        pass
                    except OSError:
                        dropped_at[i] = time.monotonic() - started
                n += 1
                writer.request(
                    {"type": "schedule", "name": f"s{n % 20}", "at": f"{n % 24:02d}:{n % 60:02d}", "level": 5, "id": n}
                )  # it reads its replies: it is no attacker
                time.sleep(1 / rate)
    finally:
        for sock in slow:
            sock.close()
    return {
        "dropped": len(dropped_at),
        "last_dropped_after_s": round(max(dropped_at.values(), default=0), 1),
        "schedule_changes": n,
    }


def schedule_churn(server, seconds: float, rate: float = 100) -> dict:
    """Schedule puts (half of them identical) and deletes, ``rate`` a second, for ``seconds``."""
    n = 0
    deadline = time.monotonic() + seconds
    with Client(server.ws_url) as writer:
        writer.recv()
        while time.monotonic() < deadline:
            if n % 2:
                writer.send({"type": "schedule", "name": "same", "at": "07:00", "level": 5, "id": n})  # identical
            else:
                writer.send({"type": "schedule", "name": f"t{n % 10}", "at": "08:00", "level": 5, "id": n})
                writer.send({"type": "unschedule", "name": f"t{n % 10}", "id": f"d{n}"})
            n += 1
            time.sleep(1 / rate)
        writer.recv_until(lambda m: m.get("id") == n - 1)
    return {"messages": n + n // 2}


EIGHT_LIGHTS = "l0:4,l1:5,l2:6,l3:12,l4:13,l5:16,l6:20,l7:21"


def run_together(attacker, arguments: list[tuple]) -> None:
    """One thread per attacker, each with its arguments, all at once; back when all are done."""
    threads = [threading.Thread(target=attacker, args=args) for args in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def every_light_flood(server, seconds: float, clients: int = 4, schedules_per_light: int = 8) -> dict:
    """Clients that make the most of several lights: each watches every light and schedule (all
    of them sent on connect), then turns that watch off and on again (all of them again each
    time) between commands for every light at once (``"light": "*"``), as fast as it can. Half
    of them read everything at once (so no backlog slows them), half read nothing; cut off, one
    connects again. The server needs LIGHTS (``server_env``)."""
    names = [part.split(":")[0] for part in EIGHT_LIGHTS.split(",")]
    with Client(server.ws_url) as setup:  # schedules to be sent, over and over
        setup.recv()
        for light in names:
            for k in range(schedules_per_light):
                setup.request(
                    {
                        "type": "schedule",
                        "name": f"s{k}",
                        "light": light,
                        "at": f"0{k}:00",
                        "level": 5,
                        "id": f"{light}{k}",
                    }
                )
    counts = {"connections": 0, "messages": 0, "cut_off": 0}
    deadline = time.monotonic() + seconds

    def attacker(seed: int, reads: bool) -> None:
        n = seed
        while time.monotonic() < deadline:
            sock = raw_websocket(server.port, rcvbuf=None if reads else 4096, path="/ws?watch=lights,schedules")
            counts["connections"] += 1
            sock.setblocking(False)
            try:
                while time.monotonic() < deadline:
                    n += 1
                    message = (
                        {"type": "watch", "lights": n % 4 == 1} if n % 2 else {"level": n % 101, "light": "*", "id": n}
                    )
                    try:
                        sock.send(client_frame(0x1, json.dumps(message).encode()))
                    except BlockingIOError:
                        time.sleep(0.001)
                        continue
                    counts["messages"] += 1
                    while reads:
                        try:
                            if not sock.recv(65536):
                                raise ConnectionResetError("closed by the server")
                        except BlockingIOError:
                            break
                    time.sleep(0.002)
            except OSError:
                counts["cut_off"] += 1
            finally:
                sock.close()

    run_together(attacker, [(i * 1000, i % 2 == 0) for i in range(clients)])
    return counts


every_light_flood.server_env = {"LIGHTS": EIGHT_LIGHTS}


def effect_churn(server, seconds: float, clients: int = 2) -> dict:
    """Every light running a candle (60 writes a second each) while clients switch every light's
    effect as fast as they can, reading their replies. The server needs LIGHTS (``server_env``)."""
    cycle = ["breathe", "candle", "blink", "flash", None]
    with Client(server.ws_url) as setup:
        setup.recv()
        setup.request({"effect": "candle", "light": "*", "id": "all"})
    counts = {"messages": 0}
    deadline = time.monotonic() + seconds

    def attacker(seed: int) -> None:
        n = seed

        def answered(message: dict) -> bool:  # the last light's reply, or an error (rate_limited has no id)
            return message.get("type") == "error" or (message.get("id") == n and message.get("light") == "l7")

        with Client(server.ws_url) as me:
            me.recv()
            while time.monotonic() < deadline:
                n += 1
                me.send({"effect": cycle[n % len(cycle)], "light": "*", "id": n})
                counts["messages"] += 1
                me.recv_until(answered)
        with Client(server.ws_url) as end:  # leave them all burning: the cost of eight candles stays
            end.recv()
            end.request({"effect": "candle", "light": "*", "id": "again"})

    run_together(attacker, [(i * 1000,) for i in range(clients)])
    return counts


effect_churn.server_env = {"LIGHTS": EIGHT_LIGHTS}
