"""The MQTT bridge against a real Mosquitto on loopback: topics, Home Assistant, faults, a fleet."""

import json
import os
import re
import signal
import subprocess
import time

import pytest

from doors.home_assistant import ha_command
from doors.mqtt_topics import BrokerAddress, default_device_id

from mqtt_support import Broker, Listener
from support import ROOT, Client


@pytest.fixture
def broker(tmp_path):
    running = Broker(tmp_path).start()
    yield running
    running.stop()


@pytest.fixture
def listeners():
    made = []

    def listen(broker, *topics):
        made.append(Listener(broker, *topics))
        return made[-1]

    yield listen
    for listener in made:
        listener.close()


def lamp(start_server, broker, device="lamp1", *args, **env):
    return start_server(*args, env={"MQTT_URL": broker.url, "MQTT_DEVICE_ID": device, **env})


def test_retained_state_status_and_discovery_greet_a_newcomer(start_server, broker, listeners):
    server = lamp(start_server, broker)
    server.wait_for(lambda h: h["mqtt_connected"], what="the bridge connected")
    hears = listeners(broker, "ledsock/lamp1/#", "homeassistant/light/#")  # after the fact: retained
    assert hears.wait_for("ledsock/lamp1/state") == {
        "type": "state",
        "level": 50,
        "on": True,
        "brightness": 50,
        "seq": 0,
    }
    assert hears.wait_for("ledsock/lamp1/status") == "online"
    config = hears.wait_for("homeassistant/light/ledsock_lamp1/config")
    assert (config["schema"], config["brightness_scale"], config["supported_color_modes"]) == (
        "json",
        100,
        ["brightness"],
    )
    assert config["availability_topic"] == "ledsock/lamp1/status" and config["unique_id"] == "ledsock_lamp1"
    # HA 2026.4 reads default_entity_id (object_id is gone); flash and the effects work, so HA offers them.
    assert config["default_entity_id"] == "light.ledsock_lamp1" and "object_id" not in config
    assert config["flash"] is True and (config["flash_time_short"], config["flash_time_long"]) == (2, 10)
    assert config["effect"] is True and config["effect_list"] == ["breathe", "candle", "blink"]
    assert config["command_topic"] == "ledsock/lamp1/ha/set" and config["state_topic"] == "ledsock/lamp1/ha/state"
    assert config["device"]["configuration_url"].endswith(f":{server.port}/") and config["origin"]["name"] == "ledsock"
    assert hears.wait_for("ledsock/lamp1/ha/state") == {
        "state": "ON",
        "brightness": 50,
        "color_mode": "brightness",
        "effect": None,
    }
    assert all(retained for topic, _, retained in hears.heard), hears.heard
    health = server.get("/healthz")
    assert health["mqtt_broker"] == f"mqtt://127.0.0.1:{broker.port}" and health["mqtt_error"] is None


def test_home_assistants_device_page_says_the_version_and_what_drives_each_light(
    start_server, broker, listeners, pigpiod
):
    from serving.version import service_version

    server = lamp(
        start_server,
        broker,
        LIGHTS="desk:21,shelf:20",
        LED_PIN_FACTORY="pigpio",
        PIGPIO_ADDR="127.0.0.1",
        PIGPIO_PORT=str(pigpiod.port),
    )
    server.wait_for(lambda h: h["mqtt_connected"], what="the bridge connected")
    hears = listeners(broker, "homeassistant/light/#")
    for entity in ("ledsock_lamp1", "ledsock_lamp1_shelf"):
        device = hears.wait_for(f"homeassistant/light/{entity}/config")["device"]
        assert device["model"] == "ledsock: GPIO21 via pigpio, GPIO20 via pigpio", device
        assert device["sw_version"] == service_version() != "unknown"  # git describe of this clone, not "1"
    assert server.get("/healthz")["version"] == service_version()
    simulated = lamp(start_server, broker, "lamp2")
    simulated.wait_for(lambda h: h["mqtt_connected"], what="the second bridge connected")
    device = hears.wait_for("homeassistant/light/ledsock_lamp2/config")["device"]
    assert device["model"] == "ledsock: GPIO21 simulated", device


def test_every_door_reaches_every_other(start_server, broker, listeners):
    server = lamp(start_server, broker)
    server.wait_for(lambda h: h["mqtt_connected"], what="the bridge connected")
    hears = listeners(broker, "ledsock/lamp1/state")
    with Client(server.ws_url) as browser:
        browser.recv()
        browser.send({"level": 33})
        assert browser.recv()["level"] == 33
        assert hears.wait_for("ledsock/lamp1/state", lambda s: s["seq"] == 1)["level"] == 33  # WebSocket -> MQTT
        hears.publish("ledsock/lamp1/set", {"on": False, "transition": 0})
        assert browser.recv() == {"type": "state", "level": 0, "on": False, "brightness": 33, "seq": 2}  # MQTT -> WS
        hears.publish("ledsock/lamp1/set", "70")  # bare numbers, as on the WebSocket
        assert browser.recv()["level"] == 70
        server.post("/led", '{"step": -20}')  # REST -> both
        assert browser.recv()["level"] == 50
        assert hears.wait_for("ledsock/lamp1/state", lambda s: s["seq"] == 4)["level"] == 50
        server.post("/led", '{"level": 51}')  # a last change: an echo of an earlier one would come before it
        hears.wait_for("ledsock/lamp1/state", lambda s: s["seq"] == 5)
    seqs = [s["seq"] for s in hears.on("ledsock/lamp1/state")]
    assert seqs == sorted(set(seqs)), seqs  # each change once, in order: no echo loop


def test_home_assistant_commands_and_state(start_server, broker, listeners):
    server = lamp(start_server, broker)
    server.wait_for(lambda h: h["mqtt_connected"], what="the bridge connected")
    hears = listeners(broker, "ledsock/lamp1/ha/state", "homeassistant/light/#")
    hears.publish("ledsock/lamp1/ha/set", {"state": "ON", "brightness": 40, "transition": 2.0})
    assert hears.wait_for("ledsock/lamp1/ha/state", lambda s: s["brightness"] == 40) == {
        "state": "ON",
        "brightness": 40,
        "color_mode": "brightness",
        "effect": None,
    }
    hears.publish("ledsock/lamp1/ha/set", {"state": "OFF"})
    assert hears.wait_for("ledsock/lamp1/ha/state", lambda s: s["state"] == "OFF")["brightness"] == 40
    hears.publish("ledsock/lamp1/ha/set", {"state": "ON"})
    # wait_for scans everything heard, and the first ON state already matches: wait for the
    # third change itself, then read the newest HA state.
    server.wait_for(lambda h: h["seq"] == 3, what="the third change")
    deadline = time.monotonic() + 5
    while hears.on("ledsock/lamp1/ha/state")[-1]["state"] != "ON":
        assert time.monotonic() < deadline, hears.on("ledsock/lamp1/ha/state")
        time.sleep(0.05)
    assert hears.on("ledsock/lamp1/ha/state")[-1] == {
        "state": "ON",
        "brightness": 40,
        "color_mode": "brightness",
        "effect": None,
    }
    assert server.led()["seq"] == 3
    before = len(hears.on("homeassistant/light/ledsock_lamp1/config"))
    hears.publish("homeassistant/status", "online")  # Home Assistant restarted
    hears.wait_for("homeassistant/light/ledsock_lamp1/config")
    deadline = time.monotonic() + 5
    while len(hears.on("homeassistant/light/ledsock_lamp1/config")) <= before:
        assert time.monotonic() < deadline, "discovery was not published again"
        time.sleep(0.05)


def test_malformed_payloads_get_the_error_topic_and_change_nothing(start_server, broker, listeners):
    server = lamp(start_server, broker)
    server.wait_for(lambda h: h["mqtt_connected"], what="the bridge connected")
    hears = listeners(broker, "ledsock/lamp1/error", "ledsock/lamp1/state")
    bad = [
        (b"\x00\xff\xfe junk", "invalid_message"),
        (b'{"level": 500, "id": "m1"}', "out_of_range"),
        (b"x" * 5000, "invalid_message"),
        (b"\xc3\x28", "invalid_message"),
        (b"{", "invalid_json"),
        (b'{"on": "yes"}', "invalid_message"),
    ]
    for payload, _ in bad:
        hears.publish("ledsock/lamp1/set", payload)
    hears.publish("ledsock/lamp1/ha/set", b'{"state": "MAYBE"}')
    deadline = time.monotonic() + 10
    while len(hears.on("ledsock/lamp1/error")) < len(bad) + 1:
        assert time.monotonic() < deadline, hears.on("ledsock/lamp1/error")
        time.sleep(0.05)
    errors = hears.on("ledsock/lamp1/error")
    assert [e["code"] for e in errors[: len(bad)]] == [code for _, code in bad], errors
    assert errors[1]["id"] == "m1" and errors[-1]["code"] == "invalid_message"
    assert server.led() == {"level": 50, "on": True, "brightness": 50, "seq": 0}
    assert [s["seq"] for s in hears.on("ledsock/lamp1/state")] == [0]  # only the retained one


def test_the_last_will_says_offline_when_the_service_is_killed(start_server, broker, listeners):
    server = lamp(start_server, broker)
    server.wait_for(lambda h: h["mqtt_connected"], what="the bridge connected")
    hears = listeners(broker, "ledsock/lamp1/status")
    hears.wait_for("ledsock/lamp1/status", lambda s: s == "online")
    os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait(10)
    assert hears.wait_for("ledsock/lamp1/status", lambda s: s == "offline", timeout=60) == "offline"


def test_a_broker_lost_and_back_stalls_no_one_and_gets_the_state_again(start_server, broker, listeners, tmp_path):
    server = lamp(start_server, broker)
    server.wait_for(lambda h: h["mqtt_connected"], what="the bridge connected")
    with Client(server.ws_url) as browser:
        browser.recv()
        broker.stop()  # killed
        server.wait_for(lambda h: not h["mqtt_connected"], what="the loss noticed")
        started = time.monotonic()
        for level in (11, 12, 13):  # WebSocket and REST go on meanwhile
            browser.send({"level": level})
            assert browser.recv()["level"] == level
        assert server.post("/led", '{"level": 14}')[0] == 200
        assert browser.recv()["level"] == 14
        took = time.monotonic() - started
        assert server.get("/healthz")["mqtt_error"]
        back = Broker(tmp_path, port=broker.port).start()
        try:
            server.wait_for(lambda h: h["mqtt_connected"], timeout=40, what="reconnected")
            hears = listeners(back, "ledsock/lamp1/state", "ledsock/lamp1/status")
            assert hears.wait_for("ledsock/lamp1/state")["level"] == 14  # re-published, retained
            assert hears.wait_for("ledsock/lamp1/status") == "online"
        finally:
            back.stop()
    print(f"4 sets with the broker down took {took * 1000:.0f} ms in all")
    assert "MQTT: lost" in server.log() and "Traceback" not in server.log()


def test_broker_down_at_start_serves_anyway_with_one_clear_line(start_server, tmp_path):
    down = Broker(tmp_path)  # a port with nothing on it
    server = start_server(env={"MQTT_URL": down.url, "MQTT_DEVICE_ID": "lamp1"})
    assert server.post("/led", '{"level": 5}')[0] == 200
    server.wait_for(lambda h: "cannot reach" in (h["mqtt_error"] or ""), what="the first failed attempt")
    server.wait_for(lambda h: h["mqtt_failed_attempts"] >= 3, what="two retries more (1 s, then 2 s apart)")
    assert server.log().count("MQTT: cannot reach") == 1, server.log()  # one line, not one a retry
    health = server.get("/healthz")
    assert health["mqtt_connected"] is False and "cannot reach" in health["mqtt_error"]


def test_two_lamps_on_one_broker_obey_one_group_command(start_server, broker, listeners):
    kitchen, hall = lamp(start_server, broker, "kitchen"), lamp(start_server, broker, "hall")
    for server in (kitchen, hall):
        server.wait_for(lambda h: h["mqtt_connected"], what="the bridge connected")
    hears = listeners(broker, "ledsock/+/state")
    hears.publish("ledsock/all/set", {"level": 20})
    for device in ("kitchen", "hall"):
        assert hears.wait_for(f"ledsock/{device}/state", lambda s: s["level"] == 20)["seq"] == 1
    hears.publish("ledsock/kitchen/set", {"on": False})
    assert hears.wait_for("ledsock/kitchen/state", lambda s: s["seq"] == 2)["on"] is False
    assert kitchen.led()["on"] is False and hall.led() == {"level": 20, "on": True, "brightness": 20, "seq": 1}


def test_the_password_stays_out_of_the_log_and_health(start_server, tmp_path):
    down = Broker(tmp_path)
    server = start_server(env={"MQTT_URL": f"mqtt://lamp:s3cr3t-pw@127.0.0.1:{down.port}", "MQTT_DEVICE_ID": "x"})
    server.wait_for(lambda h: "cannot reach" in (h["mqtt_error"] or ""), what="an attempt to connect, logged")
    assert "MQTT: cannot reach mqtt://127.0.0.1" in server.log()  # the broker is named...
    assert "s3cr3t-pw" not in server.log() and "s3cr3t-pw" not in str(server.get("/healthz"))


def test_without_mqtt_url_nothing_mqtt_is_imported(start_server):
    import subprocess
    import sys

    from support import ROOT

    code = "import app, sys; app.create_app({'TESTING': True, 'LED_PIN_FACTORY': 'mock'}); print('paho' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.stdout.strip() == "False", result.stderr


def test_urls_ids_and_ha_commands():
    assert str(BrokerAddress.parse("mqtt://u:p%40ss@broker.lan")) == "mqtt://broker.lan:1883"
    assert BrokerAddress.parse("mqtt://u:p%40ss@broker.lan").password == "p@ss"
    assert BrokerAddress.parse("mqtts://b").port == 8883
    for bad in ("http://b", "mqtt://", "mqtt://b:port"):
        with pytest.raises(ValueError):
            BrokerAddress.parse(bad)
    assert default_device_id("Kitchen Pi.local") == "kitchen-pi"
    assert ha_command({"state": "ON", "brightness": 40, "transition": 2.0}) == ['{"level": 40, "transition": 2.0}']
    from protocol import parse_json

    assert ha_command(parse_json('{"state": "ON", "brightness": 40, "transition": 2.5}')) == [
        '{"level": 40, "transition": 2.5}'
    ]
    assert ha_command({"state": "OFF"}) == ['{"on": false}']
    assert ha_command({"state": "ON", "effect": "candle"}) == ['{"effect": "candle"}']
    assert ha_command({"state": "ON", "brightness": 40, "effect": "breathe"}) == [
        '{"level": 40}',
        '{"effect": "breathe"}',
    ]
    assert ha_command({"state": "ON", "flash": 2}) == [
        '{"effect": "flash", "count": 2, "on_time": 0.5, "off_time": 0.5}'
    ]


def test_discovery_can_be_turned_off(start_server, broker, listeners):
    server = lamp(start_server, broker, "quiet", MQTT_DISCOVERY="false")
    server.wait_for(lambda h: h["mqtt_connected"], what="the bridge connected")
    hears = listeners(broker, "ledsock/quiet/#", "homeassistant/#")
    assert hears.wait_for("ledsock/quiet/state")["seq"] == 0
    server.post("/led", '{"level": 7}')  # a change after the greeting: discovery would have come before it
    hears.wait_for("ledsock/quiet/state", lambda s: s["seq"] == 1)
    assert [t for t, _, _ in hears.heard if t.startswith("homeassistant/") or "/ha/" in t] == []


def test_a_stalled_broker_stalls_no_browser_and_the_newest_state_wins(start_server, broker, listeners):
    server = lamp(start_server, broker, "lamp1", "--rate-limit", "100000", "--rate-burst", "100000")
    server.wait_for(lambda h: h["mqtt_connected"], what="the bridge connected")
    hears = listeners(broker, "ledsock/lamp1/state")
    hears.wait_for("ledsock/lamp1/state")
    os.kill(broker.proc.pid, signal.SIGSTOP)  # wedged: the TCP connection stays, nothing is read
    try:
        with Client(server.ws_url) as browser:
            browser.recv()
            started = time.monotonic()
            for n in range(300):  # one at a time: the publisher runs between any two of them
                assert browser.request({"level": n % 100 + 1, "id": n})[0]["seq"] == n + 1
            took = time.monotonic() - started
    finally:
        os.kill(broker.proc.pid, signal.SIGCONT)
    print(f"300 WebSocket round trips with the broker stopped took {took:.2f} s")
    assert took < 20, took  # the browser was served throughout (it would hang on a blocking publish)
    final = server.led()
    newest = hears.wait_for("ledsock/lamp1/state", lambda s: s["seq"] == final["seq"], timeout=20)
    assert newest["level"] == final["level"] == 100
    published = [s["seq"] for s in hears.on("ledsock/lamp1/state")]
    # One state in flight while the broker stood still, the newest after it: not 300 queued in memory.
    assert published == sorted(published) and len(published) <= 5, published


def test_a_group_sleep_timer_turns_the_fleet_off(start_server, broker, listeners):
    kitchen, hall = lamp(start_server, broker, "kitchen"), lamp(start_server, broker, "hall")
    for server in (kitchen, hall):
        server.wait_for(lambda h: h["mqtt_connected"], what="the bridge connected")
    hears = listeners(broker, "ledsock/+/state")
    hears.publish("ledsock/all/set", {"type": "sleep", "after": 1, "transition": 0})
    for device in ("kitchen", "hall"):
        timer = hears.wait_for(f"ledsock/{device}/state", lambda s: "sleep_at" in s)
        assert timer["sleep_in"] <= 1 and timer["on"] is True
        off = hears.wait_for(f"ledsock/{device}/state", lambda s: s["seq"] > timer["seq"])
        assert off["on"] is False and "sleep_at" not in off


def test_schedules_are_retained_per_name_and_cleared_when_deleted(start_server, broker, listeners):
    server = lamp(start_server, broker, "porch")
    server.wait_for(lambda h: h["mqtt_connected"], what="the bridge connected")
    hears = listeners(broker, "ledsock/porch/schedules/#")
    hears.publish("ledsock/porch/set", {"type": "schedule", "name": "night", "at": "23:30", "on": False})
    kept = hears.wait_for("ledsock/porch/schedules/night", lambda s: isinstance(s, dict))
    assert (kept["type"], kept["at"], kept["on"]) == ("schedule", "23:30", False) and kept["next_at"] > 0
    late = listeners(broker, "ledsock/porch/schedules/#")  # a newcomer gets the retained copy
    assert late.wait_for("ledsock/porch/schedules/night", lambda s: isinstance(s, dict))["name"] == "night"
    hears.publish("ledsock/porch/set", {"type": "unschedule", "name": "night"})
    assert hears.wait_for("ledsock/porch/schedules/night", lambda s: s in (b"", "", None)) in (b"", "", None)


def test_a_field_the_lamp_does_not_do_is_refused_on_the_error_topic(start_server, broker, listeners):
    server = lamp(start_server, broker)
    server.wait_for(lambda h: h["mqtt_connected"], what="the bridge connected")
    hears = listeners(broker, "ledsock/lamp1/error", "ledsock/lamp1/ha/state")
    for payload in (
        {"state": "ON", "effect": "rainbow"},
        {"state": "ON", "flash": "short"},
        {"state": "ON", "brightness": 30, "white": 200},
        {"state": "ON", "brightness": 30, "color": {"r": 255, "g": 0, "b": 0}},
    ):
        hears.publish("ledsock/lamp1/ha/set", payload)
    for field, code in (
        ("effect must be", "invalid_message"),
        ("flash must be", "invalid_message"),
        ("'white'", "invalid_message"),
        ("shows no color", "not_supported"),  # a single-channel light: its own check, as on every door
    ):
        error = hears.wait_for("ledsock/lamp1/error", lambda e, f=field: f in e["message"])
        assert error["code"] == code, error
    hears.publish("ledsock/lamp1/ha/set", {"state": "ON", "brightness": 30})  # then a command it does
    hears.wait_for("ledsock/lamp1/ha/state", lambda s: s["brightness"] == 30)
    assert server.led()["seq"] == 1  # only the last one changed anything


def test_home_assistants_short_flash_flashes_and_returns(start_server, broker, listeners):
    """HA's short flash, as it sends it: {"state":"ON","flash":2} (flash_time_short, in seconds)."""
    server = lamp(start_server, broker)
    server.wait_for(lambda h: h["mqtt_connected"], what="the bridge connected")
    server.post("/led", '{"level": 30}')
    hears = listeners(broker, "ledsock/lamp1/state", "ledsock/lamp1/ha/state")
    with Client(server.ws_url) as browser:
        browser.recv()
        hears.publish("ledsock/lamp1/ha/set", {"state": "ON", "flash": 2})
        started = browser.recv()
        assert (started["effect"], started["level"], started["seq"]) == ("flash", 30, 2)
        ended = browser.recv(timeout=5)  # two blinks, one a second: about 2 s later
    assert "effect" not in ended and (ended["level"], ended["on"], ended["seq"]) == (30, True, 3)
    health = server.get("/healthz")
    assert health["shown"] == 30 and health["level"] == 30  # exactly where it was
    assert hears.wait_for("ledsock/lamp1/state", lambda s: s["seq"] == 3)["level"] == 30
    assert hears.wait_for("ledsock/lamp1/ha/state", lambda s: s["state"] == "ON")["effect"] is None


def test_home_assistant_starts_and_ends_an_effect(start_server, broker, listeners):
    server = lamp(start_server, broker)
    server.wait_for(lambda h: h["mqtt_connected"], what="the bridge connected")
    hears = listeners(broker, "ledsock/lamp1/ha/state")
    hears.publish("ledsock/lamp1/ha/set", {"state": "ON", "brightness": 60, "effect": "candle"})
    assert hears.wait_for("ledsock/lamp1/ha/state", lambda s: s["effect"] == "candle")["brightness"] == 60
    assert server.led()["effect"] == "candle"
    hears.publish("ledsock/lamp1/ha/set", {"state": "ON", "brightness": 20})  # a level ends it
    assert hears.wait_for("ledsock/lamp1/ha/state", lambda s: s["brightness"] == 20)["effect"] is None
    assert "effect" not in server.led()


def test_a_clean_stop_is_one_info_line_not_a_lost_broker(start_server, broker):
    server = lamp(start_server, broker)
    server.wait_for(lambda h: h["mqtt_connected"], what="the bridge connected")
    assert server.stop() == 0
    log = server.log()
    assert "INFO mqtt_bridge: MQTT: left mqtt://127.0.0.1" in log and "(the service is stopping)" in log, log[-1500:]
    assert "MQTT: lost" not in log and "WARNING mqtt_bridge" not in log


# ---------------------------------------------------------------- several lights on one lamp


def test_several_lights_get_one_entity_each_and_obey_one_light_or_all(start_server, broker, listeners):
    server = lamp(start_server, broker, "lamp1", LIGHTS="desk:21,shelf:20,status:16")
    server.wait_for(lambda h: h["mqtt_connected"], what="the bridge connected")
    hears = listeners(broker, "ledsock/lamp1/#", "homeassistant/light/#")
    configs = {
        unique: hears.wait_for(f"homeassistant/light/{unique}/config")
        for unique in ("ledsock_lamp1", "ledsock_lamp1_shelf", "ledsock_lamp1_status")
    }
    # The default light keeps the entity and topics one light always had; the others are beside it.
    assert configs["ledsock_lamp1"]["command_topic"] == "ledsock/lamp1/ha/set"
    assert configs["ledsock_lamp1_shelf"]["command_topic"] == "ledsock/lamp1/lights/shelf/ha/set"
    assert configs["ledsock_lamp1_shelf"]["state_topic"] == "ledsock/lamp1/lights/shelf/ha/state"
    assert configs["ledsock_lamp1_status"]["default_entity_id"] == "light.ledsock_lamp1_status"
    assert [c["name"] for c in configs.values()] == ["desk", "shelf", "status"]
    assert len({json.dumps(c["device"]) for c in configs.values()}) == 1  # one device
    assert "light" not in hears.wait_for("ledsock/lamp1/state")  # the default light's, as v1 has it
    assert hears.wait_for("ledsock/lamp1/lights/shelf/state")["light"] == "shelf"

    hears.publish("ledsock/lamp1/lights/shelf/ha/set", {"state": "ON", "brightness": 30})  # HA, one light
    assert hears.wait_for("ledsock/lamp1/lights/shelf/ha/state", lambda s: s["brightness"] == 30)["state"] == "ON"
    hears.publish("ledsock/lamp1/lights/status/set", {"level": 7})  # a light's own topic
    assert hears.wait_for("ledsock/lamp1/lights/status/state", lambda s: s["seq"] == 1)["level"] == 7
    hears.publish("ledsock/lamp1/set", {"on": False, "light": "*"})  # every light
    for light in ("desk", "shelf", "status"):
        assert hears.wait_for(f"ledsock/lamp1/lights/{light}/state", lambda s: not s["on"])["light"] == light
    assert hears.wait_for("ledsock/lamp1/state", lambda s: not s["on"])["seq"] == 1
    assert [(s["light"], s["on"], s["brightness"]) for s in server.get("/lights")] == [
        ("desk", False, 50),
        ("shelf", False, 30),
        ("status", False, 7),
    ]

    for topic, payload, code in [
        ("ledsock/lamp1/set", {"level": 5, "light": "nope"}, "unknown_light"),
        ("ledsock/lamp1/lights/nope/set", {"level": 5}, "unknown_light"),
        ("ledsock/lamp1/lights/shelf/set", {"level": 5, "light": "desk"}, "invalid_message"),
    ]:
        hears.publish(topic, payload)
        assert hears.wait_for("ledsock/lamp1/error", lambda e, c=code: e["code"] == c)
    assert [s["seq"] for s in server.get("/lights")] == [1, 2, 2]  # the refused ones changed nothing


def test_a_group_command_may_name_a_light_that_only_some_lamps_have(start_server, broker, listeners):
    kitchen = lamp(start_server, broker, "kitchen", LIGHTS="ceiling:21,counter:20")
    hall = lamp(start_server, broker, "hall")
    for server in (kitchen, hall):
        server.wait_for(lambda h: h["mqtt_connected"], what="the bridge connected")
    hears = listeners(broker, "ledsock/+/state", "ledsock/+/lights/+/state", "ledsock/+/error")
    hears.publish("ledsock/all/set", {"level": 20, "light": "counter"})
    assert hears.wait_for("ledsock/kitchen/lights/counter/state", lambda s: s["level"] == 20)["seq"] == 1
    hears.publish("ledsock/all/set", {"level": 33, "light": "*"})
    assert hears.wait_for("ledsock/hall/state", lambda s: s["level"] == 33)["seq"] == 1
    assert hears.wait_for("ledsock/kitchen/lights/ceiling/state", lambda s: s["level"] == 33)["seq"] == 1
    assert hears.wait_for("ledsock/kitchen/lights/counter/state", lambda s: s["level"] == 33)["seq"] == 2
    assert hall.led()["seq"] == 1  # the hall has no counter light: the first command passed it by
    assert hears.on("ledsock/hall/error") == [] and hears.on("ledsock/kitchen/error") == []


# ---------------------------------------------------------------- docs/mqtt.md's shell lines, as written

MQTT_RECIPE = re.compile(r"<!-- mqtt: (?P<name>[\w-]+) -->\s*```sh\n(?P<body>.*?)```", re.S)


def mqtt_recipe(name: str, broker) -> list[str]:
    """The lines of docs/mqtt.md's block ``name``, pointed at the test's broker."""
    blocks = {m["name"]: m["body"] for m in MQTT_RECIPE.finditer((ROOT / "docs" / "mqtt.md").read_text())}
    return [line.replace("-h broker.lan", f"-h 127.0.0.1 -p {broker.port}") for line in blocks[name].splitlines()]


def run_line(line: str) -> None:
    done = subprocess.run(["sh", "-c", line], capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, (line, done.stderr)


def test_the_documents_two_light_walk_through(start_server, broker):
    doc = (ROOT / "docs" / "mqtt.md").read_text()
    start = re.search(r"```sh\n(LIGHTS=\S+ MQTT_URL=\S+ MQTT_DEVICE_ID=\S+) make run\n```", doc)[1]
    env = dict(word.split("=", 1) for word in start.split())
    server = start_server(env={**env, "MQTT_URL": broker.url})
    server.wait_for(lambda h: h["mqtt_connected"], what="the bridge connected")
    subscribe, *publishes = mqtt_recipe("lights", broker)
    watcher = subprocess.Popen(["sh", "-c", subscribe], stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        heard = [watcher.stdout.readline().split(" ", 1) for _ in range(2)]  # the retained states, at once
        assert sorted(topic for topic, _ in heard) == [
            "ledsock/study/lights/desk/state",
            "ledsock/study/lights/shelf/state",
        ]
        for line in publishes:
            run_line(line)
        changes = [watcher.stdout.readline().split(" ", 1) for _ in range(4)]
    finally:
        os.killpg(watcher.pid, signal.SIGKILL)
        watcher.wait()
    said = [(topic.rsplit("/", 2)[1], json.loads(payload)) for topic, payload in changes]
    assert [(light, state["level"]) for light, state in said] == [
        ("shelf", 30),
        ("desk", 80),
        ("desk", 0),
        ("shelf", 0),
    ]
    assert all(state["light"] == light for light, state in said)
    assert [(s["light"], s["on"], s["brightness"]) for s in server.get("/lights")] == [
        ("desk", False, 80),
        ("shelf", False, 30),
    ]


def test_the_documents_fleet_lines(start_server, broker):
    kitchen = lamp(start_server, broker, "kitchen", LIGHTS="ceiling:21,shelf:20")
    hall = lamp(start_server, broker, "hall")
    for server in (kitchen, hall):
        server.wait_for(lambda h: h["mqtt_connected"], what="the bridge connected")
    level20, off, subscribe, toggle, sleep, shelf, flash = mqtt_recipe("fleet", broker)
    run_line(level20)
    for server in (kitchen, hall):
        server.wait_for(lambda h: h["level"] == 20, what="every lamp at 20")
    run_line(off)
    for server in (kitchen, hall):
        server.wait_for(lambda h: h["on"] is False, what="every lamp off")
    watcher = subprocess.Popen(["sh", "-c", subscribe], stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert sorted(watcher.stdout.readline().split(" ")[0] for _ in range(2)) == [
            "ledsock/hall/state",
            "ledsock/kitchen/state",
        ]
    finally:
        os.killpg(watcher.pid, signal.SIGKILL)
        watcher.wait()
    run_line(toggle)
    kitchen.wait_for(lambda h: h["on"] is True, what="the kitchen toggled on")
    run_line(sleep)
    for server in (kitchen, hall):
        server.wait_for(lambda h: h.get("sleep_in", 0) > 1790, what="a sleep timer of 30 minutes")
    run_line(shelf)
    kitchen.wait_for(lambda h: h["lights"][1]["level"] == 60, what="the kitchen's shelf at 60")
    assert hall.led()["level"] == 0 and hall.get("/healthz")["lights"][0]["name"] == "led"
    before = {server: server.led() for server in (kitchen, hall)}
    run_line(flash)
    for server in (kitchen, hall):  # flashed (a change), and then back as it was (another)
        server.wait_for(lambda h, b=before[server]: h["seq"] == b["seq"] + 2, what="a flash, over")
        after = server.led()
        assert [after.get(k) for k in ("level", "on", "brightness", "sleep_at", "effect")] == [
            before[server].get(k) for k in ("level", "on", "brightness", "sleep_at", "effect")
        ]
