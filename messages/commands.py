"""The commands and answers of protocol v1, as values: what a client's message means once
parsed, the light's state, and the replies. Plain frozen dataclasses and a NamedTuple, with
no parsing and no I/O: :mod:`protocol` builds them from text and turns them into text, and
re-exports them, so every door still uses ``protocol`` alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from messages.effect import Effect, Tone
from messages.fields import DEFAULT_LIGHT_NAME, RequestId
from messages.scene import DeleteScene, RecallScene, SaveScene, SceneDeleted, SceneInfo
from messages.when import When


@dataclass(frozen=True)
class SetLevel:
    """Show ``level`` (0..100): above 0 it is the brightness and turns the light on; 0 turns it off."""

    level: int
    request_id: RequestId = None
    transition: float | None = None  # seconds to fade there; None: the service's default
    light: str | None = None  # the light it is for: a name, "*" for every light, None: the default


@dataclass(frozen=True)
class SetPower:
    """Turn the light on (at the brightness it keeps) or off (keeping that brightness)."""

    on: bool
    request_id: RequestId = None
    transition: float | None = None
    light: str | None = None


@dataclass(frozen=True)
class Toggle:
    """Turn the light off if it is on, else on at the brightness it keeps."""

    request_id: RequestId = None
    transition: float | None = None
    light: str | None = None


@dataclass(frozen=True)
class Step:
    """Move the shown level by ``delta`` (-100..100), clamped to 0..100: at 0 the light is off."""

    delta: int
    request_id: RequestId = None
    transition: float | None = None
    light: str | None = None


@dataclass(frozen=True)
class SetColor:
    """Show a colour, or a white of a temperature (``tone``), with the ``level`` or power (``on``)
    given; with neither, turn on at the brightness it keeps."""

    tone: Tone
    level: int | None = None
    on: bool | None = None
    request_id: RequestId = None
    transition: float | None = None
    light: str | None = None


@dataclass(frozen=True)
class SetEffect:
    """Start ``effect`` on the light (replacing one that runs), or stop the effect (None)."""

    effect: Effect | None
    request_id: RequestId = None
    light: str | None = None


@dataclass(frozen=True)
class Sleep:
    """Turn the light off ``after`` seconds from now, fading over ``transition``;
    ``after`` None cancels the sleep timer."""

    after: float | None
    request_id: RequestId = None
    transition: float | None = None
    light: str | None = None


@dataclass(frozen=True)
class GetState:
    """Reply with the current state to the requester only."""

    request_id: RequestId = None
    light: str | None = None


@dataclass(frozen=True)
class Ping:
    """Reply with a pong to the requester only."""

    request_id: RequestId = None
    light: str | None = None


@dataclass(frozen=True)
class Watch:
    """Start (or stop) the news a client gets only when it asks: every schedule and each
    change to them, every light's state and each change to it. None: left as it is."""

    schedules: bool | None = None
    request_id: RequestId = None
    lights: bool | None = None
    scenes: bool | None = None


@dataclass(frozen=True)
class PutSchedule:
    """Create or replace the schedule ``name``: at ``when``, carry out ``action``."""

    name: str
    when: When
    action: Action
    request_id: RequestId = None
    light: str | None = None


@dataclass(frozen=True)
class DeleteSchedule:
    """Delete the schedule ``name``."""

    name: str
    request_id: RequestId = None
    light: str | None = None


@dataclass(frozen=True)
class ScheduleInfo:
    """A schedule as everyone sees it: what it is and when it fires next (Unix seconds; 0: never)."""

    name: str
    when: When
    action: Action
    next_at: int = 0
    light: str = DEFAULT_LIGHT_NAME  # the light whose schedule it is


@dataclass(frozen=True)
class ScheduleDeleted:
    name: str
    light: str = DEFAULT_LIGHT_NAME


Command = (
    SetLevel
    | SetPower
    | Toggle
    | Step
    | SetColor
    | SetEffect
    | Sleep
    | PutSchedule
    | DeleteSchedule
    | Watch
    | GetState
    | Ping
    | SaveScene
    | RecallScene
    | DeleteScene
)
ScheduleCommand = (PutSchedule, DeleteSchedule)
Action = SetLevel | SetPower | Step | SetColor | SetEffect | RecallScene  # what a schedule carries out
LightChange = SetLevel | SetPower | Toggle | Step | SetColor  # what moves a light's level, power or colour
LightCommand = (SetLevel, SetPower, Toggle, Step, SetColor, SetEffect, Sleep)  # the commands that can change the state


class State(NamedTuple):
    """What the light is doing: on or off, the brightness it shows when on, how many
    changes led here, and how long the fade to this state takes (0: none)."""

    brightness: int  # 1..100: what "on" shows
    on: bool
    seq: int
    transition: float = 0.0
    sleep_at: int = 0  # when the sleep timer turns the light off (Unix seconds); 0: no timer
    sleep_in: float = 0.0  # seconds from now until then
    light: str = DEFAULT_LIGHT_NAME  # the light's name
    effect: str = ""  # the effect that runs ("breathe", "candle", "blink", "flash"); "": none
    color: str = ""  # a colour light's colour, "#rrggbb"; "": none (a single channel, or a white)
    kelvin: int = 0  # a colour light's white, in kelvin; 0: none (a single channel, or a colour)

    @property
    def level(self) -> int:
        """What the LED shows once any fade is over: the brightness when on, else 0."""
        return self.brightness if self.on else 0


@dataclass(frozen=True)
class Pong:
    """The answer to :class:`Ping`."""


Reply = State | Pong | ScheduleInfo | ScheduleDeleted | SceneInfo | SceneDeleted
