"""Every light's state kept on disk, so that a restart or a power cut comes back where it was:
its brightness, power, colour (or white), running effect and schedules.

Writes are atomic (temporary file, fsync, rename, fsync of the folder) and at most one a
second whatever changed (level, power, effect, schedules), because SD cards wear out. A
corrupt file is moved aside with one warning; an unwritable folder gives one warning and the
service keeps serving.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import protocol

# Where the file lives and POWER_ON's rule, re-exported: callers know them as state's.
from lamp.power_on import POWER_ON_CHOICES as POWER_ON_CHOICES
from lamp.power_on import default_path as default_path
from lamp.power_on import parse_power_on as parse_power_on
from lamp.power_on import power_on_state as power_on_state

log = logging.getLogger(__name__)


class StateFile:
    """Every light's last state and schedules on disk, saved at most once per ``min_interval`` s.

    ``save_soon`` is called on every change, under the service's lock, so it only
    notes the level; the disk is written later, without that lock. An fsync on an SD
    card can take a tenth of a second, and no change or broadcast waits for it.
    ``run_blocking(function, *args)`` runs each disk write: by default in the calling
    thread; the server passes one that keeps the write off its event loop.

    The file is the default light's state at its top level, as a single-light service
    writes it (and reads it back), and every other light's under ``"lights"`` by name;
    ``"light"`` names the light of the top level once there are several. The methods
    without ``light=`` are the default light's; :meth:`record` is one light's view.
    """

    def __init__(
        self,
        path: Path,
        *,
        min_interval: float = 1.0,
        run_blocking=None,
        default_light: str = protocol.DEFAULT_LIGHT_NAME,
    ):
        self.path = Path(path)
        self.min_interval = min_interval
        self.default_light = default_light
        self._run_blocking = run_blocking or (lambda function, *args: function(*args))
        self._lock = threading.Lock()  # guards the fields below; never held during disk I/O
        self._states: dict[str, tuple[int, bool]] = {}  # each light's newest (brightness, on)
        self._loaded_states: dict[str, tuple[int | None, bool]] = {}  # what load() found
        self._schedules: dict[str, list[dict]] = {}  # each light's schedules, as kept
        self._effects: dict[str, dict] = {}  # each light's running effect, as its message's fields
        self._tones: dict[str, protocol.Tone] = {}  # each colour light's colour or white
        self._scenes: list[dict] = []  # the scenes, as lamp.scenes keeps them
        self._version = 0  # counts changes: the version of the above
        self._timer: threading.Timer | None = None
        self._last_write = float("-inf")
        self._write_lock = threading.Lock()  # one write at a time, the newest version last
        self._written = 0  # the version on disk
        self.writes = 0  # files written since start (each one fsync'd and renamed into place)
        self._failing = False

    def record(self, light: str) -> LightRecord:
        """The file as one light sees it: its state and its schedules."""
        return LightRecord(self, light)

    @property
    def saved_schedules(self) -> list[dict]:
        """The default light's schedules as load() found them (or as saved since)."""
        return self.schedules_of(self.default_light)

    def schedules_of(self, light: str) -> list[dict]:
        with self._lock:
            return list(self._schedules.get(light, []))

    def saved(self, light: str) -> tuple[int | None, bool] | None:
        """What load() found of ``light``: (brightness, on), None when nothing."""
        with self._lock:
            return self._loaded_states.get(light)

    def load(self) -> tuple[int | None, bool] | None:
        """Read every light's line; return the default light's (brightness, on), or None when
        there is none (a corrupt file is moved aside). :meth:`saved` gives the others'.

        A file of an older version, ``{"level": N}``, reads as on at N, or as off with no
        brightness known (None) when N is 0.
        """
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            self._set_aside(f"cannot be read ({exc})")
            return None
        try:
            saved = json.loads(text, parse_int=int)
            if not isinstance(saved, dict):
                raise ValueError("not a JSON object")
            lines = {saved.get("light", self.default_light): saved}
            others = saved.get("lights", {})
            if not isinstance(others, dict):
                raise ValueError("lights is not an object")
            for name, line in others.items():
                if not isinstance(line, dict):
                    raise ValueError(f"light {name!r} is not an object")
                lines.setdefault(name, line)
            found = {name: _read_line(line) for name, line in lines.items()}
            for line in lines.values():
                protocol.parse_tone(line)  # a colour that is no colour: the file is not one this service wrote
            scenes = saved.get("scenes", [])
            if not isinstance(scenes, list) or not all(isinstance(scene, dict) for scene in scenes):
                raise ValueError("scenes is not a list of objects")
        except (ValueError, KeyError, TypeError, protocol.ProtocolError) as exc:
            self._set_aside(f"is corrupt ({type(exc).__name__}: {exc})")
            return None
        with self._lock:
            self._scenes = scenes
            for name, (light_state, schedules) in found.items():
                if schedules:
                    self._schedules[name] = schedules
                if isinstance(lines[name].get("effect"), dict) and light_state is not None and light_state[1]:
                    self._effects[name] = lines[name]["effect"]
                tone = protocol.parse_tone(lines[name])
                if tone != protocol.Tone() and light_state is not None:
                    self._tones[name] = tone
                if light_state is not None:
                    self._loaded_states[name] = light_state
                    if light_state[0] is not None:  # what a schedules-only write keeps
                        self._states.setdefault(name, (light_state[0], light_state[1]))
            return self._loaded_states.get(self.default_light)

    def _set_aside(self, problem: str) -> None:
        aside = self.path.with_name(f"{self.path.name}.bad-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            os.replace(self.path, aside)
            moved = f"moved it to {aside}"
        except OSError as exc:
            moved = f"could not move it aside ({exc})"
        log.warning("state file %s %s; starting without it and %s", self.path, problem, moved)
        return None

    def save_soon(
        self,
        brightness: int,
        on: bool,
        effect: dict | None = None,
        light: str | None = None,
        tone: protocol.Tone | None = None,
    ) -> None:
        """Remember a light's state (its colour, and the effect that runs, as its message's
        fields); it reaches the disk within ``min_interval`` seconds."""
        with self._lock:
            light = light or self.default_light
            self._states[light] = (brightness, on)
            if tone is not None and tone != protocol.Tone():
                self._tones[light] = tone
            else:
                self._tones.pop(light, None)
            if effect:
                self._effects[light] = effect
            else:
                self._effects.pop(light, None)
            self._changed()

    def saved_tone(self, light: str) -> protocol.Tone | None:
        """The colour (or white) load() found of ``light``, if any."""
        with self._lock:
            return self._tones.get(light)

    def saved_effect(self, light: str) -> dict | None:
        """The effect load() found running on ``light`` (its message's fields), if any."""
        with self._lock:
            return self._effects.get(light)

    @property
    def saved_scenes(self) -> list[dict]:
        """The scenes as load() found them (or as saved since)."""
        with self._lock:
            return list(self._scenes)

    def save_scenes(self, scenes: list[dict]) -> None:
        """Remember the scenes; they reach the disk with the state, within ``min_interval`` s."""
        with self._lock:
            self._scenes = list(scenes)
            self._changed()

    def save_schedules(self, schedules: list[dict], light: str | None = None) -> None:
        """Remember a light's schedules; they reach the disk with the state, within ``min_interval`` s."""
        with self._lock:
            self._schedules[light or self.default_light] = list(schedules)
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

    @property
    def pending(self) -> bool:
        """Whether a change is not on disk yet (it will be within ``min_interval`` s)."""
        with self._lock:
            return self._version > self._written

    def flush(self) -> None:
        """Write the newest state now, if it is not on disk yet (at shutdown)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        self._write_pending()

    def _line(self, light: str) -> dict[str, Any]:
        """One light's line of the file (lock held)."""
        line: dict[str, Any] = {}
        if light in self._states:
            brightness, on = self._states[light]
            line = {"brightness": brightness, "on": on, "level": brightness if on else 0}
            if light in self._tones:
                line.update(self._tones[light].fields())
            if light in self._effects:
                line["effect"] = self._effects[light]
        if self._schedules.get(light):
            line["schedules"] = self._schedules[light]
        return line

    def _document(self) -> dict:
        """The whole file (lock held): the default light's line, and the others' by name."""
        document = self._line(self.default_light)
        others = {
            name: self._line(name)
            for name in sorted(self._states.keys() | self._schedules.keys())
            if name != self.default_light
        }
        others = {name: line for name, line in others.items() if line}
        if others:
            document = {"light": self.default_light, **document, "lights": others}
        if self._scenes:
            document["scenes"] = self._scenes
        return document

    def _write_pending(self) -> None:
        with self._lock:
            self._timer = None
            self._last_write = time.monotonic()
        # After any write already under way, write the newest state unless it is on disk:
        # when this returns, every state given before the call has been written or replaced.
        with self._write_lock:
            with self._lock:
                document = self._document()
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
                log.warning("cannot write the state file %s (%s); the level will not survive a restart", self.path, exc)
                self._failing = True
            return
        if self._failing:
            log.info("the state file %s is writable again", self.path)
            self._failing = False


def _read_line(line: dict) -> tuple[tuple[int | None, bool] | None, list[dict]]:
    """One light's line: its (brightness, on), None when it keeps only schedules, and its schedules."""
    schedules = line.get("schedules", [])
    if not isinstance(schedules, list) or not all(isinstance(item, dict) for item in schedules):
        raise ValueError("schedules is not a list of objects")
    if "brightness" not in line and "level" not in line:  # schedules alone
        return None, schedules
    if "brightness" not in line:  # an older file: the level alone
        level = protocol.parse_level(line["level"])
        return ((level, True) if level else (None, False)), schedules
    brightness, on = protocol.parse_level(line["brightness"]), line["on"]
    if brightness == 0 or not isinstance(on, bool):
        raise ValueError(f"brightness {brightness} and on {on!r} are not a state")
    return (brightness, on), schedules


class LightRecord:
    """One light's line of the state file: what :class:`light.Light` and its schedules save."""

    __slots__ = ("file", "light")

    def __init__(self, file: StateFile, light: str):
        self.file, self.light = file, light

    @property
    def path(self) -> Path:
        return self.file.path

    @property
    def writes(self) -> int:
        return self.file.writes

    @property
    def pending(self) -> bool:
        return self.file.pending

    @property
    def saved_schedules(self) -> list[dict]:
        return self.file.schedules_of(self.light)

    def saved(self) -> tuple[int | None, bool] | None:
        return self.file.saved(self.light)

    def save_soon(
        self, brightness: int, on: bool, effect: dict | None = None, tone: protocol.Tone | None = None
    ) -> None:
        self.file.save_soon(brightness, on, effect, light=self.light, tone=tone)

    def saved_tone(self) -> protocol.Tone | None:
        return self.file.saved_tone(self.light)

    def saved_effect(self) -> dict | None:
        return self.file.saved_effect(self.light)

    def save_schedules(self, schedules: list[dict]) -> None:
        self.file.save_schedules(schedules, light=self.light)

    def flush(self) -> None:
        self.file.flush()
