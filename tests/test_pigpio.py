"""The real pigpio path without a Pi: the service process drives tests/fake_pigpiod.py over TCP."""

import json
import time

import pytest

from fake_pigpiod import FakePigpiod
from support import Client


def pigpio_env(daemon, factory="pigpio", curve="linear"):
    """Linear by default, so a level reads as its duty cycle (the curves are test_led.py's)."""
    return {
        "LED_PIN_FACTORY": factory,
        "PIGPIO_ADDR": "127.0.0.1",
        "PIGPIO_PORT": str(daemon.port),
        "BRIGHTNESS_CURVE": curve,
    }


def test_the_default_curve_reaches_the_daemon(start_server, pigpiod):
    server = start_server("--initial-level", "50", env=pigpio_env(pigpiod, curve=""))
    assert server.post("/led", '{"level": 1}')[0] == 200
    # CIE 1931: level 50 is 18.42 % duty, level 1 is 0.11 % (of gpiozero's range of 10000).
    assert pigpiod.duty_cycles(21)[-2:] == [1841, 11]  # gpiozero truncates 1841.8


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} not within {timeout} s"
        time.sleep(0.05)


def test_levels_reach_the_daemon_as_duty_cycles_on_the_right_pin(start_server, pigpiod):
    server = start_server("--initial-level", "40", env=pigpio_env(pigpiod))
    health = server.get("/healthz")
    assert (health["pin_factory"], health["simulated"], health["status"]) == ("pigpio", False, "ok")
    with Client(server.ws_url) as client:
        client.recv()
        client.send({"level": 73})
        assert client.recv()["level"] == 73
        server.post("/led", "level=12", "application/x-www-form-urlencoded")
        assert client.recv()["level"] == 12
    assert pigpiod.duty_cycles(21) == [0, 4000, 7300, 1200]  # gpiozero's range is 10000
    assert ("PFS", 21, 100) in pigpiod.pwm_log and ("PRS", 21, 10000) in pigpiod.pwm_log
    assert pigpiod.unknown == []
    assert server.stop() == 0
    # Released: PWM stopped with the pin written low, and the pin back to an input.
    assert (pigpiod.level.get(21), pigpiod.duty.get(21), pigpiod.mode.get(21)) == (0, 0, 0)


def test_another_pin_and_auto_detection(start_server, pigpiod):
    server = start_server("--pin", "18", env=pigpio_env(pigpiod, factory="auto"))
    assert server.get("/healthz")["pin_factory"] == "pigpio"
    server.post("/led", '{"level": 99}')
    assert pigpiod.duty_cycles(18)[-1] == 9900 and pigpiod.duty_cycles(21) == []


def test_when_the_daemon_goes_away_and_comes_back(start_server, pigpiod):
    server = start_server(env=pigpio_env(pigpiod))
    with Client(server.ws_url) as client, Client(server.ws_url) as other:
        client.recv(), other.recv()
        assert client.request({"level": 66, "id": "a"})[0]["level"] == 66
        other.recv()
        pigpiod.stop()

        reply = client.request({"level": 10, "id": "b"})[0]
        assert (reply["type"], reply["code"], reply["id"]) == ("error", "hardware_error", "b")
        assert server.post("/led", '{"level": 11}')[0] == 503
        health = server.get("/healthz")
        assert health["status"] == "degraded" and health["hardware_error"]
        assert server.led() == {"level": 66, "on": True, "brightness": 66, "seq": 1}  # unchanged, and still serving
        assert client.request({"type": "ping", "id": "c"})[0] == {"type": "pong", "id": "c"}
        assert other.nothing_pending()  # nothing was broadcast

        back = FakePigpiod(pigpiod.port).start()
        try:
            started = time.monotonic()
            server.wait_for(lambda h: h["status"] == "ok", timeout=5, what="reconnect")
            wait_until(lambda: back.duty_cycles(21)[-1:] == [6600], 1, "the level re-applied")
            print(f"reconnected and re-applied in {time.monotonic() - started:.1f} s")
            assert client.request({"level": 20, "id": "d"})[0]["level"] == 20
            assert other.recv() == {"type": "state", "level": 20, "on": True, "brightness": 20, "seq": 2}
            assert back.duty_cycles(21)[-1] == 2000
        finally:
            back.stop()
    log = server.log()
    assert "lost the LED's pigpio device" in log and "the LED's pigpio device is back: GPIO21 at level 66" in log
    assert "Can't connect to pigpio" not in log  # pigpio's banner stays out of the log


def test_a_hung_daemon_costs_one_hardware_error_per_set_and_stalls_no_one(start_server, pigpiod):
    server = start_server("--pigpio-timeout", "2", env=pigpio_env(pigpiod))
    with Client(server.ws_url) as setter, Client(server.ws_url) as reader:
        setter.recv(), reader.recv()
        assert setter.request({"level": 66, "id": "a"})[0]["level"] == 66
        reader.recv()
        pigpiod.hang()  # accepts and reads, never answers: a wedged or SIGSTOPped daemon
        started = time.monotonic()
        setter.send({"level": 10, "id": "b"})
        wait_until(lambda: pigpiod.held >= 1, 2, "the set waiting at the daemon")
        # While that set waits for its deadline, everyone else is served.
        get_started = time.monotonic()
        reply = reader.request({"type": "get", "id": "g"})[0]
        get_took = time.monotonic() - get_started
        assert reply == {"type": "state", "level": 66, "on": True, "brightness": 66, "seq": 1, "id": "g"}
        with Client(server.ws_url) as newcomer:
            assert newcomer.recv() == {"type": "state", "level": 66, "on": True, "brightness": 66, "seq": 1}
        others_done = time.monotonic() - started
        failed = setter.recv_until(lambda m: m.get("id") == "b")[0]
        set_took = time.monotonic() - started
        # The get and the newcomer were served well before the set's 2 s deadline ran out.
        assert others_done < set_took - 1, (others_done, set_took)
        assert (failed["type"], failed["code"]) == ("error", "hardware_error"), failed
        assert "timed out" in failed["message"]
        health = server.get("/healthz")
        assert health["status"] == "degraded" and health["level"] == 66
        assert server.led() == {"level": 66, "on": True, "brightness": 66, "seq": 1}
        again = time.monotonic()
        assert setter.request({"level": 11, "id": "c"})[0]["code"] == "hardware_error"
        again_took = time.monotonic() - again
        print(
            f"hung daemon: the set failed after {set_took:.2f} s (deadline 2 s); another client's get took "
            f"{get_took * 1000:.1f} ms meanwhile; the next set failed in {again_took * 1000:.1f} ms"
        )
        assert set_took < 5 and again_took < 1, (set_took, again_took)
        assert reader.nothing_pending()  # no failed set was broadcast

        pigpiod.resume()
        server.wait_for(lambda h: h["status"] == "ok", timeout=10, what="back once the daemon answers")
        wait_until(lambda: pigpiod.duty_cycles(21)[-1:] == [6600], 2, "the level re-applied")
        assert setter.request({"level": 20, "id": "d"})[0]["level"] == 20
        assert reader.recv() == {"type": "state", "level": 20, "on": True, "brightness": 20, "seq": 2}
        assert pigpiod.duty_cycles(21)[-1] == 2000


def test_shutdown_does_not_wait_on_a_hung_daemon(start_server, pigpiod):
    server = start_server("--pigpio-timeout", "1", env=pigpio_env(pigpiod))
    with Client(server.ws_url) as client:
        client.recv()
        assert client.request({"level": 33, "id": "a"})[0]["level"] == 33
        pigpiod.hang()
        started = time.monotonic()
        code = server.stop()
        took = time.monotonic() - started
    print(f"shutdown with a hung daemon took {took:.2f} s")
    assert code == 0, server.log()
    assert took < 6, server.log()  # the close handshakes, then one deadline for the GPIO
    assert "GPIO21 released" in server.log() and "Traceback" not in server.log()
    assert json.loads((server.log_path.parent / f"state-{server.port}.json").read_text())["level"] == 33


@pytest.mark.alone  # 60 writes a second, timed in real time: with the machine to itself
def test_a_fade_reaches_the_daemon_as_smooth_steps(start_server, pigpiod):
    server = start_server("--initial-level", "10", env=pigpio_env(pigpiod))
    before = len(pigpiod.duty_cycles(21))
    started = time.monotonic()
    assert server.post("/led", '{"level": 90, "transition": 1.0}')[1]["transition"] == 1.0
    # Wait on the daemon, not on /healthz: "shown" is rounded to 2 places, so it reads 90
    # a step before the fader's last write (89.996 then 90) reaches the daemon.
    deadline = started + 5
    while pigpiod.duty_cycles(21)[-1] != 9000:
        assert time.monotonic() < deadline, pigpiod.duty_cycles(21)[before:]
        time.sleep(0.01)
    took = time.monotonic() - started
    assert server.get("/healthz")["shown"] == 90
    steps = pigpiod.duty_cycles(21)[before:]
    print(f"a 1 s fade from 10 to 90 reached pigpiod as {len(steps)} PWM writes ({len(steps) / took:.0f}/s)")
    assert steps[-1] == 9000 and steps == sorted(steps), steps
    assert len(steps) >= 50, steps  # 60 a second by design; fewer would show as steps to the eye
    assert max(b - a for a, b in zip(steps, steps[1:])) < 400  # no jump above 4 % of the range
