"""The scenes: how several lights look, saved under a name and brought back with one message.

A scene keeps, for each light in it, its power, brightness, colour or white and effect
(:class:`~lamp.light_scenes.SceneLook`). Saving one of a name that exists replaces it; saving
one identical to it changes nothing and tells no one. At most ``MAX_SCENES``, kept in the state
file. A recall shows every light of the scene in turn, with no yield between them, so their
fades start on the same tick; each light answers one state. A light the scene names that the
service no longer has is left out, and the answer says which. Transport-free.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import protocol
from lamp.asked import Asked, Replier
from lamp.light_scenes import SceneLook
from lamp.lights import Lights

log = logging.getLogger(__name__)

MAX_SCENES = 32
TOO_MANY = "too_many_scenes"

# Called with each scene saved or deleted and the requester that caused it (None for none).
SceneListener = Callable[[protocol.SceneInfo | protocol.SceneDeleted, object], None]


class Scenes:
    """Every scene of the service, over its ``lights``; ``state_file`` keeps them."""

    def __init__(self, lights: Lights, *, state_file=None, max_scenes: int = MAX_SCENES):
        self.lights, self.state_file, self.max_scenes = lights, state_file, max_scenes
        self._scenes: dict[str, dict[str, SceneLook]] = {}
        self._lock = threading.Lock()  # the scenes, and the order their news is told in
        self._listeners: list[SceneListener] = []

    def add_listener(self, listener: SceneListener) -> None:
        self._listeners.append(listener)

    def load(self, saved: list[dict]) -> None:
        """The scenes the state file kept; one it cannot read is left out with a warning."""
        for kept in saved[: self.max_scenes]:
            try:
                name = protocol.parse_save_scene({"name": kept["name"]}, None).name
                looks = {light: SceneLook.from_fields(look) for light, look in kept["lights"].items()}
            except (KeyError, TypeError, AttributeError, ValueError, protocol.ProtocolError) as exc:
                log.warning("a scene in the state file is not one this service can show, left out: %s", exc)
                continue
            self._scenes[name] = looks

    def infos(self) -> list[protocol.SceneInfo]:
        with self._lock:
            return [protocol.SceneInfo(name, tuple(looks)) for name, looks in self._scenes.items()]

    def execute(self, command, *, origin: str, requester: object = None, reply: Replier | None = None) -> list:
        """Carry out a save, a recall or a delete; its answers (each also to ``reply``). Raises
        ProtocolError for an unknown scene or light, a scene too many, and, on a recall, the
        first light that fails after the others have been shown."""
        if isinstance(command, protocol.SaveScene):
            return [self._save(command, origin, requester, reply)]
        if isinstance(command, protocol.DeleteScene):
            return [self._delete(command, origin, requester, reply)]
        return self._recall(command, origin, requester, reply)

    def _save(self, command: protocol.SaveScene, origin: str, requester: object, reply) -> protocol.SceneInfo:
        names = command.lights or tuple(light.name for light in self.lights)
        looks = {name: self.lights.get(name, command.request_id).look_now() for name in names}
        info = protocol.SceneInfo(command.name, names)
        with self._lock:
            if command.name not in self._scenes and len(self._scenes) >= self.max_scenes:
                raise protocol.ProtocolError(
                    TOO_MANY, f"at most {self.max_scenes} scenes; delete one first", command.request_id
                )
            same = self._scenes.get(command.name) == looks
            if not same:
                self._scenes[command.name] = looks
                self._save_file()
                self._tell(info, requester)
            if reply is not None:
                reply(info)
        if not same:
            log.info("scene %s saved: %s by %s", command.name, ", ".join(names), origin)
        return info

    def _delete(self, command: protocol.DeleteScene, origin: str, requester: object, reply) -> protocol.SceneDeleted:
        deleted = protocol.SceneDeleted(command.name)
        with self._lock:
            if self._scenes.pop(command.name, None) is None:
                raise protocol.ProtocolError(protocol.NOT_FOUND, f"no scene {command.name!r}", command.request_id)
            self._save_file()
            self._tell(deleted, requester)
            if reply is not None:
                reply(deleted)
        log.info("scene %s deleted by %s", command.name, origin)
        return deleted

    def _recall(self, command: protocol.RecallScene, origin: str, requester: object, reply) -> list:
        with self._lock:
            looks = self._scenes.get(command.name)
        if looks is None:
            raise protocol.ProtocolError(protocol.NOT_FOUND, f"no scene {command.name!r}", command.request_id)
        present = {light.name: light for light in self.lights}
        answers: list = []
        failure: Exception | None = None
        for name, look in looks.items():  # no yield between lights: their fades start on one tick
            if name in present:
                try:
                    answers.append(
                        present[name].show(look, command.transition, Asked(origin, requester, reply), command.name)
                    )
                except Exception as exc:  # noqa: BLE001 - one light's failure leaves the others shown
                    failure = failure or exc
        left_out = tuple(name for name in looks if name not in present)
        if left_out:
            info = protocol.SceneInfo(command.name, tuple(name for name in looks if name in present), left_out)
            answers.append(info)
            if reply is not None:
                reply(info)
        if failure is not None:
            raise failure
        return answers

    def _save_file(self) -> None:
        """The scenes onto the disk soon (lock held)."""
        if self.state_file is not None:
            self.state_file.save_scenes(
                [
                    {"name": name, "lights": {light: look.fields() for light, look in looks.items()}}
                    for name, looks in self._scenes.items()
                ]
            )

    def _tell(self, news, requester: object) -> None:
        for listener in self._listeners:
            listener(news, requester)
