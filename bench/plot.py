"""Draw docs/performance.png from bench/results/latest.json: fan-out p99 and CPU per change against N."""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent
STYLE = {  # server: (label, colour, marker)
    "ledsock-gevent": ("ledsock, gevent (default)", "#d62728", "o"),
    "ledsock-1core": ("ledsock, gevent, one core (taskset)", "#9467bd", "D"),
    "ledsock-gthread": ("ledsock, gthread", "#ff9896", "s"),
    "ceiling": ("asyncio ceiling (websockets.broadcast)", "#1f77b4", "^"),
    "textbook": ("textbook (Flask-SocketIO, threading)", "#7f7f7f", "v"),
}


def main(source: Path = HERE / "results" / "latest.json", target: Path = HERE.parent / "docs" / "performance.png"):
    results = json.loads(source.read_text())
    plain = {
        int(key[2:]): table for key, table in results["fanout"].items() if key[2:].isascii() and key[2:].isdecimal()
    }
    ns = sorted(plain)
    fig, (p99, cpu) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    for name, (label, colour, marker) in STYLE.items():
        points = [(n, plain[n][name]) for n in ns if name in plain[n]]
        if not points:
            continue
        xs = [n for n, _ in points]
        p99.plot(xs, [row["p99_ms"] for _, row in points], marker=marker, color=colour, label=label)
        cpu.plot(xs, [row["cpu_ms_per_change"] for _, row in points], marker=marker, color=colour, label=label)
    for axis, title, unit in (
        (p99, "Fan-out p99: a change until all N have it", "ms"),
        (cpu, "Server CPU per change", "ms of CPU"),
    ):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xticks(ns, [str(n) for n in ns])
        axis.set_xlabel("subscribers (N)")
        axis.set_ylabel(unit)
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
    cpu.legend(loc="upper left", fontsize=8)
    fig.suptitle(
        f"Medians of {results['args']['rounds']} rounds, all servers side by side in one run "
        f"({results['machine']['cpus']} cores, Python {results['machine']['python']})",
        fontsize=9,
    )
    fig.savefig(target, dpi=110)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*map(Path, sys.argv[1:])))
