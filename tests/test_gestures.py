"""What a person did, from edges and instants alone (curves.gestures, pure), and the inputs'
settings: which light, which pins, what is refused and how it is said."""

import pytest

from curves.gestures import BOUNCE, DOUBLE_CLICK, HOLD, Acceleration, ButtonGestures, Detents, Gesture, SwitchGestures
from lamp.input_specs import InputKind, InputSpec, check_inputs, parse_buttons, parse_encoders
from lamp.light_specs import parse_lights

DOWN, UP = 0, 1  # wired to ground with the pull-up: pressed reads 0


def feed(machine, script):
    """``script``: (instant, level) edges and (instant, None) looks; every gesture told, with its instant."""
    told = []
    for now, level in script:
        got = machine.tick(now) if level is None else machine.edge(level, now)
        told += [(now, gesture) for gesture in got]
    return told


def test_a_click_is_told_at_its_release_with_no_wait():
    assert feed(ButtonGestures(), [(0.0, DOWN), (0.1, UP)]) == [(0.1, Gesture.CLICK)]


def test_a_second_click_within_the_window_is_also_a_double_click():
    button = ButtonGestures()
    script = [(0.0, DOWN), (0.1, UP), (0.1 + DOUBLE_CLICK - 0.01, DOWN), (0.4, UP)]
    assert feed(button, script) == [(0.1, Gesture.CLICK), (0.4, Gesture.CLICK), (0.4, Gesture.DOUBLE_CLICK)]
    late = ButtonGestures()  # a second press after the window: two clicks
    assert feed(late, [(0.0, DOWN), (0.1, UP), (0.1 + DOUBLE_CLICK + 0.01, DOWN), (0.5, UP)]) == [
        (0.1, Gesture.CLICK),
        (0.5, Gesture.CLICK),
    ]
    triple = ButtonGestures()  # a third click starts over: no second double-click
    clicks = [(t, level) for n in range(3) for t, level in ((n * 0.2, DOWN), (n * 0.2 + 0.1, UP))]
    assert [g for _, g in feed(triple, clicks)].count(Gesture.DOUBLE_CLICK) == 1


def test_a_press_held_is_a_hold_told_while_down_then_a_release_and_no_click():
    button = ButtonGestures()
    assert feed(button, [(0.0, DOWN)]) == [] and button.due() == HOLD
    assert feed(button, [(HOLD - 0.01, None)]) == []
    assert feed(button, [(HOLD, None), (HOLD + 1, None), (3.0, UP)]) == [(HOLD, Gesture.HOLD), (3.0, Gesture.RELEASE)]
    assert button.due() is None  # at rest, nothing to wait for


def test_chatter_is_one_press_and_the_level_it_settles_on_is_taken():
    button = ButtonGestures()
    chatter = [(0.0, DOWN), (0.002, UP), (0.004, DOWN), (0.006, UP), (0.008, DOWN)]
    assert feed(button, chatter) == []
    assert feed(button, [(0.1, UP), (0.101, DOWN), (0.103, UP)]) == [(0.1, Gesture.CLICK)]
    # chatter that settles the other way than its first edge: taken once the bounce time is over
    settles = ButtonGestures()
    assert feed(settles, [(1.0, DOWN), (1.005, UP)]) == []
    assert settles.due() == pytest.approx(1.0 + BOUNCE)
    assert feed(settles, [(1.0 + BOUNCE, None)]) == [(1.0 + BOUNCE, Gesture.CLICK)]


def test_a_latching_switch_flips_at_each_settled_change():
    switch = SwitchGestures(UP)
    script = [(0.0, DOWN), (0.003, UP), (0.006, DOWN), (1.0, UP), (2.0, DOWN)]
    assert feed(switch, script) == [(0.0, Gesture.FLIP), (1.0, Gesture.FLIP), (2.0, Gesture.FLIP)]


CLOCKWISE = [(0, 1), (0, 0), (1, 0), (1, 1)]  # from rest (1, 1), one detent


def turn(detents, steps):
    return [detents.edge(a, b) for a, b in steps]


def test_a_detent_is_a_whole_cycle_each_way_and_bounces_and_missed_edges_count_nothing():
    knob = Detents()
    assert turn(knob, CLOCKWISE) == [0, 0, 0, 1]
    assert turn(knob, CLOCKWISE[::-1][1:] + [(1, 1)]) == [0, 0, 0, -1]
    assert turn(knob, [(0, 1), (1, 1)]) == [0, 0]  # a quarter and back: a bounce
    assert turn(knob, [(0, 1), (0, 1), (0, 0), (0, 1), (0, 0), (1, 0), (1, 1)]) == [0, 0, 0, 0, 0, 0, 1]
    assert turn(knob, [(0, 0), (1, 1)]) == [0, 0]  # two edges missed at once: which way is unknown
    assert turn(knob, CLOCKWISE * 3) == [0, 0, 0, 1] * 3


def test_a_knob_spun_fast_is_worth_more_steps_a_detent():
    speeds = Acceleration()
    assert [speeds.factor(gap) for gap in (1.0, 0.1, 0.04, 0.01)] == [1, 1, 2, 4]


LIGHTS = parse_lights("desk:21,strip:rgb:17/27/22")


def test_buttons_and_encoders_name_a_light_and_their_pins():
    assert parse_buttons("desk:5, strip:6:switch") == (
        InputSpec("desk", InputKind.BUTTON, (5,)),
        InputSpec("strip", InputKind.SWITCH, (6,)),
    )
    assert parse_encoders("desk:12/13/16,strip:23/24") == (
        InputSpec("desk", InputKind.ENCODER, (12, 13, 16)),
        InputSpec("strip", InputKind.ENCODER, (23, 24)),
    )
    assert parse_buttons("") == () and parse_encoders(None) == ()
    assert parse_buttons("desk:5:scene=tv night") == (InputSpec("desk", InputKind.BUTTON, (5,), "tv night"),)
    assert InputSpec("desk", InputKind.ENCODER, (12, 13, 16)).name == "encoder GPIO12/13/16"


@pytest.mark.parametrize(
    "buttons, encoders, says",
    [
        ("desk", "", "BUTTONS: 'desk' is not LIGHT:PIN, LIGHT:PIN:switch or LIGHT:PIN:scene=NAME"),
        ("desk:5:toggle", "", "is not LIGHT:PIN, LIGHT:PIN:switch or LIGHT:PIN:scene=NAME"),
        ("desk:5:scene=", "", "the scene's name must be 1 to 32"),
        ("desk:28", "", "'28' is not a BCM GPIO number from 0 to 27"),
        ("desk:５", "", "is not a BCM GPIO number"),
        ("", "desk:12", "ENCODERS: 'desk:12' is not LIGHT:A/B or LIGHT:A/B/PUSH"),
        ("", "desk:12/13/16/20", "is not LIGHT:A/B or LIGHT:A/B/PUSH"),
    ],
)
def test_a_malformed_input_says_what_is_wrong(buttons, encoders, says):
    with pytest.raises(ValueError, match=says.replace("(", r"\(")):
        parse_buttons(buttons)
        parse_encoders(encoders)


@pytest.mark.parametrize(
    "buttons, encoders, says",
    [
        ("lamp:5", "", "button GPIO5 is for the light 'lamp', and there is none: the lights are desk, strip"),
        ("desk:21", "", "GPIO21 is given to both the light 'desk' and the button GPIO21"),
        ("desk:5", "desk:12/5", "GPIO5 is given to both the button GPIO5 and the encoder GPIO12/5"),
        ("desk:5,strip:5:switch", "", "GPIO5 is given to both the button GPIO5 and the switch GPIO5"),
        ("", "strip:17/18", "GPIO17 is given to both the light 'strip' and the encoder GPIO17/18"),
    ],
)
def test_an_input_for_no_light_or_on_a_pin_given_twice_is_refused(buttons, encoders, says):
    with pytest.raises(ValueError, match=says):
        check_inputs((*parse_buttons(buttons), *parse_encoders(encoders)), LIGHTS)


def test_without_lights_the_one_light_is_led():
    one = parse_lights("led:21")
    assert check_inputs(parse_buttons("led:5"), one)
    with pytest.raises(ValueError, match=r"the lights are led \(without LIGHTS, led\)"):
        check_inputs(parse_buttons("desk:5"), one)
