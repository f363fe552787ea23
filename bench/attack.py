"""Under attack: what other clients get while each hostile or broken client of docs/security.md runs.

For each attack, a fresh ledsock process (default settings, simulated LED) is measured
for ``--seconds`` without the attack and then for ``--seconds`` with it, side by side in
the same minute: ``/healthz`` p50/p99, another client's ``get`` p99, and a watching
client's fan-out p99 (a level set by one client until the watcher holds it), whether the
watcher converged on the last change, the service's CPU, RSS before, during (the highest
seen) and after the attackers left, the log's bytes a second and the state file's writes a
second. Prints a table and writes ``bench/results/attack.json``. Run by ``make bench``;
alone: ``python attack.py``. The attackers are the test suite's (tests/attacks.py,
tests/amplification.py): bounded in time, loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))

import amplification as amp  # noqa: E402
import attacks  # noqa: E402
from attacks import Watcher, rss_kb  # noqa: E402
from fake_pigpiod import FakePigpiod  # noqa: E402
from mqtt_support import Broker  # noqa: E402
from support import ServerProcess  # noqa: E402

# Targets on this machine (docs/performance.md, "Under attack").
OTHERS_P99_MS = 50
HEALTHZ_P99_MS = 100
RSS_BACK_KB = 5 * 1024
WRITES_PER_S = 1.0
LOG_KB_PER_S = 20


class Attack(NamedTuple):
    """``run(server, seconds, context)``; ``env(folder)``: the service's environment for it;
    ``query``: the watcher's (a token); ``broker``: it needs a Mosquitto (``context.broker``)."""

    run: Callable
    env: Callable[[Path], dict] = lambda folder: {}
    query: str = ""
    broker: bool = False
    pigpiod: bool = False  # it needs the fake pigpio daemon (``context.pigpiod``), whose edges reach inputs


def _plain(attack) -> Attack:
    """One of tests/attacks.py's attackers, ``attack(server, seconds)``, with its ``server_env``."""
    return Attack(lambda server, s, context: attack(server, s), lambda folder: getattr(attack, "server_env", {}))


EVERY_PIN = {"LIGHTS": amp.EVERY_PIN}
# The inputs work the second light, so that their states are counted apart from the watcher's sets.
HANDS = {"LIGHTS": "led:21,desk:20", "BUTTONS": "desk:6:switch", "ENCODERS": "desk:17/27/22"}


def _desk_seq(server) -> int:
    return server.get("/healthz")["lights"][1]["seq"]


def _by_hand(action) -> Attack:
    """``action(pigpiod, seconds)`` on the inputs of HANDS; its figures with the states a second
    it caused (the input's light's seq)."""

    def run(server, seconds, context):
        before, started = _desk_seq(server), time.monotonic()
        figures = action(context.pigpiod, seconds)
        figures["states_per_s"] = round((_desk_seq(server) - before) / (time.monotonic() - started), 1)
        return figures

    return Attack(run, lambda folder: HANDS, pigpiod=True)


def _many_schedules(folder: Path) -> dict:
    names = [part.split(":")[0] for part in amp.EVERY_PIN.split(",")]
    return {**EVERY_PIN, "STATE_FILE": str(amp.state_file_of_many_schedules(folder / "many.json", names))}


ATTACKS = {
    "1a empty pongs": _plain(lambda server, s: attacks.frame_floods(server.port, attacks.EMPTY_PONG, b"", s)),
    "1b empty continuations": _plain(
        lambda server, s: attacks.frame_floods(server.port, attacks.EMPTY_CONTINUATION, attacks.UNFINISHED_TEXT, s)
    ),
    "2 impossible crontab": _plain(attacks.cron_flood),
    "3 idle connections": _plain(attacks.idle_flood),
    "4 slow readers": _plain(attacks.slow_readers),
    "5 schedule churn": _plain(attacks.schedule_churn),
    "6 overflowing numbers": _plain(attacks.overflow_flood),
    "7 every light at once": _plain(attacks.every_light_flood),
    "8 effects everywhere": _plain(attacks.effect_churn),
    "9a pipelined GET /healthz": Attack(lambda server, s, c: amp.pipelined_http(server, s, amp.GET_HEALTHZ)),
    "9b pipelined GET /": Attack(lambda server, s, c: amp.pipelined_http(server, s, amp.GET_PAGE)),
    "9c pipelined POST, no token": Attack(
        lambda server, s, c: amp.pipelined_http(server, s, amp.POST_NO_TOKEN),
        lambda folder: {"LED_TOKEN": "secret"},
        query="?token=secret",
    ),
    "9d pipelined POST /lights/*": Attack(
        lambda server, s, c: amp.pipelined_http(server, s, amp.POST_EVERY_LIGHT), lambda folder: EVERY_PIN
    ),
    "9e malformed requests": Attack(lambda server, s, c: amp.pipelined_http(server, s, amp.MALFORMED)),
    "10 watch toggles, 896 schedules": Attack(lambda server, s, c: amp.watch_toggles(server, s), _many_schedules),
    "11 every light at the limit": Attack(
        lambda server, s, c: amp.every_light_commands(server, s), lambda folder: EVERY_PIN
    ),
    "12 MQTT flood, group topic": Attack(
        lambda server, s, c: amp.mqtt_flood(server, c.broker, s), lambda folder: EVERY_PIN, broker=True
    ),
    "13 candles, simulated pins": Attack(lambda server, s, c: amp.candles_burning(server, s), lambda folder: EVERY_PIN),
    "14a input: noise, 10,000 edges/s": _by_hand(lambda daemon, s: amp.noise_storm(daemon, 6, s)),
    "14b input: noise, 500 edges/s": _by_hand(lambda daemon, s: amp.noise_storm(daemon, 6, s, every=0.002)),
    "15 input: knob, 1,000 detents/s": _by_hand(lambda daemon, s: amp.knob_spin(daemon, 17, 27, s)),
    "16 scenes saved and recalled at the limit, 28 lights": Attack(
        lambda server, s, c: amp.scene_churn(server, s),
        lambda folder: {**EVERY_PIN, "STATE_FILE": str(folder / "scenes.json")},
    ),
}


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Window:
    """The service's CPU share and log bytes a second over a window."""

    def __init__(self, server):
        self.server = server

    def __enter__(self) -> Window:
        self.cpu, self.log = cpu_seconds(self.server.proc.pid), self.server.log_path.stat().st_size
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc) -> None:
        took = time.monotonic() - self.started
        self.cpu_percent = round((cpu_seconds(self.server.proc.pid) - self.cpu) / took * 100, 1)
        self.log_kb_per_s = round((self.server.log_path.stat().st_size - self.log) / took / 1024, 2)


class RssSampler:
    """The server's highest RSS while the attack runs, sampled every 50 ms."""

    def __init__(self, pid: int):
        self.pid, self.peak = pid, rss_kb(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss_kb(self.pid))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def measure(name: str, attack: Attack, seconds: float, folder: Path) -> dict:
    context = argparse.Namespace(
        broker=Broker(folder).start() if attack.broker else None,
        pigpiod=FakePigpiod().start() if attack.pigpiod else None,
    )
    env = attack.env(folder)
    if context.broker is not None:
        env.update(MQTT_URL=context.broker.url, MQTT_DEVICE_ID="lamp1")
    if context.pigpiod is not None:
        env.update(PIGPIO_ADDR="127.0.0.1", PIGPIO_PORT=str(context.pigpiod.port), LED_PIN_FACTORY="pigpio")
    server = ServerProcess(folder, env=env).start()  # logging at info, as shipped: its bytes are a figure
    try:
        if context.broker is not None:
            server.wait_for(lambda h: h["mqtt_connected"], what="the bridge connected")
        # Warm up what the first schedule imports (APScheduler), so it is not the attack's cost.
        with attacks.Client(server.ws_url + attack.query) as warm:
            warm.recv()
            warm.request({"type": "schedule", "name": "warm", "at": "07:00", "level": 5, "id": "w"})
            warm.request({"type": "unschedule", "name": "warm", "id": "u"})
        time.sleep(1.5)
        with Watcher(server, fan_out=True, query=attack.query) as quiet, Window(server) as quiet_window:
            time.sleep(seconds)
        baseline = quiet.summary()
        rss_before = rss_kb(server.proc.pid)
        writes_before = server.get("/healthz")["state_file_writes"]
        with (
            Watcher(server, fan_out=True, query=attack.query) as watcher,
            RssSampler(server.proc.pid) as rss,
            Window(server) as window,
        ):
            started = time.monotonic()
            figures = attack.run(server, seconds, context)
            took = time.monotonic() - started
            time.sleep(1.2)  # the last debounced write
        writes = server.get("/healthz")["state_file_writes"] - writes_before
        server.wait_for(lambda h: h["clients"] == 0, timeout=30, what="the attackers gone")
        time.sleep(2)
        rss_after = rss_kb(server.proc.pid)
        if "rss_kb" in figures:  # candles: the samples are in the RSS columns already
            figures = {"growth_kb_per_s": figures["growth_kb_per_s"]}
        return {
            "attack": name,
            "figures": figures,
            "seconds": round(took, 1),
            "baseline": baseline,
            "under_attack": watcher.summary(),
            "rss_before_kb": rss_before,
            "rss_peak_kb": rss.peak,
            "rss_after_kb": rss_after,
            "state_file_writes": writes,
            "write_window_s": round(took + 1.2, 1),
            "cpu_percent": [quiet_window.cpu_percent, window.cpu_percent],
            "log_kb_per_s": [quiet_window.log_kb_per_s, window.log_kb_per_s],
        }
    finally:
        server.stop()
        if context.broker is not None:
            context.broker.stop()
        if context.pigpiod is not None:
            context.pigpiod.stop()


def met(row: dict) -> bool:
    under = row["under_attack"]
    return (
        under["failed"] == 0
        and under["converged"] is True
        and under["get_p99_ms"] <= OTHERS_P99_MS
        and under["fan_out_p99_ms"] <= OTHERS_P99_MS
        and under["healthz_p99_ms"] <= HEALTHZ_P99_MS
        and row["rss_after_kb"] - row["rss_before_kb"] <= RSS_BACK_KB
        and writes_ok(row)
        and row["log_kb_per_s"][1] <= LOG_KB_PER_S
    )


def writes_ok(row: dict) -> bool:
    """At most one write a second: in a window of T s, at most T + 2 writes (a write under
    way at each end of the window counts in it)."""
    return row["state_file_writes"] <= WRITES_PER_S * row["write_window_s"] + 2


def print_table(rows: list[dict]) -> None:
    print(
        f"\n== under attack: each attack beside the same window without it "
        f"(targets: others' p99 <= {OTHERS_P99_MS} ms, /healthz p99 <= {HEALTHZ_P99_MS} ms, converged, "
        f"RSS back within {RSS_BACK_KB // 1024} MB, <= {WRITES_PER_S:g} write/s, log <= {LOG_KB_PER_S} KB/s)"
    )
    print(
        f"{'attack':32} {'healthz p50/p99 ms':>22} {'get p99 ms':>14} {'fan-out p99 ms':>16} "
        f"{'CPU %':>12} {'RSS MB before/peak/after':>26} {'log KB/s':>12} {'writes in s':>12} {'met':>4}"
    )
    for row in rows:
        base, under = row["baseline"], row["under_attack"]
        print(
            f"{row['attack']:32} "
            f"{base['healthz_p50_ms']:>5}/{base['healthz_p99_ms']:<5}->{under['healthz_p50_ms']:>5}/"
            f"{under['healthz_p99_ms']:<5} "
            f"{base['get_p99_ms']:>5}->{under['get_p99_ms']:<6} "
            f"{base['fan_out_p99_ms']:>6}->{under['fan_out_p99_ms']:<7} "
            f"{row['cpu_percent'][0]:>5}->{row['cpu_percent'][1]:<5} "
            f"{row['rss_before_kb'] / 1024:>8.1f}/{row['rss_peak_kb'] / 1024:.1f}/{row['rss_after_kb'] / 1024:<6.1f} "
            f"{row['log_kb_per_s'][0]:>5}->{row['log_kb_per_s'][1]:<5} "
            f"{row['state_file_writes']:>5} in {row['write_window_s']:<4} {'yes' if met(row) else 'NO':>4}"
        )
        print(
            f"{'':32} attack: {json.dumps(row['figures'])}; converged: {under['converged']}; "
            f"failures: {under['failed']}"
        )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="each attack's length, and its baseline's")
    parser.add_argument("--only", help="run the attacks whose name contains this")
    parser.add_argument("--out", default=str(HERE / "results" / "attack.json"))
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="ledsock-attack-") as work:
        for name, run in ATTACKS.items():
            if args.only and args.only not in name:
                continue
            rows.append(measure(name, run, args.seconds, Path(work)))
            print(f"   {name}: done", flush=True)
    print_table(rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=1) + "\n")
    print(f"   {sum(met(r) for r in rows)} of {len(rows)} attacks within every target; figures in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
