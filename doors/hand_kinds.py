"""What a person's gesture on each kind of input does to its light: a push button's clicks,
double-clicks and holds (dimming like a wall dimmer, with its end-of-range dip), a latching
switch's flips, a knob's detents and push. Each hand is fed its pins' edges and the time by
the inputs' door (:mod:`doors.hands`) and acts through :class:`Lamp`: the same commands every
door sends, at most ``CHANGES_PER_SECOND`` of them.
"""

from __future__ import annotations

import logging
import math
import time
from typing import NamedTuple

import protocol
from curves.effects import Dip
from curves.gestures import Acceleration, ButtonGestures, Debounce, Detents, Gesture, SwitchGestures
from lamp.input_specs import InputKind, InputSpec
from lamp.lights import Lights
from limits.budget import Budget
from limits.loglimit import LogLimiter

log = logging.getLogger(__name__)

HOLD_SWEEP = 3.0  # seconds a hold takes to dim through the whole range
LOWEST = 1  # a hold dims down to here, never off
CHANGES_PER_SECOND = 10  # an input's changes of the light, at most (a knob's are summed in between)
ENCODER_STEP = 5  # levels a knob's detent moves, turned slowly
KELVIN_STEP = 100  # kelvin a knob's detent moves while pressed, on a colour light
KNOB_EFFECTS = ("", "breathe", "candle", "blink")  # what pressing and turning steps through on one channel


class Event(NamedTuple):
    """What an input did last, for /healthz."""

    what: str  # a gesture ("click", "hold", ...), "turn", "push", "noise"
    at: float  # Unix seconds


class Lamp:
    """What a hand needs of the lamp: a command carried out for one light from the input's name,
    the light's state and the level it shows, and the end-of-range dip on its LED."""

    def __init__(self, lights: Lights, errors: LogLimiter, clock, scenes=None):
        self.lights, self.errors, self.clock, self.scenes = lights, errors, clock, scenes

    def recall(self, spec: InputSpec, scene: str) -> None:
        """Bring the scene back, as any door does (a scene deleted meanwhile: said, nothing else)."""
        try:
            if self.scenes is None:
                raise LookupError("this service has no scenes")
            self.scenes.execute(protocol.RecallScene(scene), origin=spec.name)
        except Exception as exc:  # noqa: BLE001 - a scene gone, a lost LED: said, and the hand goes on
            self.errors.warning(spec.name, "%s: scene %s: %s", spec.name, scene, exc)

    def run(self, spec: InputSpec, command: protocol.Command) -> None:
        try:
            self.lights.execute(spec.light, command, origin=spec.name)
        except Exception as exc:  # noqa: BLE001 - a refused change or a lost LED: said, and the hand goes on
            self.errors.warning(spec.name, "%s on %s: %s", spec.name, spec.light, exc)

    def state(self, spec: InputSpec) -> protocol.State:
        return self.lights.get(spec.light).state()

    def shown(self, spec: InputSpec) -> float:
        return self.lights.get(spec.light).led.shown()

    def kelvin_range(self, spec: InputSpec) -> tuple[int, int] | None:
        return self.lights.get(spec.light).channels.kelvin_range

    def dip(self, spec: InputSpec, now: float) -> None:
        led = self.lights.get(spec.light).led
        try:
            led.start_effect(lambda shown, began: Dip(led.shown_look(), began), led.look)
        except Exception as exc:  # noqa: BLE001 - a lost LED: said once
            self.errors.warning(spec.name, "%s: no dip on %s: %s", spec.name, spec.light, exc)


class Hand:
    """One input's reading: its edges in, its gestures out as changes of its light."""

    def __init__(self, spec: InputSpec, lamp: Lamp):
        self.spec, self.lamp = spec, lamp
        self.last: Event | None = None
        # 10 a second, in bursts of 2 at most (a double-click's toggle and full brightness)
        self.changes = Budget(CHANGES_PER_SECOND, 2, clock=lamp.clock)

    def edge(self, pin: int, level: int, now: float) -> None:
        raise NotImplementedError

    def tick(self, now: float) -> None:
        raise NotImplementedError

    def due(self) -> float | None:
        raise NotImplementedError

    def tell(self, what: str) -> None:
        self.last = Event(what, time.time())

    def change(self, command: protocol.Command) -> None:
        """Carry out ``command``, within the input's budget of changes (past it, dropped: a
        line that makes more than a person can is noise)."""
        if self.changes.take():
            self.lamp.run(self.spec, command)
        else:
            self.lamp.errors.warning(
                self.spec.name, "%s: more than %d changes a second, dropped", self.spec.name, CHANGES_PER_SECOND
            )


class Dimming(NamedTuple):
    down: bool
    ends_at: float


class ButtonHand(Hand):
    """A push button: click toggles, double-click full, hold dims; or a latching switch: every flip toggles."""

    def __init__(self, spec: InputSpec, lamp: Lamp, level: int):
        super().__init__(spec, lamp)
        self.gestures = SwitchGestures(level) if spec.kind is InputKind.SWITCH else ButtonGestures()
        self.dimming: Dimming | None = None
        self.dimmed_down = False  # which way the last hold went: the next goes the other way

    def edge(self, pin: int, level: int, now: float) -> None:
        for gesture in self.gestures.edge(level, now):
            self.act(gesture, now)

    def tick(self, now: float) -> None:
        for gesture in self.gestures.tick(now):
            self.act(gesture, now)
        if self.dimming is not None and now >= self.dimming.ends_at:
            self.dimming = self.dimming._replace(ends_at=float("inf"))  # at the end: said once, then still
            self.lamp.dip(self.spec, now)

    def due(self) -> float | None:
        times = [self.gestures.due(), self.dimming.ends_at if self.dimming is not None else None]
        return min((t for t in times if t is not None and t != float("inf")), default=None)

    def act(self, gesture: Gesture, now: float) -> None:
        self.tell(gesture)
        if gesture in (Gesture.CLICK, Gesture.FLIP):
            self.change(protocol.Toggle())
        elif gesture is Gesture.DOUBLE_CLICK and self.spec.scene is not None:
            if self.changes.take():
                self.lamp.recall(self.spec, self.spec.scene)
        elif gesture is Gesture.DOUBLE_CLICK:
            self.change(protocol.SetLevel(100))
        elif gesture is Gesture.HOLD:
            self.start_dimming(now)
        elif gesture is Gesture.RELEASE:
            self.stop_dimming()

    def start_dimming(self, now: float) -> None:
        """Up if the light is off or was last dimmed down, else down; the other way at an end."""
        state = self.lamp.state(self.spec)
        shown = self.lamp.shown(self.spec) if state.on else 0.0
        down = state.on and not self.dimmed_down
        if down and shown <= LOWEST or not down and shown >= 100:
            down = not down
        target = LOWEST if down else 100
        duration = HOLD_SWEEP * abs(target - shown) / 100
        self.dimmed_down = down
        self.dimming = Dimming(down, now + duration)
        self.change(protocol.SetLevel(target, transition=round(duration, 3)))

    def stop_dimming(self) -> None:
        """Released: stay at the level shown, the whole level just past it in the way it went (never
        a step back); nothing to do once the end was reached."""
        dimming, self.dimming = self.dimming, None
        if dimming is not None and dimming.ends_at != float("inf"):
            shown = self.lamp.shown(self.spec)
            level = min(100, max(LOWEST, math.floor(shown) if dimming.down else math.ceil(shown)))
            self.change(protocol.SetLevel(level))


class EncoderHand(Hand):
    """A rotary knob: each detent a step of the level (more when spun fast), its push toggles,
    and turned while pushed, the white of a colour light or the effect of a single channel."""

    def __init__(self, spec: InputSpec, lamp: Lamp, levels: dict[int, int], *, step: int = ENCODER_STEP):
        super().__init__(spec, lamp)
        self.a, self.b = spec.pins[0], spec.pins[1]
        self.push_pin = spec.pins[2] if len(spec.pins) > 2 else None
        self.levels = dict(levels)
        self.detents = Detents(levels[self.a], levels[self.b])
        self.push = Debounce(levels[self.push_pin]) if self.push_pin is not None else None
        self.step, self.acceleration = step, Acceleration()
        self.last_detent = float("-inf")
        self.turned_while_pushed = False
        self.pending = 0  # detents (weighted) not yet told, turned free
        self.pending_pushed = 0  # detents turned while pushed
        self.next_change = float("-inf")

    @property
    def pushed(self) -> bool:
        return self.push is not None and self.push.level == 0

    def edge(self, pin: int, level: int, now: float) -> None:
        self.levels[pin] = level
        if pin == self.push_pin:
            assert self.push is not None
            if self.push.edge(level, now):
                self.pushed_or_released()
        else:
            detent = self.detents.edge(self.levels[self.a], self.levels[self.b])
            if detent:
                weight = self.acceleration.factor(now - self.last_detent)
                self.last_detent = now
                if self.pushed:
                    self.turned_while_pushed = True
                    self.pending_pushed += detent
                else:
                    self.pending += detent * weight
        self.tick(now)

    def pushed_or_released(self) -> None:
        if self.pushed:
            self.turned_while_pushed = False
        elif not self.turned_while_pushed:  # a push without a turn: toggle
            self.tell("push")
            self.change(protocol.Toggle())

    def tick(self, now: float) -> None:
        if self.push is not None and self.push.tick(now):
            self.pushed_or_released()
        if (self.pending or self.pending_pushed) and now >= self.next_change:
            self.next_change = now + 1 / CHANGES_PER_SECOND
            self.tell("turn")
            if self.pending:
                delta = max(-100, min(100, self.pending * self.step))
                self.pending = 0
                self.change(protocol.Step(delta, transition=round(1 / CHANGES_PER_SECOND, 3)))
            if self.pending_pushed:
                detents, self.pending_pushed = self.pending_pushed, 0
                self.turn_pushed(detents)

    def due(self) -> float | None:
        times = [self.push.due() if self.push is not None else None]
        if self.pending or self.pending_pushed:
            times.append(self.next_change)
        return min((t for t in times if t is not None), default=None)

    def turn_pushed(self, detents: int) -> None:
        """A colour light's white moves by KELVIN_STEP a detent; a single channel's effect steps."""
        state = self.lamp.state(self.spec)
        whites = self.lamp.kelvin_range(self.spec)
        if whites is not None:
            low, high = whites
            kelvin = min(high, max(low, (state.kelvin or (low + high) // 2) + detents * KELVIN_STEP))
            self.change(protocol.SetColor(protocol.Tone(kelvin=kelvin)))
            return
        index = KNOB_EFFECTS.index(state.effect) if state.effect in KNOB_EFFECTS else 0
        name = KNOB_EFFECTS[(index + detents) % len(KNOB_EFFECTS)]
        self.change(protocol.parse_message({"effect": name or None}))
