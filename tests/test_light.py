"""The light core in process: commands in, states to a recording listener, the real mock pin's duty."""

import threading
from dataclasses import dataclass

import pytest
from gpiozero.pins.mock import MockFactory

import protocol
from curves.brightness import Curve
from lamp import light_report
from lamp.light import Light
from lamp.state import StateFile, power_on_state
from led import HardwareError, Led
from protocol import Ping, Pong, SetLevel, State

from fakes import BrokenPWMPin, FakeClock, fading_led, wait_for_the_fade


class Recorder:
    """A listener that keeps every (state, requester) it is told, in order."""

    def __init__(self):
        self.heard = []

    def __call__(self, state, requester):
        self.heard.append((state, requester))


@pytest.fixture
def light(mock_factory):
    light = Light(Led(21, pin_factory=mock_factory), brightness=50, clock=FakeClock(1000.0))
    yield light
    light.release()


def test_a_set_drives_the_pin_tells_the_listeners_and_answers_the_requester(light, mock_factory):
    heard, replies, me = Recorder(), [], object()
    light.add_listener(heard)
    answer = light.execute(SetLevel(73), origin="test", requester=me, reply=replies.append)
    assert answer == replies[-1] == State(73, True, 1)
    assert heard.heard == [(State(73, True, 1), me)]
    pin, cie = mock_factory.pin(21), Curve("cie")
    assert pin.state == pytest.approx(cie.duty(73))
    assert [round(s, 4) for _, s in pin.states] == [0.0, round(cie.duty(50), 4), round(cie.duty(73), 4)]


def test_an_unchanged_level_tells_no_one_and_keeps_seq(light):
    heard, replies = Recorder(), []
    light.add_listener(heard)
    assert light.execute(SetLevel(50), origin="test", reply=replies.append) == State(50, True, 0)
    assert heard.heard == [] and replies == [State(50, True, 0)]


def test_get_and_ping_answer_only_the_requester(light):
    heard, replies = Recorder(), []
    light.add_listener(heard)
    light.execute(protocol.GetState(), origin="test", reply=replies.append)
    light.execute(Ping(), origin="test", reply=replies.append)
    assert replies == [State(50, True, 0), Pong()] and heard.heard == []


def test_a_command_the_light_does_not_handle_is_an_error_never_a_pong(light):
    @dataclass(frozen=True)
    class Dim:  # a command a newer protocol might add before the light learns it
        request_id: protocol.RequestId = "d1"

    replies = []
    with pytest.raises(protocol.ProtocolError) as rejected:
        light.execute(Dim(), origin="test", reply=replies.append)
    assert rejected.value.code == protocol.UNKNOWN_TYPE and rejected.value.request_id == "d1"
    assert replies == [] and light.state() == State(50, True, 0)


def test_a_failed_write_changes_nothing_and_tells_no_one():
    factory = MockFactory(pin_class=BrokenPWMPin)
    light = Light(Led(21, pin_factory=factory), brightness=50)
    heard = Recorder()
    light.add_listener(heard)
    factory.pin(21).broken = True
    with pytest.raises(HardwareError):
        light.execute(SetLevel(10), origin="test")
    assert light.state() == State(50, True, 0) and heard.heard == []
    assert factory.pin(21).state == pytest.approx(Curve("cie").duty(50))
    factory.close()


def test_after_stop_changes_nothing_changes_and_the_last_level_is_on_disk(mock_factory, tmp_path):
    saved = StateFile(tmp_path / "state.json", min_interval=3600)  # only the flush can write
    light = Light(Led(21, pin_factory=mock_factory), brightness=50, state_file=saved)
    light.execute(SetLevel(64), origin="test")
    light.stop_changes()
    assert StateFile(tmp_path / "state.json").load() == (64, True)
    assert light.execute(SetLevel(5), origin="test") == State(64, True, 1)
    assert mock_factory.pin(21).state == pytest.approx(Curve("cie").duty(64))


def test_many_writers_are_heard_in_one_order_with_seq_counting_up(light):
    heard = Recorder()
    light.add_listener(heard)

    def writer(n):
        for i in range(200):
            light.execute(SetLevel((n * 37 + i) % 101), origin=f"writer {n}", requester=n)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seqs = [state.seq for state, _ in heard.heard]
    assert seqs == list(range(1, len(seqs) + 1))
    assert heard.heard[-1][0] == light.state()


def test_health_tells_the_uptime_by_the_lights_clock(mock_factory):
    clock = FakeClock(1000.0)
    light = Light(Led(21, pin_factory=mock_factory), clock=clock)
    clock.now += 12.34
    health = light_report.health(light)
    assert health["uptime_s"] == 12.3 and health["status"] == "ok" and health["level"] == 50


def test_power_on_policies():
    assert power_on_state("last", 40, None) == (40, True)  # nothing saved yet
    assert power_on_state("last", 0, None) == (100, False)
    assert power_on_state("last", 40, (77, False)) == (77, False)
    assert power_on_state("last", 40, (None, False)) == (40, False)  # an old file that said level 0
    assert power_on_state("on", 40, (77, False)) == (77, True)
    assert power_on_state("off", 40, (77, True)) == (77, False)
    assert power_on_state("12", 40, (77, True)) == (12, True)
    assert power_on_state("0", 40, (77, True)) == (77, False)


def test_a_step_during_a_fade_moves_from_where_the_fade_goes_and_fades_on_from_the_level_shown(mock_factory):
    """The state's ``level`` is the fade's target, and what every client shows: a step adds to it,
    so three quick +10s during a fade to 60 end at 90, whatever the fade had reached."""

    fake = FakeClock()
    led = fading_led(mock_factory, fake)
    light = Light(led, brightness=20, clock=fake.clock)
    seen = {}

    def three_steps():
        seen["shown"] = led.shown()
        for _ in range(3):
            seen["level"] = light.execute(protocol.Step(10, transition=1.0), origin="test").level
        seen["after"] = led.shown()

    try:
        light.execute(protocol.SetLevel(60, transition=1.0), origin="test")
        fake.at(0.5, three_steps)  # halfway, from the fader's own thread
        wait_for_the_fade(led)
        assert 25 < seen["shown"] < 55 and seen["level"] == 90
        assert seen["after"] == pytest.approx(seen["shown"], abs=0.01)  # no jump: it fades on from there
        assert led.shown() == 90 and light.state().level == 90
    finally:
        light.release()
