"""The light: the one source of truth for the LED's state, whichever door a command came in by.

Transport-free. Commands come in as :mod:`protocol`'s parsed objects; the new state
goes out to the listeners it is given (the WebSocket hub is one), and the answer to
a request goes to the ``reply`` callable its caller passes. Changes are made one at
a time, and each is published under one lock, so every listener and every requester
sees the changes in the same order; a read never waits for a slow LED write.
Nothing here knows of Flask, sockets, gevent or the hub.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import protocol
from lamp import state
from lamp.asked import Asked, Note, Replier, StateListener
from lamp.colours import check_tone, look_of, starting_tone
from lamp.light_effects import EffectsMixin
from lamp.light_scenes import ScenesMixin
from lamp.light_sleep import SleepMixin
from lamp.next_state import change_text, colour_of, next_state, shows, tone_of
from lamp.running_effect import RunningEffect
from lamp.sleep_timer import SleepTimer
from limits.loglimit import LogLimiter
from protocol import State

if TYPE_CHECKING:
    from lamp.schedules import Schedules

log = logging.getLogger(__name__)


def new_changes_log() -> LogLimiter:
    """The log of changes that a service's lights share: a few lines a period per origin
    (a client, a schedule), the rest counted into one line."""
    return LogLimiter(log, "changes", overall=100)


class Light(EffectsMixin, SleepMixin, ScenesMixin):
    """Drives the LED, counts its changes and tells every listener of each one.

    ``requester`` is an opaque token a door passes with a command: the listeners are
    told who it was (the hub skips that client, which gets the ``reply`` instead).
    """

    def __init__(
        self,
        led,
        *,
        name: str = protocol.DEFAULT_LIGHT_NAME,
        brightness: int = 50,
        on: bool = True,
        tone: protocol.Tone | None = None,
        state_file: state.StateFile | state.LightRecord | None = None,
        log_prefix: str = "",
        default_transition: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        scheduler=None,
        wall_clock: Callable[[], float] = time.time,
        changes_log: LogLimiter | None = None,
    ):
        """``tone`` is the colour a colour light starts in (its default when it cannot show it).
        ``scheduler`` runs the sleep timer: ``call_at(unix_seconds, fn)`` returning a
        handle with ``cancel()`` (timers.Scheduler; a fake one in tests). ``state_file``
        keeps this light's line of the state file. ``changes_log`` writes a line per change,
        a few a period per origin (one shared by every light of a service)."""
        self.name = name
        self.log_prefix = log_prefix  # "NAME: " when the service has several lights (app.py)
        self.changes_log = changes_log or new_changes_log()
        self.led = led
        self.scheduler = scheduler
        self.schedules: Schedules | None = None  # what takes schedule commands, when wired (app.py)
        self._sleep = SleepTimer(scheduler, wall_clock)
        self.default_transition = default_transition
        self.state_file = state_file
        self._clock = clock
        self.started = clock()
        # Two locks: _changing makes changes one at a time (it is held across the LED write,
        # which a hung pigpio daemon can make last its whole deadline); _lock is held only to
        # publish or read the state, so readers and new clients never wait on the hardware.
        self._changing = threading.Lock()
        self._lock = threading.Lock()
        self._listeners: list[StateListener] = []
        self._frozen = False  # set by stop_changes(): shutdown has begun
        self._running = RunningEffect()
        self.channels = led.channels  # what kind of light it is: the colours it can show
        brightness = protocol.parse_level(brightness)
        if brightness == 0:
            raise ValueError("brightness is what 'on' shows: 1..100 (use on=False for off)")
        color, kelvin = starting_tone(self.channels, *(tone or ("", 0)))
        self._state = State(brightness, bool(on), 0, light=name, color=color or "", kelvin=kelvin or 0)
        led.set_look(look_of(self.channels, self._state))

    def add_listener(self, listener: StateListener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def _current(self) -> State:
        """The state with what is left of its fade and of the sleep timer (lock held)."""
        return self._with_sleep(self._state._replace(transition=round(self.led.fade_remaining(), 3)))

    def _with_sleep(self, current: State) -> State:
        remaining = self._sleep.remaining()
        if remaining is None:
            return current
        return current._replace(sleep_at=remaining[0], sleep_in=remaining[1])

    def state(self) -> State:
        """The state, its ``transition`` being what is left of the fade to it."""
        with self._lock:
            return self._current()

    def read(self, use: Callable[[State], object]):
        """Call ``use(state)`` under the ordering lock: no change can come between.

        A door that adds a listener of its own (a new WebSocket client) sends the state
        it reads here first, so the client misses no change and sees none twice.
        """
        with self._lock:
            return use(self._current())

    def execute(
        self,
        command: protocol.Command,
        *,
        origin: str,
        requester: object = None,
        reply: Replier | None = None,
        note: Note | None = None,
    ) -> protocol.Reply:
        """Carry out one command and return its answer; ``reply`` gets it under the lock.

        ``origin`` names the door and the client in the log; ``note``, when given, takes the
        change's log line instead. Raises ProtocolError for a command this light does not
        handle and HardwareError when the LED cannot be set; nothing changes then, and no
        listener is told.
        """
        asked = Asked(origin, requester, reply, note)
        match command:
            case protocol.SetLevel() | protocol.SetPower() | protocol.Toggle() | protocol.Step():
                return self._change(command, asked)
            case protocol.SetColor():
                check_tone(self.channels, tone_of(command), self.name, command.request_id)
                return self._change(command, asked)
            case protocol.SetEffect():
                return self._set_effect(command, asked)
            case protocol.Sleep():
                return self._set_sleep(command, asked)
            case protocol.PutSchedule() | protocol.DeleteSchedule() if self.schedules is not None:
                if isinstance(command, protocol.PutSchedule):  # a colour it could never show is refused now
                    check_tone(self.channels, tone_of(command.action), self.name, command.request_id)
                return self.schedules.execute(command, origin=origin, requester=requester, reply=reply, note=note)
            case protocol.GetState():
                with self._lock:
                    answer = self._current()
                    if reply is not None:
                        reply(answer)
                return answer
            case protocol.Ping():
                pong = protocol.Pong()
                if reply is not None:
                    reply(pong)
                return pong
            case _:
                log.error("no handler for %r from %s", command, origin)
                raise protocol.ProtocolError(
                    protocol.UNKNOWN_TYPE,
                    f"{type(command).__name__} is not handled by this server",
                    getattr(command, "request_id", None),
                )

    def _change(self, command: protocol.LightChange, asked: Asked) -> State:
        """Apply a level, power, toggle, step or colour command; tell the listeners if anything
        changed. Raises HardwareError (nothing changes then, and no one is told)."""
        with self._changing:
            old = self._state
            target = next_state(old, command)
            # A change of the state, or one that ends an effect (from the look it shows: no jump).
            changed = (shows(target) != shows(old) or bool(old.effect)) and not self._frozen  # not after shutdown
            if changed:
                transition = self.default_transition if command.transition is None else command.transition
                self.led.set_look(look_of(self.channels, target), transition)  # raises HardwareError
            with self._lock:
                new = None
                if changed:
                    self._sleep.cancel()  # any change ends the sleep timer (and its own firing is one)
                    self._running.stop()
                    self._state = target._replace(seq=old.seq + 1, effect="")
                    seen = old.level != target.level or (target.on and colour_of(old) != colour_of(target))
                    new = self._state._replace(transition=round(transition, 3) if seen else 0.0)
                new = self._answer(new, asked)
        if changed:
            self.tell(
                asked.origin,
                asked.note,
                "%s%s",
                change_text(old, new),
                f" over {new.transition:g} s" if new.transition else "",
                seq=new.seq,
            )
        return new

    def tell(self, origin: str, note: Note | None, what: str, *args, seq: int | None = None) -> None:
        """One change's log line, ``what % args`` and the ``seq`` it made: to ``note`` when given
        (without the seq, so that every light's same change reads the same), else to the log
        (``changes_log``: a few lines a period per origin, the rest counted)."""
        if note is not None:
            note(self.name, what % args)
        elif seq is None:
            self.changes_log.info(str(origin), "%s" + what + " by %s", self.log_prefix, *args, origin)
        else:
            self.changes_log.info(str(origin), "%s" + what + " (seq %d) by %s", self.log_prefix, *args, seq, origin)

    def _answer(self, new: State | None, asked: Asked) -> State:
        """After a command (lock held): publish ``new`` if it changed the light, else read the
        state as it is; either way, the requester's reply."""
        if new is not None:
            self._publish(new, asked.requester)
        else:
            new = self._current()
        if asked.reply is not None:
            asked.reply(new)
        return new

    def _publish(self, new: State, requester: object, save: bool = True) -> None:
        """A change is made (lock held): onto the disk soon (``save``), and to every listener now."""
        if save and self.state_file is not None:
            self.state_file.save_soon(
                new.brightness, new.on, self.kept_effect(), tone=protocol.Tone(new.color or None, new.kelvin or None)
            )
        for listener in self._listeners:
            listener(new, requester)

    def stop_changes(self) -> None:
        """Accept no more changes (shutdown has begun) and put the last state on disk.

        Waits for a change under way: at most one LED write, bounded by the pigpio deadline.
        """
        with self._changing:
            if self._frozen:
                return
            self._frozen = True
        if self.state_file is not None:
            self.state_file.flush()  # no change can follow: the level saved is the last one sent

    def release(self) -> None:
        """Release the GPIO (the LED goes dark)."""
        self.led.close()

    def uptime(self) -> float:
        """Seconds since the light was made."""
        return self._clock() - self.started
