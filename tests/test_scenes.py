"""Scenes in process: lights on simulated pins and a fake clock, saved, changed, recalled (one
state per light, their fades begun on one tick, an effect from the level shown), deleted; kept
in the state file; and every bad input refused with nothing changed."""

import json
import time

import pytest
from gpiozero.pins.mock import MockFactory

import protocol
from curves.brightness import Curve
from curves.looks import LightKind, channels_for
from lamp.light import Light
from lamp.lights import Lights
from lamp.scenes import Scenes
from lamp.state import StateFile
from led import Led

from fakes import ClockedPWMPin, FakeClock


def make_light(fake, name, kind, pins, state_file=None, sleep=None):
    led = Led(
        pins,
        pin_factory=MockFactory(pin_class=ClockedPWMPin),
        channels=channels_for(kind, Curve("linear")),
        fade_rate=60,
        clock=fake.clock,
        sleep=sleep or fake.sleep,
    )
    return Light(led, name=name, clock=fake.clock, state_file=state_file.record(name) if state_file else None)


@pytest.fixture
def house(tmp_path):
    """desk (one channel), strip (RGB) and shelf (one channel), their scenes, a state file."""
    fake = FakeClock(100.0)
    ClockedPWMPin.clock = fake.clock
    state_file = StateFile(tmp_path / "state.json", default_light="desk")
    lights = Lights(
        [
            make_light(fake, "desk", LightKind.SINGLE, 21, state_file),
            make_light(fake, "strip", LightKind.RGB, (17, 27, 22), state_file),
            make_light(fake, "shelf", LightKind.SINGLE, 20, state_file),
        ]
    )
    scenes = Scenes(lights, state_file=state_file)
    news = []
    scenes.add_listener(lambda info, requester: news.append(info))
    house = type("House", (), dict(fake=fake, lights=lights, scenes=scenes, news=news, state_file=state_file))
    yield house
    for light in lights:
        light.release()


def send(house, light, text):
    return house.lights.get(light).execute(protocol.parse_command(text), origin="test")


def scene(house, text):
    replies = []
    answers = house.scenes.execute(protocol.parse_command(text), origin="test", reply=replies.append)
    assert answers == replies
    return answers


def evening(house):
    send(house, "desk", '{"level": 30}')
    send(house, "strip", '{"color": "#ff8800", "level": 60}')
    send(house, "shelf", '{"effect": "candle", "depth": 40}')
    return scene(house, '{"type": "save_scene", "name": "evening"}')


def test_a_saved_scene_comes_back_one_state_a_light(house):
    [info] = evening(house)
    assert info == protocol.SceneInfo("evening", ("desk", "strip", "shelf"))
    assert (
        protocol.reply_message(info, "s1")
        == '{"type":"scene","name":"evening","scene_lights":"desk,strip,shelf","id":"s1"}'
    )
    send(house, "desk", '{"on": false}')
    send(house, "strip", '{"kelvin": 6500, "level": 100}')
    send(house, "shelf", '{"effect": null}')
    seqs = [light.state().seq for light in house.lights]
    states = scene(house, '{"scene": "evening"}')
    assert [(s.light, s.level, s.on, s.color, s.effect) for s in states] == [
        ("desk", 30, True, "", ""),
        ("strip", 60, True, "#ff8800", ""),
        ("shelf", 50, True, "", "candle"),
    ]
    assert [s.seq for s in states] == [seq + 1 for seq in seqs]  # one state a light, no more
    assert house.lights.get("shelf").kept_effect()["depth"] == 40  # the effect with its fields


def test_a_recall_with_a_transition_starts_every_fade_on_one_tick():
    fake = FakeClock(100.0)  # moved by the test alone: the faders only read it
    ClockedPWMPin.clock = fake.clock
    still = lambda seconds: time.sleep(0.001)  # noqa: E731 - a fader's step that leaves the clock where it is
    lights = Lights(
        [
            make_light(fake, "desk", LightKind.SINGLE, 21, sleep=still),
            make_light(fake, "strip", LightKind.RGB, (17, 27, 22), sleep=still),
        ]
    )
    try:
        scenes = Scenes(lights)
        lights.get("desk").execute(protocol.parse_command('{"level": 30}'), origin="test")
        lights.get("strip").execute(protocol.parse_command('{"color": "#ff8800", "level": 60}'), origin="test")
        scenes.execute(protocol.parse_command('{"type": "save_scene", "name": "evening"}'), origin="test")
        for light in lights:
            light.execute(protocol.parse_command('{"level": 90}'), origin="test")
        states = scenes.execute(protocol.parse_command('{"scene": "evening", "transition": 2}'), origin="test")
        assert [s.transition for s in states] == [2.0, 2.0]
        desk, strip = lights.get("desk").led, lights.get("strip").led
        assert desk.running().began == strip.running().began == 100.0  # one tick for both
        fake.now = 102.5
        deadline = time.monotonic() + 5
        while (desk.shown(), strip.shown()) != (30, 60):
            assert time.monotonic() < deadline, (desk.shown(), strip.shown())
            time.sleep(0.01)
    finally:
        for light in lights:
            light.release()


def test_saving_what_is_already_saved_tells_no_one_and_writes_nothing(house):
    evening(house)
    assert len(house.news) == 1
    house.state_file.flush()
    writes = house.state_file.writes
    [again] = scene(house, '{"type": "save_scene", "name": "evening"}')
    assert again.name == "evening" and len(house.news) == 1
    house.state_file.flush()
    assert house.state_file.writes == writes
    send(house, "desk", '{"level": 31}')
    scene(house, '{"type": "save_scene", "name": "evening"}')  # now it differs: replaced, told
    assert len(house.news) == 2


def test_a_scene_of_some_lights_recalls_only_them(house):
    send(house, "desk", '{"level": 10}')
    scene(house, '{"type": "save_scene", "name": "reading", "lights": "desk"}')
    send(house, "desk", '{"level": 70}')
    send(house, "shelf", '{"level": 70}')
    [desk] = scene(house, '{"scene": "reading"}')
    assert (desk.light, desk.level) == ("desk", 10) and house.lights.get("shelf").state().level == 70


def test_scenes_are_kept_in_the_state_file_and_a_light_gone_is_left_out(house, tmp_path):
    evening(house)
    house.state_file.flush()
    kept = json.loads((tmp_path / "state.json").read_text())["scenes"]
    assert kept[0]["name"] == "evening" and kept[0]["lights"]["strip"]["color"] == "#ff8800"
    fake = house.fake
    again = StateFile(tmp_path / "state.json", default_light="desk")
    again.load()
    two = Lights([make_light(fake, "desk", LightKind.SINGLE, 5), make_light(fake, "strip", LightKind.RGB, (6, 7, 8))])
    try:
        restored = Scenes(two, state_file=again)
        restored.load(again.saved_scenes)
        assert restored.infos() == [protocol.SceneInfo("evening", ("desk", "strip", "shelf"))]
        answers = restored.execute(protocol.parse_command('{"scene": "evening", "id": 7}'), origin="test")
        assert [a.light for a in answers[:2]] == ["desk", "strip"]
        assert answers[2] == protocol.SceneInfo("evening", ("desk", "strip"), ("shelf",))
        assert protocol.reply_message(answers[2], 7).endswith('"scene_lights":"desk,strip","left_out":"shelf","id":7}')
    finally:
        for light in two:
            light.release()


def test_deleting_a_scene_tells_everyone_and_an_unknown_one_is_not_found(house):
    evening(house)
    [deleted] = scene(house, '{"type": "delete_scene", "name": "evening"}')
    assert protocol.reply_message(deleted) == '{"type":"scene_deleted","name":"evening"}'
    assert house.news[-1] == deleted and house.scenes.infos() == []
    for text in ('{"type": "delete_scene", "name": "evening"}', '{"scene": "evening"}'):
        with pytest.raises(protocol.ProtocolError) as refused:
            scene(house, text)
        assert refused.value.code == "not_found"


def test_a_33rd_scene_is_refused_and_a_scene_of_a_light_there_is_not_too(house):
    for n in range(32):
        scene(house, f'{{"type": "save_scene", "name": "s{n}"}}')
    with pytest.raises(protocol.ProtocolError) as refused:
        scene(house, '{"type": "save_scene", "name": "one too many"}')
    assert refused.value.code == "too_many_scenes"
    scene(house, '{"type": "save_scene", "name": "s0"}')  # replacing one is fine
    with pytest.raises(protocol.ProtocolError) as unknown:
        scene(house, '{"type": "save_scene", "name": "s1", "lights": "desk,porch"}')
    assert unknown.value.code == "unknown_light" and len(house.scenes.infos()) == 32


@pytest.mark.parametrize(
    "text, says",
    [
        ('{"type": "save_scene"}', "name must be"),
        ('{"type": "save_scene", "name": ""}', "name must be"),
        ('{"type": "save_scene", "name": "x", "lights": "Desk"}', "lights must be light names"),
        ('{"type": "save_scene", "name": "x", "lights": ["desk"]}', "lights must be light names"),
        ('{"type": "save_scene", "name": "x", "light": "desk"}', "takes lights"),
        ('{"scene": 5}', "scene must be"),
        ('{"scene": "x", "level": 5}', "takes only transition and id"),
        ('{"scene": "x", "transition": -1}', "transition"),
        ('{"scene": "x", "light": "desk"}', "recalled alone"),
        ('{"type": "toggle", "scene": "x"}', "recalled alone"),
        ('{"type": "delete_scene", "name": 3}', "name must be"),
    ],
)
def test_a_scene_message_that_is_not_one_says_why(text, says):
    with pytest.raises(protocol.ProtocolError, match=says):
        protocol.parse_command(text)


def test_a_schedule_recalls_a_scene_at_its_time_and_is_kept_as_one(house, tmp_path):
    from datetime import UTC, datetime

    from lamp.schedules import Schedules

    from fakes import FakeScheduler

    evening(house)
    send(house, "desk", '{"level": 90}')
    send(house, "shelf", '{"effect": null}')
    clock = FakeScheduler(datetime(2026, 12, 7, 17, 0, tzinfo=UTC))
    desk = house.lights.get("desk")
    desk.schedules = Schedules(desk, clock, timezone=UTC, state_file=house.state_file.record("desk"))
    desk.schedules.recall = house.scenes.execute
    info = desk.execute(
        protocol.parse_command(
            '{"type": "schedule", "name": "dusk", "at": "17:30", "scene": "evening", "transition": 3}'
        ),
        origin="test",
    )
    assert protocol.schedule_fields(info) == {
        "name": "dusk",
        "at": "17:30",
        "days": "daily",
        "scene": "evening",
        "transition": 3.0,
    }
    assert (
        protocol.parse_command(json.dumps({"type": "schedule", **protocol.schedule_fields(info)})).action == info.action
    )
    clock.advance(31 * 60)
    states = [light.state() for light in house.lights]
    assert [(s.level, s.effect) for s in states] == [(30, ""), (60, ""), (50, "candle")]
    for text, says in [
        ('{"type": "schedule", "name": "x", "at": "07:00", "scene": "evening", "level": 5}', "not both, got level"),
        ('{"type": "schedule", "name": "x", "at": "07:00", "scene": ""}', "scene must be"),
    ]:
        with pytest.raises(protocol.ProtocolError, match=says):
            protocol.parse_command(text)
