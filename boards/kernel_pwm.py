"""The kernel's hardware PWM, through sysfs: which channel drives a pin, and driving it.

The Pi's PWM block is timed in hardware, so an LED on it never flickers, whatever the CPU
does; it is the one flicker-free choice on a Raspberry Pi 5, where pigpio cannot run. The
kernel exposes it as files (Documentation/ABI/testing/sysfs-class-pwm): a chip
``/sys/class/pwm/pwmchipN`` with ``npwm`` channels; writing a channel's number to
``export`` makes ``pwmM/`` appear, with ``period`` and ``duty_cycle`` in nanoseconds (the
duty never above the period: EINVAL) and ``enable``. A channel reaches a pin only when
``config.txt`` routes it there (``dtoverlay=pwm-2chan`` puts two on GPIO 18 and 19).

Every file access goes through a :class:`Sysfs`, so a test can put a fake kernel behind it.
Nothing here touches hardware at import.
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path
from typing import NamedTuple

SYSFS_PWM = Path("/sys/class/pwm")
FREQUENCY = 1000  # Hz: hardware PWM has resolution to spare, and 1 kHz is far above flicker
EXPORT_WAIT = 1.0  # seconds for the pwmM directory (and udev's permissions on it) to appear

# Which channel of which PWM block drives a BCM pin once ``dtoverlay=pwm-2chan`` routes the
# block to GPIO 18 and 19, its default on every board. Pi 1 to 4 and Zero (BCM2835..2711):
# a block of 2 channels. Pi 5, 500, CM5 (RP1): 4 channels, of which 18 and 19 are 2 and 3.
# GPIO 12 and 13 can carry PWM too, with the overlay's pin parameters; a channel cannot tell
# which pin it was routed to, so those are left to lgpio rather than guessed.
CHANNELS_BCM = {18: 0, 19: 1}
CHANNELS_RP1 = {18: 2, 19: 3}


class PwmChannel(NamedTuple):
    """One channel of one chip: ``/sys/class/pwm/pwmchipN/pwmM``."""

    chip: Path
    channel: int

    @property
    def path(self) -> Path:
        return self.chip / f"pwm{self.channel}"


class KernelPwmUnavailable(Exception):
    """The pin has no hardware PWM channel the kernel exposes (the reason says why)."""


class Sysfs:
    """Reads and writes sysfs files: one write per value, as the kernel expects them."""

    def read(self, path: Path) -> str:
        return Path(path).read_text().strip()

    def write(self, path: Path, value) -> None:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, str(value).encode())
        finally:
            os.close(fd)

    def exists(self, path: Path) -> bool:
        return Path(path).exists()

    def chips(self, root: Path) -> list[Path]:
        try:
            return sorted(Path(root).glob("pwmchip*"), key=lambda chip: int(chip.name[7:] or 0))
        except OSError:
            return []


def board_is_rp1(model: str) -> bool:
    """Whether the board's PWM is on the RP1 (Pi 5, Pi 500, CM5), from its model string."""
    return any(name in model for name in ("Raspberry Pi 5", "Raspberry Pi 500", "Compute Module 5"))


def board_model(path: Path = Path("/proc/device-tree/model")) -> str:
    try:
        return path.read_bytes().rstrip(b"\0").decode(errors="replace")
    except OSError:
        return ""


def find_channel(
    pin: int, *, model: str | None = None, root: Path = SYSFS_PWM, sysfs: Sysfs | None = None
) -> PwmChannel:
    """The chip and channel that drive BCM ``pin``; KernelPwmUnavailable says why there is none.

    The chip is the one with the block's number of channels (4 on the RP1, 2 before it).
    """
    sysfs = sysfs or Sysfs()
    model = board_model() if model is None else model
    rp1 = board_is_rp1(model)
    channels = CHANNELS_RP1 if rp1 else CHANNELS_BCM
    if pin not in channels:
        raise KernelPwmUnavailable(
            f"GPIO{pin} is not a pin of dtoverlay=pwm-2chan (GPIO 18 and 19 are); wire "
            "the LED to one of them and set LED_PIN, or use LED_PIN_FACTORY=lgpio"
        )
    chips = sysfs.chips(root)
    if not chips:
        raise KernelPwmUnavailable(
            f"the kernel exposes no PWM chip in {root}: add 'dtoverlay=pwm-2chan' "
            "to /boot/firmware/config.txt and reboot"
        )
    wanted = 4 if rp1 else 2
    for chip in chips:
        try:
            if int(sysfs.read(chip / "npwm")) == wanted:
                return PwmChannel(chip, channels[pin])
        except (OSError, ValueError):
            continue
    raise KernelPwmUnavailable(f"no PWM chip in {root} has the {wanted} channels of this board's PWM block")


class KernelPwm:
    """A PWM output on one kernel channel, with gpiozero's ``value`` (0..1) and ``close``.

    Opening exports the channel (if it is not already), sets the period for ``frequency``
    and enables it at duty 0; closing sets duty 0, disables and unexports it. With
    ``active_high`` false (a common-anode LED, lit when its pin is low) the channel's
    polarity is inversed, so that duty 0 and a disabled channel both leave it dark.
    """

    def __init__(
        self,
        channel: PwmChannel,
        *,
        frequency: int = FREQUENCY,
        sysfs: Sysfs | None = None,
        sleep=time.sleep,
        clock=time.monotonic,
        active_high: bool = True,
    ):
        self.channel = channel
        self.sysfs = sysfs or Sysfs()
        self.period = round(1e9 / frequency)
        self._value = 0.0
        path = channel.path
        if not self.sysfs.exists(path):
            self.sysfs.write(channel.chip / "export", channel.channel)
            deadline = clock() + EXPORT_WAIT
            while not self.sysfs.exists(path / "enable"):  # the directory appears, then udev's group on it
                if clock() > deadline:
                    raise KernelPwmUnavailable(f"{path} did not appear after export")
                sleep(0.01)
        # The period before the duty cycle, and the duty cycle never above the period; the
        # polarity while the channel is disabled (the kernel refuses it otherwise).
        self.sysfs.write(path / "duty_cycle", 0)
        self.sysfs.write(path / "period", self.period)
        if not active_high:
            self.sysfs.write(path / "enable", 0)
            self.sysfs.write(path / "polarity", "inversed")
        self.sysfs.write(path / "enable", 1)

    @property
    def value(self) -> float:
        return self._value

    @value.setter
    def value(self, duty: float) -> None:
        duty = min(1.0, max(0.0, float(duty)))
        self.sysfs.write(self.channel.path / "duty_cycle", round(duty * self.period))
        self._value = duty

    def close(self) -> None:
        path = self.channel.path
        for name, value in (("duty_cycle", 0), ("enable", 0)):
            try:
                self.sysfs.write(path / name, value)
            except OSError:
                pass
        try:
            self.sysfs.write(self.channel.chip / "unexport", self.channel.channel)
        except OSError as exc:
            if exc.errno != errno.EINVAL:  # not exported any more
                raise


class KernelPwmFactory:
    """Stands where a gpiozero pin factory stands for the Led: it opens its pins' channels (a
    CCT light on GPIO 18 and 19 has both of the block's)."""

    def __init__(
        self,
        pins: int | tuple[int, ...],
        *,
        model: str | None = None,
        root: Path = SYSFS_PWM,
        sysfs: Sysfs | None = None,
    ):
        self.sysfs = sysfs or Sysfs()
        pins = (pins,) if isinstance(pins, int) else tuple(pins)
        self.channels = {pin: find_channel(pin, model=model, root=root, sysfs=self.sysfs) for pin in pins}
        self.channel = self.channels[pins[0]]

    def open(self, pin: int | None = None, *, active_high: bool = True) -> KernelPwm:
        """The channel of ``pin`` (the first pin when None), opened."""
        channel = self.channel if pin is None else self.channels[pin]
        return KernelPwm(channel, sysfs=self.sysfs, active_high=active_high)

    def close(self) -> None:
        pass
