"""Every Raspberry Pi: the kernel's hardware PWM over a fake kernel, lgpio through gpiozero's real
LGPIOFactory over a fake lgpio, and auto's order with each present or absent."""

import errno
import logging
import os
import subprocess
import sys
import threading
import time

import pytest

from boards.kernel_pwm import KernelPwm, KernelPwmFactory, KernelPwmUnavailable, PwmChannel, find_channel
from boards.pins import PinFactoryUnavailable, choose_pin_factories
from curves.brightness import Curve
from led import HardwareError, Led

from fake_boards import FakeKernel, fake_lgpio
from support import ROOT, chosen_factory

PI4 = "Raspberry Pi 4 Model B Rev 1.5"
PI5 = "Raspberry Pi 5 Model B Rev 1.0"


# ---------------------------------------------------------------- the kernel's PWM


@pytest.mark.parametrize(
    "model, chips, pin, expected",
    [
        (PI4, {0: 2}, 18, ("pwmchip0", 0)),
        (PI4, {0: 2}, 19, ("pwmchip0", 1)),
        (PI5, {0: 2, 2: 4}, 18, ("pwmchip2", 2)),
        (PI5, {0: 2, 2: 4}, 19, ("pwmchip2", 3)),
    ],
)
def test_a_hardware_pwm_pin_finds_its_chip_and_channel(tmp_path, model, chips, pin, expected):
    found = find_channel(pin, model=model, root=tmp_path, sysfs=FakeKernel(tmp_path, chips))
    assert (found.chip.name, found.channel) == expected


@pytest.mark.parametrize(
    "model, chips, pin, reason",
    [
        (PI4, {0: 2}, 21, "GPIO21 is not a pin of dtoverlay=pwm-2chan"),
        (PI5, {2: 4}, 12, "GPIO12 is not a pin of dtoverlay=pwm-2chan"),  # its routing cannot be seen: not guessed
        (PI5, {}, 18, "dtoverlay=pwm-2chan"),
        (PI5, {0: 2}, 18, "no PWM chip"),  # a Pi 5 whose only chip is not the RP1's 4-channel block
    ],
)
def test_a_pin_without_a_channel_says_why(tmp_path, model, chips, pin, reason):
    with pytest.raises(KernelPwmUnavailable, match=reason):
        find_channel(pin, model=model, root=tmp_path, sysfs=FakeKernel(tmp_path, chips))


def test_the_channel_is_exported_given_its_period_before_its_duty_and_released(tmp_path):
    kernel = FakeKernel(tmp_path, {0: 2})
    pwm = KernelPwm(PwmChannel(tmp_path / "pwmchip0", 1), frequency=1000, sysfs=kernel)
    pwm.value = 0.25
    pwm.value = 1.0
    pwm.close()
    assert kernel.writes == [
        ("pwmchip0/export", 1),
        ("pwmchip0/pwm1/duty_cycle", 0),
        ("pwmchip0/pwm1/period", 1_000_000),
        ("pwmchip0/pwm1/enable", 1),
        ("pwmchip0/pwm1/duty_cycle", 250_000),
        ("pwmchip0/pwm1/duty_cycle", 1_000_000),
        ("pwmchip0/pwm1/duty_cycle", 0),
        ("pwmchip0/pwm1/enable", 0),
        ("pwmchip0/unexport", 1),
    ]
    assert kernel.exported == {}


def test_the_fake_kernel_refuses_what_the_real_one_refuses(tmp_path):
    """The fake is only worth its tests if it is strict: each rule, broken once."""
    kernel = FakeKernel(tmp_path, {0: 2})
    chip = tmp_path / "pwmchip0"
    for path, value in ((chip / "export", 2), (chip / "unexport", 0)):
        with pytest.raises(OSError) as refused:
            kernel.write(path, value)
        assert refused.value.errno == errno.EINVAL
    kernel.write(chip / "export", 0)
    for name, value in (("duty_cycle", 5), ("enable", 1)):  # above a period of 0; enabling with none
        with pytest.raises(OSError) as refused:
            kernel.write(chip / "pwm0" / name, value)
        assert refused.value.errno == errno.EINVAL


def test_an_led_on_the_kernels_pwm_fades_fails_and_comes_back(tmp_path):
    kernel = FakeKernel(tmp_path, {0: 2})
    factory = KernelPwmFactory(18, model=PI4, root=tmp_path, sysfs=kernel)
    reopened = threading.Event()

    def reopen():
        reopened.set()
        return KernelPwmFactory(18, model=PI4, root=tmp_path, sysfs=kernel)

    led = Led(
        18, pin_factory=factory, factory_name="kernel", curve=Curve("linear"), reconnect=reopen, check_interval=0.05
    )
    try:
        assert not led.simulated and led.factory_name == "kernel"
        led.set_level(40)
        assert kernel.exported[0, 0]["duty_cycle"] == 400_000
        kernel.failing = OSError(errno.ENODEV, "No such device")  # the channel vanished
        with pytest.raises(HardwareError):
            led.set_level(70)
        assert led.error and "GPIO18" in led.error
        kernel.failing = None
        kernel.exported.clear()  # as after the device came back: nothing exported
        deadline = time.monotonic() + 5
        while led.error is not None:
            assert time.monotonic() < deadline, "the LED was not put back"
            time.sleep(0.01)
        assert reopened.is_set() and kernel.exported[0, 0]["duty_cycle"] == 400_000  # its level, again
    finally:
        led.close()
    assert kernel.exported == {}


def test_a_hung_kernel_write_answers_within_the_deadline_and_the_level_comes_back(tmp_path):
    from serving.serve import with_deadline

    kernel = FakeKernel(tmp_path, {0: 2})

    def reopen():
        return KernelPwmFactory(18, model=PI4, root=tmp_path, sysfs=kernel)

    led = Led(
        18,
        pin_factory=reopen(),
        factory_name="kernel",
        curve=Curve("linear"),
        reconnect=reopen,
        check_interval=0.05,
        with_deadline=with_deadline,
        deadline=0.3,
    )
    try:
        led.set_level(40)
        kernel.hanging.set()  # the driver wedges: writes never return
        started = time.monotonic()
        with pytest.raises(HardwareError):
            led.set_level(70)
        assert 0.25 < time.monotonic() - started < 1.5  # the deadline, not the hang
        assert led.error and led.shown() == 40  # reads never wait on it
        started = time.monotonic()
        with pytest.raises(HardwareError, match="reconnecting"):
            led.set_level(80)  # while it hangs, later sets fail at once
        assert time.monotonic() - started < 0.1
        kernel.hanging.clear()  # it answers again: the LED is put back at its level
        deadline = time.monotonic() + 5
        while led.error is not None:
            assert time.monotonic() < deadline, "the LED was not put back"
            time.sleep(0.01)
        assert kernel.exported[0, 0]["duty_cycle"] == 400_000
    finally:
        kernel.hanging.clear()
        led.close()


# ---------------------------------------------------------------- lgpio


def test_an_led_through_lgpio_drives_tx_pwm_and_frees_its_line(lgpio):
    from boards.pins import make_pin_factory

    cie = Led(20, pin_factory=make_pin_factory("lgpio", pin=20))  # the default curve: level 1 must light
    cie.set_level(1)
    cie.close()
    [level_1] = [args[3] for name, args in lgpio.calls if name == "tx_pwm" and args[1] == 20 and args[3]]
    assert abs(level_1 - 0.1107) < 1e-3, level_1  # per cent: 11 µs of a 10 ms period, not 0 (dark)
    factory = make_pin_factory("lgpio", pin=21)
    led = Led(21, pin_factory=factory, curve=Curve("linear"))
    assert led.factory_name == "lgpio" and not led.simulated
    led.set_level(30)
    led.set_level(1)
    led.set_level(100)
    led.close()
    pwm = [args[2:] for name, args in lgpio.calls if name == "tx_pwm" and args[1] == 21]
    # gpiozero's 100 Hz, the duty in percent, exact
    assert [(frequency, round(duty, 6)) for frequency, duty in pwm[-4:-1]] == [(100, 30), (100, 1), (100, 100)], pwm
    assert ("gpiochip_close", (1,)) in lgpio.calls and lgpio.handles == {}


def test_lgpio_without_a_chip_or_with_a_busy_line_says_so(lgpio):
    from boards.pins import make_pin_factory

    lgpio_missing = fake_lgpio(chips=())
    lgpio_missing.close_fifo()  # its notification thread is not needed here
    sys.modules["lgpio"] = lgpio_missing
    sys.modules.pop("gpiozero.pins.lgpio", None)
    with pytest.raises(PinFactoryUnavailable, match="can not open gpiochip.*gpio group"):
        make_pin_factory("lgpio", pin=21)
    sys.modules["lgpio"] = lgpio
    sys.modules.pop("gpiozero.pins.lgpio", None)
    factory = make_pin_factory("lgpio", pin=5)
    with pytest.raises(Exception, match="GPIO busy"):
        Led(5, pin_factory=factory)
    factory.close()


def test_the_real_lgpio_module_starts_where_the_service_runs_from_a_folder_it_cannot_write(tmp_path):
    """lgpio makes its FIFO in its working directory when it is imported (gpiozero issue 1106): the
    installed unit runs from its install folder, read-only under ProtectSystem=strict. /proc is a
    folder even root cannot write; the real lgpio wheel imports here (only opening a chip fails)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("LG_WD", "RUNTIME_DIRECTORY", "XDG_RUNTIME_DIR")
    }
    bare = subprocess.run(
        [sys.executable, "-c", "import lgpio"], cwd="/proc", env=env, capture_output=True, text=True, timeout=60
    )
    assert bare.returncode != 0 and ".lgd-nfy" in bare.stderr  # the trap is real: lgpio alone fails here
    served = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "--pin-factory", "lgpio"],
        cwd="/proc",
        env={**env, "TMPDIR": str(tmp_path), "STATE_FILE": str(tmp_path / "state.json")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert served.returncode == 2, served.stderr  # no GPIO chip on this machine: it says so and what to do
    assert "cannot open a GPIO chip" in served.stderr and "lgpio module" not in served.stderr, served.stderr
    assert any(path.name.startswith(".lgd-nfy") for path in tmp_path.iterdir())  # its FIFO, made where it can be


# ---------------------------------------------------------------- auto's order


def probes(*present):
    def absent(name):
        def check(pin):
            raise PinFactoryUnavailable(f"{name} is not here")

        return check

    return {name: (lambda pin: None) if name in present else absent(name) for name in ("pigpio", "kernel", "lgpio")}


@pytest.mark.parametrize(
    "present, chosen",
    [
        (("pigpio", "kernel", "lgpio"), "pigpio"),
        (("kernel", "lgpio"), "kernel"),
        (("lgpio",), "lgpio"),
        (("pigpio", "lgpio"), "pigpio"),
        ((), "mock"),
    ],
)
def test_auto_takes_the_first_that_works(present, chosen):
    assert chosen_factory("auto", pin=18, probes=probes(*present)) == chosen


def test_auto_falls_back_to_the_simulation_with_one_line_naming_each_reason(caplog):
    with caplog.at_level(logging.WARNING, logger="boards.pins"):
        assert chosen_factory("auto", pin=18, probes=probes()) == "mock"
    [line] = [r.getMessage() for r in caplog.records]
    assert "SIMULATED" in line and all(f"{name}: {name} is not here" in line for name in ("pigpio", "kernel", "lgpio"))


def test_each_light_gets_the_factory_its_pin_has():
    def kernel(pin):  # the kernel's PWM drives GPIO 18 and 19 only
        if pin not in (18, 19):
            raise PinFactoryUnavailable(f"GPIO{pin} is not a pin of dtoverlay=pwm-2chan")

    lights = {"desk": 18, "shelf": 19, "status": 21}
    pi5 = {**probes("lgpio"), "kernel": kernel}  # no pigpio on a Pi 5
    assert choose_pin_factories(lights, "auto", probes=pi5) == {"desk": "kernel", "shelf": "kernel", "status": "lgpio"}
    assert choose_pin_factories(lights, "auto", probes={**pi5, **probes("pigpio", "lgpio")}) == dict.fromkeys(
        lights, "pigpio"
    )
    with pytest.raises(PinFactoryUnavailable, match="GPIO21 is not a pin") as refused:
        choose_pin_factories(lights, "kernel", probes=pi5)
    assert refused.value.light == "status"


@pytest.mark.parametrize("name", ["pigpio", "kernel", "lgpio"])
def test_a_factory_asked_for_by_name_is_used_or_refused(name):
    assert chosen_factory(name, pin=18, probes=probes(name)) == name
    with pytest.raises(PinFactoryUnavailable, match=f"{name} is not here"):
        chosen_factory(name, pin=18, probes=probes())


def test_an_lgpio_write_that_fails_is_a_hardware_error_and_the_level_comes_back(lgpio):
    from led import open_led

    led = open_led(21, pin_factory="lgpio", curve=Curve("linear"))
    try:
        led.set_level(60)
        failing = lgpio.tx_pwm

        def gone(*args):
            raise lgpio.error("bad handle")

        lgpio.tx_pwm = gone
        with pytest.raises(HardwareError):
            led.set_level(20)
        assert led.error and led.factory_name == "lgpio"
        lgpio.tx_pwm = failing  # the chip answers again: a new handle, the level written again
        deadline = time.monotonic() + 5
        while led.error is not None:
            assert time.monotonic() < deadline, "the LED was not put back"
            time.sleep(0.01)
        handle = max(lgpio.handles)
        assert handle > 1 and lgpio.calls[-1] == ("tx_pwm", (handle, 21, 100, 60.0))
    finally:
        led.close()


@pytest.mark.parametrize(
    "factory, words", [("kernel", "GPIO21 is not a pin of dtoverlay=pwm-2chan"), ("lgpio", "cannot open a GPIO chip")]
)
def test_a_named_factory_that_cannot_work_stops_the_service_with_one_line(factory, words):
    import subprocess

    from support import ROOT, free_port

    result = subprocess.run(
        [sys.executable, "app.py", "--pin-factory", factory, "--port", str(free_port())],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin"},
    )
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 2 and len(output.splitlines()) == 1 and words in output, output


def test_under_gevent_a_call_past_its_deadline_stalls_neither_the_loop_nor_its_caller():
    import subprocess

    from support import ROOT

    script = """
from gevent import monkey; monkey.patch_all()
import gevent, time
from serving.serve import with_deadline
ticks = []
def ticker():
    while True:
        ticks.append(time.monotonic()); gevent.sleep(0.01)
gevent.spawn(ticker)
import threading
stuck = threading.Event()
started = time.monotonic()
try:
    with_deadline(lambda: __import__("os").read(__import__("os").pipe()[0], 1), 0.3)  # a read that never returns
except TimeoutError:
    took = time.monotonic() - started
gaps = [b - a for a, b in zip(ticks, ticks[1:])]
print(round(took, 2), round(max(gaps), 3), with_deadline(lambda: 42, 1))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=30)
    took, longest_gap, answer = result.stdout.split()
    assert 0.25 < float(took) < 1.0 and float(longest_gap) < 0.1 and answer == "42", result.stdout + result.stderr


def test_lights_left_simulated_get_one_warning_and_pin_free_checks_run_once(caplog):
    asked = []

    def pigpio(pin):
        asked.append(pin)
        raise PinFactoryUnavailable("pigpio is not here")

    lights = {"desk": 21, "shelf": 20, "status": 16}
    with caplog.at_level(logging.WARNING, logger="boards.pins"):
        chosen = choose_pin_factories(lights, "auto", probes={**probes(), "pigpio": pigpio})
    assert chosen == dict.fromkeys(lights, "mock") and asked == [21]  # the daemon probed once, not per light
    [line] = [r.getMessage() for r in caplog.records]
    assert "no real PWM for GPIO21, GPIO20, GPIO16, so these LEDs are SIMULATED" in line
