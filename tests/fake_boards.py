"""Fakes at the libraries' own boundaries, for the boards no machine here has.

``FakeKernel``: the kernel's PWM sysfs ABI (Documentation/ABI/testing/sysfs-class-pwm)
behind kernel_pwm.Sysfs: ``export`` makes ``pwmM/`` appear, ``unexport`` of a channel not
exported is EINVAL, a duty cycle above the period is EINVAL, enabling with no period is
EINVAL, and every accepted write is kept in order.

``fake_lgpio()``: a module with lgpio's documented calls, return values and errors
(``gpiochip_open`` raising ``lgpio.error('can not open gpiochip')`` when there is no chip,
``gpio_claim_output`` raising ``'GPIO busy'`` for a line another process holds, ``tx_pwm``
taking a frequency and a duty cycle in percent), for gpiozero's real LGPIOFactory.
"""

from __future__ import annotations

import errno
import os
import struct
import threading
import time
import types
from pathlib import Path

from boards.kernel_pwm import Sysfs


class FakeKernel(Sysfs):
    """PWM chips as the kernel shows them: ``chips`` maps a chip number to its channel count."""

    def __init__(self, root: Path, chips: dict[int, int]):
        self.root = Path(root)
        self.chips_npwm = dict(chips)
        self.exported: dict[tuple[int, int], dict[str, int]] = {}
        self.writes: list[tuple[str, int]] = []  # (path relative to root, value), accepted only
        self.failing: OSError | None = None  # set to make every write fail (a device gone)
        self.hanging = threading.Event()  # set: every write blocks until it is cleared (a wedged driver)

    def _parse(self, path: Path):
        parts = Path(path).relative_to(self.root).parts
        chip = int(parts[0][len("pwmchip") :])
        if chip not in self.chips_npwm:
            raise FileNotFoundError(errno.ENOENT, "No such file", str(path))
        channel = int(parts[1][3:]) if len(parts) > 2 else None
        return chip, channel, parts[-1]

    def chips(self, root: Path) -> list[Path]:
        return [self.root / f"pwmchip{n}" for n in sorted(self.chips_npwm)] if Path(root) == self.root else []

    def exists(self, path: Path) -> bool:
        try:
            chip, channel, name = self._parse(path)
        except (ValueError, IndexError):
            return False
        if channel is None and name.startswith("pwm") and not name.startswith("pwmchip"):
            return (chip, int(name[3:])) in self.exported
        return channel is None or (chip, channel) in self.exported

    def read(self, path: Path) -> str:
        chip, channel, name = self._parse(path)
        if channel is None and name == "npwm":
            return str(self.chips_npwm[chip])
        if channel is not None and (chip, channel) in self.exported:
            return str(self.exported[chip, channel][name])
        raise FileNotFoundError(errno.ENOENT, "No such file", str(path))

    def write(self, path: Path, value) -> None:
        while self.hanging.is_set():
            time.sleep(0.005)
        if self.failing is not None:
            raise self.failing
        chip, channel, name = self._parse(path)
        number = int(value)
        if channel is None:
            if name == "export":
                if number >= self.chips_npwm[chip]:
                    raise OSError(errno.EINVAL, "Invalid argument")
                if (chip, number) in self.exported:
                    raise OSError(errno.EBUSY, "Device or resource busy")
                self.exported[chip, number] = {"period": 0, "duty_cycle": 0, "enable": 0}
            elif name == "unexport":
                if (chip, number) not in self.exported:
                    raise OSError(errno.EINVAL, "Invalid argument")
                del self.exported[chip, number]
            else:
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
        else:
            state = self.exported.get((chip, channel))
            if state is None:
                raise FileNotFoundError(errno.ENOENT, "No such file", str(path))
            if name == "period" and number < state["duty_cycle"]:
                raise OSError(errno.EINVAL, "Invalid argument")
            if name == "duty_cycle" and number > state["period"]:
                raise OSError(errno.EINVAL, "Invalid argument")
            if name == "enable" and number and not state["period"]:
                raise OSError(errno.EINVAL, "Invalid argument")
            state[name] = number
        self.writes.append((str(Path(path).relative_to(self.root)), number))


def fake_lgpio(chips=(0,), busy=()) -> types.ModuleType:
    """lgpio as a module: ``chips`` the gpiochip numbers that open, ``busy`` lines held elsewhere.

    As the real module does when it is imported, it starts a ``threading.Thread`` (whatever
    ``threading.Thread`` is then: a greenlet after gevent's patching) that blocks reading its
    notification pipe (the real one's FIFO ``.lgd-nfy*``) and delivers every alert to the
    callbacks of its chip and line, 16 bytes each (``QBBBBI``: tick, chip, gpio, level, flags).
    ``alert(gpio, level)`` is the kernel's side: the line changes, and if it was claimed for
    alerts (``gpio_claim_alert``), a message goes down the pipe.
    """
    module = types.ModuleType("lgpio")

    class error(Exception):  # lgpio's own exception class is named so
        pass

    module.error = error
    for name, value in {
        "SET_PULL_NONE": 0,
        "SET_PULL_UP": 32,
        "SET_PULL_DOWN": 64,
        "SET_BIAS_DISABLE": 128,
        "BOTH_EDGES": 3,
        "RISING_EDGE": 1,
        "FALLING_EDGE": 2,
    }.items():
        setattr(module, name, value)
    module.calls = []  # every call, in order: (name, arguments)
    module.handles = {}  # open handle -> chip
    module.modes = {}  # (handle, gpio) -> mode bits: 2 is GPIO_IS_OUT
    module.busy = set(busy)
    module.opened = 0
    module.levels = {}  # gpio -> level, as the line reads
    module.alerting = set()  # (handle, gpio) claimed for alerts

    read_end, write_end = os.pipe()  # the real module's FIFO: a file it opens for reading

    class _callback_thread(threading.Thread):  # as lgpio.py's: the same blocking read, the same dispatch
        def __init__(self):
            threading.Thread.__init__(self)
            self._file = os.fdopen(read_end, "rb", buffering=0)
            self.daemon = True
            self.callbacks = []
            self.go = True
            self.start()

        def run(self):
            buf = b""
            while self.go:
                chunk = self._file.read(16)
                if not chunk:  # the test is over (close_fifo); the real FIFO is never closed
                    return
                buf += chunk
                while len(buf) >= 16:
                    message, buf = buf[:16], buf[16:]
                    tick, chip, gpio, level, flags, _ = struct.unpack("QBBBBI", message)
                    if flags == 0:
                        for chip_of, gpio_of, func in list(self.callbacks):
                            if chip_of == chip and gpio_of == gpio:
                                func(chip, gpio, level, tick)

    module._notify_thread = _callback_thread()

    class _callback:
        def __init__(self, chip, gpio, edge, func):
            self.entry = (chip, gpio, func)
            module._notify_thread.callbacks.append(self.entry)

        def cancel(self):
            if self.entry in module._notify_thread.callbacks:
                module._notify_thread.callbacks.remove(self.entry)

    def alert(gpio, level):
        module.levels[gpio] = level
        for handle, line in list(module.alerting):
            if line == gpio:
                chip = module.handles.get(handle, 0)
                os.write(write_end, struct.pack("QBBBBI", time.monotonic_ns(), chip, gpio, level, 0, 0))

    module.alert = alert
    module.close_fifo = lambda: os.close(write_end)

    def record(name, *args):
        module.calls.append((name, args))

    def gpiochip_open(chip):
        record("gpiochip_open", chip)
        if chip not in chips:
            raise error("can not open gpiochip")
        module.opened += 1
        handle = module.opened  # a new number each time, as lgpio's handles are
        module.handles[handle] = chip
        return handle

    def gpiochip_close(handle):
        record("gpiochip_close", handle)
        module.handles.pop(handle)
        return 0

    def claim(handle, gpio, mode):
        if handle not in module.handles:
            raise error("unknown handle")
        if gpio in module.busy:
            raise error("GPIO busy")
        module.modes[handle, gpio] = mode

    def gpio_claim_input(handle, gpio, lFlags=0):
        record("gpio_claim_input", handle, gpio, lFlags)
        claim(handle, gpio, lFlags)  # the flags read back by gpio_get_mode, as lgpio's are
        if lFlags & module.SET_PULL_UP:
            module.levels.setdefault(gpio, 1)
        module.alerting.discard((handle, gpio))
        return 0

    def gpio_claim_alert(handle, gpio, eFlags, lFlags=0, notify_handle=None):
        record("gpio_claim_alert", handle, gpio, eFlags, lFlags)
        claim(handle, gpio, lFlags)
        module.alerting.add((handle, gpio))
        return 0

    def gpio_set_debounce_micros(handle, gpio, debounce_micros):
        record("gpio_set_debounce_micros", handle, gpio, debounce_micros)
        return 0

    def callback(handle, gpio, edge=1, func=None):
        return _callback(handle >> 16, gpio, edge, func)

    def gpio_claim_output(handle, gpio, level=0, lFlags=0):
        record("gpio_claim_output", handle, gpio, level, lFlags)
        claim(handle, gpio, 2)
        return 0

    def gpio_free(handle, gpio):
        record("gpio_free", handle, gpio)
        module.modes.pop((handle, gpio), None)
        return 0

    def gpio_get_mode(handle, gpio):
        return module.modes.get((handle, gpio), 0)

    def gpio_read(handle, gpio):
        return module.levels.get(gpio, 0)

    def gpio_write(handle, gpio, level):
        record("gpio_write", handle, gpio, level)
        return 0

    def tx_pwm(handle, gpio, pwm_frequency, pwm_duty_cycle, pulse_offset=0, pulse_cycles=0):
        record("tx_pwm", handle, gpio, pwm_frequency, pwm_duty_cycle)
        if module.modes.get((handle, gpio)) != 2:
            raise error("GPIO not allocated for output")
        if not 0 <= pwm_duty_cycle <= 100:
            raise error("bad PWM duty cycle")
        return 0

    for function in (
        gpiochip_open,
        gpiochip_close,
        gpio_claim_input,
        gpio_claim_alert,
        gpio_set_debounce_micros,
        callback,
        gpio_claim_output,
        gpio_free,
        gpio_get_mode,
        gpio_read,
        gpio_write,
        tx_pwm,
    ):
        setattr(module, function.__name__, function)
    return module
