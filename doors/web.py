"""The HTTP edge: the page, the WebSocket at /ws, /healthz, and admission for every route.

A Blueprint (registered by ``app.create_app``) around the lights and the hub it finds
in the app's extensions; the REST twin is :mod:`rest`'s. Both doors that change a
light, /ws and a POST, parse with :mod:`protocol`, act through the light, and map
failures to one error object with :func:`http_edge.error_reply`.
"""
from __future__ import annotations

import hmac
import json
import logging
import os
import threading

from flask import Blueprint, Response, current_app, g, render_template, request
from flask_sock import Sock

import protocol
from doors.admission import host_allowed, origin_allowed, own_host_names, presented_token
from limits.budget import ENVIRON_KEY, Budget
from broadcast.connection import Client, ClientGone, connection_threads
from broadcast.frames import CloseCode
from broadcast.handshake import decline_extensions
from doors.http_edge import json_response, peer, the_hub, the_lights
from limits.loglimit import LogLimiter
from doors.ws_session import Session

log = logging.getLogger(__name__)

web = Blueprint("ledsock", __name__)
sock = Sock()  # routes only: the WebSocket options come from each app's SOCK_SERVER_OPTIONS


@web.record_once
def _allowed_hosts(state):
    """The names each app answers to: its own, and ALLOWED_HOSTS (worked out once, at registration)."""
    listed = {name.strip().lower().rstrip(".") for name in state.app.config["ALLOWED_HOSTS"]}
    state.app.extensions["ledsock_hosts"] = own_host_names() | listed


@web.record_once
def _logs(state):
    """The edge's lines, bounded under a flood: a WebSocket's connect and disconnect (a few a
    period per host and reason), and each refusal (once a period per connection and reason,
    then counted)."""
    state.app.extensions["ledsock_logs"] = {
        "connections": LogLimiter(log, "connects and disconnects"),
        "refusals": LogLimiter(log, "refused requests", lines=1),
    }


def connections_log(app) -> LogLimiter:
    return app.extensions["ledsock_logs"]["connections"]


def refused(reason: str, msg: str, *args) -> None:
    """Log a refusal: once a period for this connection and ``reason``, then counted."""
    current_app.extensions["ledsock_logs"]["refusals"].warning(f"{peer(request.environ)} {reason}", msg, *args)


@web.before_app_request
def admit_host():
    """Refuse a Host this service was not given (DNS rebinding), for every path, reads included."""
    if host_allowed(request.host, current_app.extensions["ledsock_hosts"]):
        return None
    refused("Host", "refused %s %s from %s: Host %s is not this service's (ALLOWED_HOSTS adds names)",
            request.method, request.path, peer(request.environ), request.host)
    return json_response(protocol.error_message(
        protocol.FORBIDDEN_HOST,
        f"this service is not {request.host!r}; reach it by its IP address or name, "
        "or add the name to ALLOWED_HOSTS"), 403)


@web.before_app_request
def admit():
    """Refuse, before any upgrade or change: foreign browser origins, a missing token, a full house.

    An app-wide hook, so that a plain GET of /ws (which is no WebSocket, and matches no
    route) is answered the same: that is how the page and the C# client learn whether
    their token is right, which a browser's failed WebSocket never tells.
    """
    is_ws = request.path == "/ws"
    if not (is_ws or request.method == "POST"):  # every POST changes a light
        return None
    config = current_app.config
    client = peer(request.environ)
    origin = request.headers.get("Origin")
    if origin is not None and not origin_allowed(origin, request.host, config["ALLOWED_ORIGINS"]):
        refused("Origin", "refused %s %s from %s: Origin %s is not allowed", request.method, request.path, client,
                origin)
        return json_response(protocol.error_message(
            protocol.FORBIDDEN_ORIGIN,
            f"pages from {origin} may not use this service; ALLOWED_ORIGINS lists other allowed origins"), 403)
    token = config["LED_TOKEN"] or None
    if token is not None:
        presented = presented_token(request.headers, request.args, allow_query=is_ws)
        if presented is None or not hmac.compare_digest(presented.encode(), token.encode()):
            refused("token", "refused %s %s from %s: %s token", request.method, request.path, client,
                    "no" if presented is None else "wrong")
            refusal = json_response(protocol.error_message(
                protocol.UNAUTHORIZED,
                "this service needs its token: send 'Authorization: Bearer TOKEN'"
                + (" or add ?token=TOKEN to the URL" if is_ws else "")), 401)
            refusal.headers["WWW-Authenticate"] = 'Bearer realm="ledsock"'
            return refusal
    if is_ws and request.headers.get("Upgrade", "").lower() == "websocket":
        try:  # before the upgrade: a bad value is an HTTP 400 a person can read
            g.ledsock_watch = protocol.parse_watch_query(request.args.getlist("watch"))
        except protocol.ProtocolError as exc:
            return json_response(protocol.error_message(exc.code, exc.message), 400)
        hub = the_hub()
        if not hub.reserve_slot():
            refused("full", "refused a WebSocket from %s: all %d client slots are taken", client, hub.max_clients)
            refusal = json_response(protocol.error_message(
                protocol.TOO_MANY_CLIENTS,
                f"the server already has its maximum of {hub.max_clients} WebSocket clients; try again later"), 503)
            refusal.headers["Retry-After"] = "5"
            return refusal
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
    cards = [{"name": light.name, "pin": light.led.pin, "simulated": light.led.simulated,
              "factory": light.led.factory_name, "suffix": "" if light is lights.default else f"-{light.name}"}
             for light in lights]
    page = Response(render_template("index.html", lights=cards, pin=cards[0]["pin"],
                                    token_required=bool(current_app.config["LED_TOKEN"])))
    # Everything the page loads comes from here; its only connection is its own WebSocket.
    host = request.host
    page.headers["Content-Security-Policy"] = (
        f"default-src 'self'; connect-src 'self' ws://{host} wss://{host}; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    page.headers["X-Content-Type-Options"] = "nosniff"
    page.headers["Referrer-Policy"] = "no-referrer"
    return page


@sock.route("/ws", bp=web)
def websocket(ws):
    config = current_app.config
    lights, hub = the_lights(), the_hub()
    client = Client(ws, peer(request.environ), max_pending_replies=config["MAX_PENDING_REPLIES"])
    # The connection's budget: the server's, which its HTTP requests drew on too, or one of its own.
    budget = request.environ.get(ENVIRON_KEY) or Budget(float(config["RATE_LIMIT"]), int(config["RATE_BURST"]))
    session = Session(lights, client, budget, send_timeout=hub.send_timeout)
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
        connections_log(current_app).info(f"{host} {why}", "client %s disconnected: %s (%d clients)", client.peer,
                                          why, count)
        lights.default.changes_log.forget(session.origin)
        client.finish()


@web.get("/healthz")
def healthz():
    lights = the_lights()
    health = lights.default.health()
    health["lights"] = [{"name": light.name, **light.led_health()} for light in lights]
    health.update(clients=len(the_hub()), threads=os_threads(), connection_threads=connection_threads())
    waiting = current_app.extensions.get("ledsock_waiting")  # the server's (serve.py), when it has one
    if waiting is not None:
        health.update(http_waiting=len(waiting), http_closed_waiting=waiting.closed)
    bridge = current_app.extensions.get("ledsock_mqtt")
    if bridge is not None:
        health.update(bridge.health())
    return json_response(json.dumps(health, separators=(",", ":")))


@web.app_errorhandler(400)
def bad_request(error):
    if request.path == "/ws":  # admitted (a good token, or none needed), but no upgrade
        message = "/ws is a WebSocket: open it with a WebSocket client (ws:// or wss://)"
    else:
        message = getattr(error, "description", None) or "bad request"
    return json_response(protocol.error_message(protocol.INVALID_MESSAGE, message), 400)


@web.app_errorhandler(404)
def not_found(_error):
    return json_response(protocol.error_message(
        protocol.NOT_FOUND, f"no {request.path} here: the service has /, /ws, /led, /lights, /schedules and /healthz"), 404)


@web.app_errorhandler(405)
def method_not_allowed(error):
    allowed = ", ".join(sorted(getattr(error, "valid_methods", None) or ()))
    response = json_response(protocol.error_message(
        protocol.METHOD_NOT_ALLOWED, f"{request.method} is not allowed on {request.path}; use {allowed}"), 405)
    response.headers["Allow"] = allowed
    return response


@web.app_errorhandler(413)
def too_large(_error):
    return json_response(protocol.error_message(
        protocol.INVALID_MESSAGE, f"request body over {current_app.config['MAX_CONTENT_LENGTH']} bytes"), 413)


def os_threads() -> int:
    """The process's OS threads (under gevent, threading also counts greenlets)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()
