"""One WebSocket client's session: its messages answered, what it watches, and the work done on
its behalf counted against its budget.

The /ws route (:mod:`web`) hands each message here. A message costs its client one unit of
its :class:`budget.Budget`, and a unit more for each further message the service sends it
because of it: one reply per light for ``"*"``, every state and schedule that a watch sends.
With no unit left, a message is dropped unread and answered ``rate_limited`` until the debt
is paid. What a watch sends goes out one light at a time: between two lights the session
yields to the loop and waits until the client has taken what was sent, so a big house
(28 lights of 32 schedules) costs the others a light's worth of the loop at a time.
"""

from __future__ import annotations

import logging
import time

import protocol
from broadcast.connection import Client
from broadcast.frames import text_frame
from doors.answers import failure
from lamp.lights import Lights
from lamp.scenes import Scenes
from limits.budget import ONE, Budget

log = logging.getLogger(__name__)


class Session:
    """What one connected WebSocket client asks of the lights, and what it costs."""

    def __init__(self, lights: Lights, client: Client, budget: Budget, *, send_timeout: float, scenes: Scenes):
        self.lights, self.client, self.budget, self.send_timeout = lights, client, budget, send_timeout
        self.scenes = scenes
        self.origin = f"ws {client.peer}"

    def greet(self, hub, watching: frozenset) -> int:
        """Count the client in with its first states (every light's, if it watches them) and,
        if it watches them, every schedule; their cost goes on its budget. The clients now."""
        client, lights = self.client, self.lights
        client.wants_news = protocol.WatchName.SCHEDULES in watching
        client.watches_lights = client.names_lights = protocol.WatchName.LIGHTS in watching
        # The first states are sent under the lights' locks: no change comes between them and the join.
        if client.watches_lights:
            count = lights.read_all(lambda states: hub.add(client, named_states(states)))
            sent = len(lights)
        else:
            count = lights.default.read(lambda state: hub.add(client, [(state.light, protocol.state_message(state))]))
            sent = 1
        if client.wants_news:
            sent += self.send_schedules()  # after the states: one message per schedule
        client.wants_scenes = protocol.WatchName.SCENES in watching
        if client.wants_scenes:
            sent += self.send_scenes()
        self.budget.spend(sent - ONE)  # the first state comes with every connection
        return count

    def handle(self, message) -> None:
        """Answer one message, or refuse it when the budget is spent; charge what it cost."""
        budget = self.budget
        if not budget.take(ONE):
            self.client.send_reply(
                protocol.error_message(
                    protocol.RATE_LIMITED,
                    f"over {budget.rate:g} messages a second (bursts of {budget.burst:g}; a message that "
                    "makes the server send more counts for each); this one was dropped",
                )
            )
            return
        budget.spend(self._answer(message) - ONE)

    def _answer(self, message) -> int:
        """Carry out one message; every failure becomes one typed error reply. Returns the
        messages sent to the client because of it (at least one)."""
        client = self.client
        request_id = None
        try:
            command = protocol.parse_command(message)
            request_id = command.request_id
            if isinstance(command, protocol.Watch):  # about this connection, not a light
                return self.watch(command)
            if isinstance(command, protocol.SceneCommand):  # about several lights: its states say whose
                answers = self.scenes.execute(
                    command,
                    origin=self.origin,
                    requester=client,
                    reply=lambda answer: client.send_reply(protocol.reply_message(answer, request_id, named=True)),
                )
                return len(answers)
            if command.light is not None:
                client.names_lights = True  # from now on its states say whose they are
            named = client.names_lights or client.watches_lights
            if isinstance(command, protocol.Ping):  # one pong, whichever light it names
                self.lights.resolve(command.light, request_id)
                client.send_reply(protocol.pong_message(request_id))
                return 1
            self.lights.execute(
                command.light,
                command,
                origin=self.origin,
                requester=client,
                failed=lambda light, exc: self._failed(exc, request_id),
                reply=lambda answer: client.send_reply(protocol.reply_message(answer, request_id, named)),
            )
            return len(self.lights) if command.light == protocol.EVERY_LIGHT else 1
        except Exception as exc:  # noqa: BLE001 - each kind answered (a bug logged), the connection kept
            self._failed(exc, request_id)
        return 1

    def _failed(self, exc: Exception, request_id: protocol.RequestId) -> None:
        """A message, or one light's part of it, failed: its error object (doors.answers)."""
        self.client.send_reply(
            failure(exc, request_id, origin=self.origin, changes_log=self.lights.default.changes_log)[0]
        )

    def watch(self, command: protocol.Watch) -> int:
        """Start or stop what the client watches, answer it, and send what it now watches
        (what it already watched is not sent again). Returns the messages sent."""
        client = self.client
        new_schedules = command.schedules is True and not client.wants_news
        new_lights = command.lights is True and not client.watches_lights
        new_scenes = command.scenes is True and not client.wants_scenes
        if command.scenes is not None:
            client.wants_scenes = command.scenes
        if command.schedules is not None:
            client.wants_news = command.schedules
        if command.lights is not None:
            client.watches_lights = command.lights
            client.names_lights = client.names_lights or command.lights
        client.send_reply(
            protocol.watching_message(
                client.wants_news,
                command.request_id,
                client.watches_lights if client.names_lights else None,
                client.wants_scenes if client.wants_scenes or command.scenes is not None else None,
            )
        )
        sent = 1
        if new_lights:
            sent += self.send_states()
        if new_schedules or (new_lights and client.wants_news):
            sent += self.send_schedules()
        if new_scenes:
            sent += self.send_scenes()
        return sent

    def send_scenes(self) -> int:
        """Every scene, one message each, to a client that has just asked to watch them."""
        infos = self.scenes.infos()
        for info in infos:
            self.client.send_news(("scene", info.name), protocol.reply_message(info))
        return len(infos)

    def send_states(self) -> int:
        """Every light's state, to a client that has just asked to watch them (each one's under
        its lock, with the client already counted in: none is missed)."""
        client = self.client

        def send(states: list[protocol.State]) -> int:
            for light, text in named_states(states):
                client.send_state(text_frame(text), light)
            return len(states)

        return int(self.lights.read_all(send))

    def send_schedules(self) -> int:
        """Every schedule the client sees, one message each: the default light's, and every
        light's to one that watches the lights. One light at a time: before the next, the others
        get the loop and the client takes what was sent (a light's schedules are read as they
        are then; a change meanwhile reaches the client as news, since it already watches)."""
        client = self.client
        named = client.names_lights or client.watches_lights
        sent = 0
        for index, light in enumerate(self.lights if client.watches_lights else [self.lights.default]):
            if light.schedules is None:
                continue
            if index:
                time.sleep(0)  # the others' turn (under gevent a yield to the loop)
                if not client.wait_until_sent(self.send_timeout):
                    client.disconnect(f"not reading the schedules it asked for within {self.send_timeout:g} s")
                    break
            for info in light.schedules.infos():
                client.send_news((info.light, info.name), protocol.schedule_message(info, named=named))
                sent += 1
        return sent


def named_states(states: list[protocol.State]) -> list[tuple[str, str]]:
    """Each light's state with its name, as (light, text): what a client that watches the lights gets."""
    return [(state.light, protocol.state_message(state, named=True)) for state in states]
