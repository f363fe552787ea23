"""What every HTTP route shares: the app's lights and hub, JSON responses, the error reply
for a rejected request, and the client's name in the log.

The page and WebSocket (:mod:`web`) and the REST twin (:mod:`rest`) are Blueprints of
their own; both answer through these, so a refusal reads the same at every door.
"""
from __future__ import annotations

from flask import Response, current_app

import protocol
from broadcast.hub import Hub
from led import HardwareError
from lamp.light import Light
from lamp.lights import Lights


def the_lights() -> Lights:
    return current_app.extensions["ledsock_lights"]


def the_light() -> Light:
    """The default light."""
    return current_app.extensions["ledsock"]


def the_hub() -> Hub:
    return current_app.extensions["ledsock_hub"]


def error_reply(exc: Exception, request_id: protocol.RequestId = None) -> tuple[str, int]:
    """The error object and HTTP status for a rejected request, the same at every door."""
    if isinstance(exc, HardwareError):
        return protocol.hardware_error_message(exc, request_id), 503
    if isinstance(exc, protocol.ProtocolError):
        status = 404 if exc.code == protocol.UNKNOWN_LIGHT else 400
        return protocol.error_message(exc.code, exc.message, request_id), status
    raise TypeError(f"no error reply for {type(exc).__name__}") from exc


def peer(environ) -> str:
    host = environ.get("REMOTE_ADDR", "?")
    port = environ.get("REMOTE_PORT")
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}" if port else host


def json_response(text: str, status: int = 200) -> Response:
    return Response(text + "\n", status=status, mimetype="application/json")
