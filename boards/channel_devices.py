"""The PWM outputs of one light's channels, opened together on its pin factory: one for a
single-channel light, three for an RGB light, two for a CCT light.

All of them open or none (a pin that fails closes the ones already open), a write sets only
the channels whose duty changed (an RGB fade of one colour writes one pin, not three), and
closing closes each, whatever the others do. gpiozero's ``PWMLED`` on a gpiozero factory;
the kernel's own PWM on :class:`boards.kernel_pwm.KernelPwmFactory`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from adapters.gpio_stack import mark_closed

log = logging.getLogger(__name__)


class ChannelDevices:
    """The outputs of ``pins`` on ``pin_factory``; ``active_high`` false for a common-anode LED."""

    def __init__(self, pins: Sequence[int], pin_factory, *, active_high: bool = True):
        self.pins = tuple(pins)
        self.devices: list = []
        try:
            for pin in self.pins:
                self.devices.append(_open(pin_factory, pin, active_high))
        except Exception:
            self.close()
            raise
        self.duties: tuple[float, ...] = (0.0,) * len(self.pins)  # as last written

    def write(self, duties: tuple[float, ...]) -> None:
        """Set each channel's duty cycle (0..1); the ones that have not changed are left alone.
        A failure raises from the device's library, with the channels before it written."""
        written = list(self.duties)
        try:
            for index, (device, duty) in enumerate(zip(self.devices, duties, strict=True)):
                if duty != written[index]:
                    device.value = duty
                    written[index] = duty
        finally:
            self.duties = tuple(written)

    def force(self, duties: tuple[float, ...]) -> None:
        """Set every channel, changed or not (a device opened again starts from nothing)."""
        for device, duty in zip(self.devices, duties, strict=True):
            device.value = duty
        self.duties = tuple(duties)

    def close(self) -> None:
        """Close every channel; the first failure is raised once all have been tried."""
        failure = None
        for device in self.devices:
            try:
                device.close()
            except Exception as exc:  # noqa: BLE001 - a dead device fails as its library likes
                failure = failure or exc
        if failure is not None:
            raise failure

    def release(self, pin_factory) -> None:
        """Let go of gpiozero's reservation of each pin, when the devices cannot be closed
        through their dead connection, so that devices opened again can take the pins."""
        for device in self.devices:
            try:
                pin_factory.release_all(device)
            except Exception:  # noqa: BLE001 - the reservation may be gone with the device
                log.debug("releasing a pin failed", exc_info=True)
            if not hasattr(pin_factory, "open"):  # a gpiozero device: never closed again when collected
                mark_closed(device)


def _open(pin_factory, pin: int, active_high: bool):
    if hasattr(pin_factory, "open"):  # kernel_pwm.KernelPwmFactory: the pin's own channel
        return pin_factory.open(pin, active_high=active_high)
    from gpiozero import PWMLED

    return PWMLED(pin, pin_factory=pin_factory, active_high=active_high)
