"""One thread that watches every LED's device (pigpiod, the kernel's PWM, lgpio) and opens it
again when it comes back, so that a light more costs no thread of its own."""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

log = logging.getLogger(__name__)


class Watched(Protocol):
    """What the watch needs of an LED's devices (kept_devices.KeptDevices): the pin it is
    named by, and a check of its device."""

    pin: int

    def check_device(self) -> None: ...


class DeviceWatch:
    """One thread that checks the devices of every LED that can reconnect, so that a light
    more costs no thread: each interval, each LED's ``check_device()`` (its KeptDevices') in turn."""

    _lock = threading.Lock()
    _by_interval: dict[float, DeviceWatch] = {}

    def __init__(self, interval: float):
        self.interval = interval
        self.leds: list[Watched] = []
        self._thread: threading.Thread | None = None

    @classmethod
    def every(cls, interval: float) -> DeviceWatch:
        with cls._lock:
            return cls._by_interval.setdefault(interval, cls(interval))

    def add(self, led: Watched) -> None:
        with self._lock:
            self.leds.append(led)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ledsock-led-watch", daemon=True)
                self._thread.start()

    def remove(self, led: Watched) -> None:
        with self._lock:
            if led in self.leds:
                self.leds.remove(led)

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)  # looked up at each call: gevent's once serving has begun
            with self._lock:
                leds = list(self.leds)
                if not leds:  # every LED closed: the next one starts a thread again
                    self._thread = None
                    return
            for led in leds:
                try:
                    led.check_device()
                except Exception:  # one device's fault must not end the others' checks
                    log.exception("checking GPIO%d's device failed", led.pin)
