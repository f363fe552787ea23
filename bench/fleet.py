"""The fleet figure: N ledsock processes (simulated LEDs) on one local Mosquitto, one group command.

Prints the time from the group publish until each lamp has published its new state
(p50, p99, max over the lamps, medians of the rounds) and each lamp's memory (RSS of its
processes). Run by `make bench` after the fan-out benchmark; alone: `python fleet.py`.
The broker and the listening client are the test suite's (tests/mqtt_support.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))

from mqtt_support import Broker, Listener  # noqa: E402
from support import free_port  # noqa: E402


def rss_mb(pid: int) -> float:
    """RSS of a process and its children, in MB."""
    pids = [pid] + [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    total = 0
    for one in pids:
        for line in Path(f"/proc/{one}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def start_lamps(count: int, broker: Broker, folder: Path) -> list[tuple[subprocess.Popen, int]]:
    lamps = []
    for n in range(count):
        port = free_port()
        env = {
            **os.environ,
            "LED_PIN_FACTORY": "mock",
            "MQTT_URL": broker.url,
            "MQTT_DEVICE_ID": f"lamp{n}",
            "STATE_FILE": str(folder / f"lamp{n}.json"),
            "LOG_LEVEL": "warning",
        }
        proc = subprocess.Popen(
            [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        lamps.append((proc, port))
    deadline = time.monotonic() + 120
    for _proc, port in lamps:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    if json.loads(response.read())["mqtt_connected"]:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the lamps did not all join the broker within 120 s"
            time.sleep(0.2)
    return lamps


def one_round(listener: Listener, count: int, level: int) -> list[float]:
    """Seconds from one group publish until each lamp published the new level."""
    arrived: dict[str, float] = {}
    done = threading.Event()
    original = listener.client.on_message

    def on_message(client, userdata, message):
        original(client, userdata, message)
        if json.loads(message.payload).get("level") == level:
            arrived.setdefault(message.topic, time.monotonic())
            if len(arrived) == count:
                done.set()

    listener.client.on_message = on_message
    sent = time.monotonic()
    listener.publish("ledsock/all/set", {"level": level})
    assert done.wait(30), f"only {len(arrived)} of {count} lamps answered"
    listener.client.on_message = original
    return [t - sent for t in arrived.values()]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lamps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ledsock-fleet-") as work:
        broker = Broker(Path(work)).start()
        lamps = []
        try:
            started = time.monotonic()
            lamps = start_lamps(args.lamps, broker, Path(work))
            joined = time.monotonic() - started
            listener = Listener(broker, "ledsock/+/state")
            time.sleep(1)  # the retained states arrive first
            rounds = [one_round(listener, args.lamps, 10 + n) for n in range(args.rounds)]
            listener.close()
            memory = [rss_mb(proc.pid) for proc, _ in lamps]
        finally:
            for proc, _ in lamps:
                proc.terminate()
            for proc, _ in lamps:
                proc.wait(30)
            broker.stop()
    p50 = statistics.median(percentile(r, 50) for r in rounds) * 1000
    p99 = statistics.median(percentile(r, 99) for r in rounds) * 1000
    worst = statistics.median(max(r) for r in rounds) * 1000
    print(
        f"\n== fleet: {args.lamps} lamps on one Mosquitto (joined in {joined:.1f} s), one group command, "
        f"medians of {args.rounds} rounds"
    )
    print(f"   every lamp's new state published: p50 {p50:.1f} ms, p99 {p99:.1f} ms, slowest {worst:.1f} ms")
    print(
        f"   memory per lamp (RSS, all its processes): median {statistics.median(memory):.1f} MB, "
        f"max {max(memory):.1f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
