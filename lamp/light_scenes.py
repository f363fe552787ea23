"""A light shown as a scene keeps it: power, brightness, colour or white and effect, reached in
one change and told as one state. A mixin of :class:`lamp.light.Light`, as its effects are."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import protocol
from lamp.asked import Asked, Note
from lamp.colours import check_tone, look_of
from protocol import State


class SceneLook(NamedTuple):
    """How one light of a scene looks: its power, brightness, colour or white, and its effect
    (its message's fields, as the state file keeps a running one; None: none)."""

    on: bool
    brightness: int
    color: str = ""
    kelvin: int = 0
    effect: dict | None = None

    def fields(self) -> dict[str, Any]:
        """As the state file keeps it."""
        kept: dict[str, Any] = {"on": self.on, "brightness": self.brightness}
        kept.update(protocol.Tone(self.color or None, self.kelvin or None).fields())
        if self.effect is not None:
            kept["effect"] = self.effect
        return kept

    @classmethod
    def from_fields(cls, kept: dict) -> SceneLook:
        """From the state file; ProtocolError or ValueError if it is not one this service wrote."""
        tone = protocol.parse_tone(kept)
        effect = kept.get("effect")
        if effect is not None:
            protocol.parse_message(effect)  # an effect this service can start
        brightness = protocol.parse_level(kept["brightness"])
        if not isinstance(kept["on"], bool) or brightness == 0:
            raise ValueError(f"not a scene's light: {kept!r}")
        return cls(kept["on"], brightness, tone.color or "", tone.kelvin or 0, effect)


class ScenesMixin:
    """``look_now`` for a scene's save, ``show`` for its recall."""

    # The light's (lamp.light.Light sets them).
    _state: State
    _changing: Any
    _lock: Any
    _frozen: bool
    _running: Any
    _sleep: Any
    led: Any
    channels: Any
    name: str
    default_transition: float

    if TYPE_CHECKING:  # the light's own, which the mixin calls

        def kept_effect(self) -> dict | None: ...
        def _answer(self, new: State | None, asked: Asked) -> State: ...
        def _start_effect(self, effect: protocol.Effect, base: State, on: bool, then=None) -> Any: ...
        def tell(self, origin: str, note: Note | None, what: str, *args, seq: int | None = None) -> None: ...

    def look_now(self) -> SceneLook:
        """How the light looks now, as a scene keeps it."""
        with self._lock:
            state, effect = self._state, self.kept_effect()
        return SceneLook(state.on, state.brightness, state.color, state.kelvin, effect if state.on else None)

    def show(self, look: SceneLook, transition: float | None, asked: Asked, scene: str) -> State:
        """Show ``look`` in one change: fading over ``transition`` s (None: the default), or its
        effect started from the level shown. A colour the light can no longer show (LIGHTS
        changed since) is left as it is. Raises HardwareError (nothing changes then)."""
        tone = protocol.Tone(look.color or None, look.kelvin or None)
        try:
            check_tone(self.channels, tone, self.name)
        except protocol.ProtocolError:
            tone = protocol.Tone()
        effect = None
        if look.effect is not None and look.on:
            started = protocol.parse_message(look.effect)
            effect = started.effect if isinstance(started, protocol.SetEffect) else None
        fade = self.default_transition if transition is None else transition
        with self._changing:
            old = self._state
            target = old._replace(
                on=look.on,
                brightness=look.brightness,
                color=tone.color or (old.color if tone == protocol.Tone() else ""),
                kelvin=tone.kelvin or (old.kelvin if tone == protocol.Tone() else 0),
            )
            changed = not self._frozen
            if changed and effect is not None:
                shape = self._start_effect(effect, target, on=True)
            elif changed:
                self.led.set_look(look_of(self.channels, target), fade)  # raises HardwareError
            with self._lock:
                new = None
                if changed:
                    self._sleep.cancel()  # a scene is a change like any other
                    if effect is not None:
                        self._running.start(effect, shape)
                    else:
                        self._running.stop()
                    self._state = target._replace(seq=old.seq + 1, effect=effect.name if effect is not None else "")
                    new = self._state._replace(transition=round(fade, 3) if effect is None else 0.0)
                new = self._answer(new, asked)
        if changed:
            self.tell(
                asked.origin,
                asked.note,
                "scene %s%s",
                scene,
                f" over {fade:g} s" if fade and effect is None else "",
                seq=new.seq,
            )
        return new
