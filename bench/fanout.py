"""Fan-out benchmark: ledsock (gevent and gthread) against the textbook server and the asyncio ceiling.

Run it with ``make bench`` (about 12 minutes). Every server runs at once, each in its
own processes, and the workloads take turns round by round, so each ratio compares
figures taken side by side on the same machine in the same minutes. It prints tables,
writes ``bench/results/latest.json``, and ``bench/plot.py`` draws the figure for
``docs/performance.md``.

Workloads:
  fan-out    N subscribers and one writer; M level changes, one in flight: each is
             timed until all N subscribers hold it. N = 10, 100, 500, 1000, and at
             N = 500 once more with clients that offer permessage-deflate, as Chrome does.
             ledsock-1core is ledsock pinned to one core (taskset -c 0): a Pi-class profile;
             ledsock-3lights has three lights (the changes go to the default one).
  capacity   connections held while ramping to 10,000; RSS and threads on the way, the
             time for one broadcast to reach everyone at each step, and the CPU the
             server then spends over 4 s while they sit idle (its keep-alive work).
  stuck      one subscriber with a 4 KiB receive buffer that never reads while 50,000+
             changes go to 10 others (before the capacity ramp, which leaves the servers
             a lot to clean up); for ledsock, when /healthz shows it dropped.
  idle       the serving processes' RSS with no client.

The last screen is a summary: the targets of docs/performance.md, met or missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import wsload
from wsload import PROTOCOL_V1, SOCKET_IO, Client, Dialect, connect, connect_many

log = logging.getLogger("bench")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HOST = "127.0.0.1"
CLOCK_TICK = os.sysconf("SC_CLK_TCK")
IDLE_CPU_WINDOW = 4.0  # seconds of idle CPU measured at each capacity step
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


# ---------------------------------------------------------------- servers


@dataclass
class Server:
    """One server under test, started as its own process (tree)."""

    name: str
    command: list[str]
    dialect: Dialect
    port: int = 0
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    env: dict = field(default_factory=dict)
    levels_sent: int = 0  # over the whole run, so that no set repeats the server's level
    fanout_only: bool = False  # a profile of another server: the fan-out only
    health: bool = False  # serves /healthz (ledsock)

    def start(self, log_dir: Path) -> None:
        self.port = _free_port()
        self.log_path = log_dir / f"{self.name}.log"
        command = [part.replace("{port}", str(self.port)) for part in self.command]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdin=subprocess.DEVNULL,
            stdout=self.log_path.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {self.log_path}")
            try:
                socket.create_connection((HOST, self.port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"{self.name} did not listen within 30 s; see {self.log_path}")
        time.sleep(1.0)  # gunicorn's worker (gthread) boots after the master listens

    def get_health(self) -> dict:
        with urllib.request.urlopen(f"http://{HOST}:{self.port}/healthz", timeout=5) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def pids(self) -> list[int]:
        """The server's process and its children (gunicorn's master and worker)."""
        root = self.process.pid
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                children.setdefault(ppid, []).append(int(entry))
        found, todo = [], [root]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo += children.get(pid, [])
        return found

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime + stime
        return total / CLOCK_TICK

    def memory(self) -> tuple[float, int]:
        """(RSS in MB, threads) summed over the server's processes."""
        rss_pages, threads = 0, 0
        for pid in self.pids():
            try:
                rss_pages += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            threads += int(status.split("Threads:", 1)[1].split()[0])
        return rss_pages * PAGE_SIZE / 2**20, threads


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def servers(state_dir: Path) -> list[Server]:
    py = sys.executable
    # ledsock as shipped, with limits opened up for the benchmark: the writer sends as
    # fast as the fan-out completes (far above the 100 messages/s rate limit), and the
    # capacity ramp needs more clients than the default MAX_CLIENTS.
    ledsock = [
        py,
        "app.py",
        "--host",
        HOST,
        "--port",
        "{port}",
        "--pin-factory",
        "mock",
        "--rate-limit",
        "1000000",
        "--rate-burst",
        "1000000",
    ]
    gevent = ledsock + ["--worker", "gevent", "--max-clients", "10500"]
    return [
        Server("ledsock-gevent", gevent + ["--state-file", str(state_dir / "gevent.json")], PROTOCOL_V1, health=True),
        Server(
            "ledsock-1core",
            ["taskset", "-c", "0"] + gevent + ["--state-file", str(state_dir / "1core.json")],
            PROTOCOL_V1,
            fanout_only=True,
            health=True,
        ),
        Server(
            "ledsock-3lights",
            gevent + ["--state-file", str(state_dir / "3lights.json"), "--lights", "desk:21,shelf:20,status:16"],
            PROTOCOL_V1,
            fanout_only=True,
            health=True,
        ),
        Server(
            "ledsock-gthread",
            ledsock
            + [
                "--worker",
                "gthread",
                "--threads",
                "6100",
                "--max-clients",
                "6000",
                "--state-file",
                str(state_dir / "gthread.json"),
            ],
            PROTOCOL_V1,
            health=True,
        ),
        Server("textbook", [py, str(HERE / "baselines" / "textbook.py"), "--port", "{port}"], SOCKET_IO),
        Server("ceiling", [py, str(HERE / "baselines" / "ceiling.py"), "--port", "{port}"], PROTOCOL_V1),
    ]


# ---------------------------------------------------------------- fan-out


class FanOut:
    """N subscribers of one server and a writer; times each change until all N have it."""

    def __init__(self, server: Server):
        self.server = server
        self.dialect = server.dialect
        self.subscribers: list[Client] = []
        self.writer: Client | None = None
        self.changes = 0  # changes sent so far on this connection set
        self.arrivals: dict[int, int] = {}
        self.waiting: dict[int, asyncio.Future] = {}
        self.last_level = None

    def _on_message(self, client: Client, text: str) -> None:
        if client.received <= self.dialect.ready_after:
            return  # the greeting
        change = client.received - self.dialect.ready_after + client.joined_after
        count = self.arrivals.get(change, 0) + 1
        self.arrivals[change] = count
        if count == len(self.subscribers):
            del self.arrivals[change]
            future = self.waiting.pop(change, None)
            if future is not None and not future.done():
                future.set_result(time.perf_counter())

    async def open(self, n: int, *, deflate: bool = False, writer: bool = True) -> float:
        self.subscribers, seconds = await connect_many(
            n, HOST, self.server.port, self.dialect, deflate=deflate, on_message=self._on_message
        )
        if writer:
            self.writer = await connect(HOST, self.server.port, self.dialect)
        return seconds

    def next_level(self) -> int:
        """1, 2, ..., 100, 1, ...: never the server's current level, so every set is a change."""
        self.server.levels_sent += 1
        return self.server.levels_sent % 100 + 1

    async def change_once(self, timeout: float = 20.0) -> float | None:
        """Send one change and return the seconds until every subscriber has it (None: lost)."""
        self.changes += 1
        change = self.changes
        future = asyncio.get_running_loop().create_future()
        self.waiting[change] = future
        self.last_level = self.next_level()
        started = time.perf_counter()
        self.writer.send(self.dialect.set_level(self.last_level))
        try:
            return await asyncio.wait_for(future, timeout) - started
        except TimeoutError:
            self.waiting.pop(change, None)
            return None

    async def run(self, changes: int) -> dict:
        cpu_before = self.server.cpu_seconds()
        started = time.perf_counter()
        latencies, lost = [], 0
        for _ in range(changes):
            latency = await self.change_once()
            if latency is None:
                lost += 1
                break  # the server stopped delivering; more would only wait longer
            latencies.append(latency)
        elapsed = time.perf_counter() - started
        cpu = self.server.cpu_seconds() - cpu_before
        rss, threads = self.server.memory()
        return {
            "latencies": latencies,
            "lost": lost,
            "elapsed": elapsed,
            "cpu": cpu,
            "changes": len(latencies),
            "rss_mb": rss,
            "threads": threads,
        }

    async def settle_and_check(self) -> dict:
        """Delivered/expected messages, and whether everyone ended on the final level."""
        deadline = time.monotonic() + 5
        expected = self.changes * len(self.subscribers)
        while time.monotonic() < deadline:
            delivered = sum(c.received - self.dialect.ready_after for c in self.subscribers)
            if delivered >= expected:
                break
            await asyncio.sleep(0.05)
        delivered = sum(c.received - self.dialect.ready_after for c in self.subscribers)
        converged = all(c.last_text and self.dialect.level_of(c.last_text) == self.last_level for c in self.subscribers)
        return {"delivered": delivered, "expected": expected, "converged": converged}

    def close(self) -> None:
        for client in self.subscribers + ([self.writer] if self.writer else []):
            client.close()
        self.subscribers, self.writer = [], None


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summarize_round(result: dict) -> dict:
    lat = result["latencies"]
    return {
        "p50_ms": percentile(lat, 50) * 1000,
        "p90_ms": percentile(lat, 90) * 1000,
        "p99_ms": percentile(lat, 99) * 1000,
        "max_ms": max(lat) * 1000 if lat else float("nan"),
        "changes_per_s": result["changes"] / result["elapsed"] if result["elapsed"] else 0.0,
        "cpu_ms_per_change": result["cpu"] * 1000 / max(1, result["changes"]),
        "lost": result["lost"],
        "rss_mb": result["rss_mb"],
        "threads": result["threads"],
    }


def median_of(rounds: list[dict]) -> dict:
    keys = [k for k in rounds[0] if isinstance(rounds[0][k], (int, float))]
    return {k: statistics.median(r[k] for r in rounds) for k in keys}


async def fan_out(all_servers: list[Server], n: int, changes: int, rounds: int, deflate: bool) -> dict:
    """One N: every server gets N subscribers at once, then the servers take turns, round by round."""
    sets, connect_s = {}, {}
    for server in all_servers:
        fan = FanOut(server)
        try:
            connect_s[server.name] = await fan.open(n, deflate=deflate)
        except (TimeoutError, OSError, ConnectionError) as exc:
            log.warning("%s: could not open %d subscribers: %s", server.name, n, exc)
            fan.close()
            continue
        sets[server.name] = fan
        await fan.run(min(10, changes))  # warm-up, not counted
    per_round: dict[str, list[dict]] = {name: [] for name in sets}
    for r in range(rounds):
        for name, fan in sets.items():
            per_round[name].append(summarize_round(await fan.run(changes)))
            log.info(
                "N=%d%s round %d/%d %-16s p99 %7.2f ms, %6.3f ms CPU/change",
                n,
                " deflate" if deflate else "",
                r + 1,
                rounds,
                name,
                per_round[name][-1]["p99_ms"],
                per_round[name][-1]["cpu_ms_per_change"],
            )
    results = {}
    for name, fan in sets.items():
        checks = await fan.settle_and_check()
        results[name] = {
            **median_of(per_round[name]),
            **checks,
            "connect_s": connect_s[name],
            "rounds": per_round[name],
        }
        fan.close()
    await asyncio.sleep(1.0)  # let the servers see the closes before the next N
    return results


# ---------------------------------------------------------------- capacity, stuck, idle


async def capacity(server: Server, steps: list[int]) -> dict:
    """Ramp subscribers up to the last step; at each step, RSS, threads, one broadcast's time,
    and the CPU the server spends while they sit idle (keep-alive work) over IDLE_CPU_WINDOW s."""
    fan = FanOut(server)
    fan.writer = await connect(HOST, server.port, server.dialect)
    started = time.perf_counter()
    result = {"steps": [], "held": 0}
    try:
        for target in steps:
            try:
                more, _ = await connect_many(
                    target - len(fan.subscribers), HOST, server.port, server.dialect, on_message=fan._on_message
                )
            except (TimeoutError, OSError, ConnectionError) as exc:
                result["failed_at"] = f"{target}: {exc}"
                log.warning("%s: ramp stopped before %d: %s", server.name, target, exc)
                break
            for client in more:
                client.joined_after = fan.changes  # its first change is the next one
            fan.subscribers += more
            await asyncio.sleep(0.5)
            broadcast = await fan.change_once(timeout=30)
            rss, threads = server.memory()
            cpu_before, idle_started = server.cpu_seconds(), time.perf_counter()
            await asyncio.sleep(IDLE_CPU_WINDOW)
            idle_cpu = (server.cpu_seconds() - cpu_before) / (time.perf_counter() - idle_started) * 100
            result["steps"].append(
                {
                    "clients": target,
                    "rss_mb": rss,
                    "threads": threads,
                    "broadcast_ms": broadcast * 1000 if broadcast is not None else None,
                    "idle_cpu_pct": idle_cpu,
                }
            )
            result["held"] = target
            log.info(
                "capacity %-16s %5d clients: RSS %6.1f MB, %5d threads, one broadcast %s ms, idle CPU %.1f%%",
                server.name,
                target,
                rss,
                threads,
                f"{broadcast * 1000:.0f}" if broadcast is not None else "LOST",
                idle_cpu,
            )
            if broadcast is None:
                break
    finally:
        result["ramp_s"] = time.perf_counter() - started
        fan.close()
        await asyncio.sleep(2.0)
    return result


async def stuck_client(server: Server, others: int, changes: int, baseline_changes: int) -> dict:
    """The others' fan-out with and without a subscriber that never reads (4 KiB receive
    buffer); for ledsock, the seconds until /healthz shows the stuck one dropped."""
    fan = FanOut(server)
    await fan.open(others)
    baseline = await fan.run(baseline_changes)
    stuck = await connect(HOST, server.port, server.dialect, read=False, rcvbuf=4096)
    stuck_at, dropped_after = time.perf_counter(), []

    async def watch_for_the_drop():
        while True:
            await asyncio.sleep(0.2)
            health = await asyncio.to_thread(server.get_health)
            if health["clients"] <= others + 1:  # the others and the writer: the stuck one is gone
                dropped_after.append(time.perf_counter() - stuck_at)
                return

    watcher = asyncio.create_task(watch_for_the_drop()) if server.health else None
    loaded = await fan.run(changes)
    if watcher is not None:
        try:
            await asyncio.wait_for(watcher, 30)
        except TimeoutError:
            pass
    stuck.close()
    checks = await fan.settle_and_check()
    fan.close()
    await asyncio.sleep(1.0)
    out = {
        "baseline_p99_ms": percentile(baseline["latencies"], 99) * 1000,
        "p50_ms": percentile(loaded["latencies"], 50) * 1000,
        "p99_ms": percentile(loaded["latencies"], 99) * 1000,
        "max_ms": max(loaded["latencies"]) * 1000 if loaded["latencies"] else None,
        "changes": loaded["changes"],
        "lost": loaded["lost"],
        "rss_mb_after": loaded["rss_mb"],
        "stalls_over_1s": sum(1 for x in loaded["latencies"] if x > 1.0),
        **checks,
        "dropped_after_s": dropped_after[0] if dropped_after else None,
        "loaded_s": loaded["elapsed"],
    }
    log.info(
        "stuck %-16s %d changes: others p99 %.2f ms (baseline %.2f), max %.0f ms, stalls %d, lost %d",
        server.name,
        out["changes"],
        out["p99_ms"],
        out["baseline_p99_ms"],
        out["max_ms"] or -1,
        out["stalls_over_1s"],
        out["lost"],
    )
    return out


async def wait_until_idle(server: Server, timeout: float = 60) -> None:
    """Wait for the server to finish with the thousands of connections a ramp left it."""
    deadline = time.monotonic() + timeout
    previous = None
    while time.monotonic() < deadline:
        await asyncio.sleep(2)
        cpu = server.cpu_seconds()
        if previous is not None and cpu - previous < 0.05:  # under 2.5% of a core: settled
            return
        previous = cpu


def save(results: dict, path: Path) -> None:
    """Write what has been measured so far, so an interrupted run keeps its figures."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1))


def idle_memory(server: Server) -> dict:
    rss, threads = server.memory()
    return {"rss_mb": rss, "threads": threads, "processes": len(server.pids())}


# ---------------------------------------------------------------- report


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def print_report(results: dict) -> None:
    ours = "ledsock-gevent"
    print("\n== fan-out (medians of rounds; ratios: ledsock-gevent / reference, same run)")
    for key, table in results["fanout"].items():
        print(f"\n-- {key}")
        print(
            f"{'server':16} {'connect s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} "
            f"{'chg/s':>7} {'CPU ms/chg':>10} {'RSS MB':>7} {'thr':>5} {'deliv/exp':>13} conv"
        )
        for name, row in table.items():
            print(
                f"{name:16} {row['connect_s']:9.2f} {row['p50_ms']:8.2f} {row['p90_ms']:8.2f} "
                f"{row['p99_ms']:8.2f} {row['max_ms']:8.2f} {row['changes_per_s']:7.0f} "
                f"{row['cpu_ms_per_change']:10.3f} {row['rss_mb']:7.1f} {row['threads']:5.0f} "
                f"{row['delivered']:>6}/{row['expected']:<6} {'yes' if row['converged'] else 'NO'}"
            )
        if ours in table:
            for ref in ("ceiling", "textbook", "ledsock-gthread", "ledsock-1core", "ledsock-3lights"):
                if ref in table:
                    o, r = table[ours], table[ref]
                    print(
                        f"   {ours} vs {ref:15}: CPU/change {ratio(o['cpu_ms_per_change'], r['cpu_ms_per_change'])}, "
                        f"p99 {ratio(o['p99_ms'], r['p99_ms'])}"
                    )
    print("\n== capacity (ramp to the last step)")
    for name, cap in results["capacity"].items():
        steps = ", ".join(
            f"{s['clients']}: {s['rss_mb']:.0f} MB/{s['threads']} thr/"
            f"{s['broadcast_ms']:.0f} ms/idle {s.get('idle_cpu_pct', 0):.1f}% CPU"
            if s["broadcast_ms"] is not None
            else f"{s['clients']}: LOST"
            for s in cap["steps"]
        )
        print(f"{name:16} held {cap['held']}: {steps}" + (f"  [{cap['failed_at']}]" if "failed_at" in cap else ""))
    print("\n== stuck client (one subscriber never reads)")
    for name, s in results["stuck"].items():
        if "error" in s:
            print(f"{name:16} could not run: {s['error']}")
            continue
        print(
            f"{name:16} {s['changes']} changes: others p99 {s['p99_ms']:.2f} ms vs baseline "
            f"{s['baseline_p99_ms']:.2f} ({ratio(s['p99_ms'], s['baseline_p99_ms'])}), max {s['max_ms']:.0f} ms, "
            f"stalls >1 s: {s['stalls_over_1s']}, lost: {s['lost']}, delivered {s['delivered']}/{s['expected']}, "
            f"RSS after {s['rss_mb_after']:.0f} MB"
            + (f", dropped {s['dropped_after_s']:.1f} s after it connected" if s.get("dropped_after_s") else "")
        )
    print(f"\nhandshakes retried after a reset (full accept queue): {results.get('handshake_retries', 0)}")
    print("\n== idle (no clients)")
    for name, m in results["idle"].items():
        print(f"{name:16} RSS {m['rss_mb']:.1f} MB in {m['processes']} process(es), {m['threads']} threads")


TARGETS_SEND_TIMEOUT = 10.0  # ledsock's SEND_TIMEOUT default, which the bench keeps
CHECK_EVERY = 1.0  # the hub's keep-alive check interval at that default


def rss_slope_kb(steps: list[dict], low: int = 1000, high: int = 5000) -> float | None:
    """RSS per client, KB, from the ``low`` to the ``high`` capacity step."""
    by = {s["clients"]: s["rss_mb"] for s in steps}
    if low in by and high in by:
        return (by[high] - by[low]) * 1024 / (high - low)
    return None


def summary_rows(results: dict) -> list[tuple[str, str, str, bool | None]]:
    """(figure, measured, target, met) for the targets of docs/performance.md."""
    ours, ref = "ledsock-gevent", "ceiling"
    rows = []
    idle = results["idle"].get(ours)
    if idle:
        rows.append(
            (
                "idle RSS, all processes",
                f"{idle['rss_mb']:.1f} MB ({idle['processes']} process)",
                "<= 40 MB",
                idle["rss_mb"] <= 40,
            )
        )
    cap = results["capacity"].get(ours)
    if cap:
        slope = rss_slope_kb(cap["steps"])
        if slope is not None:
            rows.append(("RSS per client, 1,000 to 5,000", f"{slope:.1f} KB", "<= 16 KB", slope <= 16))
        top = max(cap["steps"], key=lambda s: s["clients"], default=None)
        if top:
            rows.append(("clients held at once", f"{cap['held']:,}", ">= 10,000", cap["held"] >= 10_000))
            if top["clients"] >= 10_000 and top["broadcast_ms"] is not None:
                rows.append(
                    (
                        "one broadcast to 10,000",
                        f"{top['broadcast_ms']:.0f} ms",
                        "<= 150 ms",
                        top["broadcast_ms"] <= 150,
                    )
                )
        ceiling_cap = results["capacity"].get(ref)
        if ceiling_cap and (ceiling_slope := rss_slope_kb(ceiling_cap["steps"])) is not None:
            rows.append(("  (ceiling's RSS per client)", f"{ceiling_slope:.1f} KB", "", None))
    for n, limit in (("10", 1.2), ("1000", 0.75)):
        table = results["fanout"].get(f"N={n}", {})
        if ours in table and ref in table:
            r = table[ours]["cpu_ms_per_change"] / table[ref]["cpu_ms_per_change"]
            rows.append((f"CPU per change vs ceiling, N = {n}", f"{r:.2f}x", f"<= {limit}x", r <= limit))
    for n in ("500", "1000"):
        table = results["fanout"].get(f"N={n}", {})
        if ours in table and ref in table:
            r = table[ours]["p99_ms"] / table[ref]["p99_ms"]
            rows.append((f"fan-out p99 vs ceiling, N = {n}", f"{r:.2f}x", "<= 1.0x", r <= 1.0))
    stuck = results["stuck"].get(ours)
    if stuck and "error" not in stuck:
        r = stuck["p99_ms"] / stuck["baseline_p99_ms"]
        rows.append(("stuck client: others' p99 vs baseline", f"{r:.2f}x", "<= 1.5x", r <= 1.5))
        dropped = stuck.get("dropped_after_s")
        limit = TARGETS_SEND_TIMEOUT + 2 * CHECK_EVERY  # the buffer fills in well under a check
        rows.append(
            (
                "stuck client dropped after it connected",
                f"{dropped:.1f} s" if dropped else "not seen",
                f"<= {limit:g} s (SEND_TIMEOUT+fill+check)",
                bool(dropped) and dropped <= limit,
            )
        )
    for key, table in results["fanout"].items():
        if "ledsock-1core" in table and ours in table and "deflate" not in key:
            one, two = table["ledsock-1core"], table[ours]
            rows.append(
                (
                    f"one core vs two, {key}",
                    f"CPU/change {one['cpu_ms_per_change'] / two['cpu_ms_per_change']:.2f}x, "
                    f"p99 {one['p99_ms']:.1f} vs {two['p99_ms']:.1f} ms",
                    "(shown)",
                    None,
                )
            )
    for key, table in results["fanout"].items():
        if "ledsock-3lights" in table and ours in table and "deflate" not in key:
            three, one = table["ledsock-3lights"], table[ours]
            r = three["cpu_ms_per_change"] / one["cpu_ms_per_change"]
            rows.append(
                (
                    f"three lights vs one, {key}",
                    f"CPU/change {r:.2f}x, p99 {three['p99_ms']:.1f} vs {one['p99_ms']:.1f} ms",
                    "CPU <= 1.15x (unchanged)",
                    r <= 1.15,
                )
            )
    return rows


def print_summary(results: dict) -> None:
    print("\n== summary: targets (ledsock-gevent; ratios against the ceiling in the same run)")
    for figure, measured, target, met in summary_rows(results):
        verdict = {True: "met", False: "MISSED", None: ""}[met]
        print(f"{figure:42} {measured:>34}  {target:>22}  {verdict}")


async def run(args) -> dict:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 3 * max(args.capacity) + 1000  # this process's clients; the servers raise their own
    try:  # root may raise the hard limit too
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(hard, wanted), max(hard, wanted)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        if hard < wanted:
            log.warning("open files are limited to %d; the capacity ramp may stop early", hard)
    state_dir = Path(tempfile.mkdtemp(prefix="ledsock-bench-"))
    chosen = [s for s in servers(state_dir) if s.name in args.servers]
    results = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "kernel": os.uname().release},
        "args": {k: v for k, v in vars(args).items() if k != "out"},
        "fanout": {},
        "capacity": {},
        "stuck": {},
        "idle": {},
    }
    started = time.monotonic()
    try:
        for server in chosen:
            server.start(state_dir)
            log.info("started %s on port %d (pid %d)", server.name, server.port, server.process.pid)
        for server in chosen:
            results["idle"][server.name] = idle_memory(server)
        for n in args.n:
            changes = args.changes or max(60, min(1000, 30_000 // n))
            results["fanout"][f"N={n}"] = await fan_out(chosen, n, changes, args.rounds, deflate=False)
            save(results, args.out)
        for n in args.deflate_n:
            changes = args.changes or max(60, min(1000, 30_000 // n))
            results["fanout"][f"N={n}, clients offer permessage-deflate"] = await fan_out(
                chosen, n, changes, args.rounds, deflate=True
            )
        for server in chosen:
            if server.name in args.stuck_servers and not server.fanout_only:
                await wait_until_idle(server)
                try:
                    results["stuck"][server.name] = await stuck_client(
                        server, args.stuck_others, args.stuck_changes, args.stuck_baseline
                    )
                except (TimeoutError, OSError, ConnectionError) as exc:
                    log.warning("stuck %s: could not run: %r", server.name, exc)
                    results["stuck"][server.name] = {"error": repr(exc)}
                save(results, args.out)
        for server in chosen:
            if not server.fanout_only:
                results["capacity"][server.name] = await capacity(server, args.capacity)
                save(results, args.out)
    finally:
        for server in chosen:
            server.stop()
        results["duration_s"] = time.monotonic() - started
        results["handshake_retries"] = wsload.RETRIES[0]
    return results


def main(argv=None) -> int:
    names = [s.name for s in servers(Path("."))]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", nargs="+", default=names, choices=names)
    parser.add_argument("--n", nargs="+", type=int, default=[10, 100, 500, 1000], help="subscriber counts")
    parser.add_argument(
        "--deflate-n",
        nargs="*",
        type=int,
        default=[500],
        help="subscriber counts to repeat with clients offering permessage-deflate",
    )
    parser.add_argument("--changes", type=int, default=0, help="changes per round (default: by N)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--capacity", nargs="+", type=int, default=[1000, 2000, 5000, 10000])
    parser.add_argument("--stuck-servers", nargs="*", default=names)
    parser.add_argument("--stuck-others", type=int, default=10)
    parser.add_argument("--stuck-changes", type=int, default=52_000)
    parser.add_argument("--stuck-baseline", type=int, default=3_000)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "latest.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    results = asyncio.run(run(args))
    print_report(results)
    print_summary(results)
    save(results, args.out)
    print(
        f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out} "
        f"in {results['duration_s']:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
