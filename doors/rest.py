"""The REST twin of the WebSocket: ``/led`` (the default light), ``/lights`` and
``/lights/NAME`` (each light), and the schedules, for curl and scripts.

A Blueprint (registered by ``app.create_app``). A POST parses with :mod:`protocol`,
as the WebSocket does, from a JSON body or form fields, and acts through the light;
answers are the state's fields (as on the WebSocket, without ``"type"``).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from urllib.parse import parse_qs

from flask import Blueprint, request
from werkzeug.exceptions import HTTPException

import protocol
from doors.answers import failure
from doors.http_edge import json_response, peer, the_light, the_lights, the_scenes
from lamp import light_report
from limits.budget import ENVIRON_KEY, ONE

log = logging.getLogger(__name__)

rest = Blueprint("ledsock_rest", __name__)


def rest_state(state: protocol.State, shown: float | None = None, named: bool = False) -> dict:
    """A state's REST fields (as on the WebSocket, without "type"), and on GET the level the
    LED shows at this instant; ``named``: with the light's name."""
    fields = protocol.state_fields(state, named)
    if shown is not None:
        fields["shown"] = round(shown, 2)
    return fields


def shown_state(light, named: bool) -> dict:
    """A light's state as GET answers it: the state, the level shown, and a colour light's
    channels as the LED drives them now (each one's pin, what it drives, its duty cycle)."""
    fields = rest_state(light.state(), shown=light.led.shown(), named=named)
    channels = light_report.channel_duties(light)
    if channels is not None:
        fields["channels"] = channels
    return fields


FORM_FIELDS = (
    "level",
    "on",
    "step",
    "transition",
    "light",
    "effect",
    *protocol.COLOR_FIELDS,
    *protocol.ALL_EFFECT_FIELDS,
)


def command_from_post(req) -> protocol.Command:
    """Read a POST: the form fields level, on, step, transition and light, or a JSON body.

    The body is read once, as text: ``curl -d '{"level": 5}'`` labels JSON as a form,
    and Flask's form parser would consume it before it could be read as JSON. A form
    is turned into the JSON message it stands for, so both follow the same rules.
    """
    if req.mimetype == "multipart/form-data":
        given = list(req.form)
        fields = {name: req.form.getlist(name) for name in FORM_FIELDS if name in req.form}
        if not fields:
            raise _no_accepted_field(req.path, given)
    else:
        body = req.get_data(as_text=True)
        fields = {}
        if not body.strip():
            hint = (
                f" (the URL's ?{'&'.join(req.args)} is not read: send it as the body, -d {next(iter(req.args))}=...)"
                if req.args
                else ""
            )
            raise protocol.ProtocolError(
                protocol.INVALID_MESSAGE,
                f"POST {req.path} needs a body{hint}: form fields "
                f'{", ".join(FORM_FIELDS)} (e.g. level=80), or JSON such as {{"level": 80}}',
            )
        if (
            req.mimetype == "application/x-www-form-urlencoded"
            and not body.lstrip().startswith(("{", "["))
            and "=" in body
        ):
            given = list(parse_qs(body, keep_blank_values=True))
            fields = {
                name: values for name, values in parse_qs(body, keep_blank_values=True).items() if name in FORM_FIELDS
            }
            if not fields:
                raise _no_accepted_field(req.path, given)
        if not fields:
            command = protocol.parse_command(body)
            if not isinstance(command, protocol.LightCommand):
                raise protocol.ProtocolError(
                    protocol.INVALID_MESSAGE,
                    f'POST {req.path} takes {{"level": N}}, {{"on": true|false}}, {{"step": N}}, '
                    '{"color": "#rrggbb"}, {"kelvin": K}, {"effect": NAME}, {"type": "sleep", "after": S} '
                    'or {"type": "toggle"}, '
                    "or the same as form fields",
                )
            return command
    return protocol.parse_message({name: _form_value(name, values[-1]) for name, values in fields.items()})


def _no_accepted_field(path: str, given: list[str]) -> protocol.ProtocolError:
    shown = ", ".join(repr(name[:20]) for name in given[:5]) or "none"
    return protocol.ProtocolError(
        protocol.INVALID_MESSAGE,
        f"POST {path} takes the form fields {', '.join(FORM_FIELDS)} (or a JSON body); got {shown}",
    )


# The form fields that are numbers in JSON; level and step stay text, which the protocol takes
# as they come from an HTML form (level: "a string of ASCII digits", step: "-10").
NUMBER_FIELDS = ("transition", *protocol.ALL_EFFECT_FIELDS)


def _form_value(name: str, text: str):
    """A form field as its JSON value: on=true|false, effect=none as null, the numbers as
    numbers, exactly as written (the protocol checks each, as it would in JSON), the rest as text."""
    if name == "on":
        return {"true": True, "false": False, "1": True, "0": False}.get(text.strip().lower(), text)
    if name == "effect" and text.strip().lower() in ("", "none", "null"):
        return None
    if name in NUMBER_FIELDS and text == text.strip():  # " 42" stays text: the protocol's rules for strings
        try:
            number = protocol.parse_json(text)
        except protocol.ProtocolError:
            return text
        return number if isinstance(number, (int, Decimal)) and not isinstance(number, bool) else text
    return text


@rest.get("/led")
def get_led():
    return json_response(protocol.to_json(shown_state(the_light(), named=False)))


@rest.post("/led")
def post_led():
    """A command for the light its body names, the default light when it names none."""
    return _post(None)


@rest.get("/lights")
def get_lights():
    """Every light's state, the default light first (a JSON array: REST clients are not JsonUtility)."""
    return json_response(protocol.to_json([shown_state(light, named=True) for light in the_lights()]))


@rest.errorhandler(protocol.ProtocolError)
def _failed(exc: Exception):
    """A request that failed (a GET naming an unknown light, a POST refused or not carried out):
    its error object and status, as every door answers (doors.answers)."""
    return json_response(*failure(exc, origin=f"http {peer(request.environ)}", changes_log=the_light().changes_log))


@rest.get("/lights/<name>")
def get_light(name):
    found = the_lights().resolve(name)
    states = [shown_state(light, named=True) for light in found]
    return json_response(protocol.to_json(states if name == protocol.EVERY_LIGHT else states[0]))


@rest.post("/lights/<name>")
def post_light(name):
    return _post(name)


def _post(path_light: str | None):
    """Carry out one POSTed command; ``path_light``: the light the URL names, if it does."""
    client = peer(request.environ)
    try:
        command = command_from_post(request)
        named: str | None = getattr(command, "light", None)  # every command POST takes may name its light
        target: str | None
        if path_light is not None:
            if named not in (None, path_light):
                raise protocol.ProtocolError(
                    protocol.INVALID_MESSAGE,
                    f"the body names light {named!r} and the URL {path_light!r}: leave it out of the body",
                )
            target = path_light
        else:
            target = named
        lights = the_lights()
        states = [
            state
            for state in lights.execute(target, command, origin=f"http {client}")
            if isinstance(state, protocol.State)
        ]  # what a light command answers
        if target == protocol.EVERY_LIGHT and (budget := request.environ.get(ENVIRON_KEY)) is not None:
            budget.spend(len(lights) - ONE)  # a change of every light: the connection waits the longer for its next
    except HTTPException:  # 413 and the like: answered by their own handlers
        raise
    except Exception as exc:  # noqa: BLE001 - each kind its answer (doors.answers); a bug's is JSON, never HTML
        return _failed(exc)
    if target == protocol.EVERY_LIGHT:
        return json_response(protocol.to_json([rest_state(state, named=True) for state in states]))
    return json_response(protocol.to_json(rest_state(states[0], named=target is not None)))


def _scene_fields(info) -> dict:
    """A scene as REST shows it: its message's fields without ``"type"``."""
    fields = protocol.scene_fields(info)
    del fields["type"]
    return fields


@rest.get("/scenes")
def get_scenes():
    """Every scene: its name and its lights (a JSON array)."""
    return json_response(protocol.to_json([_scene_fields(info) for info in the_scenes().infos()]))


@rest.route("/scenes/<name>", methods=["POST", "PUT", "DELETE"])
def scene(name):
    """POST recalls the scene (a body may give ``transition``), PUT saves what the lights show as
    it (a body may give ``lights``, "desk,shelf"), DELETE deletes it."""
    try:
        fields = _scene_body(request)
        message = {
            "POST": {"scene": name, **fields},
            "PUT": {"type": "save_scene", "name": name, **fields},
            "DELETE": {"type": "delete_scene", "name": name, **fields},
        }[request.method]
        answers = the_scenes().execute(protocol.parse_message(message), origin=f"http {peer(request.environ)}")
        if request.method != "POST":
            return json_response(protocol.to_json(_scene_fields(answers[0])))
        states = [rest_state(answer, named=True) for answer in answers if isinstance(answer, protocol.State)]
        if (budget := request.environ.get(ENVIRON_KEY)) is not None:
            budget.spend(len(states) - ONE)  # a change of each light: the connection waits the longer for its next
        recalled: dict = {"name": name, "states": states}
        left_out = [answer.left_out for answer in answers if isinstance(answer, protocol.SceneInfo)]
        if left_out:  # lights of the scene the service no longer has
            recalled["left_out"] = ",".join(left_out[0])
        return json_response(protocol.to_json(recalled))
    except HTTPException:
        raise
    except Exception as exc:  # noqa: BLE001 - each kind its answer (doors.answers)
        return _failed(exc)


def _scene_body(req) -> dict:
    """A scene request's fields: a JSON object, form fields (numbers as written), or nothing."""
    if not req.get_data(cache=True):
        return {}
    if req.mimetype == "application/x-www-form-urlencoded":
        return {name: _form_value(name, values[-1]) for name, values in parse_qs(req.get_data(as_text=True)).items()}
    body = protocol.parse_json(req.get_data(as_text=True))
    if not isinstance(body, dict):
        raise protocol.ProtocolError(protocol.INVALID_MESSAGE, f"expected a JSON object, got {protocol.describe(body)}")
    return body


def _schedules(light, named: bool) -> str:
    return protocol.to_json(
        [{**protocol.schedule_fields(info, named), "next_at": info.next_at} for info in light.schedules.infos()]
    )


@rest.get("/schedules")
def get_schedules():
    """The default light's schedules, as the WebSocket sends them (a JSON array)."""
    return json_response(_schedules(the_light(), named=False))


@rest.get("/lights/<name>/schedules")
def get_light_schedules(name):
    return json_response(_schedules(the_lights().get(name), named=True))
