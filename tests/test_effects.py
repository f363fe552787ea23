"""Effects: each one's shape read off a MockPWMPin's history on a fake clock, how commands take
over from them, and then real processes: every door, restarts, the page."""

import json
import threading
import time

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

import protocol
from curves.brightness import Curve
from curves.effects import FLICKER_STEP
from lamp import light_report
from lamp.light import Light
from led import Led

from fakes import LONDON, BrokenPWMPin, FakeClock, FakeScheduler
from support import Client

RATE = 60  # the fader's updates a second


class ClockedPWMPin(MockPWMPin):
    """A MockPWMPin whose history is kept on the fake clock the fader runs on."""

    clock = None

    def _set_state(self, value):
        super()._set_state(value)
        if not hasattr(self, "timeline"):
            self.timeline = []
        self.timeline.append((round(ClockedPWMPin.clock(), 6), value * 100))  # linear curve: duty % = level


@pytest.fixture
def fake():
    fake = FakeClock()
    ClockedPWMPin.clock = fake.clock
    return fake


@pytest.fixture
def light(fake):
    factory = MockFactory(pin_class=ClockedPWMPin)
    led = Led(21, pin_factory=factory, curve=Curve("linear"), fade_rate=RATE, clock=fake.clock, sleep=fake.sleep)
    pin = factory.pin(21)
    made = Light(led, brightness=80, clock=fake.clock)
    made.pin = pin
    yield made
    made.release()
    factory.close()


def run(light, fake, text, until, then='{"level": 40}'):
    """Start the effect ``text``; at fake time ``until`` send ``then`` (which ends it); wait for it."""
    done = threading.Event()

    def end():
        light.execute(protocol.parse_command(then), origin="test")
        done.set()

    start, first = fake.now, len(light.pin.timeline)
    fake.at(start + until, end)
    state = light.execute(protocol.parse_command(text), origin="test")
    assert done.wait(10), "the fader never reached the end"
    return state, [(t - start, level) for t, level in light.pin.timeline[first:]]


def extremes(history, low: bool):
    """The times of the levels at each local minimum (or maximum) of the history."""
    found = []
    for (_, a), (t, b), (_, c) in zip(history, history[1:], history[2:]):
        if (b < a and b <= c) if low else (b > a and b >= c):
            found.append(t)
    return found


def test_breathe_rises_and_falls_with_its_period_from_the_level_shown(light, fake):
    state, history = run(light, fake, '{"effect": "breathe", "period": 3}', until=15.2)
    assert state.effect == "breathe" and state.on and state.level == 80
    assert history[0][1] == pytest.approx(80)  # it begins where the light was: no jump
    bottoms = extremes([h for h in history if h[0] < 15], low=True)
    periods = [b - a for a, b in zip(bottoms, bottoms[1:])]
    assert len(periods) >= 3 and all(p == pytest.approx(3, rel=0.02) for p in periods), periods
    assert min(level for _, level in history[:-1]) == pytest.approx(0, abs=0.1)
    assert max(level for _, level in history[:-1]) == pytest.approx(80, abs=0.1)
    steps = [b[1] - a[1] for a, b in zip(history, history[1:-1])]
    assert max(map(abs, steps)) < 80 * 3.15 / (3 * RATE) * 1.2  # smooth: no step past the steepest slope
    gaps = [b[0] - a[0] for a, b in zip(history, history[1:])]
    assert min(gaps) >= 1 / RATE - 1e-6  # at most 60 writes a second


def test_a_command_mid_effect_takes_over_from_the_level_shown(light, fake):
    state, history = run(
        light, fake, '{"effect": "breathe", "period": 4}', until=1.0, then='{"level": 70, "transition": 1}'
    )
    assert light.state().effect == "" and light.state().level == 70
    at_command = [level for t, level in history if t <= 1.0 + 1e-9][-1]
    after = [level for t, level in history if t > 1.0 + 1e-9]
    assert 0 < at_command < 80
    assert after[0] == pytest.approx(at_command, abs=2)  # the fade starts where the breathe was
    assert after == sorted(after) and after[-1] == pytest.approx(70)


def test_a_breathe_from_a_light_that_is_off_begins_dark(light, fake):
    light.execute(protocol.SetPower(False), origin="test")
    state, history = run(light, fake, '{"effect": "breathe", "period": 2}', until=1.0)
    assert state.on and state.effect == "breathe"  # it turns the light on, at its brightness...
    assert history[0][1] == pytest.approx(0, abs=0.01)  # ...rising from the dark it was: no jump
    assert [level for _, level in history[:-1]] == sorted(level for _, level in history[:-1])  # rising to the top
    assert history[-2][1] == pytest.approx(80, abs=0.5)


def test_a_flash_blinks_its_count_and_returns_exactly_to_the_state_before(light, fake):
    light.execute(protocol.SetLevel(30), origin="test")
    before, pin_before = light.state(), light.pin.state
    heard = []
    light.add_listener(lambda new, requester: heard.append(new))
    start, first = fake.now, len(light.pin.timeline)
    light.execute(
        protocol.parse_command('{"effect": "flash", "count": 4, "on_time": 0.2, "off_time": 0.3}'), origin="test"
    )
    deadline = time.monotonic() + 10
    while light.state().effect:
        assert time.monotonic() < deadline
        time.sleep(0.001)
    history = [(t - start, level) for t, level in light.pin.timeline[first:]]
    offs = [t for (_, a), (t, b) in zip(history, history[1:]) if a > 0 and b == 0]
    ons = [t for (_, a), (t, b) in zip(history, history[1:]) if a == 0 and b > 0]
    assert len(offs) == 4 and len(ons) == 4, history  # four dark blinks of a lit lamp, lit after each
    assert all(on - off == pytest.approx(0.3, abs=1.5 / RATE) for off, on in zip(offs, ons)), history
    assert ons[-1] == pytest.approx(4 * 0.5, abs=1.5 / RATE)  # over after count * (on_time + off_time)
    assert history[-1][1] == pytest.approx(30) and light.pin.state == pin_before  # exactly as before
    after = light.state()
    assert after._replace(seq=0) == before._replace(seq=0) and after.seq == before.seq + 2
    assert [s.effect for s in heard] == ["flash", ""]


def test_a_flash_of_a_light_that_is_off_lights_it_at_its_brightness_and_leaves_it_off(light, fake):
    light.execute(protocol.SetPower(False), origin="test")
    first = len(light.pin.timeline)
    state = light.execute(protocol.parse_command('{"effect": "flash", "count": 2}'), origin="test")
    assert state.effect == "flash" and not state.on and state.level == 0
    deadline = time.monotonic() + 10
    while light.state().effect:
        assert time.monotonic() < deadline
        time.sleep(0.001)
    levels = [level for _, level in light.pin.timeline[first:]]
    assert max(levels) == pytest.approx(80) and levels[-1] == 0 and not light.state().on


@pytest.mark.parametrize("depth", [10, 30, 100])
def test_a_candle_flickers_within_its_bounds(light, fake, depth):
    _, history = run(light, fake, json.dumps({"effect": "candle", "depth": depth}), until=20)
    levels = [level for t, level in history if t < 20]
    low = 80 * (1 - depth / 100)
    assert all(low - 1e-9 <= level <= 80 + 1e-9 for level in levels), (min(levels), max(levels))
    assert max(levels) - min(levels) > 0.5 * (80 - low)  # it does flicker, across most of its range
    changes = sum(1 for a, b in zip(levels, levels[1:]) if a != b)
    assert changes > 20 / FLICKER_STEP  # it moves all the time


def test_blink_keeps_its_on_and_off_times(light, fake):
    _, history = run(light, fake, '{"effect": "blink", "on_time": 0.25, "off_time": 0.75}', until=10.1)
    history = [h for h in history if h[0] < 10]
    edges = [(t, b > 0) for (_, a), (t, b) in zip(history, history[1:]) if (a > 0) != (b > 0)]
    ons = [b[0] - a[0] for a, b in zip(edges, edges[1:]) if a[1]]
    offs = [b[0] - a[0] for a, b in zip(edges, edges[1:]) if not a[1]]
    assert len(ons) >= 9 and all(t == pytest.approx(0.25, abs=1 / RATE + 1e-6) for t in ons), ons
    assert len(offs) >= 9 and all(t == pytest.approx(0.75, abs=1 / RATE + 1e-6) for t in offs), offs
    assert {round(level) for _, level in history} == {0, 80}


def test_effect_null_stops_it_and_the_same_effect_again_changes_nothing(light, fake):
    first = light.execute(protocol.parse_command('{"effect": "candle"}'), origin="test")
    again = light.execute(protocol.parse_command('{"effect": "candle", "depth": 30}'), origin="test")
    assert again == first  # the same effect, as it runs: no change, no new seq
    stopped = light.execute(protocol.parse_command('{"effect": null}'), origin="test")
    assert stopped.effect == "" and stopped.seq == first.seq + 1 and stopped.level == 80
    assert light.execute(protocol.parse_command('{"effect": null}'), origin="test").seq == stopped.seq


def test_a_schedule_starts_an_effect_a_candle_at_sunset_and_a_flash_at_seven(mock_factory):
    from datetime import datetime

    from lamp.schedules import Schedules

    clock = FakeScheduler(datetime(2026, 12, 7, 6, 0, tzinfo=LONDON))
    light = Light(Led(21, pin_factory=mock_factory), brightness=60, on=False)
    light.schedules = Schedules(light, clock, timezone=LONDON, location=(51.5074, -0.1278))
    try:
        for text in (
            '{"type": "schedule", "name": "dusk", "sun": "sunset", "effect": "candle", "depth": 20}',
            '{"type": "schedule", "name": "alarm", "at": "07:00", "effect": "flash", "count": 5}',
        ):
            info = light.execute(protocol.parse_command(text), origin="test")
            assert (
                protocol.parse_command(json.dumps({**protocol.schedule_fields(info), "type": "schedule"})).action
                == protocol.parse_command(text).action
            )  # sent back, it is the same schedule
        assert clock.advance_to(datetime(2026, 12, 7, 7, 0, 1, tzinfo=LONDON)) == 1
        assert light.state().effect == "flash" and not light.state().on  # a flash: the light stays off after
        light.execute(protocol.parse_command('{"effect": null}'), origin="test")
        assert clock.advance_to(datetime(2026, 12, 7, 17, 0, tzinfo=LONDON)) == 1  # sunset, 15:53 in London
        state = light.state()
        assert (state.effect, state.on, state.level) == ("candle", True, 60)
    finally:
        light.release()


# ---------------------------------------------------------------- real processes


def test_an_effect_set_on_one_door_shows_on_every_other(start_server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from support import CHROMIUM, CHROMIUM_ARGS

    server = start_server(env={"LIGHTS": "desk:21,shelf:20"})
    with Client(server.ws_url) as v1, Client(server.ws_url + "?watch=lights") as watcher, sync_playwright() as pw:
        v1.recv(), watcher.recv(), watcher.recv()
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(server.http + "/")
            expect(page.locator("#connection")).to_have_text("Connected")
            reply, _ = v1.request({"effect": "breathe", "period": 2, "id": 1})  # the WebSocket
            assert reply["effect"] == "breathe" and reply["seq"] == 1
            assert watcher.recv()["effect"] == "breathe"
            expect(page.locator("#effect")).to_have_value("breathe")  # the page
            assert server.get("/led")["effect"] == "breathe"  # REST
            page.locator("#effect-shelf").select_option("candle")  # the page, another light
            assert watcher.recv() == {
                "type": "state",
                "light": "shelf",
                "level": 50,
                "on": True,
                "brightness": 50,
                "seq": 1,
                "effect": "candle",
            }
            assert (
                server.post(
                    "/lights/shelf", "effect=blink&on_time=0.2&off_time=0.2", "application/x-www-form-urlencoded"
                )[1]["effect"]
                == "blink"
            )  # a form
            expect(page.locator("#effect-shelf")).to_have_value("blink")
            assert v1.nothing_pending()  # the other light's effects are not the v1 client's news
            page.locator("#effect").select_option("")  # none: stops it
            assert v1.recv()["seq"] == 2 and "effect" not in server.get("/led")
            expect(page.locator("#effect")).to_have_value("")
            assert page.evaluate("document.querySelector('.led').dataset.effect") == ""
        finally:
            browser.close()


def test_a_running_effect_is_kept_across_a_restart_and_a_flash_is_not(start_server, tmp_path):
    env = {"LIGHTS": "desk:21,shelf:20", "STATE_FILE": str(tmp_path / "effects.json")}
    first = start_server(env=env)
    first.post("/lights/desk", '{"effect": "candle", "depth": 40}')
    first.post("/lights/shelf", '{"effect": "flash", "count": 100}')  # still flashing at the stop
    assert first.stop() == 0
    second = start_server(env=env)
    lights = {s["light"]: s for s in second.get("/lights")}
    assert lights["desk"]["effect"] == "candle" and "effect" not in lights["shelf"]
    assert lights["shelf"]["level"] == 50  # where it was before the flash
    assert json.loads((tmp_path / "effects.json").read_text())["effect"] == {"effect": "candle", "depth": 40}
    assert second.stop() == 0
    third = start_server(env={**env, "POWER_ON": "off"})  # not when the service starts the light off
    assert all("effect" not in s for s in third.get("/lights"))


def test_an_effect_follows_the_hardware_error_rules(fake):

    from led import HardwareError

    factory = MockFactory(pin_class=BrokenPWMPin)
    led = Led(21, pin_factory=factory, curve=Curve("linear"), fade_rate=RATE, clock=fake.clock, sleep=fake.sleep)
    light = Light(led, brightness=80, clock=fake.clock)
    heard = []
    light.add_listener(lambda new, requester: heard.append(new))
    try:
        factory.pin(21).broken = True
        with pytest.raises(HardwareError):  # its first level is written by the command: it fails at once
            light.execute(protocol.parse_command('{"effect": "candle"}'), origin="test")
        assert light.state().effect == "" and heard == []  # nothing changed, no one told
        factory.pin(21).broken = False
        light.execute(protocol.parse_command('{"effect": "breathe", "period": 2}'), origin="test")
        factory.pin(21).broken = True  # the device fails while the effect runs
        deadline = time.monotonic() + 10
        while light.state().effect:
            assert time.monotonic() < deadline, "the failed effect never ended"
            time.sleep(0.001)
        assert [s.effect for s in heard] == ["breathe", ""]  # everyone learns that it stopped
        health = light_report.health(light)
        assert health["status"] == "degraded" and "GPIO21" in health["hardware_error"]
    finally:
        factory.pin(21).broken = False
        light.release()
        factory.close()


def test_an_effect_without_a_shape_fails_and_never_becomes_another():
    """Every effect the protocol knows has its own shape; a name it does not know has none (it
    used to fall through to a flash)."""
    from curves.effects import Colours, Flash, shape_for
    from curves.looks import Look

    white = Colours((1.0,), (1.0,))
    for name in protocol.EffectName:
        effect = protocol.parse_effect({"effect": str(name)})
        assert shape_for(effect, top=80, back=Look(80, (1.0,)), colours=white)(0.0, 0.0).name is name
    with pytest.raises(ValueError, match="sparkle"):
        shape_for(protocol.Effect("sparkle"), top=80, back=Look(80, (1.0,)), colours=white)
    assert Flash.name is protocol.EffectName.FLASH
