"""Hands on a real service: a process started with a button, a switch and a knob on the pigpio
factory, whose edges come from outside it through the fake pigpio daemon's notifications (as
pigpiod reports a pin's edges). A click reaches WebSocket clients at once, a hold dims while
another client watches, and a noisy line or a knob spun flat out leave everyone else served."""

import statistics
import time

import pytest

import amplification as amp
from attacks import Watcher, assert_served
from support import Client

BUTTON, SWITCH, A, B, PUSH = 5, 6, 17, 27, 22


@pytest.fixture
def lamp(start_server, pigpiod):
    server = start_server(
        env={
            "PIGPIO_ADDR": "127.0.0.1",
            "PIGPIO_PORT": str(pigpiod.port),
            "LED_PIN_FACTORY": "pigpio",
            "BUTTONS": f"led:{BUTTON},led:{SWITCH}:switch",
            "ENCODERS": f"led:{A}/{B}/{PUSH}",
        }
    )
    server.daemon = pigpiod
    return server


def test_a_click_reaches_every_client_at_once_and_healthz_names_the_input(lamp):
    took = []
    with Client(lamp.ws_url) as one, Client(lamp.ws_url) as two:
        one.recv(), two.recv()
        for n in range(5):
            lamp.daemon.set_input(BUTTON, 0)
            time.sleep(0.05)
            released = time.monotonic()
            lamp.daemon.set_input(BUTTON, 1)
            state = one.recv()
            took.append(time.monotonic() - released)
            assert state["on"] is (n % 2 == 1), state
            assert two.recv() == state  # every client, the same state
            time.sleep(0.4)  # past the double-click window
    assert statistics.median(took) < 0.1 and max(took) < 1.0, took
    inputs = {entry["input"]: entry for entry in lamp.get("/healthz")["inputs"]}
    assert inputs["button GPIO5"]["last"] == "click" and inputs["button GPIO5"]["pin_factory"] == "pigpio"
    assert set(inputs) == {"button GPIO5", "switch GPIO6", "encoder GPIO17/27/22"}
    assert "by button GPIO5" in lamp.log() or "button GPIO5:" in lamp.log()


def test_a_hold_dims_while_another_client_watches_and_stops_at_the_release(lamp):
    with Client(lamp.ws_url) as watching:
        assert watching.recv()["level"] == 50
        before = len(lamp.daemon.duty_cycles(21))
        lamp.daemon.set_input(BUTTON, 0)
        dimming = watching.recv(timeout=3)  # after the hold time: down, toward the lowest level
        assert dimming["level"] == 1 and dimming["transition"] > 1, dimming
        time.sleep(0.8)
        lamp.daemon.set_input(BUTTON, 1)
        stopped = watching.recv()
        assert 1 < stopped["level"] < 50 and "transition" not in stopped, stopped  # stopped: no fade
    fade = lamp.daemon.duty_cycles(21)[before:]
    assert len(set(fade)) > 10 and fade[:-1] == sorted(fade[:-1], reverse=True), fade  # smoothly down
    # Then where it was let go: the whole level read as it went, so the fader's step between that
    # read and the write may show as a hair back (a level is 10 % of the duty there), never more.
    assert fade[-1] <= min(fade) * 1.1, fade[-5:]


def test_a_knob_turned_steps_the_level_and_its_push_toggles(lamp):
    with Client(lamp.ws_url) as watching:
        watching.recv()
        for _ in range(2):
            for a, b in ((0, 1), (0, 0), (1, 0), (1, 1)):
                lamp.daemon.set_input(A, a)
                lamp.daemon.set_input(B, b)
                time.sleep(0.002)  # a hand's turn: each quarter steady past the glitch filter
            time.sleep(0.3)
        levels = [watching.recv()["level"] for _ in range(2)]
        assert levels == [55, 60]
        lamp.daemon.set_input(PUSH, 0)
        time.sleep(0.05)
        lamp.daemon.set_input(PUSH, 1)
        assert watching.recv()["on"] is False


def test_noise_faster_than_the_glitch_filter_is_eaten_by_it_and_a_real_flip_then_works(lamp):
    with Client(lamp.ws_url) as counting:
        counting.recv()
        reports = lamp.daemon.reports_sent
        storm = amp.noise_storm(lamp.daemon, SWITCH, seconds=1)  # an edge every 100 µs
        through = lamp.daemon.reports_sent - reports
        # The filter's 1 ms eats it: what gets through is this process's own pauses (a 2-core
        # machine shared with other tests), never a report an edge.
        assert storm["edges"] > 5_000 and through < storm["edges"] / 20, (storm, through)
        time.sleep(0.5)
        seq = lamp.get("/healthz")["seq"]
        lamp.daemon.set_input(SWITCH, 1 - lamp.daemon.level[SWITCH])  # then a real flip
        lamp.wait_for(lambda h: h["seq"] == seq + 1, what="the flip's change")


@pytest.mark.xdist_group("timed attacks")
def test_a_noise_storm_past_the_filter_is_bounded_and_leaves_every_other_client_served(lamp):
    with Client(lamp.ws_url) as counting, Watcher(lamp) as watcher:
        counting.recv()
        watcher.more_rounds()
        storm = amp.noise_storm(lamp.daemon, SWITCH, seconds=3, every=0.002)  # 500 edges a second
        watcher.more_rounds()
        states = []
        try:
            while True:
                states.append(counting.recv(timeout=1.5))
        except Exception:  # noqa: BLE001 - nothing more came
            pass
    assert storm["edges"] > 1_000, storm
    assert_served(watcher)
    assert len([s for s in states if s["type"] == "state"]) <= 10 * 5, len(states)  # at most 10 a second
    noise = [line for line in lamp.log().splitlines() if "noisy line" in line]
    assert 1 <= len(noise) <= 3, noise  # said once a period, not once an edge
    print(f"noise storm: {storm}; {watcher.summary()}; {len(states)} states")


def test_a_change_by_hand_reaches_mqtt_and_home_assistant(start_server, pigpiod, tmp_path):
    from mqtt_support import Broker, Listener

    broker = Broker(tmp_path).start()
    try:
        hears = Listener(broker, "ledsock/lamp1/state", "ledsock/lamp1/ha/state")
        server = start_server(
            env={
                "PIGPIO_ADDR": "127.0.0.1",
                "PIGPIO_PORT": str(pigpiod.port),
                "LED_PIN_FACTORY": "pigpio",
                "BUTTONS": f"led:{BUTTON}",
                "MQTT_URL": broker.url,
                "MQTT_DEVICE_ID": "lamp1",
            }
        )
        server.wait_for(lambda h: h["mqtt_connected"], what="the bridge connected")
        hears.wait_for("ledsock/lamp1/state")
        pigpiod.set_input(BUTTON, 0)
        time.sleep(0.05)
        pigpiod.set_input(BUTTON, 1)
        assert hears.wait_for("ledsock/lamp1/state", lambda s: s["seq"] == 1)["on"] is False
        assert hears.wait_for("ledsock/lamp1/ha/state", lambda s: s["state"] == "OFF")
        hears.close()
    finally:
        broker.stop()


@pytest.mark.parametrize(
    "env, says",
    [
        ({"BUTTONS": "led:21"}, "GPIO21 is given to both the light 'led' and the button GPIO21"),
        ({"LIGHTS": "desk:21", "BUTTONS": "led:5"}, "button GPIO5 is for the light 'led', and there is none"),
        ({"BUTTONS": "led:5", "ENCODERS": "led:17/5"}, "GPIO5 is given to both the button GPIO5 and the encoder"),
        ({"ENCODERS": "led:17"}, "ENCODERS: 'led:17' is not LIGHT:A/B or LIGHT:A/B/PUSH"),
        ({"BUTTONS": "led:5:latch"}, "is not LIGHT:PIN, LIGHT:PIN:switch or LIGHT:PIN:scene=NAME"),
    ],
)
def test_an_input_that_cannot_be_stops_the_service_with_one_line(env, says):
    import subprocess
    import sys

    from support import ROOT, free_port

    result = subprocess.run(
        [sys.executable, "app.py", "--pin-factory", "mock", "--port", str(free_port())],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", **env},
    )
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 2 and says in output.splitlines()[-1], output  # the last line says which


def test_the_inputs_factory_is_one_that_reads(caplog):
    from boards.input_factory import choose_input_factory
    from boards.pins import PinFactoryUnavailable

    def fails(pin):
        raise PinFactoryUnavailable("cannot open a GPIO chip; is this a Pi")

    def works(pin):
        return None

    assert choose_input_factory("auto", probes={"pigpio": fails, "lgpio": works}) == "lgpio"
    assert choose_input_factory("kernel", probes={"lgpio": works}) == "lgpio"  # the kernel's PWM reads nothing
    assert choose_input_factory("mock") == "mock"
    with pytest.raises(PinFactoryUnavailable, match="the kernel's PWM drives LEDs but reads no input"):
        choose_input_factory("kernel", probes={"lgpio": fails})
    with caplog.at_level("WARNING"):
        assert choose_input_factory("auto", probes={"pigpio": fails, "lgpio": fails}) == "mock"
    assert "inputs, so they are SIMULATED" in caplog.text or "the inputs" in caplog.text
