"""The LED a light drives: its look through its channels (one, or three for RGB, two for warm
and cold white) to each pin's duty cycle, by its one writer for fades and effects, on devices
:mod:`boards.kept_devices` keeps (opened again when they come back).

Nothing here touches hardware at import: :func:`open_led` does, when the app is built, on
the pin factory :mod:`boards.pins` chose for the light (or a simulation on a laptop).
"""

from __future__ import annotations

import logging
import os
import threading
import time

from boards.kept_devices import KeptDevices
from boards.pins import (
    DEFAULT_PIGPIO_TIMEOUT,
    PigpioUnavailable,
    PinFactory,
    make_pin_factory,
    pigpio_address,
    pigpio_answers,
)
from curves.brightness import Curve
from curves.looks import Channels, Fade, Look, SingleChannel

log = logging.getLogger(__name__)

FADE_RATE = 60  # fade steps a second: smooth to the eye, one short pigpio command each


class HardwareError(Exception):
    """Writing to the LED failed (for example, the pigpio daemon went away)."""


class Led:
    """One LED as a look (a level from 0 to 100 in a tint), through its channels
    (:mod:`curves.looks`: the brightness curve, and the colour for an RGB or CCT light) to
    each PWM channel's duty cycle.

    ``set_look`` (``set_level``: the level alone) jumps, or fades over ``transition``
    seconds: a fader thread (a greenlet under gevent) writes ``fade_rate`` steps a second
    along an ease curve, and a new look mid-fade starts from the look shown at that instant.
    ``start_effect`` runs an effect (:mod:`effects`) on the same fader, the one writer of
    the LED, and a new look or effect takes over from the look shown. ``clock`` and
    ``sleep`` are the fader's time (tests pass a fake pair that needs no waiting).

    With ``reconnect`` (a callable returning a fresh pin factory), a watcher checks the
    device every ``check_interval`` seconds (:class:`~boards.kept_devices.KeptDevices`). When
    it is gone, the LED reports the error, and as soon as it answers again it is reopened and
    the look asked for written back.
    """

    def __init__(
        self,
        pin: int | tuple[int, ...] = 21,
        *,
        pin_factory,
        factory_name: str | None = None,
        reconnect=None,
        check_interval: float = 1.0,
        curve: Curve = Curve("cie"),
        channels: Channels | None = None,
        active_high: bool = True,
        fade_rate: float = FADE_RATE,
        clock=time.monotonic,
        sleep=None,
        with_deadline=None,
        deadline: float = DEFAULT_PIGPIO_TIMEOUT,
    ):
        """``pin`` is the light's pin, or its pins in ``channels``' order (red, green, blue;
        warm, cold); ``channels`` its kind (a single channel through ``curve`` when None)."""
        self.pins = (pin,) if isinstance(pin, int) else tuple(pin)
        self.pin = self.pins[0]
        self.factory_name = factory_name or _factory_name(pin_factory)
        self.channels = channels or SingleChannel(curve)
        if len(self.channels.roles) != len(self.pins):
            raise ValueError(f"a {self.channels.kind} light has {len(self.channels.roles)} pins, got {len(self.pins)}")
        self.curve = self.channels.curve
        self.active_high = active_high
        self.look = Look(0, self.channels.white)  # the look asked for: where a fade is going
        self._shown = self.look  # the look written last: where a fade is now
        self._lock = threading.Lock()
        self._fade: Fade | None = None
        self._fader: threading.Thread | None = None
        self._effect_done = None  # called when the effect that runs ends by itself (a flash)
        # time.sleep is looked up at each call: under gevent it is patched when serving starts, after
        # this module was imported, and the unpatched one would stall every connection.
        self._fade_rate, self._clock = fade_rate, clock
        self._sleep = sleep or (lambda seconds: time.sleep(seconds))
        self._stopped = threading.Event()
        # with_deadline(function, seconds): a device call that could hang runs with a deadline
        # (the kernel's PWM, lgpio; pigpio's socket has its own).
        self._devices = KeptDevices(
            self.pins,
            pin_factory,
            factory_name=self.factory_name,
            active_high=active_high,
            lock=self._lock,
            restore=self._put_back,
            on_back=self._back,
            reconnect=reconnect,
            check_interval=check_interval,
            with_deadline=with_deadline,
            deadline=deadline,
        )

    @property
    def pin_factory(self):
        """The pin factory the devices are open on now (a new one after a reconnect)."""
        return self._devices.pin_factory

    @property
    def error(self) -> str | None:
        """Why the LED cannot be driven now; None when it can."""
        return self._devices.error

    @property
    def level(self) -> float:
        """The level asked for: where a fade is going."""
        return self.look.level

    @property
    def simulated(self) -> bool:
        return self.factory_name == PinFactory.MOCK

    @property
    def pin_names(self) -> str:
        """The light's pins as the log and the errors name them: ``GPIO21``, ``GPIO17/27/22``."""
        return "GPIO" + "/".join(map(str, self.pins))

    def shown(self) -> float:
        """The level the LED shows at this instant (between two levels during a fade)."""
        return self._shown.level

    def shown_look(self) -> Look:
        """The look the LED shows at this instant (between two during a fade)."""
        return self._shown

    def duties(self) -> tuple[float, ...]:
        """Each channel's duty cycle as last written (0..1), in the order of its pins."""
        return self._devices.duties()

    def set_level(self, level: int, transition: float = 0.0) -> None:
        """Drive the LED to ``level`` in the tint it has, at once or fading over ``transition`` s."""
        self.set_look(Look(level, self.look.tint), transition)

    def set_look(self, look: Look, transition: float = 0.0) -> None:
        """Drive the LED to ``look``, at once or fading over ``transition`` s.

        Raises HardwareError if the pin cannot be written: the first step is written
        here, so a dead or hung daemon fails the call itself.
        """
        with self._lock:
            if self._devices.device is None:
                raise HardwareError(f"{self.error}; reconnecting")
            if transition > 0 and self._shown != look:
                now = self._clock()
                fade = Fade(self._shown, look, now, transition, self.channels.path(self._shown, look))
                self._write(fade.look_at(now), every=True)
                self._run(fade)
            else:
                self._fade = None
                self._write(look, every=True)
            self.look = look

    def start_effect(self, make, look: Look, on_done=None):
        """Run the shape ``make(shown, now)`` builds (:func:`effects.shape_for`) on the fader,
        from the level shown; ``look`` is the light's, where it goes back to when the effect
        stops. ``on_done(shape)`` is called (outside the lock) when the shape has ended by
        itself (a flash; one that goes on with the effect before it has ended too) or a write
        failed. Returns the shape.

        Raises HardwareError if the pin cannot be written (its first look is written here).
        """
        with self._lock:
            if self._devices.device is None:
                raise HardwareError(f"{self.error}; reconnecting")
            now = self._clock()
            shape = make(self._shown.level, now)
            self._write(shape.look_at(now), every=True)
            self._effect_done = on_done
            self._run(shape)
            self.look = look
            return shape

    def running(self):
        """The fade or effect the writer runs now (None at rest)."""
        return self._fade

    def _run(self, running) -> None:
        """Hand the one writer a fade or an effect (lock held), starting it if it has ended."""
        self._fade = running
        if self._fader is None:
            self._fader = threading.Thread(target=self._fade_loop, name="ledsock-fader", daemon=True)
            self._fader.start()

    def _write(self, look: Look, every: bool = False) -> None:
        """Write one look through the channels (lock held): the channels whose duty changed, or
        ``every`` one (the first step of a command); a failure becomes HardwareError."""
        try:
            self._devices.write(self.channels.duties(look), every)
        except Exception as exc:  # noqa: BLE001 - pigpio raises socket and struct errors, gpiozero its own
            self._fade = None
            raise HardwareError(self.error) from exc
        self._shown = look

    def fade_remaining(self) -> float:
        """Seconds until the fade under way reaches its level (0 when none, or an effect runs)."""
        fade = self._fade
        return fade.remaining(self._clock()) if isinstance(fade, Fade) else 0.0

    def _fade_loop(self) -> None:
        """Write the fade or effect under way, up to ``fade_rate`` levels a second; end when
        none is left (a light at rest has no fader: the next fade or effect starts one)."""
        step = 1 / self._fade_rate
        while not self._stopped.is_set():
            ended = None
            with self._lock:
                running = self._fade
                if running is None:
                    self._fader = None
                    return
                now = self._clock()
                done = running.done_at(now)
                look = running.target if done and isinstance(running, Fade) else running.look_at(now)
                then = getattr(running, "then", None)  # a flash over an effect: that effect goes on
                try:
                    if self._devices.device is None:  # the daemon went away: the reconnect puts the look back
                        done, then = True, None
                    elif look != self._shown:  # a blink's long on or off is not rewritten 60 times a second
                        self._write(look)
                except HardwareError:  # _write has stopped it
                    log.error("a %s stopped: %s", "fade" if isinstance(running, Fade) else running.name, self.error)
                    done, then = True, None
                if done and (self._fade is running or self._fade is None):
                    self._fade = then
                    if not isinstance(running, Fade):
                        ended = (running, self._effect_done)
                        if then is None:
                            self._effect_done = None
            if ended is not None and ended[1] is not None:
                ended[1](ended[0])  # outside the lock: the light publishes that the effect is over
            self._sleep(max(0.0, step - (self._clock() - now)))  # the write's own time counts
        with self._lock:
            self._fader = None

    def _put_back(self) -> tuple[float, ...]:
        """The duties to write when the devices are open again (the lock is held)."""
        return self.channels.duties(self.look)

    def _back(self) -> None:
        """The devices are open again with the look written back (the lock is held)."""
        self._shown = self.look
        log.warning(
            "the LED's %s device is back: %s at level %d again", self.factory_name, self.pin_names, self.look.level
        )

    def close(self) -> None:
        """Release the pin (the LED goes dark) and the factory's resources."""
        self._stopped.set()
        with self._lock:
            self._fade = None
            self._devices.close()


def _factory_name(pin_factory) -> str:
    return {
        "PiGPIOFactory": PinFactory.PIGPIO,
        "LGPIOFactory": PinFactory.LGPIO,
        "KernelPwmFactory": PinFactory.KERNEL,
    }.get(type(pin_factory).__name__, PinFactory.MOCK)


def open_led(
    pin: int | tuple[int, ...] = 21,
    *,
    pin_factory: str = PinFactory.MOCK,
    environ=os.environ,
    timeout: float = DEFAULT_PIGPIO_TIMEOUT,
    curve: Curve = Curve("cie"),
    channels: Channels | None = None,
    active_high: bool = True,
    with_deadline=None,
) -> Led:
    """Open the LED on BCM ``pin`` (a colour light's pins, in ``channels``' order) with a
    resolved factory name (``pigpio``, ``kernel``, ``lgpio`` or ``mock``); each call to the
    pigpio daemon gets ``timeout`` seconds."""
    factory = make_pin_factory(pin_factory, environ, timeout=timeout, pin=pin)

    def reconnect_pigpio():
        host, port = pigpio_address(environ)
        # Only a daemon that answers is reconnected to: it spares the log pigpio's banner,
        # and building a factory on a hung daemon would wait for it with no deadline.
        if not pigpio_answers(host, port, timeout=min(0.5, timeout)):
            raise PigpioUnavailable(f"no pigpio daemon answers at {host}:{port}")
        return make_pin_factory(PinFactory.PIGPIO, environ, timeout=timeout)

    def reopen():  # the kernel's PWM, lgpio: open the device again
        return make_pin_factory(pin_factory, environ, timeout=timeout, pin=pin)

    try:
        return Led(
            pin,
            pin_factory=factory,
            factory_name=pin_factory,
            curve=curve,
            channels=channels,
            active_high=active_high,
            reconnect=reconnect_pigpio
            if pin_factory == PinFactory.PIGPIO
            else None
            if pin_factory == PinFactory.MOCK
            else reopen,
            # pigpio's calls have their socket's deadline; a local device gets one here.
            with_deadline=None if pin_factory in (PinFactory.PIGPIO, PinFactory.MOCK) else with_deadline,
            deadline=timeout,
        )
    except Exception:
        factory.close()
        raise
