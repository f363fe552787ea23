"""What a light more costs, and what an effect costs: ledsock with one light and with eight.

Run by ``make bench`` after the fan-out (whose ``ledsock-3lights`` profile shows the
per-change cost with three lights beside one). Both services start with the simulated
LED; every light is faded once and then left at rest, and then each service's RSS and
OS threads are read three times a second apart. The figure is the difference of the
medians divided by the seven extra lights; the target (docs/performance.md) is at most
1 MB of RSS and no thread per light.

Then the effects: the eight-light service's CPU over ``EFFECT_WINDOW`` s at rest, then with
every light running the same effect (breathe, candle, blink in turn) or fading its level all
the window long, taking turns three times; per light, the median of (with - at rest) / 8, as a
share of one core. The target is at most 2 % of one core per light while an effect runs.

Then colour, side by side with it: eight RGB lights (24 simulated pins), each fading between
two far colours through OKLCh for the whole window, running a candle (its flame reddening as it
dips) and a breathe in a colour; the same target, and the ratio to a single channel's fade.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from fanout import HOST, PROTOCOL_V1, Server, save

HERE = Path(__file__).resolve().parent
EIGHT = "l0:4,l1:5,l2:6,l3:12,l4:13,l5:16,l6:20,l7:21"
EIGHT_RGB = ",".join(f"c{n}:rgb:{3 * n}/{3 * n + 1}/{3 * n + 2}" for n in range(8))  # GPIO 0..23
RSS_PER_LIGHT_MB = 1.0
EFFECT_WINDOW = 4.0  # seconds of CPU measured per sample
EFFECT_CORE_PCT = 2.0  # the target: a light running an effect, share of one core


def post(server: Server, path: str, body: dict) -> None:
    request = urllib.request.Request(
        f"http://{HOST}:{server.port}{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def measure(server: Server, names: list[str]) -> dict:
    for name in names:  # each light fades once, then rests
        post(server, f"/lights/{name}", {"level": 80, "transition": 0.2})
    time.sleep(1.0)
    samples = []
    for _ in range(3):
        samples.append(server.memory())
        time.sleep(1.0)
    return {
        "rss_mb": statistics.median(rss for rss, _ in samples),
        "threads": statistics.median(threads for _, threads in samples),
    }


FADE = object()  # a sample where every light fades for the whole window
SINGLE_EFFECTS: dict[str, object] = {
    "rest": {"effect": None},
    "breathe": {"effect": "breathe"},
    "candle": {"effect": "candle"},
    "blink": {"effect": "blink"},
    "fade": FADE,
}
COLOUR_EFFECTS: dict[str, object] = {
    "rest": {"effect": None},
    "fade": FADE,
    "candle": {"effect": "candle"},
    "breathe": {"effect": "breathe", "color": "#0088ff"},
}


def effect_cost(server: Server, names: list[str], effects: dict[str, object], fade_colours: bool = False) -> dict:
    """Per light, the share of one core each effect (or a fade all the window long) costs over
    rest (medians of three turns)."""

    def cpu_pct() -> float:
        before = server.cpu_seconds()
        time.sleep(EFFECT_WINDOW)
        return (server.cpu_seconds() - before) / EFFECT_WINDOW * 100

    samples: dict[str, list[float]] = {effect: [] for effect in effects}
    ends = ({"color": "#ff2000"}, {"color": "#0040ff"}) if fade_colours else ({"level": 5}, {"level": 100})
    for turn in range(3):
        for effect, body in effects.items():
            if body is FADE:  # from one end to the other, all the window (and the settling) long
                post(server, "/led", {**ends[turn % 2], "light": "*"})
                time.sleep(0.2)
                post(server, "/led", {**ends[(turn + 1) % 2], "light": "*", "transition": EFFECT_WINDOW + 1})
            else:
                post(server, "/led", {**body, "light": "*"})  # type: ignore[dict-item]
            time.sleep(0.5)
            samples[effect].append(cpu_pct())
    rest = statistics.median(samples["rest"])
    return {
        "rest_pct": rest,
        **{
            f"{effect}_pct_per_light": (statistics.median(values) - rest) / len(names)
            for effect, values in samples.items()
            if effect != "rest"
        },
    }


def main() -> int:
    state_dir = Path(tempfile.mkdtemp(prefix="ledsock-lights-"))
    command = [sys.executable, "app.py", "--host", HOST, "--port", "{port}", "--pin-factory", "mock"]
    one = Server("one light", command + ["--state-file", str(state_dir / "lights-1.json")], PROTOCOL_V1)
    eight = Server(
        "eight lights", command + ["--state-file", str(state_dir / "lights-8.json"), "--lights", EIGHT], PROTOCOL_V1
    )
    rgb = Server(
        "eight RGB lights",
        command + ["--state-file", str(state_dir / "lights-rgb.json"), "--lights", EIGHT_RGB],
        PROTOCOL_V1,
    )
    results = {}
    try:
        for server in (one, eight):
            server.start(state_dir)
        names = [part.split(":")[0] for part in EIGHT.split(",")]
        results["one"] = measure(one, ["led"])
        results["eight"] = measure(eight, names)
        one.stop()
        results["effects"] = effect_cost(eight, names, SINGLE_EFFECTS)
        eight.stop()
        rgb.start(state_dir)
        rgb_names = [part.split(":")[0] for part in EIGHT_RGB.split(",")]
        results["colour"] = effect_cost(rgb, rgb_names, COLOUR_EFFECTS, True)
    finally:
        for server in (one, eight, rgb):
            server.stop()
    extra = (results["eight"]["rss_mb"] - results["one"]["rss_mb"]) / 7
    threads = (results["eight"]["threads"] - results["one"]["threads"]) / 7
    results["per_extra_light"] = {"rss_mb": extra, "threads": threads}
    save(results, HERE / "results" / "lights.json")
    print("\n== what a light more costs (one light and eight, side by side, each faded once then at rest)")
    for key in ("one", "eight"):
        print(f"{key:6} lights: RSS {results[key]['rss_mb']:.2f} MB, {results[key]['threads']:.0f} OS threads")
    met = extra <= RSS_PER_LIGHT_MB and threads <= 0
    print(
        f"per extra light: {extra * 1024:.0f} KB of RSS, {threads:+.2f} threads"
        f"   (target: at most {RSS_PER_LIGHT_MB:g} MB and no thread)  {'met' if met else 'MISSED'}"
    )
    effects = results["effects"]
    print(f"\n== what an effect costs (eight lights, each running it; at rest {effects['rest_pct']:.2f} % of a core)")
    for effect in ("breathe", "candle", "blink", "fade"):
        pct = effects[f"{effect}_pct_per_light"]
        print(
            f"{effect:8} {pct:5.2f} % of one core per light   (target: at most {EFFECT_CORE_PCT:g} %)  "
            f"{'met' if pct <= EFFECT_CORE_PCT else 'MISSED'}"
        )
    colour = results["colour"]
    print(f"\n== what colour costs (eight RGB lights, 24 pins; at rest {colour['rest_pct']:.2f} % of a core)")
    for effect, label in (("fade", "colour fade"), ("candle", "flame candle"), ("breathe", "blue breathe")):
        pct = colour[f"{effect}_pct_per_light"]
        print(
            f"{label:13} {pct:5.2f} % of one core per light   (target: at most {EFFECT_CORE_PCT:g} %)  "
            f"{'met' if pct <= EFFECT_CORE_PCT else 'MISSED'}"
        )
    single_fade = effects["fade_pct_per_light"]
    if single_fade > 0:
        print(f"a colour fade costs {colour['fade_pct_per_light'] / single_fade:.1f}x a single channel's level fade")
    return 0


if __name__ == "__main__":
    sys.exit(main())
