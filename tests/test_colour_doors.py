"""Colour lights in a real service (simulated pins) on every door: the WebSocket, REST, MQTT
on a real Mosquitto, and Home Assistant's JSON light, each change seen on every other door and
on the pins; the bad-input table refused on each door, changing nothing and telling no one;
the colour kept across a restart."""

import json
import time

import pytest
from ha_schema import ColorMode, entity_setup, validate_discovery

from curves import colour
from curves.brightness import Curve

from mqtt_support import Broker, Listener
from support import Client

LIGHTS = "desk:21,strip:rgb:17/27/22,bulb:cct:18/19"
CIE = Curve("cie")


@pytest.fixture
def broker(tmp_path):
    running = Broker(tmp_path).start()
    yield running
    running.stop()


@pytest.fixture
def lamp(start_server, broker, tmp_path):
    server = start_server(
        env={
            "LIGHTS": LIGHTS,
            "MQTT_URL": broker.url,
            "MQTT_DEVICE_ID": "lamp1",
            "STATE_FILE": str(tmp_path / "state.json"),
        }
    )
    server.wait_for(lambda health: health["mqtt_connected"], what="the bridge connected")
    return server


def duties(server, light):
    return tuple(channel["duty"] for channel in server.get(f"/lights/{light}")["channels"])


def wait_until(predicate, what, timeout=10):
    deadline = time.monotonic() + timeout
    while not (answer := predicate()):
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.02)
    return answer


def test_every_door_sets_a_colour_and_every_other_door_sees_it(lamp, broker):
    hears = Listener(broker, "ledsock/lamp1/lights/+/state", "ledsock/lamp1/lights/+/ha/state", "homeassistant/#")
    with Client(lamp.ws_url + "?watch=lights") as page, Client(lamp.ws_url + "?watch=lights") as other:
        for client in (page, other):
            client.recv_until(lambda m: m.get("light") == "bulb")  # every light's state on connect

        # The WebSocket: a colour at a level.
        reply, _ = page.request({"type": "set", "light": "strip", "color": "#FF8800", "level": 100, "id": "c1"})
        assert (reply["color"], reply["level"], reply["id"]) == ("#ff8800", 100, "c1")
        seen, _ = other.recv_until(lambda m: m.get("light") == "strip" and m.get("color") == "#ff8800")
        assert "kelvin" not in seen and "id" not in seen
        assert duties(lamp, "strip") == pytest.approx((1.0, round(colour.srgb_to_linear(0x88 / 255), 4), 0.0))
        assert hears.wait_for("ledsock/lamp1/lights/strip/state", lambda s: s.get("color") == "#ff8800")
        assert hears.wait_for("ledsock/lamp1/lights/strip/ha/state", lambda s: s["color"]["g"] == 136) == {
            "state": "ON",
            "brightness": 100,
            "color_mode": "rgb",
            "color": {"r": 255, "g": 136, "b": 0},
            "effect": None,
        }

        # REST, as a form: a white on the CCT light, '#' needing no escape in a form body.
        status, answer = lamp.post("/lights/bulb", "kelvin=3000&level=60", "application/x-www-form-urlencoded")
        assert status == 200 and (answer["kelvin"], answer["level"]) == (3000, 60)
        page.recv_until(lambda m: m.get("light") == "bulb" and m.get("kelvin") == 3000)
        warm, cold = duties(lamp, "bulb")
        assert warm + cold == pytest.approx(CIE.duty(60), abs=1e-3) and warm > cold > 0
        assert (
            hears.wait_for("ledsock/lamp1/lights/bulb/ha/state", lambda s: s.get("color_temp") == 3000)["color_mode"]
            == "color_temp"
        )
        status, answer = lamp.post("/lights/strip", "color=#00ff00", "application/x-www-form-urlencoded")
        assert status == 200 and answer["color"] == "#00ff00"
        other.recv_until(lambda m: m.get("light") == "strip" and m.get("color") == "#00ff00")

        # MQTT: the RGB light takes a white, and says kelvin.
        hears.publish("ledsock/lamp1/lights/strip/set", {"kelvin": 2700})
        seen, _ = page.recv_until(lambda m: m.get("light") == "strip" and m.get("kelvin") == 2700)
        assert "color" not in seen
        assert duties(lamp, "strip") == pytest.approx(
            tuple(round(d, 4) for d in colour.at_full(colour.blackbody(2700))), abs=1e-4
        )
        warm_rgb = hears.wait_for("ledsock/lamp1/lights/strip/ha/state", lambda s: s["color"]["b"] < 100)
        assert warm_rgb["color_mode"] == "rgb" and warm_rgb["color"]["r"] == 255

        # Home Assistant: its colour object and its kelvin, through its own topics, to the pins.
        hears.publish(
            "ledsock/lamp1/lights/strip/ha/set", {"state": "ON", "color": {"r": 0, "g": 0, "b": 255}, "brightness": 50}
        )
        page.recv_until(lambda m: m.get("light") == "strip" and m.get("color") == "#0000ff")
        assert duties(lamp, "strip") == pytest.approx((0.0, 0.0, round(CIE.duty(50), 4)))
        hears.publish("ledsock/lamp1/lights/bulb/ha/set", {"state": "ON", "color_temp": 6500})
        page.recv_until(lambda m: m.get("light") == "bulb" and m.get("kelvin") == 6500)
        assert duties(lamp, "bulb") == pytest.approx((0.0, round(CIE.duty(60), 4)))

        # A brightness-only client drives a colour light's brightness, its colour kept.
        lamp.post("/lights/strip", '{"level": 20}')
        seen, _ = other.recv_until(lambda m: m.get("light") == "strip" and m.get("level") == 20)
        assert seen["color"] == "#0000ff"


def test_home_assistants_own_schema_takes_each_kind_of_light(lamp, broker):
    hears = Listener(broker, "homeassistant/light/+/config")
    configs = {
        topic.split("/")[2]: json.loads(payload)
        for topic, payload, _ in wait_until(lambda: len(hears.heard) >= 3 and hears.heard, "three configs")
    }
    setups = {unique_id: entity_setup(validate_discovery(config)) for unique_id, config in configs.items()}
    assert setups["ledsock_lamp1"]["supported_color_modes"] == {ColorMode.BRIGHTNESS}  # desk: the default light
    strip = setups["ledsock_lamp1_strip"]
    assert strip["supported_color_modes"] == {ColorMode.RGB} and strip["color_mode"] == ColorMode.RGB
    bulb = setups["ledsock_lamp1_bulb"]
    assert bulb["supported_color_modes"] == {ColorMode.COLOR_TEMP} and bulb["color_temp_kelvin"] is True
    assert (bulb["min_color_temp_kelvin"], bulb["max_color_temp_kelvin"]) == (2700, 6500)
    assert not any("mired" in key for config in configs.values() for key in config)


BAD = [
    # (message, code): each one for the light it names
    ({"color": "ff8800", "light": "strip"}, "invalid_message"),
    ({"color": "#ff88", "light": "strip"}, "invalid_message"),
    ({"color": "#ff880g", "light": "strip"}, "invalid_message"),
    ({"color": 16746496, "light": "strip"}, "invalid_message"),
    ({"color": None, "light": "strip"}, "invalid_message"),
    ({"color": "#000000", "light": "strip"}, "invalid_message"),
    ({"color": "#ff0000", "kelvin": 3000, "light": "strip"}, "invalid_message"),
    ({"color": "#ff0000", "step": 5, "light": "strip"}, "invalid_message"),
    ({"color": "#ff0000", "level": 5, "on": False, "light": "strip"}, "invalid_message"),
    ({"type": "toggle", "color": "#ff0000", "light": "strip"}, "invalid_message"),
    ({"type": "sleep", "after": 60, "kelvin": 3000, "light": "bulb"}, "invalid_message"),
    ({"effect": None, "color": "#ff0000", "light": "strip"}, "invalid_message"),
    ({"kelvin": 2700.5, "light": "bulb"}, "invalid_message"),
    ({"kelvin": "warm", "light": "bulb"}, "invalid_message"),
    ({"kelvin": 9000, "light": "bulb"}, "out_of_range"),
    ({"kelvin": 500, "light": "strip"}, "out_of_range"),
    ({"effect": "candle", "kelvin": 1500, "light": "bulb"}, "out_of_range"),
    ({"color": "#ff0000", "light": "desk"}, "not_supported"),
    ({"kelvin": 3000, "light": "desk"}, "not_supported"),
    ({"color": "#ff0000", "light": "bulb"}, "not_supported"),
    ({"effect": "flash", "color": "#ff0000", "light": "bulb"}, "not_supported"),
    ({"type": "schedule", "name": "red", "at": "07:00", "color": "#ff0000", "light": "bulb"}, "not_supported"),
]


def test_bad_colours_change_nothing_and_tell_no_one_on_any_door(lamp, broker):
    hears = Listener(broker, "ledsock/lamp1/error", "ledsock/lamp1/lights/+/state")
    before = {light["light"]: light for light in lamp.get("/lights")}
    with Client(lamp.ws_url) as sender, Client(lamp.ws_url + "?watch=lights") as watcher:
        watcher.recv_until(lambda m: m.get("light") == "bulb")
        for index, (message, code) in enumerate(BAD):
            reply, others = sender.request({**message, "id": index})
            assert (reply["type"], reply["code"], reply["id"]) == ("error", code, index), message
            status, answer = lamp.post("/led", json.dumps(message))
            rest_code = "invalid_message" if message.get("type") == "schedule" else code  # REST makes no schedules
            assert (status, answer["code"]) == (400, rest_code), message
            hears.publish("ledsock/lamp1/set", message)
            hears.wait_for(
                "ledsock/lamp1/error",
                lambda e, code=code, n=index: e["code"] == code and len(hears.on("ledsock/lamp1/error")) > n,
            )
        pong, _ = watcher.request({"type": "ping", "id": "after"})
        assert pong["type"] == "pong"
        assert watcher.nothing_pending()
    after = {light["light"]: light for light in lamp.get("/lights")}
    for name in before:
        assert after[name]["seq"] == before[name]["seq"] and after[name]["level"] == before[name]["level"]
    assert lamp.get("/lights/bulb/schedules") == []


def test_a_colour_for_every_light_colours_those_that_show_colour(lamp):
    with Client(lamp.ws_url) as client:
        client.recv()  # the default light's state on connect
        replies = []
        client.send({"color": "#ff0000", "light": "*", "id": "all"})
        while len(replies) < 3:
            replies.append(client.recv())
    by_light = {reply.get("light") or reply["message"].split("'")[1]: reply for reply in replies}
    assert by_light["strip"]["color"] == "#ff0000"
    assert by_light["desk"]["code"] == "not_supported" and by_light["bulb"]["code"] == "not_supported"


def test_colours_are_kept_across_a_restart(start_server, tmp_path):
    env = {"LIGHTS": LIGHTS, "STATE_FILE": str(tmp_path / "state.json")}
    first = start_server(env=env)
    first.post("/lights/strip", '{"color": "#336699", "level": 70}')
    first.post("/lights/bulb", '{"kelvin": 2900}')
    first.wait_for(lambda health: not health["state_file_pending"], what="the state on disk")
    first.stop()
    saved = json.loads((tmp_path / "state.json").read_text())
    assert saved["lights"]["strip"]["color"] == "#336699" and saved["lights"]["bulb"]["kelvin"] == 2900
    assert "color" not in saved and "kelvin" not in saved  # the single-channel default light's line: as before
    second = start_server(env=env)
    assert second.get("/lights/strip")["color"] == "#336699" and second.get("/lights/strip")["level"] == 70
    assert second.get("/lights/bulb")["kelvin"] == 2900
    assert "restoring" in second.log()


def test_the_protocol_documents_the_colour_session_byte_for_byte(start_server):
    from support import run_documented_session

    run_documented_session(start_server(env={"LIGHTS": LIGHTS}), "### Colour and white", "### Schedules")
