"""What every HTTP route shares: the app's shared objects (its :class:`Service`), JSON
responses, and the client's name in the log.

The page and WebSocket (:mod:`doors.web`) and the REST twin (:mod:`doors.rest`) are
Blueprints of their own; both answer through these (and :mod:`doors.answers`), so a refusal
reads the same at every door.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, current_app

from broadcast.hub import Hub
from lamp.light import Light
from lamp.lights import Lights
from lamp.scenes import Scenes
from limits.loglimit import LogLimiter

EXTENSION = "ledsock"  # the key of the app's extensions that holds its Service


@dataclass
class Service:
    """The app's shared objects, kept as one Flask extension (``app.extensions["ledsock"]``),
    the way flask-sock keeps its ``Sock``: the lights, the WebSocket hub, the service's version,
    the MQTT bridge (with
    MQTT_URL), the server's waiting room (under the gevent server, which sets it), the host
    names the service answers to and the edge's logs (set when :mod:`web` is registered)."""

    lights: Lights
    hub: Hub
    scenes: Scenes
    version: str = "unknown"  # serving.version.service_version()
    bridge: Any = None  # doors.mqtt_bridge.MqttBridge
    hands: Any = None  # doors.hands.Hands, with BUTTONS or ENCODERS
    waiting: Any = None  # serving.http_guard.WaitingRoom
    hosts: frozenset[str] = frozenset()
    logs: dict[str, LogLimiter] = field(default_factory=dict)


def service(app: Flask | None = None) -> Service:
    """The Service of ``app`` (the current one when None)."""
    return (app or current_app).extensions[EXTENSION]


def the_lights() -> Lights:
    return service().lights


def the_scenes() -> Scenes:
    return service().scenes


def the_light() -> Light:
    """The default light."""
    return service().lights.default


def the_hub() -> Hub:
    return service().hub


def peer(environ) -> str:
    host = environ.get("REMOTE_ADDR", "?")
    port = environ.get("REMOTE_PORT")
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}" if port else host


def json_response(text: str, status: int = 200) -> Response:
    return Response(text + "\n", status=status, mimetype="application/json")
