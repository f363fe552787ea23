"""The service's lights by name: which light a command is for, the default light first.

``LIGHTS=desk:21,shelf:20`` names them (:mod:`lamp.light_specs`); without it there is one
light, ``led``, on ``LED_PIN``. A command that names no light is the default light's,
so every client written for one light goes on working; ``"*"`` is every light.
Transport-free, like :mod:`light`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import protocol
from lamp.light import Light, Replier


class Lights:
    """The lights in LIGHTS order; the first is the default light."""

    def __init__(self, lights: list[Light]):
        if not lights:
            raise ValueError("a service has at least one light")
        self._by_name = {light.name: light for light in lights}
        if len(self._by_name) != len(lights):
            raise ValueError("two lights have one name")
        self.default = lights[0]

    def __iter__(self) -> Iterator[Light]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    @property
    def names(self) -> list[str]:
        return list(self._by_name)

    def get(self, name: str | None, request_id: protocol.RequestId = None) -> Light:
        """The light called ``name`` (None: the default one); ProtocolError when there is none."""
        if name is None:
            return self.default
        light = self._by_name.get(name)
        if light is None:
            raise protocol.ProtocolError(
                protocol.UNKNOWN_LIGHT,
                f"no light named {protocol.describe(name)}; this service has "
                f"{', '.join(self._by_name)}" + (' (or "*" for every light)' if len(self) > 1 else ""),
                request_id,
            )
        return light

    def resolve(self, name: str | None, request_id: protocol.RequestId = None) -> list[Light]:
        """The lights a command's ``light`` names: the default one (None), one, or every light ("*")."""
        if name == protocol.EVERY_LIGHT:
            return list(self._by_name.values())
        return [self.get(name, request_id)]

    def execute(
        self,
        name: str | None,
        command: protocol.Command,
        *,
        origin: str,
        requester: object = None,
        reply: Replier | None = None,
        failed: Callable[[Light, Exception], None] | None = None,
    ) -> list[protocol.Reply]:
        """Carry out ``command`` on the lights ``name`` names (None: the default one; "*": every
        light, in order) and return their answers. Raises ProtocolError for an unknown light.

        A light that fails (it refuses the command, its LED cannot be driven, or a fault of the
        service's own) is handed to ``failed`` with the exception, and the others still act;
        without ``failed`` the exception is raised. A command for every light writes one log
        line naming the lights it changed, not one per light.
        """
        targets = self.resolve(name, getattr(command, "request_id", None))
        if name != protocol.EVERY_LIGHT:
            return [self._one(targets[0], command, origin, requester, reply, failed, None)]
        changed: dict[str, list[str]] = {}  # each change, and the lights it was made to
        answers = []
        for index, light in enumerate(targets):
            if index:
                time.sleep(0)  # between two lights, the others' turn (under gevent a yield to the loop)
            answers.append(
                self._one(
                    light,
                    command,
                    origin,
                    requester,
                    reply,
                    failed,
                    lambda light_name, what: changed.setdefault(what, []).append(light_name),
                )
            )
        if changed:
            self.default.changes_log.info(
                str(origin),
                "%d of %d lights by %s: %s",
                sum(map(len, changed.values())),
                len(targets),
                origin,
                "; ".join(f"{what} ({', '.join(names)})" for what, names in changed.items()),
            )
        return [answer for answer in answers if answer is not None]

    @staticmethod
    def _one(light: Light, command, origin, requester, reply, failed, note):
        try:
            return light.execute(command, origin=origin, requester=requester, reply=reply, note=note)
        except Exception as exc:  # noqa: BLE001 - the door tells each kind apart (failed)
            if failed is None:
                raise
            failed(light, exc)
            return None

    def read_all(self, use):
        """Call ``use(states)`` with every light's state, under every light's ordering lock:
        no change can come between (see :meth:`light.Light.read`). The locks are taken in
        the lights' order, and a light's listeners never take another light's lock."""
        lights: list[Light] = list(self)
        states: list[protocol.State] = []

        def under(index: int) -> Any:
            if index == len(lights):
                return use(states)

            def then(state: protocol.State) -> Any:
                states.append(state)
                return under(index + 1)

            return lights[index].read(then)

        return under(0)

    def stop_changes(self) -> None:
        for light in self:
            light.stop_changes()

    def release(self) -> None:
        for light in self:
            light.release()
