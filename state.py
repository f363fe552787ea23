"""The light's state kept on disk, so that a restart or a power cut comes back where it was:
the brightness, the power and the schedules.

Writes are atomic (temporary file, fsync, rename, fsync of the folder) and at most
one a second whatever changed (level, power, schedules), because SD cards wear out. A corrupt file is moved aside with one
warning; an unwritable folder gives one warning and the service keeps serving.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

import protocol

log = logging.getLogger(__name__)

POWER_ON_CHOICES = "last, on, off, or a level from 0 to 100"


def default_path(environ=os.environ) -> Path:
    """$STATE_FILE, else systemd's $STATE_DIRECTORY, else ~/.local/state/ledsock/state.json."""
    if environ.get("STATE_FILE"):
        return Path(environ["STATE_FILE"])
    if environ.get("STATE_DIRECTORY"):  # systemd's StateDirectory=; may list several, ':'-separated
        return Path(environ["STATE_DIRECTORY"].split(":")[0]) / "state.json"
    base = environ.get("XDG_STATE_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".local" / "state")
    return Path(base) / "ledsock" / "state.json"


def parse_power_on(text: str) -> str | int:
    """``last``, ``on``, ``off`` or a level: what the LED does when the service starts."""
    text = str(text).strip().lower()
    if text in ("last", "on", "off"):
        return text
    try:
        return protocol.parse_level(text)
    except protocol.ProtocolError:
        raise ValueError(f"POWER_ON must be {POWER_ON_CHOICES}, got {text!r}") from None


class StateFile:
    """The last level on disk, saved at most once per ``min_interval`` seconds.

    ``save_soon`` is called on every change, under the service's lock, so it only
    notes the level; the disk is written later, without that lock. An fsync on an SD
    card can take a tenth of a second, and no change or broadcast waits for it.
    ``run_blocking(function, *args)`` runs each disk write: by default in the calling
    thread; the server passes one that keeps the write off its event loop.
    """

    def __init__(self, path: Path, *, min_interval: float = 1.0, run_blocking=None):
        self.path = Path(path)
        self.min_interval = min_interval
        self._run_blocking = run_blocking or (lambda function, *args: function(*args))
        self._lock = threading.Lock()  # guards the fields below; never held during disk I/O
        self._latest: tuple[int, bool] | None = None  # the newest state given to save_soon
        self._version = 0  # counts save_soon calls: the version of _latest
        self._timer: threading.Timer | None = None
        self._last_write = float("-inf")
        self._write_lock = threading.Lock()  # one write at a time, the newest version last
        self._written = 0  # the version on disk
        self.writes = 0  # files written since start (each one fsync'd and renamed into place)
        self._failing = False
        self.saved_schedules: list[dict] = []  # what load() found; save_schedules replaces it

    def load(self) -> tuple[int | None, bool] | None:
        """The saved (brightness, on), or None when there is none (a corrupt file is moved aside).

        A file of an older version, ``{"level": N}``, reads as on at N, or as off with no
        brightness known (None) when N is 0.
        """
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            return self._set_aside(f"cannot be read ({exc})")
        try:
            saved = json.loads(text, parse_int=int)
            if not isinstance(saved, dict):
                raise ValueError("not a JSON object")
            schedules = saved.get("schedules", [])
            if not isinstance(schedules, list) or not all(isinstance(item, dict) for item in schedules):
                raise ValueError("schedules is not a list of objects")
            with self._lock:
                self.saved_schedules = schedules
            if "brightness" not in saved and "level" not in saved:  # schedules alone
                return None
            if "brightness" not in saved:  # an older file: the level alone
                level = protocol.parse_level(saved["level"])
                return (level, True) if level else (None, False)
            brightness, on = protocol.parse_level(saved["brightness"]), saved["on"]
            if brightness == 0 or not isinstance(on, bool):
                raise ValueError(f"brightness {brightness} and on {on!r} are not a state")
            with self._lock:
                if self._latest is None:  # what a schedules-only write keeps
                    self._latest = (brightness, on)
            return brightness, on
        except (ValueError, KeyError, TypeError, protocol.ProtocolError) as exc:
            return self._set_aside(f"is corrupt ({type(exc).__name__}: {exc})")

    def _set_aside(self, problem: str) -> None:
        aside = self.path.with_name(f"{self.path.name}.bad-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            os.replace(self.path, aside)
            moved = f"moved it to {aside}"
        except OSError as exc:
            moved = f"could not move it aside ({exc})"
        log.warning("state file %s %s; starting without it and %s", self.path, problem, moved)
        return None

    def save_soon(self, brightness: int, on: bool) -> None:
        """Remember the state; it reaches the disk within ``min_interval`` seconds."""
        with self._lock:
            self._latest = (brightness, on)
            self._changed()

    def save_schedules(self, schedules: list[dict]) -> None:
        """Remember the schedules; they reach the disk with the state, within ``min_interval`` s."""
        with self._lock:
            self.saved_schedules = list(schedules)
            self._changed()

    def _changed(self) -> None:
        """One more version to write (lock held): one timer for whatever changed, so the
        disk sees at most one write per ``min_interval`` under any mix of changes."""
        self._version += 1
        if self._timer is None:
            delay = max(0.0, self._last_write + self.min_interval - time.monotonic())
            self._timer = threading.Timer(delay, self._write_pending)
            self._timer.daemon = True
            self._timer.start()

    def flush(self) -> None:
        """Write the newest level now, if it is not on disk yet (at shutdown)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        self._write_pending()

    def _write_pending(self) -> None:
        with self._lock:
            self._timer = None
            self._last_write = time.monotonic()
        # After any write already under way, write the newest level unless it is on disk:
        # when this returns, every level given before the call has been written or replaced.
        with self._write_lock:
            with self._lock:
                document = {}
                if self._latest is not None:
                    brightness, on = self._latest
                    document = {"brightness": brightness, "on": on, "level": brightness if on else 0}
                if self.saved_schedules:
                    document["schedules"] = self.saved_schedules
                version = self._version
            if version > self._written:
                self._run_blocking(self._write, document)
                self._written = version
                self.writes += 1

    def _write(self, document: dict) -> None:
        temporary = self.path.with_name(self.path.name + ".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(temporary, "w", encoding="utf-8") as out:
                out.write(json.dumps(document) + "\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
            folder = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        except OSError as exc:
            if not self._failing:
                log.warning("cannot write the state file %s (%s); the level will not survive a restart",
                            self.path, exc)
                self._failing = True
            return
        if self._failing:
            log.info("the state file %s is writable again", self.path)
            self._failing = False
