"""A scene's messages: save what the lights show under a name, recall it, delete it, and the flat
``scene`` message a client sees of one (its lights listed as a string, as JsonUtility reads it).
Parsed and built here; :mod:`protocol` routes ``save_scene``, ``delete_scene`` and a set with a
``scene`` to these, and re-exports them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from messages.fields import (
    INVALID_MESSAGE,
    LIGHT_NAME,
    LIGHT_NAME_RULE,
    Message,
    ProtocolError,
    RequestId,
    describe,
    parse_transition,
)
from messages.when import parse_schedule_name

RECALL_FIELDS = frozenset({"type", "scene", "transition", "id"})  # what a recall may carry


@dataclass(frozen=True)
class SaveScene:
    """Save what ``lights`` show now (None: every light) as the scene ``name``, replacing one of that name."""

    name: str
    lights: tuple[str, ...] | None = None
    request_id: RequestId = None


@dataclass(frozen=True)
class RecallScene:
    """Bring the scene ``name`` back, every light of it fading over ``transition`` seconds."""

    name: str
    transition: float | None = None
    request_id: RequestId = None


@dataclass(frozen=True)
class DeleteScene:
    name: str
    request_id: RequestId = None


@dataclass(frozen=True)
class SceneInfo:
    """A scene as everyone sees it: its name and its lights; after a recall, the lights of it the
    service no longer has (``left_out``)."""

    name: str
    lights: tuple[str, ...]
    left_out: tuple[str, ...] = ()


@dataclass(frozen=True)
class SceneDeleted:
    name: str


SceneCommand = (SaveScene, RecallScene, DeleteScene)


def parse_scene_lights(message: Message) -> tuple[str, ...] | None:
    """``"lights": "desk,shelf"``: the lights a save takes (absent: every light)."""
    if "lights" not in message:
        return None
    value = message["lights"]
    names = value.split(",") if isinstance(value, str) else None
    if not names or not all(LIGHT_NAME.fullmatch(name) for name in names):
        raise ProtocolError(
            INVALID_MESSAGE,
            f'lights must be light names separated by commas, "desk,shelf" ({LIGHT_NAME_RULE}), got {describe(value)}',
        )
    return tuple(dict.fromkeys(names))  # each once, in the order given


def parse_save_scene(message: Message, request_id: RequestId) -> SaveScene:
    return SaveScene(parse_schedule_name(message), parse_scene_lights(message), request_id)


def parse_delete_scene(message: Message, request_id: RequestId) -> DeleteScene:
    return DeleteScene(parse_schedule_name(message), request_id)


def parse_recall(message: Message, request_id: RequestId) -> RecallScene:
    """``{"scene": "evening", "transition": 2}``: a recall takes nothing else (the scene says the rest)."""
    extra = sorted(set(message) - RECALL_FIELDS)
    if extra:
        raise ProtocolError(
            INVALID_MESSAGE, f"a scene's recall takes only transition and id (the scene says the rest), got {extra[0]}"
        )
    try:
        name = parse_schedule_name({"name": message["scene"]})
    except ProtocolError as exc:  # its rule, said of the field it came in
        raise ProtocolError(INVALID_MESSAGE, exc.message.replace("name must be", "scene must be", 1)) from None
    transition = parse_transition(message["transition"]) if "transition" in message else None
    return RecallScene(name, transition, request_id)


SET_FIELDS = ("level", "on", "step", "effect", "color", "kelvin")  # what a schedule of a scene may not carry


def parse_scheduled_recall(message: Message) -> RecallScene:
    """A schedule's ``"scene"``: the scene it recalls when it fires, with its ``transition``;
    a schedule recalls a scene or changes its light, never both."""
    given = [field for field in SET_FIELDS if field in message]
    if given:
        raise ProtocolError(INVALID_MESSAGE, f"a schedule recalls a scene or sets its light, not both, got {given[0]}")
    recall: dict[str, Any] = {field: message[field] for field in ("scene", "transition") if field in message}
    return parse_recall(recall, None)


def scene_fields(info: SceneInfo | SceneDeleted) -> dict[str, Any]:
    """The flat message of a scene (or of its deletion)."""
    if isinstance(info, SceneDeleted):
        return {"type": "scene_deleted", "name": info.name}
    fields: dict[str, Any] = {"type": "scene", "name": info.name, "scene_lights": ",".join(info.lights)}
    if info.left_out:
        fields["left_out"] = ",".join(info.left_out)
    return fields
