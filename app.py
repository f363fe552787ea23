"""ledsock: set an LED's brightness over a native WebSocket and keep every client in sync.

This module wires the parts together. ``create_app`` builds the Flask app around the lights
(:class:`lamp.lights.Lights`, transport-free, one per ``LIGHTS`` entry) and one
:class:`broadcast.hub.Hub` (the WebSocket clients), with the routes of :mod:`doors.web` and
:mod:`doors.rest`, and the MQTT bridge with ``MQTT_URL``. ``main`` is what ``make run`` starts:
it reads :mod:`serving.settings`, picks each light's pin factory, and serves
(:mod:`serving.serve`).
"""

from __future__ import annotations

import logging
import socket
import sys
from typing import TYPE_CHECKING

import protocol
from boards.input_factory import choose_input_factory, make_input_factory
from boards.pins import PinFactory, PinFactoryUnavailable, choose_pin_factories, import_before_serving
from broadcast.handshake import SERVER_OPTIONS
from broadcast.hub import Hub
from curves.brightness import parse_curve
from curves.looks import LightKind, channels_for
from lamp import state, timers
from lamp.input_specs import InputSpec, check_inputs, parse_buttons, parse_encoders
from lamp.light import Light, new_changes_log
from lamp.light_specs import LightSpec, parse_lights
from lamp.lights import Lights
from lamp.scenes import Scenes
from lamp.schedules import Schedules
from led import HardwareError, open_led
from serving import settings
from serving.inbox import Inbox
from serving.serve import configure_logging, off_the_event_loop, serve, with_deadline
from serving.version import service_version

# Flask and the WebSocket stack are imported where the app is built, not here: under
# gevent the app is built after the monkey-patching, and under --worker gthread main()
# runs in gunicorn's master, which only supervises the worker and needs none of them.
if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)

DEFAULT_CONFIG = settings.DEFAULT_CONFIG


def create_app(config=None, led=None) -> Flask:
    """Build the service around ``led`` (opened from the config when not given)."""
    from flask import Flask

    from doors.http_edge import EXTENSION, Service
    from doors.rest import rest
    from doors.web import web

    app = Flask(__name__)
    app.config.from_mapping(DEFAULT_CONFIG)
    if config:
        app.config.from_mapping(config)
    # flask-sock passes SOCK_SERVER_OPTIONS to simple-websocket on every connection. The
    # hub pings every client from one loop, so ping_interval is kept from simple-websocket,
    # whose own pinging keeps a selector per connection.
    options = app.config["SOCK_SERVER_OPTIONS"] = dict(app.config["SOCK_SERVER_OPTIONS"])
    ping_interval = options.pop("ping_interval", DEFAULT_CONFIG["SOCK_SERVER_OPTIONS"]["ping_interval"])
    options.update(SERVER_OPTIONS)  # the handler reads its own frames: no reader thread
    if app.config.get("MAX_CONTENT_LENGTH") is None:  # REST bodies get the WebSocket's limit
        app.config["MAX_CONTENT_LENGTH"] = options.get("max_message_size") or 4096

    specs = app.config.get("LIGHTS") or (LightSpec(protocol.DEFAULT_LIGHT_NAME, int(app.config["LED_PIN"])),)
    if isinstance(specs, str):
        specs = app.config["LIGHTS"] = parse_lights(specs)
    state_file = (
        state.StateFile(app.config["STATE_FILE"], run_blocking=off_the_event_loop, default_light=specs[0].name)
        if app.config["STATE_FILE"]
        else None
    )
    if state_file is not None:
        state_file.load()
    scheduler = timers.Scheduler()
    location = None
    if app.config.get("LATITUDE") is not None and app.config.get("LONGITUDE") is not None:
        location = (float(app.config["LATITUDE"]), float(app.config["LONGITUDE"]))
    to_open = {spec.name: spec.pins or spec.pin for spec in specs if led is None or spec is not specs[0]}
    factories = app.config.get("LED_PIN_FACTORIES") or choose_pin_factories(
        to_open, app.config["LED_PIN_FACTORY"], timeout=float(app.config["PIGPIO_TIMEOUT"])
    )
    opened = []
    changes_log = new_changes_log()  # one for every light: a client's changes of all of them count together
    try:
        for spec in specs:
            opened.append(
                _light(
                    app.config,
                    spec,
                    led if spec.name not in to_open else None,
                    factories.get(spec.name),
                    state_file,
                    scheduler,
                    location,
                    changes_log,
                )
            )
    except Exception:
        for light in opened:
            light.release()
        raise
    lights = Lights(opened)
    hub = Hub(
        send_timeout=float(app.config["SEND_TIMEOUT"]),
        ping_interval=float("inf") if ping_interval is None else float(ping_interval),
        max_clients=int(app.config["MAX_CLIENTS"]),
    )
    for light in lights:
        _broadcast(light, hub, is_default=light is lights.default)
    scenes = Scenes(lights, state_file=state_file)
    if state_file is not None:
        scenes.load(state_file.saved_scenes)
    for light in lights:
        if light.schedules is not None:
            light.schedules.recall = scenes.execute  # a schedule may recall a scene
    scenes.add_listener(  # to the clients that watch the scenes, but the one that asked
        lambda news, requester: hub.broadcast_news(
            ("scene", news.name), protocol.reply_message(news), skip=requester, scenes=True
        )
    )
    shared = app.extensions[EXTENSION] = Service(lights, hub, scenes, version=service_version())
    if app.config.get("MQTT_URL"):
        shared.bridge = _start_mqtt(app.config, lights, scenes)
        scenes.add_listener(shared.bridge.scene_changed)  # each scene an entity of the lamp in Home Assistant
    inputs = _inputs(app.config, specs)
    if inputs:
        shared.hands = _start_hands(app.config, inputs, lights, scenes)
    app.register_blueprint(web)
    app.register_blueprint(rest)
    return app


def _broadcast(light: Light, hub: Hub, *, is_default: bool) -> None:
    """Every change of ``light``, from any door, to every WebSocket client that sees that light
    but the one that asked; the default light's to v1 clients as v1 has it. Its schedules' news
    likewise, to the clients that watch them."""

    def state_changed(new: protocol.State, requester: object) -> None:
        hub.broadcast_state(
            new.light,
            protocol.state_message(new) if is_default else None,
            lambda: protocol.state_message(new, named=True),
            skip=requester,
        )

    def schedule_changed(news: protocol.ScheduleInfo | protocol.ScheduleDeleted, requester: object) -> None:
        hub.broadcast_news(
            (news.light, news.name),
            protocol.reply_message(news) if is_default else None,
            lambda: protocol.reply_message(news, named=True),
            skip=requester,
        )

    light.add_listener(state_changed)
    if light.schedules is not None:
        light.schedules.add_listener(schedule_changed)


def _light(config, spec: LightSpec, led, factory: str | None, state_file, scheduler, location, changes_log) -> Light:
    """One light of the service: its LED (opened on its pin with ``factory`` unless given), its
    state as saved, its schedules. Logs one line saying where it is and how it starts."""
    if led is None:
        curve = parse_curve(config["BRIGHTNESS_CURVE"])
        led = open_led(
            spec.every_pin,
            pin_factory=factory or PinFactory.MOCK,  # main() chose one for each light it opens
            timeout=float(config["PIGPIO_TIMEOUT"]),
            curve=curve,
            channels=channels_for(spec.kind, curve, spec.white_range()),
            active_high=spec.active_high,
            with_deadline=with_deadline,
        )
    record = state_file.record(spec.name) if state_file is not None else None
    saved = record.saved() if record is not None else None
    tone = record.saved_tone() if record is not None else None
    brightness, on = state.power_on_state(config["POWER_ON"], config["INITIAL_LEVEL"], saved)
    log_prefix = f"{spec.name}: " if len(config.get("LIGHTS") or ()) > 1 else ""  # several lights: say whose
    if saved:
        log.info(
            "%srestoring level %d (brightness %s, %s) from %s",
            log_prefix,
            saved[0] if saved[1] else 0,
            saved[0],
            "on" if saved[1] else "off",
            state_file.path,
        )
    try:
        light = Light(
            led,
            name=spec.name,
            brightness=brightness,
            on=on,
            tone=tone,
            state_file=record,
            log_prefix=log_prefix,
            default_transition=float(config["DEFAULT_TRANSITION"]),
            scheduler=scheduler,
            changes_log=changes_log,
        )
    except Exception:
        led.close()
        raise
    light.schedules = Schedules(
        light, scheduler, state_file=record, location=location, timezone=timers.local_timezone()
    )
    if record is not None and record.saved_schedules:
        light.schedules.load(record.saved_schedules)
    effect = record.saved_effect() if record is not None else None
    if effect and on and state.parse_power_on(config["POWER_ON"]) == "last":  # it ran when the service stopped
        try:
            light.execute(protocol.parse_message(effect), origin="the state file")
        except (protocol.ProtocolError, HardwareError) as exc:
            log.warning(
                "%sthe saved effect %s was not started again: %s",
                light.log_prefix,
                effect,
                getattr(exc, "message", exc),
            )
    shown = light.state()
    log.info(
        "%s on %s via %s%s, level %d (brightness %d, %s%s), %s curve",
        f"{'' if spec.kind is LightKind.SINGLE else f'{spec.kind} '}light {spec.name!r}"
        if config.get("LIGHTS")
        else "LED",
        led.pin_names,
        led.factory_name,
        " (SIMULATED)" if led.simulated else "",
        shown.level,
        brightness,
        "on" if on else "off",
        f", {shown.color or f'{shown.kelvin} K'}" if shown.color or shown.kelvin else "",
        led.curve,
    )
    return light


def _inputs(config, lights: tuple[LightSpec, ...]) -> tuple[InputSpec, ...]:
    """BUTTONS and ENCODERS (parsed when given as text), each checked against the lights."""
    buttons, encoders = config.get("BUTTONS") or (), config.get("ENCODERS") or ()
    if isinstance(buttons, str):
        buttons = parse_buttons(buttons)
    if isinstance(encoders, str):
        encoders = parse_encoders(encoders)
    return check_inputs((*buttons, *encoders), lights)


def _start_hands(config, inputs: tuple[InputSpec, ...], lights: Lights, scenes: Scenes):
    """The inputs' door: their pins on the factory that reads them, and its reader on the loop."""
    from doors.hands import Hands, describe

    timeout = float(config["PIGPIO_TIMEOUT"])
    name = config.get("INPUT_PIN_FACTORY") or choose_input_factory(config["LED_PIN_FACTORY"], timeout=timeout)
    factory = make_input_factory(name, timeout=timeout, pins=tuple(pin for spec in inputs for pin in spec.pins))
    hands = Hands(inputs, lights, factory, name, Inbox(), step=int(config["ENCODER_STEP"]), scenes=scenes)
    hands.start()
    log.info("inputs: %s", describe(inputs, name))
    return hands


def _start_mqtt(config, lights, scenes):
    """The MQTT bridge, when MQTT_URL is set (paho-mqtt is imported only then)."""
    from doors import mqtt_bridge, mqtt_topics

    broker = mqtt_topics.BrokerAddress.parse(config["MQTT_URL"])
    device_id = mqtt_topics.check_topic_name(
        config.get("MQTT_DEVICE_ID") or mqtt_topics.default_device_id(), "MQTT_DEVICE_ID"
    )
    bridge = mqtt_bridge.MqttBridge(
        lights,
        broker,
        device_id=device_id,
        group=mqtt_topics.check_topic_name(config["MQTT_GROUP"], "MQTT_GROUP"),
        discovery=bool(config["MQTT_DISCOVERY"]),
        ca_file=config.get("MQTT_CA_FILE"),
        page_url=config.get("PAGE_URL") or "",
        rate=float(config["RATE_LIMIT"]),
        burst=int(config["RATE_BURST"]),
        sw_version=service_version(),
        scenes=scenes,
    )
    bridge.start()
    return bridge


def shutdown(app: Flask, grace: float | None = None) -> None:
    """Freeze the light, close every WebSocket with 1001, and wait for the clients to answer.

    Only the first call acts; ``grace`` defaults to SHUTDOWN_GRACE.
    """
    from doors.http_edge import service

    shared = service(app)
    shared.lights.stop_changes()
    hub = shared.hub
    if hub.close_all():
        hub.wait_closed(app.config["SHUTDOWN_GRACE"] if grace is None else grace)


def release(app: Flask) -> None:
    """The worker is exiting: end the keep-alive and release the GPIO."""
    from doors.http_edge import service

    shared = service(app)
    lights = shared.lights
    shutdown(app, grace=0.5)  # when no signal came first
    shared.hub.stop()
    if shared.bridge is not None:
        shared.bridge.stop()  # retained "offline": a clean stop, not a death
    if shared.hands is not None:
        shared.hands.close()
    lights.default.scheduler.stop()
    lights.release()
    log.info("%s released", ", ".join(light.led.pin_names for light in lights))


def main(argv=None) -> int:
    args = settings.parse_args(argv)
    configure_logging(args.log_level)
    specs = args.lights or (LightSpec(protocol.DEFAULT_LIGHT_NAME, args.pin),)
    try:  # each light's pins get the factory that drives them here
        factories = choose_pin_factories(
            {spec.name: spec.pins or spec.pin for spec in specs}, args.pin_factory, timeout=args.pigpio_timeout
        )
    except PinFactoryUnavailable as exc:
        named = {spec.name: spec for spec in specs}
        log.error("%s%s", f"light {exc.light!r} on {named[exc.light].pin_names}: " if args.lights else "", exc)
        return 2
    inputs = (*(args.buttons or ()), *(args.encoders or ()))
    try:  # the inputs, each for a light and on a pin of its own, and the factory that reads them
        check_inputs(inputs, specs)
        input_factory = choose_input_factory(args.pin_factory, timeout=args.pigpio_timeout) if inputs else None
    except (ValueError, PinFactoryUnavailable) as exc:
        log.error("%s%s", "the inputs: " if isinstance(exc, PinFactoryUnavailable) else "", exc)
        return 2
    # lgpio must be imported before serving starts (gevent's patching): its thread would stop the loop.
    import_before_serving({*factories.values(), input_factory})
    config = settings.app_config(args)
    config["LED_PIN_FACTORIES"] = factories  # resolved once, here: auto's probes are not run again
    config["INPUT_PIN_FACTORY"] = input_factory
    host = socket.gethostname() if args.host in ("0.0.0.0", "::") else args.host
    config["PAGE_URL"] = f"http://{f'[{host}]' if ':' in host else host}:{args.port}/"
    log.info(
        "ledsock %s on http://%s:%d/ (WebSocket /ws), up to %d WebSocket clients, %s worker, %s",
        service_version(),
        args.host,
        args.port,
        args.max_clients,
        args.worker,
        "token required" if args.led_token else "no token",
    )
    if args.mqtt_url:
        from doors.mqtt_topics import BrokerAddress  # pure: paho is imported with the app only

        try:  # a bad MQTT_URL stops the start here, with one clear line, before serving
            log.info("MQTT bridge to %s", BrokerAddress.parse(args.mqtt_url))
        except ValueError as exc:
            log.error("%s", exc)
            return 2
    serve(args, lambda: create_app(config), shutdown=shutdown, release=release)
    return 0


if __name__ == "__main__":
    import app as _app  # run under the module's own name, so its logger is "app"

    sys.exit(_app.main())
