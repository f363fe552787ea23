"""Hands on the lamp: push buttons, latching switches and rotary knobs wired to the board, as a
door like the others. Their edges come from the pin factory's thread through an
:class:`~serving.inbox.Inbox` to one reader on the service's loop, which turns them into what a
person did (:mod:`curves.gestures`) and that into the commands every door sends: a change by
hand is a change like any other (a new seq, every client and door told, the sleep timer
cancelled, an effect ended, a log line naming the input).

Bounded: each input's edges are taken at most ``EDGES_PER_SECOND`` (past that the line is
noise: counted, logged once a period, its latest level taken a second later), and what it
changes at most ``CHANGES_PER_SECOND`` (a knob's detents in between are summed into one step).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import NamedTuple

import protocol
from boards.input_pins import BUTTON_FILTER, KNOB_FILTER, InputPin
from curves.effects import Dip
from curves.gestures import Acceleration, ButtonGestures, Debounce, Detents, Gesture, SwitchGestures
from lamp.input_specs import InputKind, InputSpec
from lamp.lights import Lights
from limits.budget import Budget
from limits.loglimit import LogLimiter

log = logging.getLogger(__name__)

HOLD_SWEEP = 3.0  # seconds a hold takes to dim through the whole range
LOWEST = 1  # a hold dims down to here, never off
EDGES_PER_SECOND = 200  # a button's edges taken a second, at most; past it the line is noise
KNOB_EDGES_PER_SECOND = 2000  # a knob pin's: each changes twice a detent, 1,000 detents a second
CHANGES_PER_SECOND = 10  # an input's changes of the light, at most (a knob's are summed in between)
ENCODER_STEP = 5  # levels a knob's detent moves, turned slowly
KELVIN_STEP = 100  # kelvin a knob's detent moves while pressed, on a colour light
KNOB_EFFECTS = ("", "breathe", "candle", "blink")  # what pressing and turning steps through on one channel
NOISE_CHECK = 1.0  # seconds between looks at the edges dropped as noise
READS_PER_SECOND = 100  # the reader's wakes, at most


class Event(NamedTuple):
    """What an input did last, for /healthz."""

    what: str  # a gesture ("click", "hold", ...), "turn", "push", "noise"
    at: float  # Unix seconds


class Lamp:
    """What a hand needs of the lamp: a command carried out for one light from the input's name,
    the light's state and the level it shows, and the end-of-range dip on its LED."""

    def __init__(self, lights: Lights, errors: LogLimiter, clock):
        self.lights, self.errors, self.clock = lights, errors, clock

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
        """Released: stay at the level shown (nothing to do once the end was reached)."""
        dimming, self.dimming = self.dimming, None
        if dimming is not None and dimming.ends_at != float("inf"):
            level = min(100, max(LOWEST, round(self.lamp.shown(self.spec))))
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


class Hands:
    """Every input of the service: their pins on one factory, their edges through one ``inbox``
    (:class:`serving.inbox.Inbox`: ``put`` from any thread, ``get(timeout)``, ``wake``,
    ``close``), and the one reader that acts on them. ``process(now)`` reads what has come (a
    test calls it on a fake clock); ``start()`` runs the reader on the loop until ``stop()``."""

    def __init__(
        self,
        specs,
        lights: Lights,
        factory,
        factory_name: str,
        inbox,
        *,
        step: int = ENCODER_STEP,
        clock=time.monotonic,
    ):
        self.specs, self.factory, self.factory_name, self.clock = tuple(specs), factory, factory_name, clock
        self.inbox = inbox
        self.errors = LogLimiter(log, "lines about the inputs", lines=3, clock=clock)
        self.lamp = Lamp(lights, self.errors, clock)
        self.pins: dict[int, InputPin] = {}
        self.edges: dict[int, Budget] = {}
        self.dropped: dict[int, int] = {}  # edges past the budget, per pin, since the last look
        self.latest: dict[int, int] = {}  # the level each pin read last, dropped or not
        self.hands: dict[int, Hand] = {}  # by pin
        self._each_hand: list[Hand] = []
        self._stopped = threading.Event()
        self._next_noise_check = float("-inf")
        try:
            for spec in self.specs:
                for pin in spec.pins:
                    turns = spec.kind is InputKind.ENCODER and pin in spec.pins[:2]  # A or B; a push is a button
                    rate = KNOB_EDGES_PER_SECOND if turns else EDGES_PER_SECOND
                    self.edges[pin] = Budget(rate, rate, clock=clock)
                    steady = KNOB_FILTER if turns else BUTTON_FILTER
                    self.pins[pin] = InputPin(factory, pin, self._intake, steady=steady, clock=clock)
                    self.latest[pin] = self.pins[pin].level
                if spec.kind is InputKind.ENCODER:
                    hand: Hand = EncoderHand(spec, self.lamp, {pin: self.latest[pin] for pin in spec.pins}, step=step)
                else:
                    hand = ButtonHand(spec, self.lamp, self.latest[spec.pins[0]])
                for pin in spec.pins:
                    self.hands[pin] = hand
                self._each_hand.append(hand)
        except Exception:
            self.close()
            raise

    def _intake(self, pin: int, level: int, now: float) -> None:
        """An edge, from the factory's thread: into the inbox, or counted as noise."""
        self.latest[pin] = level
        if self.edges[pin].take():
            self.inbox.put((pin, level, now))
        else:
            self.dropped[pin] = self.dropped.get(pin, 0) + 1

    def due_in(self, now: float) -> float | None:
        """Seconds until a hand needs its tick (None: only an edge matters)."""
        times = [hand.due() for hand in self._each_hand]
        if self.dropped:
            times.append(self._next_noise_check)
        due = min((t for t in times if t is not None), default=None)
        return None if due is None else max(0.0, due - now)

    def process(self, now: float | None = None, timeout: float | None = 0.0) -> None:
        """Act on every edge that came (waiting up to ``timeout`` for one), then on what is due."""
        for pin, level, at in self.inbox.get(timeout):
            self.hands[pin].edge(pin, level, at)
        now = self.clock() if now is None else now
        if self.dropped and now >= self._next_noise_check:
            self._next_noise_check = now + NOISE_CHECK
            self._noise(now)
        for hand in self._each_hand:
            due = hand.due()
            if due is not None and due <= now:
                hand.tick(now)

    def _noise(self, now: float) -> None:
        """Say which lines dropped edges, and take each one's latest level (it is where it settled)."""
        dropped, self.dropped = self.dropped, {}
        for pin, count in dropped.items():
            hand = self.hands[pin]
            hand.tell("noise")
            self.errors.warning(
                f"noise {pin}",
                "%s: %d edges of GPIO%d dropped, past %d a second: a noisy line or a loose wire?",
                hand.spec.name,
                count,
                pin,
                self.edges[pin].rate,
            )
            hand.edge(pin, self.latest[pin], now)

    def start(self) -> None:
        threading.Thread(target=self._run, name="ledsock-hands", daemon=True).start()

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                self.process(timeout=self.due_in(self.clock()))
            except Exception:  # noqa: BLE001 - one bad edge must not end the reading
                log.exception("reading the inputs failed")
                time.sleep(1)
            # What comes meanwhile is read in one go: at most READS_PER_SECOND wakes of the reader
            # however fast a knob turns (a person cannot tell 10 ms), and the others' turn.
            time.sleep(1 / READS_PER_SECOND)

    def health(self) -> list[dict]:
        """Each input, its light and pins, and its last event, for /healthz."""
        seen = []
        for spec in self.specs:
            hand = self.hands[spec.pins[0]]
            seen.append(
                {
                    "input": spec.name,
                    "light": spec.light,
                    "kind": str(spec.kind),
                    "pins": list(spec.pins),
                    "pin_factory": self.factory_name,
                    "last": hand.last.what if hand.last else None,
                    "last_at": round(hand.last.at, 3) if hand.last else None,
                }
            )
        return seen

    def stop(self) -> None:
        self._stopped.set()
        self.inbox.wake()

    def close(self) -> None:
        self.stop()
        for pin in self.pins.values():
            pin.close()
        self.pins = {}
        self.inbox.close()
        try:
            self.factory.close()
        except Exception:  # noqa: BLE001 - a factory gone already
            log.debug("closing the inputs' factory failed", exc_info=True)


def describe(specs, factory_name: str) -> str:
    """One log line's worth: what reads which pins."""
    return ", ".join(f"{spec.name} for {spec.light}" for spec in specs) + f" via {factory_name}"
