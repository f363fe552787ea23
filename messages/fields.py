"""The rules for one value of a protocol message (level, on, step, transition, after, id,
light, colour, kelvin, what to watch) and for its JSON, both ways: pure checks that return the value or raise
:class:`ProtocolError`, and the error codes.

:mod:`protocol` builds commands from these and re-exports them; every door goes
through :mod:`protocol`, never here.
"""

from __future__ import annotations

import enum
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn

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
INTERNAL_ERROR = "internal_error"  # a fault of the server's own, never of the message
NOT_FOUND = "not_found"  # no such schedule, or (REST) no such path
UNKNOWN_LIGHT = "unknown_light"  # a "light" this service does not have
NOT_SUPPORTED = "not_supported"  # a colour for a light that shows none (a single channel; a CCT light's white only)
METHOD_NOT_ALLOWED = "method_not_allowed"  # REST: GET or POST only
# Refusals before a WebSocket upgrade or a REST change, sent as HTTP error bodies.
FORBIDDEN_ORIGIN = "forbidden_origin"
FORBIDDEN_HOST = "forbidden_host"
UNAUTHORIZED = "unauthorized"
TOO_MANY_CLIENTS = "too_many_clients"

_ASCII_DIGITS = re.compile(r"[0-9]+")
_LEVEL_RULE = f"level must be an integer from {LEVEL_MIN} to {LEVEL_MAX}"
RequestId = str | int | None
Message = dict[str, Any]  # a client message's JSON object, numbers exact (parse_json)


class ProtocolError(Exception):
    """A request the protocol rejects; becomes one typed error reply to its sender."""

    def __init__(self, code: str, message: str, request_id: RequestId = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number this protocol accepts")


def _plain_number(value: object) -> int | float:
    """Let json.dumps show a Decimal nested in a rejected value as the number it is."""
    if isinstance(value, Decimal):
        if value.is_finite() and -(10**20) < value < 10**20 and value == value.to_integral_value():
            return int(value)
        return float(value)
    raise TypeError(type(value).__name__)


def describe(value: object) -> str:
    """Show a rejected value the way the client wrote it, cut to a readable length."""
    if isinstance(value, Decimal):
        text = str(value) if len(str(value)) <= 24 else f"a number with {len(str(value))} characters"
        return text
    text = json.dumps(value, default=_plain_number, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_level(value: object) -> int:
    """Check one ``level`` value and return it as an int; raise ProtocolError otherwise.

    Accepts a JSON integer (or a number with no fraction, such as ``50.0``) and a
    string of ASCII digits such as ``"42"``. Rejects booleans, fractions,
    NaN/Infinity, non-ASCII digits, empty strings, null and anything out of range.
    """
    if isinstance(value, bool) or value is None:
        raise ProtocolError(INVALID_MESSAGE, f"{_LEVEL_RULE}, got {describe(value)}")
    if isinstance(value, str):
        if not _ASCII_DIGITS.fullmatch(value):
            raise ProtocolError(
                INVALID_MESSAGE,
                f'{_LEVEL_RULE} (or a string of ASCII digits such as "42"), got {describe(value)}',
            )
        digits = value.lstrip("0") or "0"
        if len(digits) > 3 or int(digits) > LEVEL_MAX:
            raise ProtocolError(OUT_OF_RANGE, f"{_LEVEL_RULE}, got {describe(value)}")
        return int(digits)
    if isinstance(value, int):  # the fast path: JSON integers arrive as exact ints
        if value < LEVEL_MIN or value > LEVEL_MAX:
            raise ProtocolError(OUT_OF_RANGE, f"{_LEVEL_RULE}, got {describe(value)}")
        return value
    if isinstance(value, float):  # only reached when called from outside parse_command
        value = Decimal(str(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ProtocolError(INVALID_MESSAGE, f"{_LEVEL_RULE}, got {describe(value)}")
        if value < LEVEL_MIN or value > LEVEL_MAX:
            raise ProtocolError(OUT_OF_RANGE, f"{_LEVEL_RULE}, got {describe(value)}")
        try:
            integral = value == value.to_integral_value()
        except InvalidOperation:  # pragma: no cover - range check above bounds the exponent
            integral = False
        if not integral:
            raise ProtocolError(INVALID_MESSAGE, f"{_LEVEL_RULE}, got {describe(value)}")
        return int(value)
    raise ProtocolError(INVALID_MESSAGE, f"{_LEVEL_RULE}, got {describe(value)}")


TRANSITION_MAX = 3600  # seconds: the longest fade a message may ask for
SLEEP_MAX = 86400  # seconds: the longest sleep timer a message may set
STEP_MAX = 100
_SIGNED_DIGITS = re.compile(r"-?[0-9]+")


def _exact(bound: float) -> Decimal:
    """A bound as the decimal it is written as (``0.05``), not the binary float nearest it
    (0.05000000000000000277...), so that a value is compared with what the docs say."""
    return Decimal(str(bound))


def seconds(value: object, rule: str, low: float, high: float) -> float:
    """A JSON number of seconds from ``low`` to ``high``, exactly as sent; ``rule`` names it."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, float)):
        raise ProtocolError(INVALID_MESSAGE, f"{rule}, got {describe(value)}")
    value = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not value.is_finite():
        raise ProtocolError(INVALID_MESSAGE, f"{rule}, got {describe(value)}")
    if value < _exact(low) or value > _exact(high):
        raise ProtocolError(OUT_OF_RANGE, f"{rule}, got {describe(value)}")
    return float(value)


def parse_transition(value: object) -> float:
    """A fade's length in seconds: a JSON number from 0 to TRANSITION_MAX."""
    return seconds(value, f"transition must be a number of seconds from 0 to {TRANSITION_MAX}", 0, TRANSITION_MAX)


def parse_sleep_after(value: object) -> float | None:
    """A sleep timer's delay: seconds from 1 to SLEEP_MAX, or null to cancel it."""
    if value is None:
        return None
    return seconds(
        value,
        f"after must be a number of seconds from 1 to {SLEEP_MAX}, or null to cancel the sleep timer",
        1,
        SLEEP_MAX,
    )


def whole(value: object, rule: str, low: float, high: float) -> int:
    """A JSON integer (or a number with no fraction) from ``low`` to ``high``; ``rule`` names it."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise ProtocolError(INVALID_MESSAGE, f"{rule}, got {describe(value)}")
    value = Decimal(value)
    if not value.is_finite():
        raise ProtocolError(INVALID_MESSAGE, f"{rule}, got {describe(value)}")
    # The range first, by comparison alone: arithmetic on 1e999999999 (abs, rounding)
    # overflows Decimal's context, and in range the integral check is cheap and exact.
    if value < _exact(low) or value > _exact(high):
        raise ProtocolError(OUT_OF_RANGE, f"{rule}, got {describe(value)}")
    if value != value.to_integral_value():
        raise ProtocolError(INVALID_MESSAGE, f"{rule}, got {describe(value)}")
    return int(value)


def parse_step(value: object) -> int:
    """A relative step: an integer from -STEP_MAX to STEP_MAX (or such a string, from a form)."""
    if isinstance(value, str) and _SIGNED_DIGITS.fullmatch(value) and len(value) <= 5:
        value = Decimal(value)
    return whole(value, f"step must be an integer from {-STEP_MAX} to {STEP_MAX}", -STEP_MAX, STEP_MAX)


KELVIN_MIN, KELVIN_MAX = 1000, 20000  # what a message may say at all; each light has its own range within
_HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
_COLOR_RULE = 'color must be a string "#rrggbb" of six hex digits, such as "#ff8800"'


def parse_color(value: object) -> str:
    """A colour: ``"#rrggbb"`` in any case, returned in lower case; black is refused (it shows
    nothing: ``{"on": false}`` turns a light off and keeps its colour)."""
    if not isinstance(value, str) or not _HEX_COLOR.fullmatch(value):
        raise ProtocolError(INVALID_MESSAGE, f"{_COLOR_RULE}, got {describe(value)}")
    if value == "#000000":
        raise ProtocolError(
            INVALID_MESSAGE, '"#000000" is black, which shows nothing: send {"on": false} to turn the light off'
        )
    return value.lower()


def parse_kelvin(value: object) -> int:
    """White of a temperature: an integer number of kelvin (or such a string, from a form)."""
    if isinstance(value, str) and _ASCII_DIGITS.fullmatch(value) and len(value) <= 6:
        value = int(value)
    return whole(value, f"kelvin must be an integer from {KELVIN_MIN} to {KELVIN_MAX}", KELVIN_MIN, KELVIN_MAX)


def parse_on(value: object) -> bool:
    """Power: a JSON boolean, nothing else (not 1, "yes" or null)."""
    if not isinstance(value, bool):
        raise ProtocolError(INVALID_MESSAGE, f"on must be true or false, got {describe(value)}")
    return value


def parse_id(message: Message) -> RequestId:
    if "id" not in message:
        return None
    value = message["id"]
    if isinstance(value, str) and len(value) <= ID_MAX_CHARS:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and -ID_INT_LIMIT <= value <= ID_INT_LIMIT:
        return value
    # Compared, not abs(): abs(Decimal("1e999999999")) overflows Decimal's context.
    if isinstance(value, Decimal) and value.is_finite() and -ID_INT_LIMIT <= value <= ID_INT_LIMIT:
        if value == value.to_integral_value():
            return int(value)
    raise ProtocolError(
        INVALID_MESSAGE,
        f"id must be a string of at most {ID_MAX_CHARS} characters or an integer, got {describe(value)}",
    )


def to_json(value: object) -> str:
    """``value`` as compact JSON: how every message and answer of the service is written."""
    return json.dumps(value, separators=(",", ":"))


def parse_json(text: str | bytes) -> Any:
    """Decode one JSON text with numbers kept exact; raise ProtocolError for anything else.

    Integers become ints (exact, and fast: the level of nearly every message; Decimals
    past int()'s 4,300 digits), numbers with a fraction or an exponent become Decimals,
    so that ``50.0000000000000001`` is not taken for 50 nor ``1e400`` for infinity.
    """
    if isinstance(text, (bytes, bytearray)):
        raise ProtocolError(INVALID_MESSAGE, "binary frames are not accepted; send JSON as a text message")
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
            f'message is not valid JSON ({detail}); send e.g. {{"level": 80}}',
        ) from None


class WatchName(enum.StrEnum):
    """What a client may watch besides the default light's state (docs/protocol.md, "watch")."""

    SCHEDULES = "schedules"
    LIGHTS = "lights"
    SCENES = "scenes"


WATCHABLE = tuple(WatchName)


def parse_watch(message: Message) -> dict[str, bool]:
    """A watch request's ``schedules``, ``lights`` and ``scenes``: true to start that news, false
    to stop it; one of them at least, and only the ones given change."""
    given = {str(name): message[name] for name in WATCHABLE if name in message}
    wrong = [name for name, value in given.items() if not isinstance(value, bool)]
    if not given or wrong:
        shown = f", got {describe(given[wrong[0]])}" if wrong else ""
        raise ProtocolError(
            INVALID_MESSAGE,
            f'a watch request needs "schedules", "lights" or "scenes" (or several): true or false{shown}',
        )
    return given


def parse_watch_query(values: list[str]) -> frozenset[str]:
    """``/ws?watch=schedules,lights``: what the connection watches from the start."""
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in WATCHABLE]
    if unknown:
        raise ProtocolError(INVALID_MESSAGE, f"watch may be {' or '.join(WATCHABLE)}, got {describe(unknown[0])}")
    return frozenset(names)


# A light's name, in LIGHTS and in a message's "light": as a topic level and a URL path part
# takes it, with nothing to escape. "*" in a message means every light.
LIGHT_NAME = re.compile(r"[a-z0-9_-]{1,32}")
LIGHT_NAME_RULE = "a light's name is 1 to 32 of a-z, 0-9, '_' and '-'"
EVERY_LIGHT = "*"
DEFAULT_LIGHT_NAME = "led"  # the one light's name when LIGHTS is not set


def parse_light(message: Message) -> str | None:
    """A message's ``"light"``: a name, ``"*"`` for every light, or None when absent (the
    default light). Whether the service has that light is the door's question."""
    if "light" not in message:
        return None
    value = message["light"]
    if isinstance(value, str) and (value == EVERY_LIGHT or LIGHT_NAME.fullmatch(value)):
        return value
    raise ProtocolError(
        INVALID_MESSAGE,
        f'light must be a light\'s name or "*" for every light ({LIGHT_NAME_RULE}), got {describe(value)}',
    )
