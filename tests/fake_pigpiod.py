"""A stand-in for the pigpio daemon on loopback, to test the real pigpio path without a Pi.

It speaks pigpio's socket protocol: each command is 16 bytes (cmd, p1, p2, p3 as
little-endian uint32, then p3 bytes of extension), and each answer is 16 bytes
(the command's first 12 bytes and a uint32 result). A connection that sends NOIB
becomes a notification socket: :meth:`FakePigpiod.set_input` sends it a report of every
GPIO's level (12 bytes: seqno, flags, tick, levels as ``HHII``), as pigpiod does on an edge
of a GPIO a notification watches (NB). It answers what gpiozero's PiGPIOFactory, PWMLED and
an input pin send at start and on every write, keeps the GPIO modes, pulls, PWM frequency,
range and duty cycle, and records every PWM command it receives.

Run by itself for a manual try: `python tests/fake_pigpiod.py 8888`.
"""

from __future__ import annotations

import socket
import struct
import sys
import threading
import time

MODES, MODEG, PUD, READ, WRITE, PWM, PRS, PFS = 0, 1, 2, 3, 4, 5, 6, 7
BR1, TICK, HWVER, NB, NC, PRG, PFG, PRRG, GDC, FG, NOIB = 10, 16, 17, 19, 21, 22, 23, 24, 83, 97, 99
NAMES = {
    MODES: "MODES",
    MODEG: "MODEG",
    PUD: "PUD",
    READ: "READ",
    WRITE: "WRITE",
    PWM: "PWM",
    PRS: "PRS",
    PFS: "PFS",
    BR1: "BR1",
    TICK: "TICK",
    HWVER: "HWVER",
    NB: "NB",
    NC: "NC",
    PRG: "PRG",
    PFG: "PFG",
    PRRG: "PRRG",
    GDC: "GDC",
    FG: "FG",
    NOIB: "NOIB",
}
PWM_COMMANDS = {PWM, PRS, PFS}
PI_3B_REVISION = 0xA02082
PI_BAD_USER_GPIO = -2
PUD_UP = 2


class FakePigpiod:
    """A loopback pigpio daemon; ``pwm_log`` holds (command, gpio, value) for PWM, PRS and PFS."""

    def __init__(self, port: int = 0):
        self.port = port
        self.pwm_log: list[tuple[str, int, int]] = []
        self.unknown: list[int] = []
        self.duty: dict[int, int] = {}
        self.range: dict[int, int] = {}
        self.frequency: dict[int, int] = {}
        self.mode: dict[int, int] = {}
        self.level: dict[int, int] = {}
        self._lock = threading.Lock()
        self._answering = threading.Event()  # cleared by hang(): commands are read, never answered
        self._answering.set()
        self.held = 0  # commands read while hung, not (yet) answered
        self._listener: socket.socket | None = None
        self._connections: set[socket.socket] = set()
        self._notifiers: dict[int, socket.socket] = {}  # NOIB handle -> its socket
        self.watched: dict[int, int] = {}  # NOIB handle -> the GPIO bits NB asked for
        self._reports = 0
        self._handles = 0
        self.driven: set[int] = set()  # inputs set_input has driven: a pull no longer moves them
        self.glitch: dict[int, int] = {}  # GPIO -> its glitch filter (FG), microseconds
        self.reported: dict[int, int] = {}  # GPIO -> the level last reported
        self._unsteady: dict[int, float] = {}  # a filtered GPIO -> when its level last changed
        self._filtering = threading.Event()
        threading.Thread(target=self._filter, daemon=True).start()
        self._outgoing: dict[socket.socket, list[bytes]] = {}  # reports the alert thread sends next
        self.reports_sent = 0  # reports of a watched GPIO, each edge that got through
        self._alerting = threading.Event()
        threading.Thread(target=self._alert, daemon=True).start()

    def start(self) -> FakePigpiod:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Go away like a killed daemon: stop listening and drop every connection."""
        listener, self._listener = self._listener, None
        if listener:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes accept(); close() alone leaves the port open
            except OSError:
                pass
            listener.close()
        with self._lock:
            connections, self._connections = self._connections, set()
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def hang(self) -> None:
        """Stop answering, like a wedged or SIGSTOPped daemon: connections are still accepted
        (the kernel does that), commands are read, and no answer comes."""
        self._answering.clear()

    def resume(self) -> None:
        """Answer again (what was asked meanwhile is answered now, as after SIGCONT)."""
        self._answering.set()

    def set_input(self, gpio: int, level: int) -> int:
        """Drive an input to ``level``, as a button or a knob does, and report it to every
        notification watching it; how many reports were queued. A GPIO with a glitch filter (FG)
        is reported as pigpiod does: only once its level has been steady for the filter's time,
        by the filter's thread."""
        with self._lock:
            self.driven.add(gpio)
            if self.level.get(gpio) == level:
                return 0
            steady = False
            if gpio in self.glitch:
                # The level it leaves was steady long enough (the filter's thread may not have
                # looked yet): reported now, before the change, as pigpiod's sampling would have.
                now, since = time.monotonic(), self._unsteady.get(gpio)
                steady = since is not None and now - since >= self.glitch[gpio] / 1e6
                steady = steady and self.reported.get(gpio) != self.level[gpio]
                if steady:
                    self.reported[gpio] = self.level[gpio]
                self._unsteady[gpio] = now
                self._filtering.set()
            self.level[gpio] = level
            if gpio not in self.glitch:
                self.reported[gpio] = level
        if gpio in self.glitch:
            return self._report(gpio) if steady else 0
        return self._report(gpio)

    def _filter(self) -> None:
        """pigpiod's glitch filter: a level steady for the GPIO's time is reported, once."""
        while True:
            self._filtering.wait()
            time.sleep(0.0002)
            now = time.monotonic()
            due = []
            with self._lock:
                for gpio, since in list(self._unsteady.items()):
                    if now - since >= self.glitch[gpio] / 1e6:
                        del self._unsteady[gpio]
                        if self.reported.get(gpio) != self.level[gpio]:
                            self.reported[gpio] = self.level[gpio]
                            due.append(gpio)
                if not self._unsteady:
                    self._filtering.clear()
            for gpio in due:
                self._report(gpio)

    def _report(self, gpio: int) -> int:
        """Queue a report for every notification watching ``gpio``; the alert thread sends them."""
        with self._lock:
            self._reports += 1
            report = struct.pack("<HHII", self._reports & 0xFFFF, 0, self._reports * 100, self._bank())
            watching = [conn for handle, conn in self._notifiers.items() if self.watched.get(handle, 0) & (1 << gpio)]
            for conn in watching:
                self._outgoing.setdefault(conn, []).append(report)
            self.reports_sent += bool(watching)
        self._alerting.set()
        return len(watching)

    def _alert(self) -> None:
        """pigpiod's alert thread: "triggered nominally 1000 times per second", it sends each
        notification every report since it last ran, in one write."""
        while True:
            self._alerting.wait()
            time.sleep(0.001)
            with self._lock:
                outgoing, self._outgoing = self._outgoing, {}
                self._alerting.clear()
            for conn, reports in outgoing.items():
                try:
                    conn.sendall(b"".join(reports))
                except OSError:
                    pass

    def _bank(self) -> int:
        """Bank 1's levels as reported: what was driven or pulled (a filtered GPIO's as the
        filter last let through), else the Pi's pulls at power-on (GPIO 0 to 8 up, the others down)."""
        return sum(
            1 << gpio for gpio in range(32) if self.reported.get(gpio, self.level.get(gpio, 1 if gpio <= 8 else 0))
        )

    def duty_cycles(self, gpio: int) -> list[int]:
        with self._lock:
            return [value for name, pin, value in self.pwm_log if name == "PWM" and pin == gpio]

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                self._connections.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            while True:
                command = _read_exactly(conn, 16)
                if command is None:
                    return
                cmd, p1, p2, p3 = struct.unpack("<IIII", command)
                if p3 and _read_exactly(conn, p3) is None:
                    return
                if not self._answering.is_set():
                    with self._lock:
                        self.held += 1
                    self._answering.wait()
                result = self._answer(cmd, p1, p2)
                with self._lock:
                    if cmd == NOIB:
                        self._notifiers[result] = conn
                    conn.sendall(command[:12] + struct.pack("<I", result & 0xFFFFFFFF))
        except OSError:
            return
        finally:
            with self._lock:
                self._connections.discard(conn)
            conn.close()

    def _answer(self, cmd: int, gpio: int, value: int) -> int:
        with self._lock:
            if cmd in PWM_COMMANDS:
                self.pwm_log.append((NAMES[cmd], gpio, value))
            if cmd in (MODES, MODEG, PUD, READ, WRITE, PWM, PRS, PFS, PRG, PFG, PRRG, GDC, FG) and gpio > 53:
                return PI_BAD_USER_GPIO
            if cmd == HWVER:
                return PI_3B_REVISION
            if cmd == MODES:
                self.mode[gpio] = value
            elif cmd == MODEG:
                return self.mode.get(gpio, 0)
            elif cmd == WRITE:
                self.level[gpio] = value
                self.duty[gpio] = 0
            elif cmd == READ:
                return self.level.get(gpio, 0)
            elif cmd == PWM:
                self.duty[gpio] = value
            elif cmd == GDC:
                return self.duty.get(gpio, 0)
            elif cmd == PRS:
                self.range[gpio] = value
                return value  # the real range at this frequency
            elif cmd in (PRG, PRRG):
                return self.range.get(gpio, 255)
            elif cmd == PFS:
                self.frequency[gpio] = value
                return value
            elif cmd == PFG:
                return self.frequency.get(gpio, 800)
            elif cmd == TICK:
                return 123456
            elif cmd == BR1:
                return self._bank()
            elif cmd == PUD:
                if gpio not in self.driven:  # an open button reads high through the pull-up
                    self.level[gpio] = 1 if value == PUD_UP else 0
            elif cmd == NOIB:
                self._handles += 1
                return self._handles
            elif cmd == NB:
                self.watched[gpio] = value  # NB's p1 is the notification's handle, p2 its bits
            elif cmd == FG:
                if value:
                    self.glitch[gpio] = value  # microseconds a level must be steady to be reported
                else:
                    self.glitch.pop(gpio, None)
            elif cmd == NC:
                return 0
            else:
                self.unknown.append(cmd)
            return 0


def _read_exactly(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


if __name__ == "__main__":
    daemon = FakePigpiod(int(sys.argv[1]) if len(sys.argv) > 1 else 8888).start()
    print(f"fake pigpiod on 127.0.0.1:{daemon.port}; Ctrl+C to stop", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        daemon.stop()
