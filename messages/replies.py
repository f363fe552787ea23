"""The server's messages as text: a state, a schedule, a scene, an error, a pong, a watch's
answer; flat JSON, the same on every door (docs/protocol.md, "Server to client"). Pure;
:mod:`protocol` re-exports them."""

from __future__ import annotations

import functools
from typing import Any

from messages.commands import Reply, ScheduleDeleted, ScheduleInfo, SetColor, SetEffect, SetLevel, SetPower, State
from messages.fields import HARDWARE_ERROR, INTERNAL_ERROR, RequestId, to_json
from messages.scene import RecallScene, SceneDeleted, SceneInfo, scene_fields


def _dump(message: dict[str, Any], request_id: RequestId = None) -> str:
    """A message as compact JSON; a reply carries its request's ``id`` last."""
    if request_id is not None:
        message["id"] = request_id
    return to_json(message)


def state_fields(state: State, named: bool = False) -> dict[str, Any]:
    """The state as flat JSON fields, the same on every door (WebSocket, REST, MQTT);
    ``named``: with the light's name (protocol v1's default light goes without it)."""
    fields: dict[str, Any] = {"light": state.light} if named else {}
    fields.update(level=state.level, on=state.on, brightness=state.brightness)
    if state.color:
        fields["color"] = state.color
    elif state.kelvin:
        fields["kelvin"] = state.kelvin
    fields["seq"] = state.seq
    if state.transition:
        fields["transition"] = state.transition
    if state.sleep_at:
        fields["sleep_at"] = state.sleep_at
        fields["sleep_in"] = round(state.sleep_in, 1)
    if state.effect:
        fields["effect"] = state.effect
    return fields


def state_message(state: State, request_id: RequestId = None, named: bool = False) -> str:
    """The state every client gets on connect, on ``get`` and after each change; ``named``:
    with its ``"light"`` (for a client that names lights).

    Cached: a change's broadcast and its reply to a sender without an id are one text.
    """
    return _state_text(state, request_id, named)


@functools.lru_cache(maxsize=64)
def _state_text(state: State, request_id: RequestId, named: bool) -> str:
    message = {"type": "state", **state_fields(state, named)}
    return _dump(message, request_id)


def error_message(code: str, message: str, request_id: RequestId = None) -> str:
    """The one error reply a rejected request gets."""
    reply = {"type": "error", "code": code, "message": message}
    return _dump(reply, request_id)


def schedule_fields(info: ScheduleInfo, named: bool = False) -> dict[str, Any]:
    """A schedule as flat JSON fields; without ``next_at`` they are a valid schedule message.
    ``named``: with its light's name."""
    when, action = info.when, info.action
    fields: dict[str, Any] = {"name": info.name}
    if named:
        fields["light"] = info.light
    if when.at is not None:
        fields["at"] = when.at
    elif when.cron is not None:
        fields["cron"] = when.cron
    else:
        fields["sun"], fields["offset"] = when.sun, when.offset
    if when.cron is None:
        fields["days"] = when.days
    if isinstance(action, SetLevel):
        fields["level"] = action.level
    elif isinstance(action, SetPower):
        fields["on"] = action.on
    elif isinstance(action, SetEffect):
        fields.update(action.effect.fields() if action.effect is not None else {"effect": None})
    elif isinstance(action, RecallScene):
        fields["scene"] = action.name
    elif isinstance(action, SetColor):
        if action.level is not None:
            fields["level"] = action.level
        elif action.on is not None:
            fields["on"] = action.on
        fields.update(action.tone.fields())
    else:
        fields["step"] = action.delta
    if not isinstance(action, SetEffect) and action.transition is not None:
        fields["transition"] = action.transition
    return fields


def schedule_message(info: ScheduleInfo, request_id: RequestId = None, named: bool = False) -> str:
    """A schedule, sent to its watchers when it is made, changed or fired, and on connect."""
    message = {"type": "schedule", **schedule_fields(info, named), "next_at": info.next_at}
    return _dump(message, request_id)


def schedule_deleted_message(name: str, request_id: RequestId = None, light: str | None = None) -> str:
    message = {"type": "schedule_deleted", "name": name}
    if light is not None:
        message["light"] = light
    return _dump(message, request_id)


def reply_message(reply: Reply, request_id: RequestId = None, named: bool = False) -> str:
    """The text of the answer to one request (a state, a pong or a schedule), carrying its id;
    ``named``: with the light's name."""
    if isinstance(reply, State):
        return state_message(reply, request_id, named)
    if isinstance(reply, ScheduleInfo):
        return schedule_message(reply, request_id, named)
    if isinstance(reply, ScheduleDeleted):
        return schedule_deleted_message(reply.name, request_id, reply.light if named else None)
    if isinstance(reply, SceneInfo | SceneDeleted):
        return _dump(scene_fields(reply), request_id)
    return pong_message(request_id)


def hardware_error_message(detail: object, request_id: RequestId = None) -> str:
    """The error reply when the LED could not be set (``detail``: the hardware's reason)."""
    return error_message(HARDWARE_ERROR, f"the LED could not be set: {detail}", request_id)


def internal_error_message(request_id: RequestId = None) -> str:
    """The error reply when the server failed on a message through a fault of its own."""
    return error_message(INTERNAL_ERROR, "the server failed on this message (logged)", request_id)


def watching_message(
    schedules: bool, request_id: RequestId = None, lights: bool | None = None, scenes: bool | None = None
) -> str:
    """The reply to ``{"type": "watch"}``: what the client now watches (``lights`` is told
    to a client that names lights)."""
    reply = {"type": "watching", "schedules": schedules}
    if lights is not None:
        reply["lights"] = lights
    if scenes is not None:
        reply["scenes"] = scenes
    return _dump(reply, request_id)


def pong_message(request_id: RequestId = None) -> str:
    """The reply to ``{"type": "ping"}``."""
    reply = {"type": "pong"}
    return _dump(reply, request_id)
