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
from typing import Callable, Optional

import protocol
import state
from protocol import State

log = logging.getLogger(__name__)

# Called under the ordering lock with each new state and the requester that caused it
# (None for a change that no client asked for), so it must only queue, never wait.
StateListener = Callable[[State, object], None]
Replier = Callable[[protocol.Reply], None]


class Light:
    """Drives the LED, counts its changes and tells every listener of each one.

    ``requester`` is an opaque token a door passes with a command: the listeners are
    told who it was (the hub skips that client, which gets the ``reply`` instead).
    """

    def __init__(self, led, *, initial_level: int = 50, state_file: state.StateFile | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.led = led
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
        self._state = State(protocol.parse_level(initial_level), 0)
        led.set_level(self._state.level)

    def add_listener(self, listener: StateListener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def state(self) -> State:
        with self._lock:
            return self._state

    def read(self, use: Callable[[State], object]):
        """Call ``use(state)`` under the ordering lock: no change can come between.

        A door that adds a listener of its own (a new WebSocket client) sends the state
        it reads here first, so the client misses no change and sees none twice.
        """
        with self._lock:
            return use(self._state)

    def execute(self, command: protocol.Command, *, origin: str, requester: object = None,
                reply: Optional[Replier] = None) -> protocol.Reply:
        """Carry out one command and return its answer; ``reply`` gets it under the lock.

        ``origin`` names the door and the client in the log. Raises ProtocolError for a
        command this light does not handle and HardwareError when the LED cannot be
        set; nothing changes then, and no listener is told.
        """
        match command:
            case protocol.SetLevel(level=level):
                return self.set_level(level, origin=origin, requester=requester, reply=reply)
            case protocol.GetState():
                with self._lock:
                    answer = self._state
                    if reply is not None:
                        reply(answer)
                return answer
            case protocol.Ping():
                answer = protocol.Pong()
                if reply is not None:
                    reply(answer)
                return answer
            case _:
                log.error("no handler for %r from %s", command, origin)
                raise protocol.ProtocolError(
                    protocol.UNKNOWN_TYPE, f"{type(command).__name__} is not handled by this server",
                    getattr(command, "request_id", None))

    def set_level(self, level: int, *, origin: str, requester: object = None,
                  reply: Optional[Replier] = None) -> State:
        """Apply a valid level; tell the listeners if it changed. Raises HardwareError."""
        with self._changing:
            old = self.state()  # only changes move it, and they wait for this one
            changed = level != old.level and not self._frozen  # after shutdown began, nothing changes
            if changed:
                self.led.set_level(level)  # raises HardwareError: nothing changes then
            with self._lock:
                if changed:
                    self._state = State(level, old.seq + 1)
                    if self.state_file is not None:
                        self.state_file.save_soon(level)
                    for listener in self._listeners:
                        listener(self._state, requester)
                new = self._state
                if reply is not None:
                    reply(new)
        if new.level != old.level:
            log.info("level %d -> %d (seq %d) by %s", old.level, new.level, new.seq, origin)
        return new

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

    def health(self) -> dict:
        """What /healthz tells of the light: the LED, the state, the state file."""
        current = self.state()
        return {
            "status": "degraded" if self.led.error else "ok",
            "pin": self.led.pin,
            "pin_factory": self.led.factory_name,
            "simulated": self.led.simulated,
            "level": current.level,
            "seq": current.seq,
            "uptime_s": round(self._clock() - self.started, 1),
            "state_file": str(self.state_file.path) if self.state_file else None,
            "hardware_error": self.led.error,
        }


def power_on_level(power_on: str | int, initial_level: int, state_file: state.StateFile | None) -> int:
    """The level at start: POWER_ON "last" (the saved level, else ``initial_level``), "off", or a level."""
    policy = state.parse_power_on(power_on)
    if policy == "off":
        return 0
    if policy == "last":
        saved = state_file.load() if state_file else None
        if saved is not None:
            log.info("restoring level %d from %s", saved, state_file.path)
            return saved
        return protocol.parse_level(initial_level)
    return policy
