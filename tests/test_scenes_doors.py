"""Scenes on a real service over the WebSocket: a three-light scene with a colour light and a
candle saved, everything changed, recalled with a transition while another client watches every
light, the service restarted and the scene recalled again; bad scene messages change nothing."""

import pytest

from support import Client

LIGHTS = "desk:21,strip:rgb:17/27/22,shelf:20"


def states_by_light(messages):
    return {m["light"]: m for m in messages if m["type"] == "state"}


@pytest.fixture
def lamp(start_server, tmp_path):
    env = {"LIGHTS": LIGHTS, "STATE_FILE": str(tmp_path / "state.json")}
    return lambda: start_server(env=env)


def set_evening(client):
    client.request({"level": 30, "light": "desk", "id": 1})
    client.request({"color": "#ff8800", "level": 60, "light": "strip", "id": 2})
    client.request({"effect": "candle", "depth": 40, "light": "shelf", "id": 3})


def test_a_scene_saved_changed_and_recalled_reaches_every_client_one_state_a_light(lamp):
    server = lamp()
    with Client(server.ws_url) as me, Client(server.ws_url + "?watch=lights") as watcher:
        me.recv()
        for _ in range(3):
            watcher.recv()
        set_evening(me)
        saved, _ = me.request({"type": "save_scene", "name": "evening", "id": "s"})
        assert saved == {"type": "scene", "name": "evening", "scene_lights": "desk,strip,shelf", "id": "s"}
        me.request({"on": False, "light": "desk", "id": 4})
        me.request({"kelvin": 6500, "light": "strip", "id": 5})
        me.request({"effect": None, "light": "shelf", "id": 6})
        watcher.recv_until(lambda m: m.get("light") == "shelf" and "effect" not in m and m["seq"] >= 2)
        me.send({"scene": "evening", "transition": 2, "id": "r"})
        replies = [me.recv() for _ in range(3)]
        assert [r["id"] for r in replies] == ["r"] * 3 and me.nothing_pending()
        mine = states_by_light(replies)
        assert (mine["desk"]["level"], mine["desk"]["transition"]) == (30, 2)
        assert (mine["strip"]["color"], mine["strip"]["level"]) == ("#ff8800", 60)
        assert mine["shelf"]["effect"] == "candle"
        seen = states_by_light([watcher.recv() for _ in range(3)])
        assert {light: s["seq"] for light, s in seen.items()} == {light: s["seq"] for light, s in mine.items()}
    health = server.wait_for(lambda h: [light["shown"] for light in h["lights"]][:2] == [30, 60], what="the fades")
    assert health["lights"][2]["effect"] == "candle"


def test_scenes_are_kept_across_a_restart(lamp):
    server = lamp()
    with Client(server.ws_url) as me:
        me.recv()
        set_evening(me)
        me.request({"type": "save_scene", "name": "evening", "id": "s"})
        me.request({"level": 90, "light": "desk", "id": 7})
    server.stop()
    server = lamp()
    with Client(server.ws_url) as me:
        me.recv()
        me.send({"scene": "evening", "id": "r"})
        assert states_by_light([me.recv() for _ in range(3)])["desk"]["level"] == 30


@pytest.mark.parametrize(
    "message, code",
    [
        ({"scene": "nothing"}, "not_found"),
        ({"type": "delete_scene", "name": "nothing"}, "not_found"),
        ({"type": "save_scene", "name": "x", "lights": "desk,porch"}, "unknown_light"),
        ({"type": "save_scene", "name": ""}, "invalid_message"),
        ({"scene": "x", "level": 5}, "invalid_message"),
        ({"scene": "x", "light": "desk"}, "invalid_message"),
        ({"type": "toggle", "scene": "x"}, "invalid_message"),
        ({"type": "save_scene", "name": "x", "lights": "Desk"}, "invalid_message"),
    ],
)
def test_a_bad_scene_message_changes_nothing_and_tells_no_one(start_server, message, code):
    server = start_server(env={"LIGHTS": LIGHTS})
    with Client(server.ws_url) as me, Client(server.ws_url + "?watch=lights") as watcher:
        me.recv()
        for _ in range(3):
            watcher.recv()
        reply, _ = me.request({**message, "id": "bad"})
        assert (reply["type"], reply["code"], reply["id"]) == ("error", code, "bad"), reply
        assert watcher.nothing_pending()


def test_rest_saves_recalls_lists_and_deletes_scenes(lamp):
    server = lamp()
    with Client(server.ws_url) as me:
        me.recv()
        set_evening(me)
    assert server.request("PUT", "/scenes/evening", '{"lights": "desk,strip"}') == (
        200,
        {"name": "evening", "scene_lights": "desk,strip"},
    )
    assert server.get("/scenes") == [{"name": "evening", "scene_lights": "desk,strip"}]
    server.post("/lights/desk", '{"level": 90}')
    status, recalled = server.request("POST", "/scenes/evening", "transition=1.5", "application/x-www-form-urlencoded")
    assert status == 200 and [(s["light"], s["level"], s["transition"]) for s in recalled["states"]] == [
        ("desk", 30, 1.5),
        ("strip", 60, 1.5),
    ]
    assert server.request("DELETE", "/scenes/evening") == (200, {"name": "evening"})
    status, error = server.request("POST", "/scenes/evening")
    assert (status, error["code"]) == (404, "not_found")
    assert server.request("PUT", "/scenes/bad%20name!")[0] == 400
    assert server.get("/scenes") == []


def test_changing_a_scene_over_rest_needs_the_token_as_a_post_does(start_server):
    server = start_server(env={"LIGHTS": LIGHTS, "LED_TOKEN": "s3cret"})
    for method in ("PUT", "POST", "DELETE"):
        status, body = server.request(method, "/scenes/evening")
        assert (status, body["code"]) == (401, "unauthorized"), (method, body)
    assert server.request("PUT", "/scenes/evening", headers={"Authorization": "Bearer s3cret"})[0] == 200


def test_a_client_that_watches_the_scenes_gets_them_all_then_each_change(lamp):
    server = lamp()
    with Client(server.ws_url) as me:
        me.recv()
        me.request({"type": "save_scene", "name": "evening", "lights": "desk", "id": 1})
        with Client(server.ws_url + "?watch=scenes") as watcher, Client(server.ws_url) as later:
            assert watcher.recv()["type"] == "state"
            assert watcher.recv() == {"type": "scene", "name": "evening", "scene_lights": "desk"}
            later.recv()
            reply, sent = later.request({"type": "watch", "scenes": True, "id": "w"})
            assert reply == {"type": "watching", "schedules": False, "scenes": True, "id": "w"}
            assert later.recv() == {"type": "scene", "name": "evening", "scene_lights": "desk"}
            me.request({"type": "save_scene", "name": "morning", "id": 2})
            news = {"type": "scene", "name": "morning", "scene_lights": "desk,strip,shelf"}
            assert watcher.recv() == news and later.recv() == news
            me.request({"type": "save_scene", "name": "morning", "id": 3})  # the same again: tells no one
            me.request({"type": "delete_scene", "name": "evening", "id": 4})
            assert watcher.recv() == {"type": "scene_deleted", "name": "evening"}
            assert later.recv() == {"type": "scene_deleted", "name": "evening"}
            reply, _ = later.request({"type": "watch", "scenes": False, "id": "u"})
            assert reply == {"type": "watching", "schedules": False, "scenes": False, "id": "u"}
            me.request({"type": "save_scene", "name": "night", "id": 5})
            assert watcher.recv()["name"] == "night" and later.nothing_pending()


def test_the_protocol_documents_the_scenes_session_byte_for_byte(start_server):
    from support import run_documented_session

    run_documented_session(start_server(env={"LIGHTS": LIGHTS}), "### Scenes", "## What you get, and when")


def test_mqtt_recalls_a_scene_on_the_lamps_topic_and_the_groups(start_server, tmp_path):
    from mqtt_support import Broker, Listener

    broker = Broker(tmp_path).start()
    try:
        hears = Listener(broker, "ledsock/lamp1/lights/+/state", "ledsock/lamp1/error")
        server = start_server(env={"LIGHTS": LIGHTS, "MQTT_URL": broker.url, "MQTT_DEVICE_ID": "lamp1"})
        server.wait_for(lambda h: h["mqtt_connected"], what="the bridge connected")
        with Client(server.ws_url) as me:
            me.recv()
            set_evening(me)
            me.request({"type": "save_scene", "name": "evening", "id": "s"})
            me.request({"level": 90, "light": "desk", "id": 9})
        hears.wait_for("ledsock/lamp1/lights/desk/state", lambda s: s["level"] == 90)
        hears.publish("ledsock/lamp1/set", '{"scene": "evening"}')
        assert hears.wait_for("ledsock/lamp1/lights/desk/state", lambda s: s["level"] == 30)
        server.post("/lights/desk", '{"level": 90}')
        hears.wait_for("ledsock/lamp1/lights/desk/state", lambda s: s["level"] == 90)
        hears.publish("ledsock/all/set", '{"scene": "nothing"}')  # a scene this lamp has not: passed by quietly
        hears.publish("ledsock/all/set", '{"scene": "evening", "transition": 1}')  # one message for the fleet
        assert hears.wait_for("ledsock/lamp1/lights/desk/state", lambda s: s["level"] == 30)
        hears.publish("ledsock/lamp1/set", '{"scene": "nothing", "id": "n"}')
        assert hears.wait_for("ledsock/lamp1/error", lambda e: e.get("id") == "n")["code"] == "not_found"
        hears.publish("ledsock/lamp1/lights/desk/set", '{"scene": "evening", "id": "l"}')
        assert hears.wait_for("ledsock/lamp1/error", lambda e: e.get("id") == "l")["code"] == "invalid_message"
        errors = [e.get("id") for e in hears.on("ledsock/lamp1/error")]
        assert errors == ["n", "l"], errors  # the group's unknown scene said nothing
        hears.close()
    finally:
        broker.stop()


def test_home_assistant_gets_a_scene_entity_per_scene_that_its_schema_takes_and_loses_it_on_delete(
    start_server, tmp_path
):
    from ha_schema import validate_scene_discovery

    from mqtt_support import Broker, Listener

    broker = Broker(tmp_path).start()
    try:
        hears = Listener(broker, "homeassistant/scene/+/config", "ledsock/lamp1/lights/+/state")
        server = start_server(env={"LIGHTS": LIGHTS, "MQTT_URL": broker.url, "MQTT_DEVICE_ID": "lamp1"})
        server.wait_for(lambda h: h["mqtt_connected"], what="the bridge connected")
        with Client(server.ws_url) as me:
            me.recv()
            me.request({"level": 30, "light": "desk", "id": 1})
            me.request({"type": "save_scene", "name": "tv night", "id": "s"})
            me.request({"type": "save_scene", "name": "tv_night", "id": "t"})
            configs = {}
            for _ in range(2):
                topic, payload = hears.next_on("homeassistant/scene/+/config")
                configs[topic] = payload
            assert len(configs) == 2, configs  # two names that look alike: two entities
            for topic, config in configs.items():
                valid = validate_scene_discovery(config)
                assert valid["command_topic"] == "ledsock/lamp1/set" and topic.endswith(f"/{valid['unique_id']}/config")
                assert valid["device"]["identifiers"] == ["ledsock_lamp1"]
            [night] = [c for c in configs.values() if c["name"] == "tv night"]
            me.request({"level": 90, "light": "desk", "id": 2})
            hears.publish(night["command_topic"], night["payload_on"])  # what HA sends when it is activated
            hears.wait_for("ledsock/lamp1/lights/desk/state", lambda s: s["level"] == 30)
            me.request({"type": "delete_scene", "name": "tv night", "id": "d"})
            topic, payload = hears.next_on("homeassistant/scene/+/config")
            assert payload is None and topic == f"homeassistant/scene/{night['unique_id']}/config"  # removed
        hears.close()
    finally:
        broker.stop()


BAD_ON_EVERY_DOOR = [  # (REST method, path, body) and its MQTT payload on the lamp's set topic
    (("POST", "/scenes/nothing", ""), '{"scene": "nothing"}', 404, "not_found"),
    (("DELETE", "/scenes/nothing", ""), '{"type": "delete_scene", "name": "nothing"}', 404, "not_found"),
    (
        ("PUT", "/scenes/x", '{"lights": "desk,porch"}'),
        '{"type": "save_scene", "name": "x", "lights": "desk,porch"}',
        404,
        "unknown_light",
    ),
    (
        ("PUT", "/scenes/x", '{"lights": "Desk"}'),
        '{"type": "save_scene", "name": "x", "lights": "Desk"}',
        400,
        "invalid_message",
    ),
    (("PUT", "/scenes/%20x", ""), '{"type": "save_scene", "name": " x"}', 400, "invalid_message"),
    (("POST", "/scenes/x", '{"level": 5}'), '{"scene": "x", "level": 5}', 400, "invalid_message"),
    (("POST", "/scenes/x", '{"transition": -1}'), '{"scene": "x", "transition": -1}', 400, "out_of_range"),
]


def test_bad_scene_requests_change_nothing_on_rest_and_mqtt(start_server, tmp_path):
    from mqtt_support import Broker, Listener

    broker = Broker(tmp_path).start()
    try:
        hears = Listener(broker, "ledsock/lamp1/error", "ledsock/lamp1/lights/+/state")
        server = start_server(env={"LIGHTS": LIGHTS, "MQTT_URL": broker.url, "MQTT_DEVICE_ID": "lamp1"})
        server.wait_for(lambda h: h["mqtt_connected"], what="the bridge connected")
        seqs = [light["seq"] for light in server.get("/lights")]
        for n, ((method, path, body), payload, status, code) in enumerate(BAD_ON_EVERY_DOOR):
            got, answer = server.request(method, path, body)
            assert (got, answer["code"]) == (status, code), (method, path, body, answer)
            hears.publish("ledsock/lamp1/set", payload[:-1] + f', "id": "b{n}"}}')
            error = hears.wait_for("ledsock/lamp1/error", lambda e, n=n: e.get("id") == f"b{n}")
            assert error["code"] == code, (payload, error)
        assert [light["seq"] for light in server.get("/lights")] == seqs and server.get("/scenes") == []
        hears.close()
    finally:
        broker.stop()


def test_a_schedule_of_a_scene_fires_on_a_real_service_and_every_light_converges(lamp):
    import datetime

    server = lamp()
    with Client(server.ws_url + "?watch=lights") as me:
        for _ in range(3):
            me.recv()
        set_evening(me)
        me.request({"type": "save_scene", "name": "evening", "id": "s"})
        for light in ("desk", "strip", "shelf"):
            me.request({"level": 90, "light": light, "id": f"x{light}"})
        at = (datetime.datetime.now() + datetime.timedelta(seconds=3)).strftime("%H:%M:%S")  # the service's time zone
        reply, _ = me.request(
            {"type": "schedule", "name": "dusk", "at": at, "scene": "evening", "transition": 1, "id": "d"}
        )
        assert (reply["type"], reply["scene"], reply["transition"]) == ("schedule", "evening", 1.0), reply
        me.recv_until(lambda m: m.get("light") == "shelf" and m.get("effect") == "candle", timeout=10)  # it fired

    def converged(health):
        looks = [(light["level"], light.get("effect", ""), light["shown"]) for light in health["lights"]]
        return looks[:2] == [(30, "", 30), (60, "", 60)] and looks[2][:2] == (50, "candle")

    health = server.wait_for(converged, what="every light of the scene, shown")
    assert health["lights"][1]["color"] == "#ff8800"
    assert "by schedule 'dusk'" in server.log()


def test_a_scene_deleted_while_the_bridge_was_away_leaves_home_assistant_when_it_is_back(start_server, tmp_path):
    from doors.home_assistant import scene_id

    from mqtt_support import Broker, Listener

    broker = Broker(tmp_path).start()
    try:
        hears = Listener(broker, "homeassistant/scene/+/config")
        stale = f"homeassistant/scene/{scene_id('lamp1', 'gone')}/config"
        other = f"homeassistant/scene/{scene_id('lamp2', 'gone')}/config"  # another lamp's: not this one's to clear
        hears.publish(stale, '{"name": "gone"}', retain=True)
        hears.publish(other, '{"name": "gone"}', retain=True)
        env = {"LIGHTS": LIGHTS, "STATE_FILE": str(tmp_path / "state.json")}
        server = start_server(env={**env, "MQTT_URL": broker.url, "MQTT_DEVICE_ID": "lamp1"})
        server.wait_for(lambda h: h["mqtt_connected"], what="the bridge connected")
        hears.wait_for(stale, lambda payload: payload == "")  # cleared: Home Assistant removes the entity
        with Client(server.ws_url) as me:
            me.recv()
            me.request({"type": "save_scene", "name": "kept", "id": "k"})
        kept = f"homeassistant/scene/{scene_id('lamp1', 'kept')}/config"
        hears.wait_for(kept, lambda payload: isinstance(payload, dict))
        hears.close()
        after = Listener(broker, "homeassistant/scene/+/config")  # what the broker keeps now
        assert after.wait_for(kept, lambda payload: isinstance(payload, dict))["name"] == "kept"
        assert after.wait_for(other, lambda payload: isinstance(payload, dict))["name"] == "gone"
        assert after.on(stale) == []
        after.close()
    finally:
        broker.stop()
