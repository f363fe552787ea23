"""Every documented bound of every field: accepted at the bound, refused one step past it, the
same on every door. The table quotes docs/protocol.md (a test checks that it says each), and
is run through the protocol in process, then the WebSocket, REST (JSON and form fields) and
MQTT of one real server. One step past is both the next value at the bound's own precision
(0.05 -> 0.04) and a hair past it (0.049999999999): a bound compared as a binary float
refused 0.05 itself and let 0.0500000000000000027 through."""

from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path
from typing import NamedTuple

import pytest

import protocol

from mqtt_support import Broker, Listener
from support import ROOT, Client

LONG_LIGHT = "l" * 32  # a light name at its longest


class Bound(NamedTuple):
    doc: str  # what docs/protocol.md says of it, word for word
    message: str  # the message, with @@ where the value goes (JSON text)
    accepted: tuple[str, ...]  # values at the bounds (JSON text, exactly as a client writes them)
    refused: tuple[str, ...]  # one step past each bound
    code: str  # the error code past it
    form: str | None = None  # its form field on REST, if it has one
    rest: bool = True  # a message POST /led takes


BOUNDS = [
    Bound(
        "A JSON integer from 0 to 100",
        '{"level": @@}',
        ("0", "100"),
        ("-1", "101", "100.0000001"),
        "out_of_range",
        "level",
    ),
    Bound(
        "an integer from −100 to 100",
        '{"step": @@}',
        ("-100", "100"),
        ("-101", "101", "100.0000001"),
        "out_of_range",
        "step",
    ),
    Bound(
        "a JSON number of seconds from 0 to 3600",
        '{"level": 5, "transition": @@}',
        ("0", "3600"),
        ("-1e-9", "3600.000000001", "3601"),
        "out_of_range",
        "transition",
    ),
    Bound(
        "outside 1000 to 20000 at all",
        '{"kelvin": @@}',
        ("1000", "20000"),
        ("999", "20001", "20000.000000001"),
        "out_of_range",
        "kelvin",
    ),
    Bound(
        "a fractional kelvin",
        '{"kelvin": @@}',
        ("2700",),
        ("2700.5", "1000.0000001"),
        "invalid_message",
        "kelvin",
    ),
    Bound(
        "a JSON number of seconds from 1 to 86400",
        '{"type": "sleep", "after": @@}',
        ("1", "86400"),
        ("0", "0.999999999", "86400.000000001", "86401"),
        "out_of_range",
    ),
    Bound(
        "`period` seconds (0.5 to 600)",
        '{"effect": "breathe", "period": @@}',
        ("0.5", "600"),
        ("0.4", "0.499999999", "600.000000001", "601"),
        "out_of_range",
        "period",
    ),
    Bound(
        "(1 to 100, whole)",
        '{"effect": "candle", "depth": @@}',
        ("1", "100"),
        ("0", "0.999999999", "100.000000001", "101"),
        "out_of_range",
        "depth",
    ),
    Bound(
        "(each 0.05 to 3600)",
        '{"effect": "blink", "on_time": @@}',
        ("0.05", "3600"),
        ("0.04", "0.049999999999", "3600.000000001", "3601"),
        "out_of_range",
        "on_time",
    ),
    Bound(
        "(each 0.05 to 3600)",
        '{"effect": "blink", "off_time": @@}',
        ("0.05", "3600"),
        ("0.04", "0.049999999999", "3600.000000001", "3601"),
        "out_of_range",
        "off_time",
    ),
    Bound(
        "`count` blinks (1 to 100, whole",
        '{"effect": "flash", "count": @@}',
        ("1", "100"),
        ("0", "101", "100.000000001"),
        "out_of_range",
        "count",
    ),
    Bound(
        "each time 0.05 to 60 s",
        '{"effect": "flash", "on_time": @@}',
        ("0.05", "60"),
        ("0.04", "0.049999999999", "60.000000001", "61"),
        "out_of_range",
        "on_time",
    ),
    Bound(
        "each time 0.05 to 60 s",
        '{"effect": "flash", "off_time": @@}',
        ("0.05", "60"),
        ("0.04", "0.049999999999", "60.000000001", "61"),
        "out_of_range",
        "off_time",
    ),
    Bound(
        "in whole minutes (−720 to 720",
        '{"type": "schedule", "name": "b", "sun": "sunset", "offset": @@, "on": true}',
        ("-720", "720"),
        ("-721", "721"),
        "out_of_range",
        rest=False,
    ),
    Bound(
        "a schedule message's time and command by the same rules as a set",
        '{"type": "schedule", "name": "b", "at": "07:00", "effect": "blink", "on_time": @@}',
        ("0.05", "3600"),
        ("0.04", "0.049999999999", "3601"),
        "out_of_range",
        rest=False,
    ),
    Bound(
        "an integer (at most 2^53 − 1 in size)",
        '{"level": 5, "id": @@}',
        ("9007199254740991", "-9007199254740991"),
        ("9007199254740992", "-9007199254740992"),
        "invalid_message",
    ),
    Bound(
        "a string of at most 64 characters",
        '{"level": 5, "id": @@}',
        (json.dumps("i" * 64),),
        (json.dumps("i" * 65),),
        "invalid_message",
    ),
    Bound(
        "`name`: 1 to 32 letters",
        '{"type": "schedule", "name": @@, "at": "07:00", "on": true}',
        (json.dumps("n" * 32), '"n"'),
        (json.dumps("n" * 33), '""'),
        "invalid_message",
        rest=False,
    ),
    Bound(
        "A name is 1 to 32 of",
        '{"level": 5, "light": @@}',
        (json.dumps(LONG_LIGHT),),
        (json.dumps("l" * 33), '""'),
        "invalid_message",
        "light",
    ),
]

# Said in docs/protocol.md's words where the table's doc names a rule rather than quotes it.
DOC_ALIASES = {"a schedule message's time and command by the same rules as a set": "by the same rules as a set"}


def cases(door: str) -> list[tuple[str, str, str | None]]:
    """(message, value, expected code or None for accepted) of every bound a door takes."""
    found = []
    for bound in BOUNDS:
        if door.startswith("rest") and not bound.rest or door == "rest form" and bound.form is None:
            continue
        found += [(bound.message, value, None) for value in bound.accepted]
        found += [(bound.message, value, bound.code) for value in bound.refused]
    return found


def test_the_table_is_what_protocol_md_says():
    doc = (ROOT / "docs" / "protocol.md").read_text()
    for bound in BOUNDS:
        assert DOC_ALIASES.get(bound.doc, bound.doc) in doc, bound.doc


@pytest.mark.parametrize("message, value, code", cases("protocol"))
def test_the_protocol_accepts_each_bound_and_refuses_one_step_past(message, value, code):
    text = message.replace("@@", value)
    if code is None:
        protocol.parse_command(text)
    else:
        with pytest.raises(protocol.ProtocolError) as refused:
            protocol.parse_command(text)
        assert refused.value.code == code, (text, refused.value.message)


def form_body(message: str, value: str) -> str:
    """The message as the form fields it stands for (numbers and names as written)."""
    fields = json.loads(message.replace("@@", '"@@"'))
    return urllib.parse.urlencode(
        {
            name: (json.loads(value) if value.startswith('"') else value) if v == "@@" else ("true" if v is True else v)
            for name, v in fields.items()
        }
    )


def test_every_door_accepts_each_bound_and_refuses_one_step_past(start_server, tmp_path: Path):
    broker = Broker(tmp_path).start()
    try:
        server = start_server(
            env={
                # the default light an RGB one whose range is every kelvin the protocol takes
                "LIGHTS": f"led:rgb:21/20/16:1000-20000,{LONG_LIGHT}:12",
                "LATITUDE": "51.5",
                "LONGITUDE": "-0.1",
                "MQTT_URL": broker.url,
                "MQTT_DEVICE_ID": "lamp1",
            }
        )
        server.wait_for(lambda h: h["mqtt_connected"], what="the bridge connected")
        wrong = []
        with Client(server.ws_url) as client:  # the WebSocket
            client.recv()
            for n, (message, value, code) in enumerate(cases("ws")):
                text = message.replace("@@", value)
                sent = json.loads(text, parse_float=str, parse_int=str)
                marker = f"m{n}" if "id" not in sent else None
                client.send(text[:-1] + f', "id": "{marker}"}}' if marker else text)
                reply, _ = client.recv_until(
                    lambda m: (
                        m.get("id") == marker or (marker is None and (m["type"] == "error" or m.get("id") is not None))
                    )
                )
                got = reply.get("code") if reply["type"] == "error" else None
                if got != code:
                    wrong.append(("ws", text, code, reply))
        for door in ("rest json", "rest form"):
            for message, value, code in cases(door):
                if door == "rest json":
                    status, body = server.post("/led", message.replace("@@", value))
                else:
                    status, body = server.post("/led", form_body(message, value), "application/x-www-form-urlencoded")
                if (
                    door == "rest form"
                    and code is not None
                    and (
                        '"level": @@' in message
                        and not re.fullmatch("[0-9]+", value)
                        or '"step": @@' in message
                        and not re.fullmatch("-?[0-9]+", value)
                        or '"kelvin": @@' in message
                        and not re.fullmatch("[0-9]+", value)
                    )
                ):
                    code = "invalid_message"  # a form's level, step and kelvin: digits only (protocol.md)
                if (status == 200) != (code is None) or (code is not None and body["code"] != code):
                    wrong.append((door, message.replace("@@", value), code, status, body))
        hears = Listener(broker, "ledsock/lamp1/error")
        expected = {}
        for n, (message, value, code) in enumerate(cases("mqtt")):
            text = message.replace("@@", value)
            if '"id"' not in text:
                text = text[:-1] + f', "id": "q{n}"}}'
                expected[f"q{n}"] = code
            hears.publish("ledsock/lamp1/set", text)
        hears.publish("ledsock/lamp1/set", '{"level": 101, "id": "last"}')
        hears.wait_for("ledsock/lamp1/error", lambda e: e.get("id") == "last")
        errors = {e.get("id"): e["code"] for e in hears.on("ledsock/lamp1/error")}
        for request_id, code in expected.items():
            if errors.get(request_id) != code:
                wrong.append(("mqtt", request_id, code, errors.get(request_id)))
        hears.close()
        assert not wrong, "\n".join(map(str, wrong))
    finally:
        broker.stop()
