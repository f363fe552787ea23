"""The sleep timer: in process with a fake scheduler and clocks; then APScheduler for real."""

import json
import time
from datetime import UTC, datetime

import pytest

import protocol
from lamp.light import Light
from lamp.timers import Scheduler
from led import Led
from protocol import GetState, Ping, SetLevel, SetPower, Sleep, Step, Toggle

from fakes import FakeScheduler
from support import Client


@pytest.fixture
def scheduler():
    return FakeScheduler(datetime.fromtimestamp(1_800_000_000, UTC))


@pytest.fixture
def wall(scheduler):
    return scheduler.clock  # the light's wall clock: the scheduler's time


@pytest.fixture
def light(mock_factory, scheduler, wall):
    light = Light(Led(21, pin_factory=mock_factory), brightness=60, scheduler=scheduler, wall_clock=wall)
    heard = []
    light.add_listener(lambda state, requester: heard.append(state))
    light.heard = heard
    yield light
    light.release()


def test_the_timer_fires_and_fades_off_and_everyone_is_told(light, scheduler, wall):
    state = light.execute(Sleep(1800, transition=60), origin="test")
    assert (state.sleep_at, state.sleep_in, state.seq) == (round(wall.now + 1800), 1800, 1)
    assert protocol.state_fields(state)["sleep_at"] == round(wall.now + 1800)
    scheduler.advance(1799)
    assert light.state().on and light.state().sleep_in == pytest.approx(1)
    scheduler.advance(1)
    off = light.heard[-1]
    assert (off.on, off.brightness, off.transition, off.sleep_at) == (False, 60, 60, 0)
    assert "sleep_at" not in protocol.state_fields(off)
    assert light.led.level == 0  # fading to 0 over a minute
    assert scheduler.pending() == []


@pytest.mark.parametrize("command", [SetLevel(20), SetPower(False), Toggle(), Step(-5)], ids=lambda c: type(c).__name__)
def test_a_command_that_changes_the_light_cancels_the_timer(light, scheduler, command):
    light.execute(Sleep(600), origin="test")
    state = light.execute(command, origin="test")
    assert state.sleep_at == 0 and scheduler.pending() == []
    before = light.state()
    scheduler.advance(700)
    assert light.state() == before  # the cancelled timer changed nothing


@pytest.mark.parametrize(
    "command", [SetLevel(60), SetPower(True), GetState(), Ping()], ids=["same level", "already on", "get", "ping"]
)
def test_a_command_that_changes_nothing_leaves_the_timer_running(light, scheduler, command):
    light.execute(Sleep(600), origin="test")
    light.execute(command, origin="test")
    assert light.state().sleep_at and len(scheduler.pending()) == 1
    scheduler.advance(600)
    assert not light.state().on


def test_after_null_cancels_and_a_new_timer_replaces_the_old(light, scheduler, wall):
    light.execute(Sleep(600), origin="test")
    light.execute(Sleep(60), origin="test")
    assert len(scheduler.pending()) == 1 and light.state().sleep_in == 60
    cancelled = light.execute(Sleep(None), origin="test")
    assert cancelled.sleep_at == 0 and scheduler.pending() == [] and cancelled.seq == 3
    assert light.execute(Sleep(None), origin="test").seq == 3  # nothing to cancel: no change
    scheduler.advance(3600)
    assert light.state().on


def test_a_timer_set_while_off_ends_all_the_same(light, scheduler):
    light.execute(SetPower(False), origin="test")
    seq = light.execute(Sleep(60), origin="test").seq
    scheduler.advance(60)
    assert light.heard[-1].sleep_at == 0 and not light.heard[-1].on and light.heard[-1].seq == seq + 1
    assert light.state().sleep_at == 0


@pytest.mark.parametrize(
    "text,code",
    [
        ('{"type": "sleep"}', protocol.INVALID_MESSAGE),
        ('{"type": "sleep", "after": 0}', protocol.OUT_OF_RANGE),
        ('{"type": "sleep", "after": 86401}', protocol.OUT_OF_RANGE),
        ('{"type": "sleep", "after": "1800"}', protocol.INVALID_MESSAGE),
        ('{"type": "sleep", "after": true}', protocol.INVALID_MESSAGE),
        ('{"type": "sleep", "after": 60, "transition": -1}', protocol.OUT_OF_RANGE),
    ],
)
def test_bad_sleep_messages_get_typed_errors(text, code):
    with pytest.raises(protocol.ProtocolError) as caught:
        protocol.parse_command(text)
    assert caught.value.code == code


def test_sleep_messages_parse():
    assert protocol.parse_command('{"type": "sleep", "after": 1800, "transition": 60, "id": 4}') == Sleep(
        1800.0, 4, 60.0
    )
    assert protocol.parse_command('{"type": "sleep", "after": null}') == Sleep(None)


def test_apscheduler_runs_a_job_at_its_time_and_a_cancelled_one_never():
    scheduler = Scheduler()
    ran = []
    try:
        scheduler.call_at(time.time() + 0.3, lambda: ran.append("kept"))
        scheduler.call_at(time.time() + 0.2, lambda: ran.append("cancelled")).cancel()
        deadline = time.monotonic() + 5
        while not ran and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ran == ["kept"]  # the cancelled job was due first: it would have run before this one
    finally:
        scheduler.stop()


def test_a_real_sleep_timer_reaches_two_watching_clients(server):
    with Client(server.ws_url) as me, Client(server.ws_url) as watcher:
        me.recv(), watcher.recv()
        me.send({"level": 40})
        me.recv(), watcher.recv()
        reply = me.request({"type": "sleep", "after": 1, "transition": 0, "id": "s"})[0]
        assert 0.8 <= reply["sleep_in"] <= 1 and reply["sleep_at"] == pytest.approx(time.time() + 1, abs=2)
        assert watcher.recv()["sleep_at"] == reply["sleep_at"]
        for client in (me, watcher):
            off = client.recv(timeout=5)
            assert (off["on"], off["level"], off["brightness"]) == (False, 0, 40) and "sleep_at" not in off
    health = server.get("/healthz")
    assert health["on"] is False and health["shown"] == 0
    assert "sleep timer: off in 1 s" in server.log() and "by sleep timer" in server.log()


def test_rest_sets_a_sleep_timer(server):
    status, body = server.post("/led", json.dumps({"type": "sleep", "after": 600}))
    assert status == 200 and 599 <= body["sleep_in"] <= 600  # rounded to 0.1 s, a moment after it was set
    status, body = server.post("/led", '{"level": 30}')
    assert "sleep_at" not in body  # the change cancelled it
