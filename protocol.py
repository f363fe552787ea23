"""Protocol v1 of ledsock: turn client text into commands and state into server text.

The rules for each field's value live in :mod:`messages.fields`, :mod:`messages.effect` and
:mod:`messages.when`, the commands and answers as values in :mod:`messages.commands`; this
module builds the one from text (:mod:`messages.replies` the other into text), and re-exports them all, so every
door uses ``protocol`` alone. Pure functions, no I/O: every door (the WebSocket, REST, MQTT)
calls these, so all of them accept exactly the same input. Every way a message can
be wrong is raised as :class:`ProtocolError`, which the edge turns into one
``{"type":"error",...}`` reply. See ``docs/protocol.md``.
"""

from __future__ import annotations

from decimal import Decimal

from messages.commands import (  # noqa: F401 - re-exported: the doors use protocol.<name>
    Action,
    Command,
    DeleteSchedule,
    GetState,
    LightChange,
    LightCommand,
    Ping,
    Pong,
    PutSchedule,
    Reply,
    ScheduleCommand,
    ScheduleDeleted,
    ScheduleInfo,
    SetColor,
    SetEffect,
    SetLevel,
    SetPower,
    Sleep,
    State,
    Step,
    Toggle,
    Watch,
)
from messages.effect import (  # noqa: F401 - re-exported: the doors use protocol.<name>
    ALL_EFFECT_FIELDS,
    COLOR_FIELDS,
    EFFECT_FIELDS,
    EFFECTS,
    Effect,
    EffectName,
    FieldRange,
    Tone,
    parse_effect,
    parse_tone,
)
from messages.fields import (  # noqa: F401 - re-exported: the doors use protocol.<name>
    DEFAULT_LIGHT_NAME,
    EVERY_LIGHT,
    FORBIDDEN_HOST,
    FORBIDDEN_ORIGIN,
    HARDWARE_ERROR,
    ID_INT_LIMIT,
    ID_MAX_CHARS,
    INTERNAL_ERROR,
    INVALID_JSON,
    INVALID_MESSAGE,
    KELVIN_MAX,
    KELVIN_MIN,
    LEVEL_MAX,
    LEVEL_MIN,
    LIGHT_NAME,
    LIGHT_NAME_RULE,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    NOT_SUPPORTED,
    OUT_OF_RANGE,
    RATE_LIMITED,
    SLEEP_MAX,
    STEP_MAX,
    TOO_MANY_CLIENTS,
    TRANSITION_MAX,
    UNAUTHORIZED,
    UNKNOWN_LIGHT,
    UNKNOWN_TYPE,
    Message,
    ProtocolError,
    RequestId,
    WatchName,
    describe,
    parse_color,
    parse_id,
    parse_json,
    parse_kelvin,
    parse_level,
    parse_light,
    parse_on,
    parse_sleep_after,
    parse_step,
    parse_transition,
    parse_watch,
    parse_watch_query,
    to_json,
)
from messages.replies import (  # noqa: F401 - re-exported: the doors use protocol.<name>
    error_message,
    hardware_error_message,
    internal_error_message,
    pong_message,
    reply_message,
    schedule_deleted_message,
    schedule_fields,
    schedule_message,
    state_fields,
    state_message,
    watching_message,
)
from messages.scene import (  # noqa: F401 - re-exported: the doors use protocol.<name>
    DeleteScene,
    RecallScene,
    SaveScene,
    SceneCommand,
    SceneDeleted,
    SceneInfo,
    parse_delete_scene,
    parse_recall,
    parse_save_scene,
    parse_scheduled_recall,
    scene_fields,
)
from messages.when import (  # noqa: F401 - re-exported: the doors use protocol.<name>
    DAILY,
    When,
    parse_schedule_name,
    parse_when,
)


def _set_command(message: Message, request_id: RequestId, light: str | None = None) -> Action:
    """A set message: one of level, on, step and effect, and perhaps a transition; or a colour
    (``color`` or ``kelvin``) with or without a level or on, and perhaps a transition.

    ``level`` may come with an ``on`` that agrees with it (true above 0, false at 0), as
    in a state sent back; any other pair is a conflict.
    """
    given = [field for field in ("level", "on", "step", "effect") if field in message]
    toned = [field for field in COLOR_FIELDS if field in message]
    if not given and not toned:
        raise ProtocolError(
            INVALID_MESSAGE,
            'missing "level"; send e.g. {"level": 80}, {"on": false}, {"step": 10}, {"color": "#ff8800"} '
            'or {"effect": "breathe"}',
        )
    if toned and "step" in given:
        raise ProtocolError(INVALID_MESSAGE, f"{toned[0]} goes with level or on, not with step")
    if "effect" in given and len(given) > 1:
        raise ProtocolError(
            INVALID_MESSAGE, f"send one of level, on, step and effect in a message, got {' and '.join(given)}"
        )
    if given == ["effect"]:
        if "transition" in message:
            raise ProtocolError(INVALID_MESSAGE, "an effect takes no transition: it starts from the level shown")
        return SetEffect(parse_effect(message), request_id, light)
    strays = [field for field in ALL_EFFECT_FIELDS if field in message]
    if strays:
        raise ProtocolError(
            INVALID_MESSAGE, f'{strays[0]} goes with an effect, e.g. {{"effect": "breathe", "period": 4}}'
        )
    transition = parse_transition(message["transition"]) if "transition" in message else None
    if given == ["level", "on"]:
        level, on = parse_level(message["level"]), parse_on(message["on"])
        if on != (level > 0):
            raise ProtocolError(
                INVALID_MESSAGE,
                f"level {level} and on {str(on).lower()} disagree: level 0 is off, any other level is on",
            )
        if toned:
            return SetColor(parse_tone(message), level, None, request_id, transition, light)
        return SetLevel(level, request_id, transition, light)
    if len(given) > 1:
        raise ProtocolError(INVALID_MESSAGE, f"send one of level, on and step in a message, got {' and '.join(given)}")
    if toned:
        with_level = parse_level(message["level"]) if given == ["level"] else None
        with_on = parse_on(message["on"]) if given == ["on"] else None
        return SetColor(parse_tone(message), with_level, with_on, request_id, transition, light)
    if given == ["level"]:
        return SetLevel(parse_level(message["level"]), request_id, transition, light)
    if given == ["on"]:
        return SetPower(parse_on(message["on"]), request_id, transition, light)
    return Step(parse_step(message["step"]), request_id, transition, light)


def parse_command(text: str | bytes) -> Command:
    """Turn one client message into a Command; raise ProtocolError if it is not one.

    Accepted: ``{"level": N}``, a bare integer ``N``, ``{"on": true|false}``, ``{"step": N}``,
    ``{"color": "#rrggbb"}`` and ``{"kelvin": K}`` (each also with ``"type": "set"`` and a
    ``"transition"``; a colour with a level or on), ``{"effect": NAME|null}``, ``{"type": "toggle"}``,
    ``{"type": "sleep"}``, ``{"type": "schedule"}``, ``{"type": "unschedule"}``,
    ``{"type": "watch"}``, ``{"type": "get"}`` and ``{"type": "ping"}``, each optionally
    with an ``"id"`` (docs/protocol.md has every rule).
    """
    return parse_message(parse_json(text))


def parse_message(message) -> Command:
    """:func:`parse_command` of a message already decoded, as :func:`parse_json` decodes it
    (numbers exact: ints and Decimals); a REST form's fields and Home Assistant's commands come so."""
    if isinstance(message, Decimal) or (isinstance(message, int) and not isinstance(message, bool)):
        return SetLevel(parse_level(message))
    if not isinstance(message, dict):
        raise ProtocolError(
            INVALID_MESSAGE,
            f'expected a JSON object such as {{"level": 80}} or a bare integer, got {describe(message)}',
        )
    request_id = parse_id(message)
    kind = message.get("type", "set")
    try:
        if not isinstance(kind, str):
            raise ProtocolError(INVALID_MESSAGE, f"type must be a string, got {describe(kind)}")
        light = parse_light(message)
        if kind not in ("set", "schedule"):
            toned = [field for field in COLOR_FIELDS if field in message]
            if toned:
                raise ProtocolError(
                    INVALID_MESSAGE, f"{toned[0]} goes with a set, an effect or a schedule, not with {describe(kind)}"
                )
        if "scene" in message and kind == "schedule":  # at its time, the scene
            action = parse_scheduled_recall(message)
            return PutSchedule(parse_schedule_name(message), parse_when(message), action, request_id, light)
        if "scene" in message:
            if kind != "set" or light is not None:
                raise ProtocolError(
                    INVALID_MESSAGE,
                    'scene is recalled alone, {"scene": "evening", "transition": 2}: not with a type or a light',
                )
            return parse_recall(message, request_id)
        if kind in ("save_scene", "delete_scene"):
            if light is not None:
                raise ProtocolError(INVALID_MESSAGE, f'{kind} takes lights, as "desk,shelf", not light')
            return (
                parse_save_scene(message, request_id)
                if kind == "save_scene"
                else parse_delete_scene(message, request_id)
            )
        if kind == "set":
            return _set_command(message, request_id, light)
        if kind == "toggle":
            transition = parse_transition(message["transition"]) if "transition" in message else None
            return Toggle(request_id, transition, light)
        if kind == "sleep":
            if "after" not in message:
                raise ProtocolError(
                    INVALID_MESSAGE,
                    'missing "after"; send e.g. {"type": "sleep", "after": 1800} or {"type": "sleep", "after": null}',
                )
            transition = parse_transition(message["transition"]) if "transition" in message else None
            return Sleep(parse_sleep_after(message["after"]), request_id, transition, light)
        if kind == "schedule":
            return PutSchedule(
                parse_schedule_name(message), parse_when(message), _set_command(message, None), request_id, light
            )
        if kind == "unschedule":
            return DeleteSchedule(parse_schedule_name(message), request_id, light)
        if kind == "watch":
            if light is not None:
                raise ProtocolError(
                    INVALID_MESSAGE,
                    "watch is about your connection and takes no light; "
                    '{"type": "watch", "lights": true} watches every light',
                )
            return Watch(request_id=request_id, **parse_watch(message))
        if kind == "get":
            return GetState(request_id, light)
        if kind == "ping":
            return Ping(request_id, light)
        raise ProtocolError(
            UNKNOWN_TYPE,
            f'unknown type {describe(kind)}; the types are "set", "toggle", "sleep", '
            '"schedule", "unschedule", "save_scene", "delete_scene", "watch", "get" and "ping"',
        )
    except ProtocolError as exc:
        exc.request_id = request_id
        raise
