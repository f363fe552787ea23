"""A lamp, not a number: power apart from brightness, toggles, steps and fades, over a real server."""

import time

import pytest

import protocol
from protocol import ProtocolError

from support import Client


def state(level, seq, *, on=None, brightness=None, **extra):
    on = level > 0 if on is None else on
    return {"type": "state", "level": level, "on": on, "brightness": brightness or level, "seq": seq, **extra}


def test_off_keeps_the_brightness_and_on_brings_it_back(server):
    with Client(server.ws_url) as me, Client(server.ws_url) as other:
        me.recv(), other.recv()
        assert me.request({"level": 70, "id": 1})[0] == state(70, 1, id=1)
        assert me.request({"on": False, "id": 2})[0] == state(0, 2, on=False, brightness=70, id=2)
        assert me.request({"on": True, "id": 3})[0] == state(70, 3, id=3)
        assert me.request({"type": "toggle", "id": 4})[0] == state(0, 4, on=False, brightness=70, id=4)
        assert me.request({"level": 0, "id": 5})[0] == state(0, 4, on=False, brightness=70, id=5)  # already off
        assert me.request({"type": "toggle", "id": 6})[0] == state(70, 5, id=6)
        assert me.request({"level": 0, "id": 7})[0] == state(0, 6, on=False, brightness=70, id=7)  # v1's "Off"
        assert me.request({"level": 30, "id": 8})[0] == state(30, 7, id=8)  # a level turns it on
        seen = [other.recv() for _ in range(7)]
        assert [m["seq"] for m in seen] == list(range(1, 8)) and seen[-1] == state(30, 7)
        assert other.nothing_pending()
    assert server.led() == {"level": 30, "on": True, "brightness": 30, "seq": 7}


def test_steps_move_from_the_level_and_clamp(server):
    with Client(server.ws_url) as me:
        me.recv()
        assert me.request({"step": 10, "id": "a"})[0] == state(60, 1, id="a")
        assert me.request({"step": 100, "id": "b"})[0] == state(100, 2, id="b")
        assert me.request({"step": -100, "id": "c"})[0] == state(0, 3, on=False, brightness=100, id="c")
        assert me.request({"step": -10, "id": "d"})[0] == state(0, 3, on=False, brightness=100, id="d")
        assert me.request({"step": 15, "id": "e"})[0] == state(15, 4, id="e")  # up from off: on at 15


def test_a_fade_is_one_state_that_says_where_and_how_long(server):
    with Client(server.ws_url) as me, Client(server.ws_url) as other:
        me.recv(), other.recv()
        started = time.monotonic()
        assert me.request({"level": 90, "transition": 1.0, "id": "f"})[0] == state(90, 1, transition=1.0, id="f")
        assert other.recv() == state(90, 1, transition=1.0)
        mid = server.get("/led")
        assert 50 <= mid["shown"] <= 90 and mid["level"] == 90, mid
        assert 0 < mid.get("transition", 0) <= 1.0, mid  # what is left of the fade
        health = server.get("/healthz")
        assert 50 <= health["shown"] <= 90 and health["level"] == 90
        server.wait_for(lambda h: h["shown"] == 90 and "transition" not in h, timeout=5, what="the end of the fade")
        print(f"a 1 s fade reached its level, as /healthz saw it, after {time.monotonic() - started:.2f} s")
        assert other.nothing_pending()  # no state per fade step
        assert me.request({"type": "get", "id": "g"})[0] == state(90, 1, id="g")  # the fade is over


def test_rest_takes_the_same_fields_as_json_and_as_a_form(server):
    form = "application/x-www-form-urlencoded"
    assert server.post("/led", '{"on": false}') == (200, {"level": 0, "on": False, "brightness": 50, "seq": 1})
    assert server.post("/led", "on=true", form) == (200, {"level": 50, "on": True, "brightness": 50, "seq": 2})
    assert server.post("/led", "step=-20", form)[1]["level"] == 30
    assert server.post("/led", '{"type": "toggle"}')[1]["on"] is False
    status, body = server.post("/led", "level=80&transition=0.5", form)
    assert (status, body["level"], body["transition"]) == (200, 80, 0.5)
    for bad, code in [
        ("step=1.5", "invalid_message"),
        ("on=yes", "invalid_message"),
        ("level=5&on=false", "invalid_message"),
        ('{"transition": -1, "level": 5}', "out_of_range"),
        ('{"type": "get"}', "invalid_message"),
    ]:
        status, body = server.post("/led", bad, form if "=" in bad else "application/json")
        assert (status, body["code"]) == (400, code), bad
    server.wait_for(lambda h: h["shown"] == 80, what="the fade's end")
    assert server.led() == {"level": 80, "on": True, "brightness": 80, "seq": 5}


BAD = [
    ('{"level": 5, "transition": -1}', "out_of_range"),
    ('{"level": 5, "transition": 3601}', "out_of_range"),
    ('{"level": 5, "transition": 1e400}', "out_of_range"),
    ('{"level": 5, "transition": true}', "invalid_message"),
    ('{"level": 5, "transition": "1"}', "invalid_message"),
    ('{"level": 5, "transition": null}', "invalid_message"),
    ('{"level": 5, "transition": NaN}', "invalid_json"),
    ('{"on": "yes"}', "invalid_message"),
    ('{"on": 1}', "invalid_message"),
    ('{"on": null}', "invalid_message"),
    ('{"step": 1.5}', "invalid_message"),
    ('{"step": 1000}', "out_of_range"),
    ('{"step": true}', "invalid_message"),
    ('{"step": "1.5"}', "invalid_message"),
    ('{"step": "+5"}', "invalid_message"),
    ('{"level": 5, "on": false}', "invalid_message"),
    ('{"level": 0, "on": true}', "invalid_message"),
    ('{"level": 5, "step": 1}', "invalid_message"),
    ('{"on": true, "step": 1}', "invalid_message"),
    ('{"type": "toggle", "transition": -2}', "out_of_range"),
]


@pytest.mark.parametrize("text,code", BAD)
def test_bad_new_fields_are_typed_errors(text, code):
    with pytest.raises(ProtocolError) as rejected:
        protocol.parse_command(text)
    assert rejected.value.code == code, rejected.value.message


def test_bad_new_fields_change_nothing_and_tell_no_one(server):
    with Client(server.ws_url) as me, Client(server.ws_url) as other:
        me.recv(), other.recv()
        for n, (text, code) in enumerate(BAD):
            me.send(text[:-1] + f', "id": {n}}}')
            reply = me.recv()  # one reply each, in order (an invalid_json one cannot carry the id)
            assert (reply["type"], reply["code"]) == ("error", code), (text, reply)
            assert reply.get("id") == (None if code == "invalid_json" else n), reply
        assert other.nothing_pending()
    assert server.led() == {"level": 50, "on": True, "brightness": 50, "seq": 0}


def test_the_documented_combinations_are_accepted():
    assert protocol.parse_command('{"level": 5, "on": true}') == protocol.SetLevel(5)
    assert protocol.parse_command('{"level": 0, "on": false}') == protocol.SetLevel(0)
    assert protocol.parse_command('{"type": "set", "step": -3, "transition": 2}') == protocol.Step(-3, None, 2.0)
    assert protocol.parse_command('{"type": "toggle", "transition": 0.5, "id": 9}') == protocol.Toggle(9, 0.5)
