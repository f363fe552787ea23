"""Hostile and broken clients, and a watcher that measures what everyone else gets meanwhile.

Shared by tests/test_attacks.py (which asserts the defences) and bench/attack.py (which
prints the figures). Every attack is bounded in time and count and talks to loopback only.
"""
from __future__ import annotations

import json
import socket
import statistics
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

    A thread alternates a WebSocket ``get`` round trip and a ``GET /healthz``, every
    ``every`` s, and keeps each one's time; one that does not answer within ``timeout``
    counts as that long and as a failure.
    """

    def __init__(self, server, every: float = 0.02, timeout: float = 5.0):
        self.server, self.every, self.timeout = server, every, timeout
        self.gets: list[float] = []
        self.healthz: list[float] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Watcher":
        self.client = Client(self.server.ws_url)
        self.client.recv()  # the state on connect
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(self.timeout * 3)
        self.client.close()

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            started = time.monotonic()
            try:
                reply, _ = self.client.request({"type": "get", "id": n}, timeout=self.timeout)
                assert reply["type"] == "state", reply
            except Exception as exc:  # noqa: BLE001 - every failure is a figure here
                self.failures.append(f"get: {exc!r}")
            self.gets.append(time.monotonic() - started)
            started = time.monotonic()
            try:
                with urllib.request.urlopen(self.server.http + "/healthz", timeout=self.timeout) as response:
                    json.loads(response.read())
            except Exception as exc:  # noqa: BLE001
                self.failures.append(f"healthz: {exc!r}")
            self.healthz.append(time.monotonic() - started)
            self._stop.wait(self.every)

    def summary(self) -> dict:
        return {
            "gets": len(self.gets), "get_p50_ms": round(statistics.median(self.gets) * 1000, 1) if self.gets else None,
            "get_p99_ms": round(percentile(self.gets, 0.99) * 1000, 1),
            "get_max_ms": round(max(self.gets, default=float("nan")) * 1000, 1),
            "healthz_p50_ms": round(statistics.median(self.healthz) * 1000, 1) if self.healthz else None,
            "healthz_p99_ms": round(percentile(self.healthz, 0.99) * 1000, 1),
            "healthz_max_ms": round(max(self.healthz, default=float("nan")) * 1000, 1),
            "failures": self.failures[:5], "failed": len(self.failures),
        }


def close_code(data: bytes) -> int | None:
    """The code of the first close frame in what the server sent (its frames are unmasked)."""
    at = 0
    while at + 2 <= len(data):
        opcode, size = data[at] & 0x0F, data[at + 1] & 0x7F
        start = at + 2
        if size == 126:
            size, start = int.from_bytes(data[at + 2:at + 4], "big"), at + 4
        elif size == 127:
            size, start = int.from_bytes(data[at + 2:at + 10], "big"), at + 10
        if opcode == 0x8:
            return int.from_bytes(data[start:start + 2], "big") if size >= 2 else 1005
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

    def start(self) -> "Flood":
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

    def join(self) -> "Flood":
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


def closed_by_server(sock: socket.socket) -> bool:
    """True when the server has closed this connection (EOF or reset waiting)."""
    sock.setblocking(False)
    try:
        return sock.recv(65536) == b"" or True  # data then EOF: an answer, e.g. 408
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        sock.setblocking(True)
