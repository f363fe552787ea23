"""Hands on the lamp, in process: gpiozero's MockFactory input pins driven at instants of a fake
clock, the light's LED on a simulated PWM pin whose history is kept on the same clock, and the
hands door between them (doors.hands). What a click, a double-click, a hold, a switch and a
knob do, asserted on the states and on the LED's duty cycle over time."""

import logging
from datetime import UTC, datetime

import pytest
from gpiozero.pins.mock import MockFactory

import protocol
from curves.brightness import Curve
from curves.looks import LightKind, channels_for
from doors import hand_kinds as hands_door
from doors.hands import Hands
from lamp.input_specs import parse_buttons, parse_encoders
from lamp.light import Light
from lamp.lights import Lights
from lamp.scenes import Scenes
from led import Led
from serving.inbox import Inbox

from fakes import ClockedPWMPin, FakeClock, FakeScheduler, at_instant

LED_PIN, BUTTON, SWITCH = 21, 5, 6
A, B, PUSH = 17, 27, 22
CLOCKWISE = [(0, 1), (0, 0), (1, 0), (1, 1)]


class Board:
    """One light (``desk``) on a simulated LED, its inputs on simulated pins, on one fake clock."""

    def __init__(self, fake, *, buttons="", encoders="", kind=LightKind.SINGLE, pins=LED_PIN, **light):
        self.fake = fake
        factory = MockFactory(pin_class=ClockedPWMPin)
        self.led = Led(
            pins,
            pin_factory=factory,
            channels=channels_for(kind, Curve("linear")),
            fade_rate=60,
            clock=fake.clock,
            sleep=fake.sleep,
        )
        self.led_pins = [factory.pin(pin) for pin in ((pins,) if isinstance(pins, int) else pins)]
        self.scheduler = FakeScheduler(datetime(2026, 1, 5, 12, tzinfo=UTC))
        self.light = Light(self.led, name="desk", clock=fake.clock, scheduler=self.scheduler, **light)
        self.states: list[protocol.State] = []
        self.light.add_listener(lambda state, requester: self.states.append(state))
        self.inputs = MockFactory()
        specs = (*parse_buttons(buttons), *parse_encoders(encoders))
        lights = Lights([self.light])
        self.scenes = Scenes(lights)
        self.hands = Hands(specs, lights, self.inputs, "mock", Inbox(), clock=fake.clock, scenes=self.scenes)

    def close(self):
        self.hands.close()
        self.light.release()

    def drive(self, when, *edges):
        """At ``when`` (or the fader's first step past it), set each (pin, level) in turn, then
        let the hands act."""

        def act():
            for pin, level in edges:
                self.inputs.pin(pin).drive_low() if level == 0 else self.inputs.pin(pin).drive_high()
            self.hands.process(now=self.fake.now)

        at_instant(self.fake, when, act)

    def look(self, when):
        """Let the hands act on what is due at ``when`` (a hold, a dimming's end)."""
        at_instant(self.fake, when, lambda: self.hands.process(now=self.fake.now))

    def click(self, when, pin=BUTTON):
        self.drive(when, (pin, 0))
        self.drive(when + 0.1, (pin, 1))

    def turn(self, when, detents, gap=0.2):
        """``detents`` clockwise (negative: anticlockwise), one every ``gap`` seconds from ``when``."""
        steps = CLOCKWISE if detents > 0 else [(1, 0), (0, 0), (0, 1), (1, 1)]

        def spin():  # in one go: the fader's steps (1/60 s) would be slower than a knob spun fast
            for n in range(abs(detents)):
                for quarter, (a, b) in enumerate(steps):
                    self.fake.now = max(self.fake.now, when + n * gap + quarter * gap / 8)
                    self.inputs.pin(A).drive_low() if a == 0 else self.inputs.pin(A).drive_high()
                    self.inputs.pin(B).drive_low() if b == 0 else self.inputs.pin(B).drive_high()
                    self.hands.process(now=self.fake.now)

        at_instant(self.fake, when, spin)

    def duty(self):
        return self.led_pins[0].state

    def timeline(self, start, end, pin=0):
        return [(t, d) for t, d in self.led_pins[pin].timeline if start <= t <= end]


@pytest.fixture
def fake():
    fake = FakeClock(100.0)
    ClockedPWMPin.clock = fake.clock
    return fake


@pytest.fixture
def board(fake, request):
    made = []

    def make(**options):
        made.append(Board(fake, **options))
        return made[-1]

    yield make
    for one in made:
        one.close()


def test_a_click_toggles_at_once_and_is_a_change_like_any_other(board, fake, caplog):
    desk = board(buttons="desk:5")
    caplog.set_level(logging.INFO)
    desk.click(100.0)
    assert desk.light.state().on is False and desk.duty() == 0
    assert [(s.on, s.seq) for s in desk.states] == [(False, 1)]
    assert any("button GPIO5" in record.getMessage() for record in caplog.records)
    desk.click(101.0)
    assert desk.light.state().on is True and desk.duty() == pytest.approx(0.5)
    assert desk.hands.health()[0]["last"] == "click"


def test_a_double_click_goes_to_full_brightness_from_either_state(board):
    desk = board(buttons="desk:5")
    desk.click(100.0)
    desk.click(100.3)  # the second press 0.2 s after the first release
    assert desk.light.state()[:2] == (100, True) and desk.duty() == pytest.approx(1.0)
    desk.click(102.0)
    assert desk.light.state().on is False
    desk.click(103.0)
    desk.click(103.3)  # from on (the first click's toggle): still full
    assert desk.light.state()[:2] == (100, True)


def test_a_double_click_recalls_the_buttons_scene_when_it_has_one(board):
    desk = board(buttons="desk:5:scene=evening")
    desk.light.execute(protocol.parse_command('{"level": 20}'), origin="test")
    desk.scenes.execute(protocol.parse_command('{"type": "save_scene", "name": "evening"}'), origin="test")
    desk.light.execute(protocol.parse_command('{"level": 80}'), origin="test")
    desk.click(100.0)
    desk.click(100.3)
    assert desk.light.state()[:2] == (20, True)  # the scene, from either state the click left
    desk.scenes.execute(protocol.parse_command('{"type": "delete_scene", "name": "evening"}'), origin="test")
    desk.click(102.0)
    desk.click(102.3)  # the scene is gone: said in the log, nothing else
    assert desk.light.state()[:2] == (20, True)


def test_a_hold_dims_up_from_off_and_release_stops_where_it_is(board):
    desk = board(buttons="desk:5", on=False)
    desk.drive(100.0, (BUTTON, 0))
    desk.look(100.5)  # held: dimming begins
    assert desk.light.state().level == 100  # where it goes, as during any fade
    desk.drive(102.0, (BUTTON, 1))  # half the sweep of 3 s
    level = desk.light.state().level
    assert 20 < level < 80 and desk.light.state().on
    rising = [duty for _, duty in desk.timeline(100.5, 102.0)]
    assert rising == sorted(rising) and rising[-1] > rising[0]  # smoothly up, never back
    assert desk.duty() == pytest.approx(level / 100, abs=0.006)  # it stays where it was let go
    assert [s.level for s in desk.states][-2:] == [100, level]  # two states for a hold, not a storm


def test_the_next_hold_goes_the_other_way_and_an_end_is_told_by_one_dip(board, fake):
    desk = board(buttons="desk:5", brightness=60)
    desk.drive(100.0, (BUTTON, 0))
    desk.look(100.5)  # on and not dimmed down before: down
    assert desk.light.state().level == hands_door.LOWEST
    sweep = hands_door.HOLD_SWEEP * (60 - 1) / 100
    desk.look(100.5 + sweep)  # at the end, still held: one dip
    desk.look(100.5 + sweep + 0.5)
    dip = [duty for _, duty in desk.timeline(100.5 + sweep, 100.5 + sweep + 0.5)]
    assert min(dip) < 0.01 * 0.6 and dip[-1] == pytest.approx(0.01, abs=1e-4)  # down and back to level 1
    desk.drive(102.5, (BUTTON, 1))  # released after the end: it stays at 1
    assert desk.light.state().level == 1 and desk.duty() == pytest.approx(0.01, abs=1e-4)
    desk.drive(103.0, (BUTTON, 0))
    desk.look(103.5)  # dimmed down last: up now
    assert desk.light.state().level == 100
    desk.drive(104.0, (BUTTON, 1))
    assert 1 < desk.light.state().level < 100


def test_a_switch_toggles_at_every_flip(board):
    desk = board(buttons="desk:6:switch")
    desk.drive(100.0, (SWITCH, 0))
    desk.drive(100.005, (SWITCH, 1), (SWITCH, 0))  # chatter: the flip is one
    desk.look(100.1)
    assert desk.light.state().on is False
    desk.drive(101.0, (SWITCH, 1))
    assert desk.light.state().on is True
    desk.drive(102.0, (SWITCH, 0))
    assert desk.light.state().on is False
    assert [s.on for s in desk.states] == [False, True, False]


def test_a_knob_steps_the_level_each_detent_and_more_when_spun(board):
    desk = board(encoders="desk:17/27/22")
    desk.turn(100.0, 3)  # slowly: 5 a detent
    desk.look(101.0)
    assert desk.light.state().level == 65
    desk.turn(102.0, -2)
    desk.look(103.0)
    assert desk.light.state().level == 55
    before = len(desk.states)
    desk.turn(104.0, 20, gap=0.01)  # spun fast: 4 steps a detent, told at most 10 times a second
    desk.look(105.0)
    assert desk.light.state().level == 100
    assert len(desk.states) - before <= 3


def test_a_knob_turned_faster_moves_further_a_detent(board):
    desk = board(encoders="desk:17/27/22", brightness=10)
    desk.turn(100.0, 3, gap=0.03)  # the first detent 5; the next two, 30 ms apart, 10 each
    desk.look(101.0)
    assert desk.light.state().level == 35
    desk.turn(102.0, 3, gap=0.01)  # 10 ms apart: 20 each
    desk.look(103.0)
    assert desk.light.state().level == 80


def test_the_knobs_push_toggles_and_pushed_and_turned_it_changes_the_white(board):
    bulb = board(encoders="desk:17/27/22", kind=LightKind.CCT, pins=(18, 19))
    assert bulb.light.state().kelvin == 4000
    bulb.drive(100.0, (PUSH, 0))
    bulb.turn(100.1, 3)
    bulb.drive(101.0, (PUSH, 1))  # turned while pushed: no toggle
    bulb.look(101.5)
    assert bulb.light.state().kelvin == 4300 and bulb.light.state().on
    bulb.drive(102.0, (PUSH, 0))
    bulb.drive(102.2, (PUSH, 1))
    assert bulb.light.state().on is False


def test_pushed_and_turned_on_one_channel_the_knob_steps_through_the_effects(board):
    desk = board(encoders="desk:17/27/22")
    desk.drive(100.0, (PUSH, 0))
    desk.turn(100.1, 2)
    desk.look(100.9)
    assert desk.light.state().effect == "candle"
    desk.turn(101.0, -1)
    desk.drive(101.5, (PUSH, 1))
    desk.look(101.6)
    assert desk.light.state().effect == "breathe"
    desk.turn(102.0, 1)  # a turn alone ends the effect: a change like any other
    desk.look(102.5)
    assert desk.light.state().effect == "" and desk.light.state().level == 55


def test_a_change_by_hand_cancels_the_sleep_timer_and_ends_an_effect(board):
    desk = board(buttons="desk:5")
    desk.light.execute(protocol.parse_command('{"type": "sleep", "after": 60}'), origin="test")
    assert desk.light.state().sleep_at
    desk.light.execute(protocol.parse_command('{"effect": "candle"}'), origin="test")
    desk.click(100.0)
    state = desk.light.state()
    assert (state.on, state.effect, state.sleep_at) == (False, "", 0)


def test_a_noisy_line_is_bounded_logged_once_and_its_settled_level_taken(board, caplog):
    desk = board(buttons="desk:6:switch")
    caplog.set_level(logging.WARNING)

    def storm():  # 10,000 edges in one second of fake time: one every 100 µs
        for n in range(10_000):
            desk.fake.now = 100.0 + n * 0.0001
            desk.inputs.pin(SWITCH).drive_low() if n % 2 == 0 else desk.inputs.pin(SWITCH).drive_high()
        desk.inputs.pin(SWITCH).drive_low()  # where it settles
        desk.hands.process(now=desk.fake.now)

    at_instant(desk.fake, 100.0, storm)
    for second in range(1, 4):
        desk.look(101.0 + second)
    noise = [r.getMessage() for r in caplog.records if "noisy" in r.getMessage()]
    assert len(noise) == 1 and "switch GPIO6" in noise[0], noise
    assert len(desk.states) <= 2 * hands_door.CHANGES_PER_SECOND  # its budget of changes, never one per edge
    assert desk.hands.health()[0]["last"] == "noise"


def test_through_lgpio_edges_come_from_its_own_thread_and_are_acted_on_by_the_reader(lgpio, fake):
    from boards.input_factory import make_input_factory

    factory = make_input_factory("lgpio")
    led = Led(LED_PIN, pin_factory=MockFactory(pin_class=ClockedPWMPin), clock=fake.clock, sleep=fake.sleep)
    light = Light(led, name="desk", clock=fake.clock)
    hands = Hands(parse_buttons("desk:6"), Lights([light]), factory, "lgpio", Inbox(), clock=fake.clock)
    try:
        assert ("gpio_claim_alert", (1, 6, lgpio.BOTH_EDGES, lgpio.SET_PULL_UP)) in lgpio.calls
        edges = []
        for level in (0, 1):  # pressed, and 0.1 s later released
            lgpio.alert(6, level)
            for _ in range(100):  # what lgpio's thread has handed over (it is not this thread)
                edges += hands.inbox.get(0.05)
                if len(edges) == level + 1:
                    break
            fake.now += 0.1
        assert edges == [(6, 0, 100.0), (6, 1, 100.1)]  # each with the instant it came
        for pin, level, at in edges:
            hands.hands[pin].edge(pin, level, at)
        assert light.state().on is False
    finally:
        hands.close()
        light.release()
