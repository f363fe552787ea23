"""The HTTP edge: the page, the WebSocket at /ws, /healthz, and admission for every route.

A Blueprint (registered by ``app.create_app``) around the lights and the hub it finds
in the app's extensions; the REST twin is :mod:`rest`'s. Both doors that change a
light, /ws and a POST, parse with :mod:`protocol`, act through the light, and map
failures to one error object with :func:`http_edge.error_reply`.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading

from flask import Blueprint, Response, current_app, g, render_template, request
from flask_sock import Sock

import protocol
from broadcast.connection import Client, ClientGone, connection_threads
from broadcast.frames import CloseCode
from broadcast.handshake import decline_extensions
from curves import colour
from doors.admission import host_allowed, origin_allowed, own_host_names, presented_token
from doors.http_edge import json_response, peer, service, the_hub, the_lights
from doors.ws_session import Session
from lamp import light_report
from limits.budget import ENVIRON_KEY, Budget
from limits.loglimit import LogLimiter

log = logging.getLogger(__name__)

web = Blueprint("ledsock", __name__)
sock = Sock()  # routes only: the WebSocket options come from each app's SOCK_SERVER_OPTIONS


@web.record_once
def _allowed_hosts(state):
    """The names each app answers to: its own, and ALLOWED_HOSTS (worked out once, at registration)."""
    listed = {name.strip().lower().rstrip(".") for name in state.app.config["ALLOWED_HOSTS"]}
    service(state.app).hosts = own_host_names() | listed


@web.record_once
def _logs(state):
    """The edge's lines, bounded under a flood: a WebSocket's connect and disconnect (a few a
    period per host and reason), and each refusal (once a period per connection and reason,
    then counted)."""
    service(state.app).logs = {
        "connections": LogLimiter(log, "connects and disconnects"),
        "refusals": LogLimiter(log, "refused requests", lines=1),
    }


def connections_log(app) -> LogLimiter:
    return service(app).logs["connections"]


def refuse(
    status: int, code: str, message: str, *, headers: dict[str, str] | None = None, logged: tuple | None = None
) -> Response:
    """The answer to a request refused at the edge: the HTTP status, the protocol's error object,
    ``headers``. ``logged`` is (reason, line, *args): the line is logged once a period for this
    connection and reason, then counted (a flood of refusals costs the log one line)."""
    if logged is not None:
        reason, line, *args = logged
        service().logs["refusals"].warning(f"{peer(request.environ)} {reason}", line, *args)
    answer = json_response(protocol.error_message(code, message), status)
    answer.headers.update(headers or {})
    return answer


@web.before_app_request
def admit_host():
    """Refuse a Host this service was not given (DNS rebinding), for every path, reads included."""
    if host_allowed(request.host, service().hosts):
        return None
    return refuse(
        403,
        protocol.FORBIDDEN_HOST,
        f"this service is not {request.host!r}; reach it by its IP address or name, or add the name to ALLOWED_HOSTS",
        logged=(
            "Host",
            "refused %s %s from %s: Host %s is not this service's (ALLOWED_HOSTS adds names)",
            request.method,
            request.path,
            peer(request.environ),
            request.host,
        ),
    )


@web.before_app_request
def admit():
    """Refuse, before any upgrade or change: foreign browser origins, a missing token, a full house.

    An app-wide hook, so that a plain GET of /ws (which is no WebSocket, and matches no
    route) is answered the same: that is how the page and the C# client learn whether
    their token is right, which a browser's failed WebSocket never tells.
    """
    is_ws = request.path == "/ws"
    if not is_ws and request.method in ("GET", "HEAD", "OPTIONS"):  # every other method changes something
        return None
    config = current_app.config
    client = peer(request.environ)
    origin = request.headers.get("Origin")
    if origin is not None and not origin_allowed(origin, request.host, config["ALLOWED_ORIGINS"]):
        return refuse(
            403,
            protocol.FORBIDDEN_ORIGIN,
            f"pages from {origin} may not use this service; ALLOWED_ORIGINS lists other allowed origins",
            logged=(
                "Origin",
                "refused %s %s from %s: Origin %s is not allowed",
                request.method,
                request.path,
                client,
                origin,
            ),
        )
    token = config["LED_TOKEN"] or None
    if token is not None:
        presented = presented_token(request.headers, request.args, allow_query=is_ws)
        if presented is None or not hmac.compare_digest(presented.encode(), token.encode()):
            return refuse(
                401,
                protocol.UNAUTHORIZED,
                "this service needs its token: send 'Authorization: Bearer "
                "TOKEN'" + (" or add ?token=TOKEN to the URL" if is_ws else ""),
                headers={"WWW-Authenticate": 'Bearer realm="ledsock"'},
                logged=(
                    "token",
                    "refused %s %s from %s: %s token",
                    request.method,
                    request.path,
                    client,
                    "no" if presented is None else "wrong",
                ),
            )
    if is_ws and request.headers.get("Upgrade", "").lower() == "websocket":
        try:  # before the upgrade: a bad value is an HTTP 400 a person can read
            g.ledsock_watch = protocol.parse_watch_query(request.args.getlist("watch"))
        except protocol.ProtocolError as exc:
            return refuse(400, exc.code, exc.message)
        hub = the_hub()
        if not hub.reserve_slot():
            return refuse(
                503,
                protocol.TOO_MANY_CLIENTS,
                f"the server already has its maximum of {hub.max_clients} WebSocket clients; try again later",
                headers={"Retry-After": "5"},
                logged=("full", "refused a WebSocket from %s: all %d client slots are taken", client, hub.max_clients),
            )
        g.ledsock_slot = True
        decline_extensions(request.environ)
    return None


@web.teardown_app_request
def release_slot(_error):
    if g.pop("ledsock_slot", False):
        the_hub().release_slot()


@web.get("/")
def index():
    lights = the_lights()
    cards = [
        {
            "name": light.name,
            "pin": light.led.pin,
            "pins": "/".join(map(str, light.led.pins)),
            "simulated": light.led.simulated,
            "factory": light.led.factory_name,
            "suffix": "" if light is lights.default else f"-{light.name}",
            "kind": str(light.channels.kind),
            "kelvin_range": light.channels.kelvin_range,
            "whites": _whites(light.channels.kelvin_range),
        }
        for light in lights
    ]
    page = Response(
        render_template(
            "index.html", lights=cards, pin=cards[0]["pin"], token_required=bool(current_app.config["LED_TOKEN"])
        )
    )
    # Everything the page loads comes from here; its only connection is its own WebSocket.
    host = request.host
    page.headers["Content-Security-Policy"] = (
        f"default-src 'self'; connect-src 'self' ws://{host} wss://{host}; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    page.headers["X-Content-Type-Options"] = "nosniff"
    page.headers["Referrer-Policy"] = "no-referrer"
    return page


WHITE_STEP = 100  # kelvin between two whites of the page's table


def _whites(kelvin_range: tuple[int, int] | None) -> str:
    """The page's table of whites, ``KELVIN:#rrggbb,...`` every WHITE_STEP K across a colour
    light's range (empty for a single channel): the colours of a CCT slider's track and of
    the picture's glow, as the black body's at full brightness. The page reads it; the
    arithmetic stays here."""
    if kelvin_range is None:
        return ""
    low, high = kelvin_range
    kelvins = [*range(low, high, WHITE_STEP), high]
    return ",".join(f"{kelvin}:{colour.linear_to_hex(colour.at_full(colour.blackbody(kelvin)))}" for kelvin in kelvins)


@sock.route("/ws", bp=web)
def websocket(ws):
    config = current_app.config
    lights, hub = the_lights(), the_hub()
    client = Client(ws, peer(request.environ), max_pending_replies=config["MAX_PENDING_REPLIES"])
    # The connection's budget: the server's, which its HTTP requests drew on too, or one of its own.
    budget = request.environ.get(ENVIRON_KEY) or Budget(float(config["RATE_LIMIT"]), int(config["RATE_BURST"]))
    session = Session(lights, client, budget, send_timeout=hub.send_timeout, scenes=service().scenes)
    count = session.greet(hub, g.pop("ledsock_watch", frozenset()))
    host = client.peer.rpartition(":")[0] or client.peer
    connections_log(current_app).info(f"{host} connected", "client %s connected (%d clients)", client.peer, count)
    why = "client closed"
    try:
        while True:
            message = client.receive()  # the hub's keep-alive cuts off a client gone silent
            if not client.wait_for_room(hub.send_timeout):
                client.disconnect(f"not reading its replies for over {hub.send_timeout:g} s")
                break
            session.handle(message)
    except ClientGone as gone:
        if gone.code is None:
            why = "the connection ended without a close frame"
        elif gone.code not in (CloseCode.NORMAL, CloseCode.NO_STATUS):
            why = f"closed with code {gone.code}"
    finally:
        count = hub.remove(client)
        why = client.dropped or why
        connections_log(current_app).info(
            f"{host} {why}", "client %s disconnected: %s (%d clients)", client.peer, why, count
        )
        lights.default.changes_log.forget(session.origin)
        client.finish()


@web.get("/healthz")
def healthz():
    lights = the_lights()
    health = light_report.health(lights.default)
    health["lights"] = [{"name": light.name, **light_report.led_health(light)} for light in lights]
    health.update(
        clients=len(the_hub()), threads=os_threads(), connection_threads=connection_threads(), version=service().version
    )
    shared = service()
    if shared.waiting is not None:  # the server's (serve.py), when it has one
        health.update(http_waiting=len(shared.waiting), http_closed_waiting=shared.waiting.closed)
    if shared.bridge is not None:
        health.update(shared.bridge.health())
    if shared.hands is not None:
        health["inputs"] = shared.hands.health()
    return json_response(protocol.to_json(health))


@web.app_errorhandler(400)
def bad_request(error):
    if request.path == "/ws":  # admitted (a good token, or none needed), but no upgrade
        message = "/ws is a WebSocket: open it with a WebSocket client (ws:// or wss://)"
    else:
        message = getattr(error, "description", None) or "bad request"
    return refuse(400, protocol.INVALID_MESSAGE, message)


@web.app_errorhandler(404)
def not_found(_error):
    return refuse(
        404,
        protocol.NOT_FOUND,
        f"no {request.path} here: the service has /, /ws, /led, /lights, /schedules and /healthz",
    )


@web.app_errorhandler(405)
def method_not_allowed(error):
    allowed = ", ".join(sorted(getattr(error, "valid_methods", None) or ()))
    return refuse(
        405,
        protocol.METHOD_NOT_ALLOWED,
        f"{request.method} is not allowed on {request.path}; use {allowed}",
        headers={"Allow": allowed},
    )


@web.app_errorhandler(413)
def too_large(_error):
    return refuse(413, protocol.INVALID_MESSAGE, f"request body over {current_app.config['MAX_CONTENT_LENGTH']} bytes")


def os_threads() -> int:
    """The process's OS threads (under gevent, threading also counts greenlets)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()
