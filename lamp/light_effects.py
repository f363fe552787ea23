"""A light's effects: starting one (replacing the one that runs), stopping it, and its end by
itself (a flash over, a failed write). A mixin of :class:`lamp.light.Light`, as gpiozero builds
its devices from mixins: it works on the light's state, locks and LED."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import protocol
from curves import effects
from lamp.asked import Asked, Note
from lamp.colours import check_tone, effect_colours, look_of
from lamp.next_state import tone_of
from protocol import EffectName, State


class EffectsMixin:
    """``_set_effect`` for SetEffect commands, ``kept_effect`` for the state file,
    ``_effect_ended`` for the LED's fader."""

    # The light's (lamp.light.Light sets them).
    _state: State
    _changing: Any
    _lock: Any
    _frozen: bool
    _running: Any
    led: Any
    channels: Any
    name: str
    default_transition: float

    if TYPE_CHECKING:  # the light's own, which the mixin calls

        def _current(self) -> State: ...
        def _answer(self, new: State | None, asked: Asked) -> State: ...
        def _publish(self, new: State, requester: object, save: bool = True) -> None: ...
        def tell(self, origin: str, note: Note | None, what: str, *args, seq: int | None = None) -> None: ...

    def _set_effect(self, command: protocol.SetEffect, asked: Asked) -> State:
        """Start an effect (one that runs is replaced) or stop it (``effect`` None); tell the
        listeners. Breathe, candle and blink turn the light on at its brightness; a flash
        shows on or off and ends where the light was. Raises HardwareError (nothing changes)."""
        effect = command.effect
        check_tone(self.channels, tone_of(command), self.name, command.request_id)
        with self._changing:
            old = self._state
            if effect is None:
                changed = bool(old.effect) and not self._frozen
                if changed:  # back to the state's look, from the look shown
                    self.led.set_look(look_of(self.channels, old), self.default_transition)
            else:
                changed = not self._frozen and (effect != self._running.effect or effect.name is EffectName.FLASH)
                if changed:
                    on = old.on if effect.name is EffectName.FLASH else True
                    shape = self._start_effect(effect, old, on, then=self._running.interrupted(effect))
            with self._lock:
                new = None
                if changed:
                    if effect is None:
                        self._running.stop()
                        self._state = old._replace(seq=old.seq + 1, effect="")
                    else:
                        self._running.start(effect, shape)
                        self._state = old._replace(on=on, seq=old.seq + 1, effect=effect.name)
                    new = self._current()
                new = self._answer(new, asked)
        if changed:
            self.tell(
                asked.origin,
                asked.note,
                "%s",
                f"effect {effect.name} {effect.fields()}" if effect is not None else "effect stopped",
                seq=new.seq,
            )
        return new

    def _start_effect(self, effect: protocol.Effect, base: State, on: bool, then=None):
        """Start ``effect`` on the LED from the level shown, around ``base`` (its brightness and
        colour; where a flash ends), the light ``on`` after it; the shape (raises HardwareError)."""
        return self.led.start_effect(
            effects.shape_for(
                effect,
                top=base.brightness,
                back=look_of(self.channels, base),
                colours=effect_colours(self.channels, effect, base),
                seed=base.seq,
                then=then,
            ),
            look_of(self.channels, base._replace(on=on)),
            on_done=self._effect_ended,
        )

    def kept_effect(self) -> dict | None:
        """The effect that runs as the state file keeps it (a flash is not kept: it is over in
        seconds; the effect it interrupted is)."""
        return self._running.kept()

    def _effect_ended(self, shape) -> None:
        """The LED's fader: an effect ended by itself (a flash, back where the light was, or on
        with the effect it interrupted) or could not go on (a failed write). A new state for
        everyone, with the effect that runs now."""
        with self._changing:
            with self._lock:
                if self._frozen:
                    return
                resumed = self._running.ended(shape)
                if resumed is None:
                    return  # a later change or effect has taken over
                self._state = self._state._replace(seq=self._state.seq + 1, effect=self._running.name)
                new = self._current()
                self._publish(new, None)
        self.tell(
            f"light {self.name}",
            None,
            "effect %s over%s",
            shape.name,
            f", {new.effect} goes on" if resumed else "",
            seq=new.seq,
        )
