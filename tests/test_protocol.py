"""Every input protocol v1 accepts or rejects, and what the server sends back."""

import json

import pytest

import protocol
from protocol import GetState, Ping, ProtocolError, SetLevel, State

ACCEPTED = [
    ('{"level": 42}', SetLevel(42)),
    ('{"level": 0}', SetLevel(0)),
    ('{"level": 100}', SetLevel(100)),
    ('{"level": "42"}', SetLevel(42)),
    ('{"level": "007"}', SetLevel(7)),
    ('{"level": "100"}', SetLevel(100)),
    ('{"level": 50.0}', SetLevel(50)),
    ('{"level": 1e2}', SetLevel(100)),
    ('{"level": -0}', SetLevel(0)),
    ("80", SetLevel(80)),
    ("80\n", SetLevel(80)),
    ('  {"level": 80}\r\n', SetLevel(80)),
    ('{"type": "set", "level": 5}', SetLevel(5)),
    ('{"level": 5, "extra": [1, {"x": 2}]}', SetLevel(5)),
    ('{"level": 5, "id": "a"}', SetLevel(5, "a")),
    ('{"level": 5, "id": 7}', SetLevel(5, 7)),
    ('{"level": 5, "id": -7}', SetLevel(5, -7)),
    ('{"level": 5, "id": ""}', SetLevel(5, "")),
    ('{"level": 5, "id": "' + "x" * 64 + '"}', SetLevel(5, "x" * 64)),
    ('{"type": "get"}', GetState()),
    ('{"type": "get", "id": "g1"}', GetState("g1")),
    ('{"type": "get", "level": "nonsense"}', GetState()),
    ('{"type": "ping"}', Ping()),
    ('{"type": "ping", "id": 3}', Ping(3)),
]


@pytest.mark.parametrize("text,expected", ACCEPTED)
def test_accepted(text, expected):
    command = protocol.parse_command(text)
    assert command == expected
    if isinstance(command, SetLevel):
        assert type(command.level) is int


REJECTED = [
    # (message, code, a piece of the error text)
    ('{"level": 150}', "out_of_range", "got 150"),
    ('{"level": 101}', "out_of_range", "from 0 to 100"),
    ('{"level": -1}', "out_of_range", "got -1"),
    ('{"level": "101"}', "out_of_range", '"101"'),
    ('{"level": "0000000000000000000000000101"}', "out_of_range", "0 to 100"),
    ('{"level": 1e400}', "out_of_range", "1E+400"),
    ('{"level": ' + "9" * 5000 + "}", "out_of_range", "a number with 5000 characters"),
    ('{"level": "' + "9" * 4000 + '"}', "out_of_range", "..."),
    ("-5", "out_of_range", "got -5"),
    ('{"level": true}', "invalid_message", "got true"),
    ('{"level": false}', "invalid_message", "got false"),
    ('{"level": null}', "invalid_message", "got null"),
    ('{"level": 50.5}', "invalid_message", "got 50.5"),
    ('{"level": 0.1}', "invalid_message", "integer"),
    ('{"level": ""}', "invalid_message", 'got ""'),
    ('{"level": " 42"}', "invalid_message", "ASCII digits"),
    ('{"level": "4 2"}', "invalid_message", "ASCII digits"),
    ('{"level": "-5"}', "invalid_message", "ASCII digits"),
    ('{"level": "+5"}', "invalid_message", "ASCII digits"),
    ('{"level": "4.0"}', "invalid_message", "ASCII digits"),
    ('{"level": "\u00b2"}', "invalid_message", "\u00b2"),
    ('{"level": "\uff14\uff12"}', "invalid_message", "ASCII digits"),
    ('{"level": "\u0664\u0662"}', "invalid_message", "ASCII digits"),
    ('{"level": [42]}', "invalid_message", "got [42]"),
    ('{"level": {"v": 1}}', "invalid_message", "integer"),
    ('{"level": NaN}', "invalid_json", "NaN"),
    ('{"level": Infinity}', "invalid_json", "Infinity"),
    ('{"level": -Infinity}', "invalid_json", "Infinity"),
    ("NaN", "invalid_json", "NaN"),
    ("{}", "invalid_message", 'missing "level"'),
    ('{"lvl": 5}', "invalid_message", 'missing "level"'),
    ('{"type": "set"}', "invalid_message", 'missing "level"'),
    ("[]", "invalid_message", "JSON object"),
    ("[80]", "invalid_message", "JSON object"),
    ('"80"', "invalid_message", "JSON object"),
    ("null", "invalid_message", "JSON object"),
    ("true", "invalid_message", "JSON object"),
    ("50.5", "invalid_message", "got 50.5"),
    ('{"type": "reboot"}', "unknown_type", '"reboot"'),
    ('{"type": "GET"}', "unknown_type", '"get"'),
    ('{"type": 1}', "invalid_message", "type must be a string"),
    ('{"type": null, "level": 5}', "invalid_message", "type must be a string"),
    ('{"level": 5, "id": "' + "x" * 65 + '"}', "invalid_message", "at most 64"),
    ('{"level": 5, "id": 1.5}', "invalid_message", "id must be"),
    ('{"level": 5, "id": true}', "invalid_message", "id must be"),
    ('{"level": 5, "id": null}', "invalid_message", "id must be"),
    ('{"level": 5, "id": [1]}', "invalid_message", "id must be"),
    ('{"level": 5, "id": 9007199254740993}', "invalid_message", "id must be"),
    ("", "invalid_json", "not valid JSON"),
    ("   ", "invalid_json", "not valid JSON"),
    ('{"level": 5', "invalid_json", "not valid JSON"),
    ('{"level": 5} {"level": 6}', "invalid_json", "Extra data"),
    ("{'level': 5}", "invalid_json", "not valid JSON"),
    ("[" * 100_000 + "]" * 100_000, "invalid_json", "nested too deeply"),
    (b'{"level": 5}', "invalid_message", "binary frames"),
]


@pytest.mark.parametrize("text,code,fragment", REJECTED, ids=lambda v: repr(v)[:40])
def test_rejected(text, code, fragment):
    with pytest.raises(ProtocolError) as caught:
        protocol.parse_command(text)
    assert caught.value.code == code
    assert fragment in caught.value.message


def test_error_keeps_the_request_id_when_the_id_itself_is_valid():
    with pytest.raises(ProtocolError) as caught:
        protocol.parse_command('{"level": 150, "id": "r1"}')
    assert caught.value.request_id == "r1"
    with pytest.raises(ProtocolError) as caught:
        protocol.parse_command('{"type": "nope", "id": 9}')
    assert (caught.value.code, caught.value.request_id) == ("unknown_type", 9)


def test_parse_level_from_form_strings_and_python_numbers():
    assert protocol.parse_level("42") == 42
    assert protocol.parse_level(42) == 42
    for bad in ("", "abc", "\u00b2", "-1", True, None, 4.5, float("nan"), 101):
        with pytest.raises(ProtocolError):
            protocol.parse_level(bad)


@pytest.mark.parametrize(
    "message,expected",
    [
        (
            protocol.state_message(State(50, True, 7)),
            {"type": "state", "level": 50, "on": True, "brightness": 50, "seq": 7},
        ),
        (
            protocol.state_message(State(60, False, 1), "x"),
            {"type": "state", "level": 0, "on": False, "brightness": 60, "seq": 1, "id": "x"},
        ),
        (
            protocol.state_message(State(1, True, 2), 5),
            {"type": "state", "level": 1, "on": True, "brightness": 1, "seq": 2, "id": 5},
        ),
        (
            protocol.state_message(State(80, True, 3, 1.5)),
            {"type": "state", "level": 80, "on": True, "brightness": 80, "seq": 3, "transition": 1.5},
        ),
        (protocol.pong_message(), {"type": "pong"}),
        (protocol.pong_message("p"), {"type": "pong", "id": "p"}),
        (protocol.error_message("out_of_range", "no"), {"type": "error", "code": "out_of_range", "message": "no"}),
    ],
)
def test_server_messages_are_compact_flat_objects(message, expected):
    assert "\n" not in message and ", " not in message and ": " not in message
    decoded = json.loads(message)
    assert decoded == expected
    assert all(not isinstance(v, (dict, list)) for v in decoded.values())
    assert message.startswith('{"type":')


def test_error_text_is_ascii_json_even_for_unicode_input():
    with pytest.raises(ProtocolError) as caught:
        protocol.parse_command('{"level": "\uff14\uff12"}')
    text = protocol.error_message(caught.value.code, caught.value.message)
    assert text.isascii()
    assert json.loads(text)["message"] == caught.value.message


def test_round_trip_a_state_reply_parses_back_into_the_same_level():
    for level in (0, 1, 50, 99, 100):
        sent = protocol.state_message(State(level or 40, level > 0, 3), "id-1")
        command = protocol.parse_command(sent.replace('"type":"state"', '"type":"set"'))
        assert command == SetLevel(level, "id-1")
