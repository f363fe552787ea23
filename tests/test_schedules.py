"""Schedules: their triggers on APScheduler's own clock (weekdays, DST, sunrise), the core with
a fake scheduler, the state file, and then real processes that restart and real clients."""

import json
import os
import signal
import time
from datetime import UTC, datetime, timedelta

import pytest

import protocol
from lamp import schedules as schedules_module
from lamp import timers
from lamp.light import Light
from lamp.schedules import Schedules
from lamp.state import StateFile
from led import Led
from protocol import DeleteSchedule, ProtocolError, SetLevel, When

from fakes import LONDON, FakeScheduler
from support import Client

UTC = UTC


def fires(trigger, start: datetime, count: int) -> list[datetime]:
    """The trigger's next ``count`` fire times from ``start``, as APScheduler asks for them."""
    found, previous, now = [], None, start
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        found.append(fire)
        previous, now = fire, (fire.astimezone(UTC) + timedelta(seconds=1)).astimezone(fire.tzinfo)
    return found


def test_a_weekday_schedule_fires_on_weekdays_only():
    trigger = timers.trigger_for(When(at="06:45", days="mon,tue,wed,thu,fri"), LONDON)
    found = fires(trigger, datetime(2026, 12, 4, 12, 0, tzinfo=LONDON), 10)  # a Friday noon
    assert [f.strftime("%a %H:%M") for f in found[:6]] == [
        "Mon 06:45",
        "Tue 06:45",
        "Wed 06:45",
        "Thu 06:45",
        "Fri 06:45",
        "Mon 06:45",
    ]
    assert all(f.weekday() < 5 for f in found)


def test_a_time_that_dst_makes_happen_twice_fires_once():
    # 2026-10-25: London's clocks go back at 02:00 BST, so 01:30 happens twice.
    trigger = timers.trigger_for(When(at="01:30"), LONDON)
    found = fires(trigger, datetime(2026, 10, 23, 12, 0, tzinfo=LONDON), 4)
    assert [f.date().isoformat() for f in found] == ["2026-10-24", "2026-10-25", "2026-10-26", "2026-10-27"]
    assert [f.strftime("%H:%M") for f in found] == ["01:30"] * 4


def test_a_time_that_dst_skips_fires_once_an_hour_on():
    # 2026-03-29: 01:00 GMT becomes 02:00 BST, so 01:30 does not happen that day.
    found = fires(timers.trigger_for(When(at="01:30"), LONDON), datetime(2026, 3, 27, 12, 0, tzinfo=LONDON), 3)
    assert [f.date().isoformat() for f in found] == ["2026-03-28", "2026-03-29", "2026-03-30"]
    assert found[1].astimezone(UTC).strftime("%H:%M") == "01:30"  # 02:30 BST: late, but once


def test_sunrise_in_london_matches_the_published_time():
    # Published for London, 21 June 2026: sunrise 04:43, sunset 21:21 (BST).
    rise = timers.trigger_for(When(sun="sunrise"), LONDON, (51.5074, -0.1278))
    first = rise.get_next_fire_time(None, datetime(2026, 6, 21, 0, 0, tzinfo=LONDON))
    assert abs(first - datetime(2026, 6, 21, 4, 43, 30, tzinfo=LONDON)) <= timedelta(minutes=1), first
    dusk = timers.trigger_for(When(sun="sunset", offset=-15), LONDON, (51.5074, -0.1278))
    before = dusk.get_next_fire_time(None, datetime(2026, 6, 21, 0, 0, tzinfo=LONDON))
    assert abs(before - datetime(2026, 6, 21, 21, 6, tzinfo=LONDON)) <= timedelta(minutes=1), before


@pytest.fixture
def clock():
    return FakeScheduler(datetime(2026, 12, 7, 6, 0, tzinfo=LONDON))  # a Monday, 06:00


@pytest.fixture
def light(mock_factory):
    light = Light(Led(21, pin_factory=mock_factory), brightness=30, on=False)
    yield light
    light.release()


def make(light, clock, **kwargs):
    made = Schedules(light, clock, timezone=LONDON, location=(51.5074, -0.1278), **kwargs)
    light.schedules = made
    return made


def put(light, text: str, **fields):
    return light.execute(protocol.parse_command(json.dumps({"type": "schedule", **fields})), origin="test")


def test_a_wake_up_ramp_fires_on_weekdays_and_everyone_is_told(light, clock):
    made, heard = make(light, clock), []
    made.add_listener(lambda news, requester: heard.append(news))
    info = put(light, "", name="wake", at="06:45", days="mon-fri", level=100, transition=1200)
    assert info.next_at == round(datetime(2026, 12, 7, 6, 45, tzinfo=LONDON).timestamp()) and heard == [info]
    assert clock.advance_to(datetime(2026, 12, 7, 7, 0, tzinfo=LONDON)) == 1
    state = light.state()
    assert (state.on, state.brightness) == (True, 100) and state.transition > 0  # ramping over 20 min
    light.execute(SetLevel(0), origin="test")
    assert clock.advance_to(datetime(2026, 12, 13, 23, 0, tzinfo=LONDON)) == 4  # Tue-Fri; not Sat, Sun
    assert heard[-1].next_at == round(datetime(2026, 12, 14, 6, 45, tzinfo=LONDON).timestamp())


def test_replace_delete_and_typed_errors_change_nothing(light, clock):
    made = make(light, clock, max_schedules=2)
    put(light, "", name="a", at="07:00", on=True)
    put(light, "", name="a", at="08:00", on=True)  # replaced, not doubled
    assert [i.when.at for i in made.infos()] == ["08:00"]
    put(light, "", name="b", cron="30 23 * * *", on=False, transition=60)
    with pytest.raises(ProtocolError) as caught:
        put(light, "", name="c", at="09:00", on=True)
    assert caught.value.code == schedules_module.TOO_MANY
    with pytest.raises(ProtocolError) as caught:
        light.execute(DeleteSchedule("nope"), origin="test")
    assert caught.value.code == schedules_module.NOT_FOUND
    assert light.execute(DeleteSchedule("a"), origin="test") == protocol.ScheduleDeleted("a")
    assert [i.name for i in made.infos()] == ["b"] and set(clock.jobs) == {"schedule:led:b"}


@pytest.mark.parametrize(
    "fields,fragment",
    [
        ({"at": "25:00", "on": True}, "time of day"),
        ({"at": "7:00", "on": True}, "time of day"),
        ({"at": "07:00", "days": "mon-funday", "on": True}, "days must be"),
        ({"at": "07:00", "days": "fri-mon", "on": True}, "a range runs"),
        ({"cron": "0 0 31 2 *", "on": True}, "never fire"),
        ({"cron": "61 * * * *", "on": True}, "schedule 'x'"),
        ({"cron": "* * *", "on": True}, "five fields"),
        ({"sun": "noon", "on": True}, "sunrise"),
        ({"sun": "sunset", "offset": 800, "on": True}, "offset must be"),
        ({"at": "07:00"}, "missing"),
        ({"at": "07:00", "cron": "0 7 * * *", "on": True}, "one of at"),
        ({"at": "07:00", "on": True, "name": ""}, "name must be"),
    ],
)
def test_bad_schedules_get_typed_errors_and_change_nothing(light, clock, fields, fragment):
    made = make(light, clock)
    with pytest.raises(ProtocolError) as caught:
        put(light, "", **{"name": "x", **fields})
    assert fragment in caught.value.message and made.infos() == [] and clock.jobs == {}


def test_sun_schedules_need_the_place(light, clock):
    Schedules(light, clock, timezone=LONDON)  # no location
    light.schedules = Schedules(light, clock, timezone=LONDON)
    with pytest.raises(ProtocolError) as caught:
        put(light, "", name="dusk", sun="sunset", on=True)
    assert "LATITUDE and LONGITUDE" in caught.value.message


def test_the_state_file_keeps_them_without_doubling(light, clock, tmp_path):
    path = tmp_path / "state.json"
    made = make(light, clock, state_file=StateFile(path))
    put(light, "", name="wake", at="06:45", days="mon-fri", level=100, transition=1200)
    put(light, "", name="dusk", sun="sunset", offset=-15, on=True)
    made.state_file.flush()  # as at shutdown: the debounced write, now
    for _ in range(2):  # two restarts
        again = StateFile(path)
        again.load()
        reloaded = Schedules(light, FakeScheduler(clock.now), timezone=LONDON, location=(51.5, -0.1), state_file=again)
        reloaded.load(again.saved_schedules)
        assert [(i.name, i.when, i.action) for i in reloaded.infos()] == [
            (i.name, i.when, i.action) for i in made.infos()
        ]
    assert json.loads(path.read_text())["schedules"][1]["name"] == "wake"


def test_schedules_survive_sigterm_and_kill_9_and_a_firing_reaches_two_clients(start_server):
    env = {"TZ": "UTC"}
    server = start_server(env=env)
    with Client(server.ws_url) as me:
        me.recv()
        reply = me.request({"type": "schedule", "name": "night", "at": "23:30", "on": False, "id": 1})[0]
        assert reply["type"] == "schedule" and reply["next_at"] > time.time()
    assert server.stop() == 0
    server = start_server(port=server.port, env=env)
    assert [s["name"] for s in server.get("/schedules")] == ["night"]
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait(10)
    server = start_server(port=server.port, env=env)
    assert [s["name"] for s in server.get("/schedules")] == ["night"]  # kept, and not doubled
    watching = server.ws_url + "?watch=schedules"
    with Client(watching) as me, Client(watching) as watcher, Client(server.ws_url) as level_only:
        assert me.recv()["type"] == "state" and me.recv()["name"] == "night"  # on connect: state, then schedules
        watcher.recv(), watcher.recv()
        assert level_only.recv()["type"] == "state"  # one state, and no schedule: it did not ask
        soon = (datetime.now(UTC) + timedelta(seconds=3)).strftime("%H:%M:%S")
        me.request({"type": "schedule", "name": "soon", "at": soon, "level": 12, "id": 2})
        assert watcher.recv()["name"] == "soon"
        for client in (me, watcher, level_only):
            state, before = client.recv_until(lambda m: m.get("type") == "state", timeout=10)
            assert (state["level"], state["on"]) == (12, True)
        assert before == []  # the level-only client: nothing but states
        assert level_only.nothing_pending()  # not even the firing's news
    assert "by schedule 'soon'" in server.log()


def test_watch_starts_and_stops_the_schedules_news(server):
    with Client(server.ws_url) as maker, Client(server.ws_url) as me:
        maker.recv(), me.recv()
        maker.request({"type": "schedule", "name": "wake", "at": "06:45", "level": 80, "id": 1})
        assert me.nothing_pending()  # a level client hears nothing of schedules
        reply, _ = me.request({"type": "watch", "schedules": True, "id": "w"})
        assert reply == {"type": "watching", "schedules": True, "id": "w"}
        assert me.recv()["name"] == "wake"  # then every schedule, one message each
        maker.request({"type": "unschedule", "name": "wake", "id": 2})
        assert me.recv() == {"type": "schedule_deleted", "name": "wake"}
        assert me.request({"type": "watch", "schedules": False, "id": "x"})[0]["schedules"] is False
        maker.request({"type": "schedule", "name": "dusk", "at": "21:00", "on": False, "id": 3})
        assert me.nothing_pending()
        reply, _ = me.request({"type": "watch", "id": "bad"})
        assert reply["code"] == "invalid_message" and "schedules" in reply["message"]


def test_an_unknown_watch_on_the_url_is_refused_before_the_upgrade(server):
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as refused:
        Client(server.ws_url + "?watch=colours")
    response = refused.value.response
    body = json.loads(response.body)
    assert response.status_code == 400 and body["code"] == "invalid_message" and "schedules" in body["message"]
