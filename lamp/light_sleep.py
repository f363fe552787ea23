"""A light's sleep timer as commands: set, replaced or cancelled, and its firing (off, fading as
asked). A mixin of :class:`lamp.light.Light`; the timer itself is :mod:`lamp.sleep_timer`'s."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import protocol
from lamp.asked import Asked, Note
from lamp.sleep_timer import Armed
from protocol import State

log = logging.getLogger(__name__)


class SleepMixin:
    """``_set_sleep`` for Sleep commands, and what happens when the timer fires."""

    # The light's (lamp.light.Light sets them).
    _state: State
    _changing: Any
    _lock: Any
    _frozen: bool
    _sleep: Any
    scheduler: Any

    if TYPE_CHECKING:  # the light's own, which the mixin calls

        def _current(self) -> State: ...
        def _publish(self, new: State, requester: object, save: bool = True) -> None: ...
        def _change(self, command: protocol.LightChange, asked: Asked) -> State: ...
        def tell(self, origin: str, note: Note | None, what: str, *args, seq: int | None = None) -> None: ...

    def _set_sleep(self, command: protocol.Sleep, asked: Asked) -> State:
        """Start (or restart) the sleep timer, or cancel it (``after`` None); tell the listeners."""
        if command.after is not None and self.scheduler is None:
            raise protocol.ProtocolError(protocol.UNKNOWN_TYPE, "this server has no sleep timer", command.request_id)
        with self._changing:
            with self._lock:
                had = self._sleep.cancel()
                if command.after is not None and not self._frozen:
                    self._sleep.start(command.after, command.transition, self._sleep_fired)
                changed = had or self._sleep.armed is not None
                new = self._timer_changed(asked.requester) if changed else self._current()
                if asked.reply is not None:
                    asked.reply(new)
        if command.after is not None:
            self.tell(
                asked.origin,
                asked.note,
                "sleep timer: off in %g s%s",
                command.after,
                f", fading over {command.transition:g} s" if command.transition else "",
                seq=new.seq,
            )
        elif changed:
            self.tell(asked.origin, asked.note, "sleep timer cancelled", seq=new.seq)
        return new

    def _timer_changed(self, requester: object) -> State:
        """The sleep timer was set or ended: a new seq, told to every listener (lock held)."""
        self._state = self._state._replace(seq=self._state.seq + 1)
        new = self._current()
        self._publish(new, requester, save=False)  # the timer is not kept across a restart
        return new

    def _sleep_fired(self, armed: Armed) -> None:
        """The sleep timer's time has come: off, fading as asked."""
        if self._sleep.armed is not armed:
            return  # cancelled or replaced meanwhile
        try:
            self._change(protocol.SetPower(False, transition=armed.transition), Asked("sleep timer"))
        except Exception:
            log.exception("the sleep timer could not turn the light off")
            return
        with self._lock:  # already off: nothing changed, but the timer is over
            if self._sleep.armed is armed:
                self._sleep.armed = None
                self._timer_changed(None)
