"""The HTTP edge: the page, the WebSocket at /ws, the REST twin at /led, /healthz, and admission.

A Blueprint (registered by ``app.create_app``) around the light and the hub it finds
in the app's extensions. Both doors that change the light, /ws and POST /led, parse
with :mod:`protocol`, act through the light, and map failures to one error object
with :func:`error_reply`.
"""
from __future__ import annotations

import hmac
import json
import logging
import os
import threading
import time
from urllib.parse import parse_qs

from flask import Blueprint, Response, current_app, g, render_template, request
from flask_sock import Sock
from werkzeug.exceptions import HTTPException

import protocol
from admission import host_allowed, origin_allowed, own_host_names, presented_token
from connection import Client, ClientGone, connection_threads
from frames import CloseCode
from handshake import decline_extensions
from hub import Hub
from led import HardwareError
from light import Light

log = logging.getLogger(__name__)

web = Blueprint("ledsock", __name__)
sock = Sock()  # routes only: the WebSocket options come from each app's SOCK_SERVER_OPTIONS


def the_light() -> Light:
    return current_app.extensions["ledsock"]


def the_hub() -> Hub:
    return current_app.extensions["ledsock_hub"]


def error_reply(exc: Exception, request_id: protocol.RequestId = None) -> tuple[str, int]:
    """The error object and HTTP status for a rejected request, the same at every door."""
    if isinstance(exc, HardwareError):
        return protocol.hardware_error_message(exc, request_id), 503
    if isinstance(exc, protocol.ProtocolError):
        return protocol.error_message(exc.code, exc.message, request_id), 400
    raise TypeError(f"no error reply for {type(exc).__name__}") from exc


class RateLimit:
    """A token bucket: ``rate`` messages a second on average, bursts of up to ``burst``."""

    __slots__ = ("rate", "burst", "_tokens", "_stamp")

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, burst
        self._tokens = float(burst)
        self._stamp = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


def peer(environ) -> str:
    host = environ.get("REMOTE_ADDR", "?")
    port = environ.get("REMOTE_PORT")
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}" if port else host


def json_response(text: str, status: int = 200) -> Response:
    return Response(text + "\n", status=status, mimetype="application/json")


def rest_state(state: protocol.State, shown: float | None = None) -> str:
    """The REST body: the state's fields (as on the WebSocket, without "type"), and on
    GET the level the LED shows at this instant."""
    fields = protocol.state_fields(state)
    if shown is not None:
        fields["shown"] = round(shown, 2)
    return json.dumps(fields, separators=(",", ":"))


FORM_FIELDS = ("level", "on", "step", "transition")


def command_from_post(req) -> protocol.Command:
    """Read ``POST /led``: the form fields level, on, step and transition, or a JSON body.

    The body is read once, as text: ``curl -d '{"level": 5}'`` labels JSON as a form,
    and Flask's form parser would consume it before it could be read as JSON. A form
    is turned into the JSON message it stands for, so both follow the same rules.
    """
    if req.mimetype == "multipart/form-data":
        given = list(req.form)
        fields = {name: req.form.getlist(name) for name in FORM_FIELDS if name in req.form}
        if not fields:
            raise _no_accepted_field(given)
    else:
        body = req.get_data(as_text=True)
        fields = {}
        if not body.strip():
            hint = (f" (the URL's ?{'&'.join(req.args)} is not read: send it as the body, -d "
                    f"{next(iter(req.args))}=...)" if req.args else "")
            raise protocol.ProtocolError(protocol.INVALID_MESSAGE, f"POST /led needs a body{hint}: form fields "
                                         f"{', '.join(FORM_FIELDS)} (e.g. level=80), or JSON such as {{\"level\": 80}}")
        if req.mimetype == "application/x-www-form-urlencoded" and not body.lstrip().startswith(("{", "[")) \
                and "=" in body:
            given = list(parse_qs(body, keep_blank_values=True))
            fields = {name: values for name, values in parse_qs(body, keep_blank_values=True).items()
                      if name in FORM_FIELDS}
            if not fields:
                raise _no_accepted_field(given)
        if not fields:
            command = protocol.parse_command(body)
            if not isinstance(command, protocol.LightCommand):
                raise protocol.ProtocolError(
                    protocol.INVALID_MESSAGE,
                    "POST /led takes {\"level\": N}, {\"on\": true|false}, {\"step\": N}, {\"type\": \"sleep\", \"after\": S} or "
                    "{\"type\": \"toggle\"}, or the same as form fields")
            return command
    return protocol.parse_command(json.dumps({name: _form_value(name, values[-1]) for name, values in fields.items()}))


def _no_accepted_field(given: list[str]) -> protocol.ProtocolError:
    shown = ", ".join(repr(name[:20]) for name in given[:5]) or "none"
    return protocol.ProtocolError(protocol.INVALID_MESSAGE, f"POST /led takes the form fields {', '.join(FORM_FIELDS)} "
                                  f"(or a JSON body); got {shown}")


def _form_value(name: str, text: str):
    """A form field as its JSON value: on=true|false, transition as a number, the rest as text."""
    if name == "on":
        return {"true": True, "false": False, "1": True, "0": False}.get(text.strip().lower(), text)
    if name == "transition":
        try:
            return float(text)
        except ValueError:
            return text
    return text


@web.record_once
def _allowed_hosts(state):
    """The names each app answers to: its own, and ALLOWED_HOSTS (worked out once, at registration)."""
    listed = {name.strip().lower().rstrip(".") for name in state.app.config["ALLOWED_HOSTS"]}
    state.app.extensions["ledsock_hosts"] = own_host_names() | listed


@web.before_app_request
def admit_host():
    """Refuse a Host this service was not given (DNS rebinding), for every path, reads included."""
    if host_allowed(request.host, current_app.extensions["ledsock_hosts"]):
        return None
    log.warning("refused %s %s from %s: Host %s is not this service's (ALLOWED_HOSTS adds names)",
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
    if not (is_ws or (request.path == "/led" and request.method == "POST")):
        return None
    config = current_app.config
    client = peer(request.environ)
    origin = request.headers.get("Origin")
    if origin is not None and not origin_allowed(origin, request.host, config["ALLOWED_ORIGINS"]):
        log.warning("refused %s %s from %s: Origin %s is not allowed", request.method, request.path, client, origin)
        return json_response(protocol.error_message(
            protocol.FORBIDDEN_ORIGIN,
            f"pages from {origin} may not use this service; ALLOWED_ORIGINS lists other allowed origins"), 403)
    token = config["LED_TOKEN"] or None
    if token is not None:
        presented = presented_token(request.headers, request.args, allow_query=is_ws)
        if presented is None or not hmac.compare_digest(presented.encode(), token.encode()):
            log.warning("refused %s %s from %s: %s token", request.method, request.path, client,
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
            log.warning("refused a WebSocket from %s: all %d client slots are taken", client, hub.max_clients)
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
    led = the_light().led
    page = Response(render_template("index.html", pin=led.pin, simulated=led.simulated, factory=led.factory_name,
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
    light, hub = the_light(), the_hub()
    client = Client(ws, peer(request.environ), max_pending_replies=config["MAX_PENDING_REPLIES"])
    client.wants_news = g.pop("ledsock_watch", False)
    rate = RateLimit(float(config["RATE_LIMIT"]), int(config["RATE_BURST"]))
    # The first state is sent under the light's lock: no change comes between it and the join.
    count = light.read(lambda state: hub.add(client, protocol.state_message(state)))
    if client.wants_news:
        send_schedules(light, client)  # after the state: one message per schedule
    log.info("client %s connected (%d clients)", client.peer, count)
    why = "client closed"
    try:
        while True:
            message = client.receive()  # the hub's keep-alive cuts off a client gone silent
            if message is None:
                continue
            if not client.wait_for_room(hub.send_timeout):
                client.disconnect(f"not reading its replies for over {hub.send_timeout:g} s")
                break
            if not rate.allow():
                client.send_reply(protocol.error_message(
                    protocol.RATE_LIMITED,
                    f"over {rate.rate:g} messages a second (bursts of {rate.burst}); this one was dropped"))
                continue
            handle_message(light, client, message)
    except ClientGone as gone:
        if gone.code is None:
            why = "the connection ended without a close frame"
        elif gone.code not in (CloseCode.NORMAL, CloseCode.NO_STATUS):
            why = f"closed with code {gone.code}"
    finally:
        count = hub.remove(client)
        log.info("client %s disconnected: %s (%d clients)", client.peer, client.dropped or why, count)
        client.finish()


def send_schedules(light: Light, client: Client) -> None:
    """Every schedule, one message each, to a client that watches them."""
    for info in light.schedules.infos() if light.schedules is not None else ():
        client.send_news(info.name, protocol.schedule_message(info))


def handle_message(light: Light, client: Client, message) -> None:
    """Answer one WebSocket message; every failure becomes one typed error reply."""
    request_id = None
    try:
        command = protocol.parse_command(message)
        request_id = command.request_id
        if isinstance(command, protocol.Watch):  # about this connection, not the light
            started = command.schedules and not client.wants_news
            client.wants_news = command.schedules
            client.send_reply(protocol.watching_message(command.schedules, request_id))
            if started:
                send_schedules(light, client)
            return
        light.execute(command, origin=f"ws {client.peer}", requester=client,
                      reply=lambda answer: client.send_reply(protocol.reply_message(answer, request_id)))
    except protocol.ProtocolError as exc:
        log.debug("rejected from %s: %s", client.peer, exc.message)
        client.send_reply(error_reply(exc, exc.request_id)[0])
    except HardwareError as exc:
        log.error("%s (set from %s); level stays %d", exc, client.peer, light.state().level)
        client.send_reply(error_reply(exc, request_id)[0])
    except Exception:  # a bug: logged, answered, and the connection (a WebSocket stream) kept
        log.exception("a message from %s could not be handled: %.80r", client.peer, message)
        client.send_reply(protocol.internal_error_message(request_id))


@web.get("/led")
def get_led():
    light = the_light()
    return json_response(rest_state(light.state(), shown=light.led.shown()))


@web.post("/led")
def post_led():
    client = peer(request.environ)
    try:
        state = the_light().execute(command_from_post(request), origin=f"http {client}")
    except (protocol.ProtocolError, HardwareError) as exc:
        if isinstance(exc, HardwareError):
            log.error("%s (POST from %s)", exc, client)
        return json_response(*error_reply(exc))
    except HTTPException:  # 413 and the like: answered by their own handlers
        raise
    except Exception:  # a bug: one JSON error, never Flask's HTML page
        log.exception("POST /led from %s could not be handled", client)
        return json_response(protocol.internal_error_message(), 500)
    return json_response(rest_state(state))


@web.get("/schedules")
def get_schedules():
    """Every schedule, as the WebSocket sends them (a JSON array: REST clients are not JsonUtility)."""
    schedules = the_light().schedules
    items = [{**protocol.schedule_fields(info), "next_at": info.next_at} for info in schedules.infos()]
    return json_response(json.dumps(items, separators=(",", ":")))


@web.get("/healthz")
def healthz():
    health = the_light().health()
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
        protocol.NOT_FOUND, f"no {request.path} here: the service has /, /ws, /led, /schedules and /healthz"), 404)


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
