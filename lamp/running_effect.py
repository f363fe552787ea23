"""A light's running effect: which one runs, with its shape on the LED, and the effect a flash
interrupts, which goes on when the flash is over.

A flash is a notification: it must leave the lamp as it found it, a candle that ran included.
The light's one writer (:mod:`led`) hands the flash's shape on to the interrupted effect's,
which kept its time meanwhile; this record says which effect the state shows then. Transport-
free, and not locked: :class:`lamp.light.Light` holds its locks around every call.
"""

from __future__ import annotations

from typing import Any

import protocol
from protocol import EffectName


class RunningEffect:
    """What runs on a light: ``effect`` (its fields) and ``shape`` (on the LED), and ``resumed``,
    the (effect, shape) a flash interrupted."""

    def __init__(self) -> None:
        self.effect: protocol.Effect | None = None
        self.shape: Any = None  # to tell its own end from a later one's
        self.resumed: tuple[protocol.Effect, Any] | None = None

    def interrupted(self, starting: protocol.Effect) -> Any:
        """The shape that goes on after ``starting`` when it is a flash: the effect that runs now
        (or the one an earlier flash interrupted, when a flash follows a flash); None otherwise."""
        if starting.name is not EffectName.FLASH:
            return None
        if self.effect is not None and self.effect.name is not EffectName.FLASH:
            return self.shape
        return self.resumed[1] if self.resumed is not None else None

    def start(self, effect: protocol.Effect, shape: Any) -> None:
        """``effect`` now runs as ``shape``; a flash keeps what it interrupted, to go back to."""
        if effect.name is EffectName.FLASH:
            if self.effect is not None and self.effect.name is not EffectName.FLASH:
                self.resumed = (self.effect, self.shape)
        else:
            self.resumed = None
        self.effect, self.shape = effect, shape

    def stop(self) -> None:
        """No effect runs any more (a change of level, power or colour, or ``"effect": null``)."""
        self.effect = self.shape = self.resumed = None

    def ended(self, shape: Any) -> bool | None:
        """``shape`` has ended by itself (a flash) or could not go on: None when a later change or
        effect had already taken over (nothing to tell); True when the interrupted effect goes on
        (it runs again); False when none does."""
        if self.shape is not shape:
            return None
        resumed = self.resumed
        if resumed is not None and getattr(shape, "then", None) is resumed[1]:
            self.effect, self.shape = resumed
            self.resumed = None
            return True
        self.stop()
        return False

    @property
    def name(self) -> str:
        """The effect the state shows ("" for none)."""
        return self.effect.name if self.effect is not None else ""

    def kept(self) -> dict | None:
        """The effect as the state file keeps it: a flash is not kept (it is over in seconds),
        the effect it interrupted is (it will run on)."""
        if self.effect is not None and self.effect.name is not EffectName.FLASH:
            return self.effect.fields()
        return self.resumed[0].fields() if self.resumed is not None else None
