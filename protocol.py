"""Protocol v1 of ledsock: turn client text into commands and state into server text.

Pure functions, no I/O: every door (the WebSocket and the REST route in ``web.py``)
calls these, so all of them accept exactly the same input. Every way a message can
be wrong is raised as :class:`ProtocolError`, which the edge turns into one
``{"type":"error",...}`` reply. See ``docs/protocol.md``.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import NamedTuple, Optional, Union

LEVEL_MIN = 0
LEVEL_MAX = 100
ID_MAX_CHARS = 64
# Integer ids are kept inside the range a JavaScript number holds exactly.
ID_INT_LIMIT = 2**53 - 1

# Error codes, as sent in the "code" field.
INVALID_JSON = "invalid_json"
INVALID_MESSAGE = "invalid_message"
OUT_OF_RANGE = "out_of_range"
UNKNOWN_TYPE = "unknown_type"
HARDWARE_ERROR = "hardware_error"
RATE_LIMITED = "rate_limited"
# Refusals before a WebSocket upgrade or a REST change, sent as HTTP error bodies.
FORBIDDEN_ORIGIN = "forbidden_origin"
FORBIDDEN_HOST = "forbidden_host"
UNAUTHORIZED = "unauthorized"
TOO_MANY_CLIENTS = "too_many_clients"

_ASCII_DIGITS = re.compile(r"[0-9]+")
_LEVEL_RULE = f"level must be an integer from {LEVEL_MIN} to {LEVEL_MAX}"
RequestId = Union[str, int, None]


class ProtocolError(Exception):
    """A request the protocol rejects; becomes one typed error reply to its sender."""

    def __init__(self, code: str, message: str, request_id: RequestId = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


@dataclass(frozen=True)
class SetLevel:
    """Show ``level`` (0..100): above 0 it is the brightness and turns the light on; 0 turns it off."""

    level: int
    request_id: RequestId = None
    transition: Optional[float] = None  # seconds to fade there; None: the service's default


@dataclass(frozen=True)
class SetPower:
    """Turn the light on (at the brightness it keeps) or off (keeping that brightness)."""

    on: bool
    request_id: RequestId = None
    transition: Optional[float] = None


@dataclass(frozen=True)
class Toggle:
    """Turn the light off if it is on, else on at the brightness it keeps."""

    request_id: RequestId = None
    transition: Optional[float] = None


@dataclass(frozen=True)
class Step:
    """Move the shown level by ``delta`` (-100..100), clamped to 0..100: at 0 the light is off."""

    delta: int
    request_id: RequestId = None
    transition: Optional[float] = None


@dataclass(frozen=True)
class Sleep:
    """Turn the light off ``after`` seconds from now, fading over ``transition``;
    ``after`` None cancels the sleep timer."""

    after: Optional[float]
    request_id: RequestId = None
    transition: Optional[float] = None


@dataclass(frozen=True)
class GetState:
    """Reply with the current state to the requester only."""

    request_id: RequestId = None


@dataclass(frozen=True)
class Ping:
    """Reply with a pong to the requester only."""

    request_id: RequestId = None


Command = Union[SetLevel, SetPower, Toggle, Step, Sleep, GetState, Ping]
LightCommand = (SetLevel, SetPower, Toggle, Step, Sleep)  # the commands that can change the state


class State(NamedTuple):
    """What the light is doing: on or off, the brightness it shows when on, how many
    changes led here, and how long the fade to this state takes (0: none)."""

    brightness: int  # 1..100: what "on" shows
    on: bool
    seq: int
    transition: float = 0.0
    sleep_at: int = 0  # when the sleep timer turns the light off (Unix seconds); 0: no timer
    sleep_in: float = 0.0  # seconds from now until then

    @property
    def level(self) -> int:
        """What the LED shows once any fade is over: the brightness when on, else 0."""
        return self.brightness if self.on else 0


@dataclass(frozen=True)
class Pong:
    """The answer to :class:`Ping`."""


Reply = Union[State, Pong]


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number this protocol accepts")


def _plain_number(value):
    """Let json.dumps show a Decimal nested in a rejected value as the number it is."""
    if isinstance(value, Decimal):
        if value.is_finite() and abs(value) < 10**20 and value == value.to_integral_value():
            return int(value)
        return float(value)
    raise TypeError(type(value).__name__)


def _describe(value) -> str:
    """Show a rejected value the way the client wrote it, cut to a readable length."""
    if isinstance(value, Decimal):
        text = str(value) if len(str(value)) <= 24 else f"a number with {len(str(value))} characters"
        return text
    text = json.dumps(value, default=_plain_number, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_level(value) -> int:
    """Check one ``level`` value and return it as an int; raise ProtocolError otherwise.

    Accepts a JSON integer (or a number with no fraction, such as ``50.0``) and a
    string of ASCII digits such as ``"42"``. Rejects booleans, fractions,
    NaN/Infinity, non-ASCII digits, empty strings, null and anything out of range.
    """
    if isinstance(value, bool) or value is None:
        raise ProtocolError(INVALID_MESSAGE, f"{_LEVEL_RULE}, got {_describe(value)}")
    if isinstance(value, str):
        if not _ASCII_DIGITS.fullmatch(value):
            raise ProtocolError(
                INVALID_MESSAGE,
                f"{_LEVEL_RULE} (or a string of ASCII digits such as \"42\"), got {_describe(value)}",
            )
        digits = value.lstrip("0") or "0"
        if len(digits) > 3 or int(digits) > LEVEL_MAX:
            raise ProtocolError(OUT_OF_RANGE, f"{_LEVEL_RULE}, got {_describe(value)}")
        return int(digits)
    if isinstance(value, int):  # the fast path: JSON integers arrive as exact ints
        if value < LEVEL_MIN or value > LEVEL_MAX:
            raise ProtocolError(OUT_OF_RANGE, f"{_LEVEL_RULE}, got {_describe(value)}")
        return value
    if isinstance(value, float):  # only reached when called from outside parse_command
        value = Decimal(str(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ProtocolError(INVALID_MESSAGE, f"{_LEVEL_RULE}, got {_describe(value)}")
        if value < LEVEL_MIN or value > LEVEL_MAX:
            raise ProtocolError(OUT_OF_RANGE, f"{_LEVEL_RULE}, got {_describe(value)}")
        try:
            integral = value == value.to_integral_value()
        except InvalidOperation:  # pragma: no cover - range check above bounds the exponent
            integral = False
        if not integral:
            raise ProtocolError(INVALID_MESSAGE, f"{_LEVEL_RULE}, got {_describe(value)}")
        return int(value)
    raise ProtocolError(INVALID_MESSAGE, f"{_LEVEL_RULE}, got {_describe(value)}")


TRANSITION_MAX = 3600  # seconds: the longest fade a message may ask for
SLEEP_MAX = 86400  # seconds: the longest sleep timer a message may set
STEP_MAX = 100
_SIGNED_DIGITS = re.compile(r"-?[0-9]+")


def parse_transition(value) -> float:
    """A fade's length in seconds: a JSON number from 0 to TRANSITION_MAX."""
    rule = f"transition must be a number of seconds from 0 to {TRANSITION_MAX}"
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, float)):
        raise ProtocolError(INVALID_MESSAGE, f"{rule}, got {_describe(value)}")
    value = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not value.is_finite():
        raise ProtocolError(INVALID_MESSAGE, f"{rule}, got {_describe(value)}")
    if value < 0 or value > TRANSITION_MAX:
        raise ProtocolError(OUT_OF_RANGE, f"{rule}, got {_describe(value)}")
    return float(value)


def parse_sleep_after(value) -> Optional[float]:
    """A sleep timer's delay: seconds from 1 to SLEEP_MAX, or null to cancel it."""
    rule = f"after must be a number of seconds from 1 to {SLEEP_MAX}, or null to cancel the sleep timer"
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, float)):
        raise ProtocolError(INVALID_MESSAGE, f"{rule}, got {_describe(value)}")
    value = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not value.is_finite():
        raise ProtocolError(INVALID_MESSAGE, f"{rule}, got {_describe(value)}")
    if value < 1 or value > SLEEP_MAX:
        raise ProtocolError(OUT_OF_RANGE, f"{rule}, got {_describe(value)}")
    return float(value)


def parse_step(value) -> int:
    """A relative step: an integer from -STEP_MAX to STEP_MAX (or such a string, from a form)."""
    rule = f"step must be an integer from {-STEP_MAX} to {STEP_MAX}"
    if isinstance(value, str) and _SIGNED_DIGITS.fullmatch(value) and len(value) <= 5:
        value = Decimal(value)
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise ProtocolError(INVALID_MESSAGE, f"{rule}, got {_describe(value)}")
    value = Decimal(value)
    if not value.is_finite() or value != value.to_integral_value():
        raise ProtocolError(INVALID_MESSAGE, f"{rule}, got {_describe(value)}")
    if abs(value) > STEP_MAX:
        raise ProtocolError(OUT_OF_RANGE, f"{rule}, got {_describe(value)}")
    return int(value)


def parse_on(value) -> bool:
    """Power: a JSON boolean, nothing else (not 1, "yes" or null)."""
    if not isinstance(value, bool):
        raise ProtocolError(INVALID_MESSAGE, f"on must be true or false, got {_describe(value)}")
    return value


def _set_command(message: dict, request_id: RequestId) -> Command:
    """A set message: one of level, on and step, and perhaps a transition.

    ``level`` may come with an ``on`` that agrees with it (true above 0, false at 0), as
    in a state sent back; any other pair is a conflict.
    """
    given = [field for field in ("level", "on", "step") if field in message]
    if not given:
        raise ProtocolError(
            INVALID_MESSAGE, "missing \"level\"; send e.g. {\"level\": 80}, {\"on\": false} or {\"step\": 10}")
    transition = parse_transition(message["transition"]) if "transition" in message else None
    if given == ["level", "on"]:
        level, on = parse_level(message["level"]), parse_on(message["on"])
        if on != (level > 0):
            raise ProtocolError(INVALID_MESSAGE, f"level {level} and on {str(on).lower()} disagree: "
                                "level 0 is off, any other level is on")
        return SetLevel(level, request_id, transition)
    if len(given) > 1:
        raise ProtocolError(
            INVALID_MESSAGE, f"send one of level, on and step in a message, got {' and '.join(given)}")
    if given == ["level"]:
        return SetLevel(parse_level(message["level"]), request_id, transition)
    if given == ["on"]:
        return SetPower(parse_on(message["on"]), request_id, transition)
    return Step(parse_step(message["step"]), request_id, transition)


def _parse_id(message: dict) -> RequestId:
    if "id" not in message:
        return None
    value = message["id"]
    if isinstance(value, str) and len(value) <= ID_MAX_CHARS:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= ID_INT_LIMIT:
        return value
    if isinstance(value, Decimal) and value.is_finite() and abs(value) <= ID_INT_LIMIT:
        if value == value.to_integral_value():
            return int(value)
    raise ProtocolError(
        INVALID_MESSAGE,
        f"id must be a string of at most {ID_MAX_CHARS} characters or an integer, got {_describe(value)}",
    )


def parse_json(text: Union[str, bytes]):
    """Decode one JSON text with numbers kept exact; raise ProtocolError for anything else.

    Integers become ints (exact, and fast: the level of nearly every message; Decimals
    past int()'s 4,300 digits), numbers with a fraction or an exponent become Decimals,
    so that ``50.0000000000000001`` is not taken for 50 nor ``1e400`` for infinity.
    """
    if isinstance(text, (bytes, bytearray)):
        raise ProtocolError(
            INVALID_MESSAGE, "binary frames are not accepted; send JSON as a text message"
        )
    try:
        try:
            return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
        except ValueError as exc:
            if isinstance(exc, json.JSONDecodeError):
                raise
            # An integer too long for int() (over 4,300 digits), or NaN/Infinity: the
            # slow path keeps every integer exact as a Decimal, and rejects the constants.
            return json.loads(text, parse_int=Decimal, parse_float=Decimal, parse_constant=_reject_constant)
    except RecursionError:
        raise ProtocolError(INVALID_JSON, "message is not valid JSON: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError is a ValueError
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise ProtocolError(
            INVALID_JSON,
            f"message is not valid JSON ({detail}); send e.g. {{\"level\": 80}}",
        ) from None


def parse_command(text: Union[str, bytes]) -> Command:
    """Turn one client message into a Command; raise ProtocolError if it is not one.

    Accepted: ``{"level": N}``, a bare integer ``N``, ``{"on": true|false}``, ``{"step": N}``
    (each also with ``"type": "set"`` and a ``"transition"``), ``{"type": "toggle"}``,
    ``{"type": "get"}`` and ``{"type": "ping"}``, each optionally with an ``"id"``.
    """
    message = parse_json(text)
    if isinstance(message, Decimal) or (isinstance(message, int) and not isinstance(message, bool)):
        return SetLevel(parse_level(message))
    if not isinstance(message, dict):
        raise ProtocolError(
            INVALID_MESSAGE,
            f"expected a JSON object such as {{\"level\": 80}} or a bare integer, got {_describe(message)}",
        )
    request_id = _parse_id(message)
    kind = message.get("type", "set")
    try:
        if not isinstance(kind, str):
            raise ProtocolError(INVALID_MESSAGE, f"type must be a string, got {_describe(kind)}")
        if kind == "set":
            return _set_command(message, request_id)
        if kind == "toggle":
            transition = parse_transition(message["transition"]) if "transition" in message else None
            return Toggle(request_id, transition)
        if kind == "sleep":
            if "after" not in message:
                raise ProtocolError(INVALID_MESSAGE, "missing \"after\"; send e.g. "
                                    "{\"type\": \"sleep\", \"after\": 1800} or {\"type\": \"sleep\", \"after\": null}")
            transition = parse_transition(message["transition"]) if "transition" in message else None
            return Sleep(parse_sleep_after(message["after"]), request_id, transition)
        if kind == "get":
            return GetState(request_id)
        if kind == "ping":
            return Ping(request_id)
        raise ProtocolError(
            UNKNOWN_TYPE,
            f"unknown type {_describe(kind)}; the types are \"set\", \"toggle\", \"sleep\", \"get\" and \"ping\"",
        )
    except ProtocolError as exc:
        exc.request_id = request_id
        raise


def _dump(message: dict) -> str:
    return json.dumps(message, separators=(",", ":"))


def state_fields(state: State) -> dict:
    """The state as flat JSON fields, the same on every door (WebSocket, REST, MQTT)."""
    fields = {"level": state.level, "on": state.on, "brightness": state.brightness, "seq": state.seq}
    if state.transition:
        fields["transition"] = state.transition
    if state.sleep_at:
        fields["sleep_at"] = state.sleep_at
        fields["sleep_in"] = round(state.sleep_in, 1)
    return fields


def state_message(state: State, request_id: RequestId = None) -> str:
    """The state every client gets on connect, on ``get`` and after each change.

    Cached: a change's broadcast and its reply to a sender without an id are one text.
    """
    return _state_text(state, request_id)


@functools.lru_cache(maxsize=16)
def _state_text(state: State, request_id: RequestId) -> str:
    message = {"type": "state", **state_fields(state)}
    if request_id is not None:
        message["id"] = request_id
    return _dump(message)


def error_message(code: str, message: str, request_id: RequestId = None) -> str:
    """The one error reply a rejected request gets."""
    reply = {"type": "error", "code": code, "message": message}
    if request_id is not None:
        reply["id"] = request_id
    return _dump(reply)


def reply_message(reply: Reply, request_id: RequestId = None) -> str:
    """The text of the answer to one request (a state or a pong), carrying its id."""
    if isinstance(reply, State):
        return state_message(reply, request_id)
    return pong_message(request_id)


def hardware_error_message(detail, request_id: RequestId = None) -> str:
    """The error reply when the LED could not be set (``detail``: the hardware's reason)."""
    return error_message(HARDWARE_ERROR, f"the LED could not be set: {detail}", request_id)


def pong_message(request_id: RequestId = None) -> str:
    """The reply to ``{"type": "ping"}``."""
    reply = {"type": "pong"}
    if request_id is not None:
        reply["id"] = request_id
    return _dump(reply)
