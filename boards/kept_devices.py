"""The LED's channel devices kept drivable through a lost chip or daemon: every call within its
deadline, the loss noted, and the devices opened again (the LED's look written back) when they
answer, checked by the one :class:`~boards.device_watch.DeviceWatch`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from boards.channel_devices import ChannelDevices
from boards.device_watch import DeviceWatch

log = logging.getLogger(__name__)


class KeptDevices:
    """The channel devices of one LED on its pin factory, and how they are kept.

    ``lock`` is the LED's: every method but :meth:`check_device` and :meth:`close` is called
    with it held, and those take it. With ``reconnect`` (a callable returning a fresh pin
    factory), a lost device is dropped and, every ``check_interval`` seconds, opened again;
    once it answers, ``restore()`` (called with the lock held) gives the duties to write back
    and ``on_back()`` says so. ``with_deadline(function, seconds)`` runs each call that could
    hang (the kernel's PWM, lgpio; pigpio's socket has its own deadline).
    """

    def __init__(
        self,
        pins: Sequence[int],
        pin_factory,
        *,
        factory_name: str,
        active_high: bool,
        lock: threading.Lock,
        restore: Callable[[], tuple[float, ...]],
        on_back: Callable[[], None],
        reconnect=None,
        check_interval: float = 1.0,
        with_deadline=None,
        deadline: float = 1.0,
    ):
        self.pins, self.pin_factory, self.factory_name = tuple(pins), pin_factory, factory_name
        self.pin = self.pins[0]  # as the watch's log names the LED
        self.pin_names = "GPIO" + "/".join(map(str, self.pins))
        self.error: str | None = None  # why the LED cannot be driven now; None when it can
        self._active_high, self._lock = active_high, lock
        self._restore, self._on_back = restore, on_back
        # A call past its deadline is left behind, and the device is not reopened until it returns.
        self._with_deadline, self._deadline = with_deadline, deadline
        self._hung: threading.Event | None = None  # set while a call past its deadline has not returned
        self.device: ChannelDevices | None = self.call(lambda: self._open(pin_factory))
        self._reconnect, self._check_interval = reconnect, check_interval
        self._stopped = threading.Event()
        if reconnect is not None:
            DeviceWatch.every(check_interval).add(self)

    def _open(self, pin_factory) -> ChannelDevices:
        return ChannelDevices(self.pins, pin_factory, active_high=self._active_high)

    def duties(self) -> tuple[float, ...]:
        """Each channel's duty cycle as last written (0..1), in the order of its pins."""
        device = self.device
        return device.duties if device is not None else (0.0,) * len(self.pins)

    def write(self, duties: tuple[float, ...], every: bool = False) -> None:
        """Write the channels whose duty changed, or ``every`` one; a failure is noted (the
        device dropped when it can be opened again) and raised as its library raised it."""
        try:
            device = self.device
            assert device is not None, "written while lost"
            self.call(lambda: device.force(duties) if every else device.write(duties))
        except Exception as exc:
            self._lost(exc)
            raise
        self.error = None

    def call(self, function):
        """``function()``, within the deadline when the device has one (TimeoutError past it)."""
        if self._with_deadline is None:
            return function()
        done = threading.Event()

        def call():
            try:
                return function()
            finally:
                done.set()

        try:
            return self._with_deadline(call, self._deadline)
        except TimeoutError:
            self._hung = done
            raise

    def _lost(self, exc: Exception) -> None:
        """Note the failure; with a reconnect, drop the dead connection (the lock is held)."""
        self.error = f"could not write {self.pin_names}: {exc or type(exc).__name__}"
        if self._reconnect is None or self.device is None:
            return
        log.error("lost the LED's %s device (%s); retrying every second", self.factory_name, exc or type(exc).__name__)
        self._drop_connection()
        self.device = None

    def _drop_connection(self) -> None:
        """Close pigpio's connection directly: gpiozero's close() would talk to the daemon
        first, and a dead or hung one makes each such call fail slowly (its notification
        thread was already stopped at connect)."""
        assert self.device is not None
        try:
            if hasattr(self.pin_factory, "connection"):  # pigpio's
                self.pin_factory.connection.stop()
            elif self._hung is not None:  # hung: closing would write to it and hang as well
                raise TimeoutError("the device hangs")
            else:
                self.device.close()
        except Exception:  # noqa: BLE001 - a dead device fails as its library likes
            # It could not be closed through its dead device: let go of gpiozero's reservation
            # of its pins, so that the devices opened when it answers again can take them.
            self.device.release(self.pin_factory)
        close_quietly(self.pin_factory)

    def check_device(self) -> None:
        """Is the device there? If it is gone, try to open it again and put the look back.
        Called every ``check_interval`` seconds by the :class:`DeviceWatch`."""
        if self._stopped.is_set():
            return
        with self._lock:
            if self.device is not None:
                try:
                    if hasattr(self.pin_factory, "connection"):  # pigpio: is its daemon there?
                        self.pin_factory.connection.get_current_tick()
                except Exception as exc:  # noqa: BLE001 - any failure of the daemon's answer is its loss
                    self._lost(exc)
                return
        # Reconnecting (a TCP probe, a new connection) happens outside the lock, so
        # sets, which fail at once while the daemon is gone, are never held up by it.
        if self._hung is not None:
            if not self._hung.is_set():
                return  # the call past its deadline is still stuck: no second one
            self._hung = None
        factory = None
        try:
            factory = self.call(self._reconnect)
            device = self.call(lambda: self._open(factory))
        except Exception as exc:  # noqa: BLE001 - still unavailable, however its library says so
            log.debug("%s still unavailable: %s", self.factory_name, exc)
            close_quietly(factory)
            return
        with self._lock:
            try:
                duties = self._restore()
                self.call(lambda: device.force(duties))
            except Exception as exc:  # noqa: BLE001 - gone again, however its library says so
                log.debug("%s went away again: %s", self.factory_name, exc)
                close_quietly(factory)
                return
            self.pin_factory, self.device, self.error = factory, device, None
            self._on_back()

    def close(self) -> None:
        """Release the pins (the LED goes dark) and the factory's resources (the lock is held)."""
        self._stopped.set()
        if self._reconnect is not None:
            DeviceWatch.every(self._check_interval).remove(self)
        try:
            if self.device is not None:
                self.device.close()
        except Exception:
            log.debug("closing the LED failed", exc_info=True)
            if self._reconnect is not None:
                self._drop_connection()  # a hung daemon: one deadline, not one per call
        finally:
            close_quietly(self.pin_factory)  # closing a dead pigpio connection may fail


def close_quietly(pin_factory) -> None:
    """Close a pin factory that may be dead already (a pigpio connection, a chip gone)."""
    try:
        if pin_factory is not None:
            pin_factory.close()
    except Exception:
        log.debug("closing a pin factory failed", exc_info=True)
