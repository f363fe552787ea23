"""Protocol v1 of ledsock: turn client text into commands and state into server text.

Pure functions, no I/O: every door (the WebSocket and the REST route in ``web.py``)
calls these, so all of them accept exactly the same input. Every way a message can
be wrong is raised as :class:`ProtocolError`, which the edge turns into one
``{"type":"error",...}`` reply. See ``docs/protocol.md``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import NamedTuple, Union

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
    """Set the brightness to ``level`` (0..100)."""

    level: int
    request_id: RequestId = None


@dataclass(frozen=True)
class GetState:
    """Reply with the current state to the requester only."""

    request_id: RequestId = None


@dataclass(frozen=True)
class Ping:
    """Reply with a pong to the requester only."""

    request_id: RequestId = None


Command = Union[SetLevel, GetState, Ping]


class State(NamedTuple):
    """What the light is doing: its level, and how many changes led there."""

    level: int
    seq: int


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
    if isinstance(value, (int, float)):  # only reached when called from outside parse_command
        value = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
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


def _parse_id(message: dict) -> RequestId:
    if "id" not in message:
        return None
    value = message["id"]
    if isinstance(value, str) and len(value) <= ID_MAX_CHARS:
        return value
    if isinstance(value, Decimal) and value.is_finite() and abs(value) <= ID_INT_LIMIT:
        if value == value.to_integral_value():
            return int(value)
    raise ProtocolError(
        INVALID_MESSAGE,
        f"id must be a string of at most {ID_MAX_CHARS} characters or an integer, got {_describe(value)}",
    )


def parse_json(text: Union[str, bytes]):
    """Decode one JSON text with numbers kept exact; raise ProtocolError for anything else."""
    if isinstance(text, (bytes, bytearray)):
        raise ProtocolError(
            INVALID_MESSAGE, "binary frames are not accepted; send JSON as a text message"
        )
    try:
        return json.loads(
            text,
            parse_int=Decimal,
            parse_float=Decimal,
            parse_constant=_reject_constant,
        )
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

    Accepted: ``{"level": N}``, a bare integer ``N``, ``{"type": "set", "level": N}``,
    ``{"type": "get"}`` and ``{"type": "ping"}``, each optionally with an ``"id"``.
    """
    message = parse_json(text)
    if isinstance(message, Decimal):
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
            if "level" not in message:
                raise ProtocolError(
                    INVALID_MESSAGE, "missing \"level\"; send e.g. {\"level\": 80}"
                )
            return SetLevel(parse_level(message["level"]), request_id)
        if kind == "get":
            return GetState(request_id)
        if kind == "ping":
            return Ping(request_id)
        raise ProtocolError(
            UNKNOWN_TYPE,
            f"unknown type {_describe(kind)}; the types are \"set\", \"get\" and \"ping\"",
        )
    except ProtocolError as exc:
        exc.request_id = request_id
        raise


def _dump(message: dict) -> str:
    return json.dumps(message, separators=(",", ":"))


def state_message(level: int, seq: int, request_id: RequestId = None) -> str:
    """The state every client gets on connect, on ``get`` and after each change."""
    message = {"type": "state", "level": level, "seq": seq}
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
        return state_message(reply.level, reply.seq, request_id)
    return pong_message(request_id)


def pong_message(request_id: RequestId = None) -> str:
    """The reply to ``{"type": "ping"}``."""
    reply = {"type": "pong"}
    if request_id is not None:
        reply["id"] = request_id
    return _dump(reply)
