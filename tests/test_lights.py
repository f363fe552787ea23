"""Several lights on one Pi (LIGHTS=name:pin): the setting, each light's own state, timer,
schedules and state-file line, protocol v1 kept byte for byte, and real processes with
real clients on every door."""

import json
import subprocess
import threading
import time
from datetime import datetime

import pytest

import protocol
from lamp.light import Light
from lamp.light_specs import parse_lights
from lamp.lights import Lights
from lamp.schedules import Schedules
from lamp.state import StateFile
from led import Led

from fakes import LONDON, FakeScheduler
from support import Client, ServerProcess, require, run_documented_session, shell_env

THREE = "desk:21,shelf:20,status:16"


# ---------------------------------------------------------------- the setting


def test_lights_are_read_in_order_the_first_the_default():
    assert [(spec.name, spec.pin) for spec in parse_lights(" desk:21, shelf:20 ,status:16")] == [
        ("desk", 21),
        ("shelf", 20),
        ("status", 16),
    ]
    assert parse_lights("a:0,b_2-x:27")[1].pin == 27


@pytest.mark.parametrize(
    "text, says",
    [
        ("desk:21,desk:20", "the name 'desk' is given twice"),
        ("desk:21,shelf:21", "GPIO21 is given to both 'desk' and 'shelf'"),
        ("desk:28", "light 'desk' has pin '28'"),
        ("desk:-1", "light 'desk' has pin '-1'"),
        ("desk:２１", "light 'desk' has pin '２１'"),
        ("desk", "'desk' is not NAME:PIN"),
        ("Desk:21", "'Desk:21' is not NAME:PIN"),
        ("desk lamp:21", "'desk lamp:21' is not NAME:PIN"),
        ("*:21", "'*:21' is not NAME:PIN"),
        ("a" * 33 + ":21", "is not NAME:PIN"),
        (" , ", "LIGHTS is empty"),
    ],
)
def test_a_bad_lights_value_says_which_part(text, says):
    with pytest.raises(ValueError) as caught:
        parse_lights(text)
    assert says in str(caught.value)


@pytest.mark.parametrize(
    "lights, factory, says",
    [
        ("desk:21,desk:20", "mock", "the name 'desk' is given twice"),
        ("desk:21,shelf:21", "mock", "GPIO21 is given to both"),
        ("desk:21,shelf:40", "mock", "light 'shelf' has pin '40'"),
        # The kernel's PWM drives GPIO 18 and 19 only (and no PWM chip is here at all).
        ("desk:18,shelf:21", "kernel", "light 'desk' on GPIO18: "),
    ],
)
def test_a_bad_lights_value_stops_the_service_with_status_2_and_one_line(tmp_path, lights, factory, says):
    server = ServerProcess(tmp_path, env={"LIGHTS": lights, "LED_PIN_FACTORY": factory})
    server.start(wait=False)
    assert server.proc.wait(20) == 2
    server._log.close()
    lines = [line for line in server.log().splitlines() if line.strip()]
    assert any(says in line for line in lines), lines
    assert len([line for line in lines if "Traceback" in line]) == 0, lines


# ---------------------------------------------------------------- the core, in process


@pytest.fixture
def three(mock_factory):
    made = Lights(
        [Light(Led(pin, pin_factory=mock_factory), name=name, brightness=50) for name, pin, *_ in parse_lights(THREE)]
    )
    yield made
    made.release()


def test_each_light_keeps_its_own_state_and_the_default_is_first(three, mock_factory):
    assert three.default.name == "desk" and three.names == ["desk", "shelf", "status"]
    three.get("shelf").execute(protocol.SetLevel(80), origin="test")
    three.get(None).execute(protocol.SetPower(False), origin="test")
    assert [(s.light, s.level, s.seq) for s in (light.state() for light in three)] == [
        ("desk", 0, 1),
        ("shelf", 80, 1),
        ("status", 50, 0),
    ]
    assert mock_factory.pin(20).state > mock_factory.pin(16).state > mock_factory.pin(21).state == 0
    assert [light.name for light in three.resolve("*")] == three.names
    with pytest.raises(protocol.ProtocolError) as caught:
        three.resolve("lamp", request_id=7)
    assert caught.value.code == protocol.UNKNOWN_LIGHT and caught.value.request_id == 7
    assert "desk, shelf, status" in caught.value.message


def test_each_light_has_its_own_sleep_timer_and_schedules(three):
    clock = FakeScheduler(datetime(2026, 12, 7, 6, 0, tzinfo=LONDON))
    for light in three:
        light.schedules = Schedules(light, clock, timezone=LONDON)
    put = protocol.parse_command('{"type": "schedule", "name": "wake", "at": "06:30", "level": 90}')
    three.get("shelf").execute(put, origin="test")
    three.get("status").execute(
        protocol.parse_command('{"type": "schedule", "name": "wake", "at": "06:45", "on": false}'), origin="test"
    )
    assert sorted(clock.jobs) == ["schedule:shelf:wake", "schedule:status:wake"]  # one name, two lights
    assert clock.advance_to(datetime(2026, 12, 7, 6, 40, tzinfo=LONDON)) == 1
    assert [light.state().level for light in three] == [50, 90, 50]
    assert clock.advance_to(datetime(2026, 12, 7, 6, 50, tzinfo=LONDON)) == 1
    assert [light.state().level for light in three] == [50, 90, 0]
    assert three.get("shelf").schedules.infos()[0].light == "shelf"
    assert three.default.schedules.infos() == []


def test_a_state_file_keeps_a_line_per_light_and_reads_a_single_light_file(tmp_path):
    path = tmp_path / "state.json"
    path.write_text(
        '{"brightness": 42, "on": true, "level": 42, "schedules": [{"name": "a", "at": "07:00", '
        '"days": "daily", "level": 9}]}\n'
    )  # as the single-light service wrote it
    file = StateFile(path, default_light="desk")
    assert file.load() == (42, True) and file.saved("shelf") is None
    assert file.record("desk").saved_schedules[0]["name"] == "a"
    file.record("shelf").save_soon(70, False)
    file.flush()
    written = json.loads(path.read_text())
    assert written["light"] == "desk" and written["brightness"] == 42 and written["schedules"][0]["name"] == "a"
    assert written["lights"] == {"shelf": {"brightness": 70, "on": False, "level": 0}}
    # The lights reordered: the top line is still desk's, by its name.
    again = StateFile(path, default_light="shelf")
    assert again.load() == (70, False) and again.saved("desk") == (42, True)
    # One light: the file is exactly what a single-light service writes.
    single = StateFile(tmp_path / "single.json")
    single.save_soon(5, True)
    single.flush()
    assert json.loads((tmp_path / "single.json").read_text()) == {"brightness": 5, "on": True, "level": 5}


# ---------------------------------------------------------------- real processes


@pytest.fixture
def lamp3(start_server):
    return start_server(env={"LIGHTS": THREE})


def states_of(server) -> dict:
    return {state["light"]: state for state in server.get("/lights")}


# Protocol v1 as a script types it, one line each: every kind of message, errors included.
V1_SESSION = [
    "80",
    '{"level": 5, "id": "a"}',
    '{"on": false, "id": 2}',
    '{"type": "toggle", "id": 3}',
    '{"step": -3, "id": 4}',
    '{"type": "get", "id": 5}',
    '{"type": "ping"}',
    '{"level": 500, "id": 6}',
    '{"type": "schedule", "name": "wake", "at": "06:45", "level": 80, "id": 7}',
    '{"type": "watch", "schedules": true, "id": 8}',
    '{"type": "unschedule", "name": "wake", "id": 9}',
    '{"type": "sleep", "after": null, "id": 10}',
    "nonsense",
    '{"type": "get", "id": "end"}',
]
V1_REPLIES = 1 + len(V1_SESSION) + 1  # the greeting, a reply each, and the schedule after "watching"


def websocat_session(server, between=lambda: None) -> str:
    """The README's websocat, fed the session on stdin a line at a time (``between()`` runs
    after each line); its output as printed."""
    websocat = require("websocat")
    session = subprocess.Popen(
        [websocat, "-n", "--max-messages-rev", str(V1_REPLIES), server.ws_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=shell_env(),
    )
    try:
        for line in V1_SESSION:
            session.stdin.write(line + "\n")
            session.stdin.flush()
            between()
        out, err = session.communicate(timeout=20)
    finally:
        session.kill()
    assert session.returncode == 0, err
    return out


def test_a_v1_websocat_session_is_byte_for_byte_the_same_against_three_lights(start_server):
    one = websocat_session(start_server())
    assert len(one.splitlines()) == V1_REPLIES and '"light"' not in one
    server = start_server(env={"LIGHTS": THREE})
    with Client(server.ws_url) as other:  # another light's schedule, there before websocat comes
        other.recv()
        other.request({"type": "schedule", "name": "wake", "light": "shelf", "at": "07:00", "level": 9, "id": 0})
    stop, changes = threading.Event(), []

    def churn():  # the other lights change all along, over REST
        while not stop.is_set():
            light = ["shelf", "status"][len(changes) % 2]
            changes.append(server.post(f"/lights/{light}", json.dumps({"level": len(changes) % 101}))[1]["seq"])

    def another_change():  # between two lines of the session, the other lights change
        seen = len(changes)
        while len(changes) < seen + 2:
            time.sleep(0.002)

    churner = threading.Thread(target=churn)
    churner.start()
    try:
        three = websocat_session(server, another_change)
    finally:
        stop.set()
        churner.join()
    assert len(changes) >= 2 * len(V1_SESSION)
    assert three == one


def test_two_lights_changed_from_two_clients_at_once_converge_on_every_watcher(lamp3):
    watchers = [Client(lamp3.ws_url + "?watch=lights") for _ in range(3)]
    plain = Client(lamp3.ws_url)
    try:
        for watcher in watchers:
            greeting = [watcher.recv() for _ in range(3)]
            assert [m["light"] for m in greeting] == ["desk", "shelf", "status"]
        assert "light" not in plain.recv()

        def writer(light, seed):
            with Client(lamp3.ws_url) as me:
                me.recv()
                for index in range(150):
                    me.send({"level": (seed + index * 13) % 101, "light": light, "id": index})
                me.request({"type": "ping", "id": "done"})

        threads = [threading.Thread(target=writer, args=(name, seed)) for name, seed in (("desk", 1), ("shelf", 2))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        final = states_of(lamp3)
        assert final["desk"]["seq"] > 0 and final["shelf"]["seq"] > 0 and final["status"]["seq"] == 0
        for watcher in watchers:
            newest, seqs = {}, {"desk": [], "shelf": []}
            while {k: newest.get(k, {}).get("seq") for k in ("desk", "shelf")} != {
                k: final[k]["seq"] for k in ("desk", "shelf")
            }:
                message = watcher.recv()
                assert message["type"] == "state" and message["light"] in ("desk", "shelf"), message
                newest[message["light"]] = message
                seqs[message["light"]].append(message["seq"])
            for light in ("desk", "shelf"):
                assert seqs[light] == sorted(set(seqs[light])), seqs  # in order, none twice
                assert {k: v for k, v in newest[light].items() if k not in ("type", "transition")} == {
                    k: v for k, v in final[light].items() if k not in ("shown", "transition")
                }
            assert watcher.nothing_pending()
        # The v1 client saw the default light only, as v1 has it.
        _, seen = plain.request({"type": "ping", "id": "p"})
        assert seen and all(m["type"] == "state" and "light" not in m for m in seen)
        assert seen[-1]["seq"] == final["desk"]["seq"]
    finally:
        plain.close()
        for watcher in watchers:
            watcher.close()


def test_a_command_names_its_light_or_every_light_and_its_replies_say_whose(lamp3):
    with Client(lamp3.ws_url) as me, Client(lamp3.ws_url) as v1:
        me.recv(), v1.recv()
        reply, _ = me.request({"level": 30, "light": "shelf", "id": 1})
        assert reply == {
            "type": "state",
            "light": "shelf",
            "level": 30,
            "on": True,
            "brightness": 30,
            "seq": 1,
            "id": 1,
        }
        # From now on this client names lights: even the default light's states say whose.
        reply, _ = me.request({"type": "get", "id": 2})
        assert reply["light"] == "desk"
        me.send({"on": False, "light": "*", "id": "all"})
        replies = [me.recv() for _ in range(3)]
        assert [(r["light"], r["on"], r["id"]) for r in replies] == [
            ("desk", False, "all"),
            ("shelf", False, "all"),
            ("status", False, "all"),
        ]
        # The v1 client got the default light's change only, as v1 has it.
        assert v1.recv() == {"type": "state", "level": 0, "on": False, "brightness": 50, "seq": 1}
        assert v1.nothing_pending()
        assert me.request({"type": "ping", "light": "*", "id": "p"})[0] == {"type": "pong", "id": "p"}
        assert me.nothing_pending()  # one pong, not one per light
        reply, _ = me.request({"type": "sleep", "after": 600, "light": "status", "id": 3})
        assert reply["light"] == "status" and reply["sleep_in"] > 590
        assert "sleep_at" not in states_of(lamp3)["desk"] and "sleep_at" in states_of(lamp3)["status"]
        reply, _ = me.request(
            {"type": "schedule", "name": "dusk", "light": "status", "at": "18:00", "on": True, "id": 4}
        )
        assert reply["type"] == "schedule" and reply["light"] == "status"
        assert lamp3.get("/lights/status/schedules")[0]["name"] == "dusk" and lamp3.get("/schedules") == []
        assert v1.nothing_pending()


NOTHING_CHANGES = [
    ('{"level": 5, "light": "nope", "id": 1}', "unknown_light"),
    ('{"level": 5, "light": "SHELF"}', "invalid_message"),
    ('{"level": 5, "light": "shelf "}', "invalid_message"),
    ('{"level": 5, "light": ""}', "invalid_message"),
    ('{"level": 5, "light": "**"}', "invalid_message"),
    ('{"level": 5, "light": null}', "invalid_message"),
    ('{"level": 5, "light": true}', "invalid_message"),
    ('{"level": 5, "light": 20}', "invalid_message"),
    ('{"level": 5, "light": ["shelf"]}', "invalid_message"),
    ('{"level": 5, "light": {"name": "shelf"}}', "invalid_message"),
    ('{"level": 5, "light": "' + "a" * 33 + '"}', "invalid_message"),
    # A light's name where another field's value goes.
    ('{"level": "shelf"}', "invalid_message"),
    ('{"on": "shelf"}', "invalid_message"),
    ('{"step": "shelf"}', "invalid_message"),
    ('{"level": 5, "transition": "shelf"}', "invalid_message"),
    ('{"type": "shelf"}', "unknown_type"),
    ('{"type": "sleep", "after": "shelf"}', "invalid_message"),
    ('{"type": "watch", "lights": "shelf"}', "invalid_message"),
    ('{"type": "watch", "lights": true, "light": "shelf"}', "invalid_message"),
    ('{"type": "unschedule", "name": "wake", "light": "shelf"}', "not_found"),
    ('{"type": "schedule", "name": "x", "at": "07:00", "level": "shelf", "light": "shelf"}', "invalid_message"),
    ('"shelf"', "invalid_message"),
]


def test_bad_light_input_changes_nothing_and_tells_no_one(lamp3):
    before = states_of(lamp3)
    with Client(lamp3.ws_url + "?watch=lights,schedules") as watcher, Client(lamp3.ws_url) as me:
        for _ in range(3):
            watcher.recv()
        me.recv()
        for text, code in NOTHING_CHANGES:
            me.send(text)
            reply = me.recv()
            assert reply["type"] == "error" and reply["code"] == code, (text, reply)
        for method_path, body, status, code in [
            ("/lights/nope", '{"level": 5}', 404, "unknown_light"),
            ("/lights/shelf", '{"level": 5, "light": "desk"}', 400, "invalid_message"),
            ("/led", '{"level": 5, "light": "nope"}', 404, "unknown_light"),
            ("/led", "level=5&light=SHELF", 400, "invalid_message"),
        ]:
            answer = lamp3.post(method_path, body, "application/x-www-form-urlencoded")
            assert answer[0] == status and answer[1]["code"] == code, (method_path, body, answer)
        assert watcher.nothing_pending()  # told no one
    assert states_of(lamp3) == before and [s["seq"] for s in before.values()] == [0, 0, 0]
    from urllib.error import HTTPError

    with pytest.raises(HTTPError) as caught:
        lamp3.get("/lights/nope")
    assert caught.value.code == 404 and json.loads(caught.value.read())["code"] == "unknown_light"


def test_rest_reads_and_sets_each_light(lamp3):
    assert [s["light"] for s in lamp3.get("/lights")] == ["desk", "shelf", "status"]
    assert lamp3.post("/lights/shelf", "level=70", "application/x-www-form-urlencoded") == (
        200,
        {"light": "shelf", "level": 70, "on": True, "brightness": 70, "seq": 1},
    )
    assert lamp3.post("/led", '{"step": 10, "light": "status"}')[1]["light"] == "status"
    assert lamp3.post("/led", '{"level": 12}') == (200, {"level": 12, "on": True, "brightness": 12, "seq": 1})
    status, everyone = lamp3.post("/lights/*", "on=false", "application/x-www-form-urlencoded")
    assert status == 200 and [(s["light"], s["on"]) for s in everyone] == [
        ("desk", False),
        ("shelf", False),
        ("status", False),
    ]
    shelf = lamp3.get("/lights/shelf")
    assert shelf["brightness"] == 70 and shelf["on"] is False and 0 <= shelf["shown"] <= 70
    assert "light" not in lamp3.led()


def test_a_restart_keeps_every_light_and_its_schedules(start_server, tmp_path):
    state_file = tmp_path / "lights.json"
    env = {"LIGHTS": THREE, "STATE_FILE": str(state_file)}
    first = start_server(env=env)
    first.post("/lights/desk", '{"level": 30}')
    first.post("/lights/shelf", '{"level": 70}')
    first.post("/lights/shelf", '{"on": false}')
    first.post("/lights/status", '{"level": 5}')
    with Client(first.ws_url) as me:
        me.recv()
        me.request({"type": "schedule", "name": "wake", "light": "shelf", "at": "06:45", "level": 80, "id": 1})
    before = {name: (s["level"], s["brightness"], s["on"]) for name, s in states_of(first).items()}
    assert first.stop() == 0
    second = start_server(env=env)
    assert (
        {name: (s["level"], s["brightness"], s["on"]) for name, s in states_of(second).items()}
        == before
        == {"desk": (30, 30, True), "shelf": (0, 70, False), "status": (5, 5, True)}
    )
    assert [s["name"] for s in second.get("/lights/shelf/schedules")] == ["wake"]
    assert second.get("/schedules") == []
    assert "shelf: restoring level 0 (brightness 70, off)" in second.log()


def test_a_single_light_state_file_starts_a_three_light_service_on_its_default_light(start_server, tmp_path):
    state_file = tmp_path / "old.json"
    single = start_server(env={"STATE_FILE": str(state_file)})
    single.post("/led", '{"level": 42}')
    assert single.stop() == 0
    three = start_server(env={"STATE_FILE": str(state_file), "LIGHTS": THREE})
    assert [(s["light"], s["level"]) for s in three.get("/lights")] == [("desk", 42), ("shelf", 50), ("status", 50)]


def test_healthz_reports_each_light(lamp3):
    lamp3.post("/lights/shelf", '{"level": 64}')
    health = lamp3.wait_for(lambda h: h["lights"][1]["shown"] == 64, what="shelf shown at 64")
    assert [(light["name"], light["pin"], light["pin_factory"], light["status"]) for light in health["lights"]] == [
        ("desk", 21, "mock", "ok"),
        ("shelf", 20, "mock", "ok"),
        ("status", 16, "mock", "ok"),
    ]
    assert health["pin"] == 21 and health["level"] == 50  # the top level is the default light's, as before


def test_one_light_names_itself_led_for_clients_that_name_lights(server):
    with Client(server.ws_url + "?watch=lights") as me:
        assert me.recv() == {"type": "state", "light": "led", "level": 50, "on": True, "brightness": 50, "seq": 0}
        reply, _ = me.request({"type": "watch", "lights": False, "id": "w"})
        assert reply == {"type": "watching", "schedules": False, "lights": False, "id": "w"}
    assert server.get("/lights/led")["light"] == "led"
    assert server.post("/lights/led", '{"level": 9}')[1]["light"] == "led"
    assert "light" not in server.led()


def test_the_protocol_documents_several_lights_session_byte_for_byte(lamp3):
    run_documented_session(lamp3, "## Several lights", "## Server to client")


def test_a_light_more_costs_no_thread_at_rest(mock_factory):
    def named(name):
        return [t for t in threading.enumerate() if t.name == name]

    leds = [
        Led(pin, pin_factory=mock_factory, reconnect=lambda: mock_factory, check_interval=0.05)
        for pin in (21, 20, 16, 12)
    ]
    try:
        assert len(named("ledsock-led-watch")) == 1  # one watch for every device
        for led in leds:
            led.set_level(80, transition=0.1)
        assert 1 <= len(named("ledsock-fader")) <= 4  # a fader while a light fades...
        deadline = time.monotonic() + 5
        while named("ledsock-fader"):  # ...and none once every fade is over
            assert time.monotonic() < deadline, named("ledsock-fader")
            time.sleep(0.01)
        assert [led.shown() for led in leds] == [80] * 4
        leds[0].set_level(10, transition=0.05)  # the next fade starts a fader again
        assert len(named("ledsock-fader")) == 1
    finally:
        for led in leds:
            led.close()


def test_a_lights_post_is_admitted_as_a_led_post_is(start_server):
    server = start_server(env={"LIGHTS": THREE, "LED_TOKEN": "s3cret"})
    assert server.post("/lights/shelf", '{"level": 5}')[0] == 401  # no token
    assert server.post("/lights/*", '{"on": false}')[0] == 401
    import urllib.request

    request = urllib.request.Request(
        server.http + "/lights/shelf",
        data=b'{"level": 5}',
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": "Bearer s3cret", "Origin": "http://evil.example"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403  # another site's page, token or not
    request.remove_header("Origin")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert json.loads(answer.read())["level"] == 5
    assert [s["seq"] for s in server.get("/lights")] == [0, 1, 0]  # readable without the token
