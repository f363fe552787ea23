"""Hands on the lamp: push buttons, latching switches and rotary knobs wired to the board, as a
door like the others. Their edges come from the pin factory's thread through an
:class:`~serving.inbox.Inbox` to one reader on the service's loop, which turns them into what a
person did (:mod:`curves.gestures`) and that, for each kind of input (:mod:`doors.hand_kinds`),
into the commands every door sends: a change by
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

from boards.input_pins import BUTTON_FILTER, KNOB_FILTER, InputPin
from doors.hand_kinds import ENCODER_STEP, ButtonHand, EncoderHand, Hand, Lamp
from lamp.input_specs import InputKind
from lamp.lights import Lights
from limits.budget import Budget
from limits.loglimit import LogLimiter

log = logging.getLogger(__name__)

EDGES_PER_SECOND = 200  # a button's edges taken a second, at most; past it the line is noise
KNOB_EDGES_PER_SECOND = 2000  # a knob pin's: each changes twice a detent, 1,000 detents a second
NOISE_CHECK = 1.0  # seconds between looks at the edges dropped as noise
READS_PER_SECOND = 100  # the reader's wakes, at most


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
        scenes=None,
    ):
        self.specs, self.factory, self.factory_name, self.clock = tuple(specs), factory, factory_name, clock
        self.inbox = inbox
        self.errors = LogLimiter(log, "lines about the inputs", lines=3, clock=clock)
        self.lamp = Lamp(lights, self.errors, clock, scenes)
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
                    "edges_from": EDGES_FROM.get(self.factory_name, self.factory_name),
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


# Where each factory's edges come from: a thread of its own, handed to the loop through the inbox.
EDGES_FROM = {
    "pigpio": "pigpio's notification thread",
    "lgpio": "lgpio's notification thread (an OS thread)",
    "mock": "simulated pins",
}


def describe(specs, factory_name: str) -> str:
    """One log line's worth: what reads which pins, and where their edges come from."""
    inputs = ", ".join(f"{spec.name} for {spec.light}" for spec in specs)
    return f"{inputs} via {factory_name}, edges from {EDGES_FROM.get(factory_name, factory_name)}"
