"""The pins of buttons and knobs, read on a pin factory: the internal pull-up (each input is
wired to ground), both edges, and each change handed on with its level and the instant it came.

gpiozero's pin (not its ``Button``): its ``when_changed`` is called from the factory's own
thread (lgpio's notification thread, pigpio's callback thread, the caller of a simulated pin's
``drive_low``), and what is done with a change happens on the service's loop
(:mod:`doors.hands`), so nothing here keeps state but the pin.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

# Seconds a level must be steady before the factory reports it (pigpio's glitch filter, lgpio's
# debounce, in the daemon or the kernel): noise faster than that never reaches the service. A
# button's contacts are slow; a knob's quarter steps come every 250 µs at 1,000 detents a second.
BUTTON_FILTER = 0.001
KNOB_FILTER = 0.0001


class InputPin:
    """One input pin; ``changed(number, level, instant)`` is called on each edge, from the
    factory's thread. :meth:`close` lets the pin go."""

    def __init__(
        self,
        factory,
        number: int,
        changed: Callable[[int, int, float], None],
        *,
        steady: float = BUTTON_FILTER,
        clock=time.monotonic,
    ):
        self.number, self._changed, self._clock = number, changed, clock
        self.pin = factory.pin(number)
        try:
            self.pin.function = "input"
            self.pin.pull = "up"
            try:
                self.pin.bounce = steady
            except Exception:  # noqa: BLE001 - a factory without a filter: the gestures debounce anyway
                log.debug("GPIO%d: no hardware debounce", number)
            self.pin.edges = "both"
            self.pin.when_changed = self._edge  # gpiozero keeps a weak reference: this object keeps it alive
        except Exception:
            self.close()
            raise

    @property
    def level(self) -> int:
        return int(self.pin.state)

    def _edge(self, ticks, state) -> None:
        self._changed(self.number, int(state), self._clock())

    def close(self) -> None:
        try:
            self.pin.when_changed = None
            self.pin.close()
        except Exception:  # noqa: BLE001 - a factory gone already
            log.debug("closing GPIO%d failed", self.number, exc_info=True)
