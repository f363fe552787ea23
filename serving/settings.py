"""Every setting of the service, written once: its config key, flag, variable, type, default and help.

The table makes all three ways in: ``DEFAULT_CONFIG`` (what ``create_app`` starts
from), the command-line flags, and the environment variables that default them. A
flag wins over its variable; an empty variable counts as unset.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from boards.pins import PinFactory
from lamp import state
from serving import setting_types as read

WORKERS = ("gevent", "gthread")  # how the service serves: see serve.py
GEVENT_MAX_CLIENTS = 4000  # default MAX_CLIENTS under gevent: ~25 KB each, ~100 MB in all (docs/performance.md)
LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class Setting:
    """One setting. ``key`` is its Flask config key (``A.b``: key ``b`` of the dict ``A``)."""

    key: str
    flag: str | None  # None: not on the command line (a secret, or in-process only)
    env: str | None  # the environment variable; None: not read from the environment
    type: Callable
    default: object  # the default in create_app's config
    help: str
    choices: tuple | None = None
    server: bool = False  # a setting of the serving process, not of the app
    cli_default: Callable[[dict], object] | None = None  # the default when run from main()

    @property
    def env_only(self) -> bool:
        """Read from the environment, never a flag: a secret (command lines are visible to every user)."""
        return self.flag is None and self.env is not None

    @property
    def dest(self) -> str:
        """Its name in parse_args' namespace."""
        return self.flag.lstrip("-").replace("-", "_") if self.flag else self.key.lower()


SETTINGS: tuple[Setting, ...] = (
    Setting("HOST", "--host", "HOST", str, "0.0.0.0", "address to listen on", server=True),
    Setting("PORT", "--port", "PORT", read.positive(int), 5000, "TCP port", server=True),
    Setting("LED_PIN", "--pin", "LED_PIN", read.positive(int), 21, "BCM pin of the LED (when LIGHTS is not set)"),
    Setting(
        "LIGHTS",
        "--lights",
        "LIGHTS",
        read.lights,
        None,
        "several lights: NAME:PIN pairs, e.g. desk:21,shelf:20, and colour lights NAME:rgb:R/G/B and "
        "NAME:cct:WARM/COLD (optionally :2200-6500 and :active-low); the first is the default light, the one "
        "a command naming no light is for (replaces --pin; names: 1 to 32 of a-z, 0-9, _ and -)",
    ),
    Setting(
        "BUTTONS",
        "--buttons",
        "BUTTONS",
        read.buttons,
        None,
        "push buttons on GPIO, each LIGHT:PIN (click toggles, double-click full, hold dims), LIGHT:PIN:scene=NAME "
        "(double-click recalls the scene), or LIGHT:PIN:switch for a latching switch (every flip toggles), "
        "e.g. desk:5; wired to ground (docs/boards.md)",
    ),
    Setting(
        "ENCODERS",
        "--encoders",
        "ENCODERS",
        read.encoders,
        None,
        "rotary knobs on GPIO, each LIGHT:A/B/PUSH (PUSH optional), e.g. desk:17/27/22: a detent steps the "
        "level, the push toggles, turning while pushed moves a colour light's white or steps the effects",
    ),
    Setting(
        "ENCODER_STEP",
        "--encoder-step",
        "ENCODER_STEP",
        read.positive(int),
        5,
        "levels a knob's detent moves, turned slowly (more when spun fast)",
    ),
    Setting(
        "LED_PIN_FACTORY",
        "--pin-factory",
        "LED_PIN_FACTORY",
        str,
        PinFactory.AUTO,
        "auto (pigpio if its daemon answers, else the kernel's hardware PWM, else lgpio, else simulated), "
        "pigpio, kernel, lgpio or mock (docs/boards.md); GPIOZERO_PIN_FACTORY=pigpio|lgpio|mock is "
        "honoured when this is unset",
        choices=tuple(map(str, PinFactory)),
        cli_default=read.factory_from_gpiozero,
    ),
    Setting(
        "PIGPIO_TIMEOUT",
        "--pigpio-timeout",
        "PIGPIO_TIMEOUT",
        read.positive(float),
        1.0,
        "seconds any one call to the pigpio daemon may take; past it the set answers hardware_error "
        "and the service reconnects when the daemon answers again",
    ),
    Setting(
        "INITIAL_LEVEL",
        "--initial-level",
        "INITIAL_LEVEL",
        read.level,
        50,
        "level at start when no level was saved, 0..100",
    ),
    Setting(
        "POWER_ON",
        "--power-on",
        "POWER_ON",
        read.power_on,
        "last",
        "at start: last (as saved, else on at --initial-level), on or off (at the saved brightness), or a level 0..100",
    ),
    Setting(
        "DEFAULT_TRANSITION",
        "--default-transition",
        "DEFAULT_TRANSITION",
        read.seconds,
        0.0,
        "seconds a change fades for when its message gives no transition (the page sends its own)",
    ),
    Setting(
        "BRIGHTNESS_CURVE",
        "--brightness-curve",
        "BRIGHTNESS_CURVE",
        read.curve,
        "cie",
        "level to PWM duty: cie (perceived lightness, CIE 1931), linear, or gamma:G (docs/brightness.md)",
    ),
    Setting(
        "STATE_FILE",
        "--state-file",
        "STATE_FILE",
        Path,
        None,
        "where the level is kept across restarts ($STATE_DIRECTORY/state.json under systemd, "
        "else ~/.local/state/ledsock/state.json; in-process, none unless given)",
        cli_default=lambda environ: state.default_path(environ),
    ),
    Setting(
        "LATITUDE",
        "--latitude",
        "LATITUDE",
        read.degrees(90),
        None,
        "where the lamp is, for sunrise/sunset schedules (degrees north; with --longitude)",
    ),
    Setting(
        "LONGITUDE",
        "--longitude",
        "LONGITUDE",
        read.degrees(180),
        None,
        "where the lamp is, for sunrise/sunset schedules (degrees east; with --latitude)",
    ),
    Setting(
        "WORKER",
        "--worker",
        "WORKER",
        str,
        "gevent",
        "how connections are served: gevent (greenlets) or gthread (one OS thread each); "
        "docs/performance.md compares them",
        choices=WORKERS,
        server=True,
    ),
    Setting(
        "THREADS",
        "--threads",
        "THREADS",
        read.positive(int),
        100,
        "gthread only: connections served at once; each WebSocket holds one thread",
        server=True,
    ),
    Setting(
        "MAX_CLIENTS",
        "--max-clients",
        "MAX_CLIENTS",
        read.positive(int),
        GEVENT_MAX_CLIENTS,
        f"WebSocket clients at once; more get HTTP 503 (default {GEVENT_MAX_CLIENTS} under gevent, "
        "80%% of --threads under gthread)",
        cli_default=lambda environ: None,
    ),
    Setting(
        "SOCK_SERVER_OPTIONS.ping_interval",
        "--ping-interval",
        "PING_INTERVAL",
        read.positive(float),
        25.0,
        "seconds between WebSocket pings; a client that has not answered one by the next is dropped",
    ),
    Setting(
        "SEND_TIMEOUT",
        "--send-timeout",
        "SEND_TIMEOUT",
        read.positive(float),
        10.0,
        "drop a client whose socket takes nothing for this many seconds",
    ),
    Setting(
        "SOCK_SERVER_OPTIONS.max_message_size",
        "--max-message-size",
        "MAX_MESSAGE_SIZE",
        read.positive(int),
        4096,
        "largest WebSocket message in bytes; larger ones close with 1009",
    ),
    Setting(
        "RATE_LIMIT",
        "--rate-limit",
        "RATE_LIMIT",
        read.positive(float),
        100.0,
        "messages' worth of work a second one client (a connection, an MQTT topic family) may cause on "
        "average: a message or request is one, and one more for each further message it makes the "
        "service send back (a command for every light, a watch)",
    ),
    Setting(
        "RATE_BURST",
        "--rate-burst",
        "RATE_BURST",
        read.positive(int),
        200,
        "messages' worth of work one client may cause in a burst",
    ),
    Setting(
        "ALLOWED_ORIGINS",
        "--allowed-origins",
        "ALLOWED_ORIGINS",
        read.names,
        (),
        "comma-separated browser origins besides the service's own, e.g. https://dash.example",
    ),
    Setting(
        "ALLOWED_HOSTS",
        "--allowed-hosts",
        "ALLOWED_HOSTS",
        read.names,
        (),
        "comma-separated host names this service may be reached by, besides IP addresses, localhost, "
        "this machine's name and NAME.local (e.g. a reverse proxy's name); * allows any (unsafe: "
        "DNS rebinding)",
    ),
    # Not a flag: command lines are visible to every user of the machine.
    Setting(
        "LED_TOKEN",
        None,
        "LED_TOKEN",
        str,
        None,
        "when set, /ws and every POST need it (Authorization: Bearer, or ?token= on /ws)",
    ),
    # MQTT (docs/mqtt.md). The URL may hold a password: an environment variable only.
    Setting(
        "MQTT_URL",
        None,
        "MQTT_URL",
        str,
        None,
        "mqtt://[user:pass@]host[:1883] or mqtts://host[:8883]: also join that broker (off when unset)",
    ),
    Setting("MQTT_CA_FILE", "--mqtt-ca-file", "MQTT_CA_FILE", str, None, "CA certificate for mqtts://"),
    Setting(
        "MQTT_DEVICE_ID",
        "--mqtt-device-id",
        "MQTT_DEVICE_ID",
        str,
        None,
        "this lamp's topic name, ledsock/ID/... ([a-z0-9_-]; default: the host name)",
    ),
    Setting(
        "MQTT_GROUP",
        "--mqtt-group",
        "MQTT_GROUP",
        str,
        "all",
        "the fleet's group: ledsock/GROUP/set moves every lamp in it",
    ),
    Setting(
        "MQTT_DISCOVERY",
        "--mqtt-discovery",
        "MQTT_DISCOVERY",
        read.flag,
        True,
        "publish Home Assistant discovery (true or false)",
    ),
    Setting(
        "MAX_PENDING_REPLIES",
        None,
        None,
        int,
        64,
        "replies a client may have waiting before the server stops reading its requests",
    ),
    Setting(
        "SHUTDOWN_GRACE",
        None,
        None,
        float,
        2.0,
        "seconds shutdown waits for clients to answer its close frames before cutting sockets",
    ),
    Setting("LOG_LEVEL", "--log-level", "LOG_LEVEL", str, "info", "", choices=LOG_LEVELS, server=True),
)


def _put(config: dict, key: str, value) -> None:
    outer, _, inner = key.partition(".")
    if inner:
        config[outer] = {**config.get(outer, {}), inner: value}
    else:
        config[outer] = value


def _defaults() -> dict:
    config: dict = {}
    for setting in SETTINGS:
        if not setting.server:
            _put(config, setting.key, setting.default)
    return config


# What create_app starts from; app.config keys, as flaskr's create_app(test_config) takes them.
DEFAULT_CONFIG = _defaults()


def parse_args(argv=None, environ=os.environ) -> argparse.Namespace:
    """Read the flags; each defaults to its environment variable, then to the table."""
    parser = argparse.ArgumentParser(
        prog="ledsock", description="Serve an LED's brightness over a WebSocket (see README.md)."
    )
    for setting in SETTINGS:
        if setting.flag is None:
            continue
        default = environ.get(setting.env) or (setting.cli_default(environ) if setting.cli_default else setting.default)
        if isinstance(default, Path):
            default = str(default)
        shown = "" if default is None else f", default {default}"
        parser.add_argument(
            setting.flag,
            type=setting.type,
            default=default,
            choices=setting.choices,
            help=f"{setting.help} ({setting.env}{shown})".lstrip(),
        )
    args = parser.parse_args(argv)
    if args.max_clients is None:  # derived from the worker: see MAX_CLIENTS's help
        args.max_clients = GEVENT_MAX_CLIENTS if args.worker == "gevent" else max(1, args.threads * 4 // 5)
    if args.worker == "gthread" and args.max_clients >= args.threads:
        parser.error(
            f"--max-clients ({args.max_clients}) must be below --threads ({args.threads}), "
            "so that HTTP requests always find a thread"
        )
    for setting in SETTINGS:
        if setting.env_only:
            setattr(args, setting.dest, environ.get(setting.env) or None)
    return args


def app_config(args: argparse.Namespace) -> dict:
    """The create_app config that the parsed flags and environment-only settings give."""
    config: dict = {}
    for setting in SETTINGS:
        if not setting.server and (setting.flag is not None or setting.env_only):
            _put(config, setting.key, getattr(args, setting.dest))
    return config
