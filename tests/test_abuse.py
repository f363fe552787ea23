"""Bad input and abuse: property tests of the parser, and random traffic against a real server process."""

import json
import os
import random
import socket
import threading
import time

from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed

import protocol
from protocol import ProtocolError, SetLevel

from support import Client, client_frame, raw_websocket, read_until_closed, worker_pid

ERROR_CODES = {protocol.INVALID_JSON, protocol.INVALID_MESSAGE, protocol.OUT_OF_RANGE, protocol.UNKNOWN_TYPE}
TYPES = ["set", "toggle", "sleep", "schedule", "unschedule", "watch", "get", "ping", "nope"]
FIELDS = [
    "level",
    "on",
    "step",
    "transition",
    "after",
    "name",
    "at",
    "cron",
    "sun",
    "offset",
    "days",
    "schedules",
    "lights",
    "light",
    "effect",
    "period",
    "depth",
    "on_time",
    "off_time",
    "count",
    "id",
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
# Values a field could plausibly take, so that every command is drawn, not only rejections.
plausible = st.one_of(
    st.integers(-120, 120),
    st.sampled_from([0.5, 1.5, 1e2, 3600, 86400, 86401]),
    st.booleans(),
    st.none(),
    st.sampled_from(
        [
            "42",
            "wake",
            "06:45",
            "25:00",
            "sunrise",
            "sunset",
            "mon-fri",
            "daily",
            "30 23 * * *",
            "0 0 31 2 *",
            "a" * 40,
            "shelf",
            "*",
            "Desk",
            "breathe",
            "candle",
            "blink",
            "flash",
            "rainbow",
        ]
    ),
)
effect_commands = st.builds(
    lambda effect, fields: json.dumps({"effect": effect, **fields}),
    st.sampled_from(["breathe", "candle", "blink", "flash", None, "rainbow"]),
    st.dictionaries(
        st.sampled_from(["period", "depth", "on_time", "off_time", "count", "light", "id"]),
        st.integers(-5, 700) | st.sampled_from([0.04, 0.5, 2.5, 1e3, "shelf", "*"]),
        max_size=3,
    ),
)
schedule_commands = st.builds(
    lambda when, action, extra: json.dumps({"type": "schedule", "name": "wake", **when, **action, **extra}),
    st.sampled_from(
        [
            {"at": "06:45"},
            {"at": "06:45", "days": "mon-fri"},
            {"cron": "30 23 * * *"},
            {"cron": "0 0 31 2 *"},
            {"at": "24:00"},
        ]
    ),
    st.sampled_from([{"level": 80}, {"on": False}, {"step": -10}, {"level": 80, "transition": 1200}, {}]),
    st.dictionaries(st.sampled_from(FIELDS), plausible, max_size=1),
)
commands = st.one_of(
    st.builds(
        lambda kind, fields: json.dumps({**({"type": kind} if kind else {}), **fields}),
        st.sampled_from([None, *TYPES]),
        st.dictionaries(st.sampled_from(FIELDS), plausible | json_values, max_size=5),
    ),
    schedule_commands,
    effect_commands,
)
messages = st.one_of(
    st.text(),
    json_values.map(json.dumps),
    st.fixed_dictionaries({"level": json_values}).map(json.dumps),
    st.fixed_dictionaries({"level": json_values, "id": json_values, "type": json_values}).map(json.dumps),
    st.integers().map(str),
    commands,
)


def _number(value):
    """A JSON number (or a string of digits) as the exact value a command holds."""
    return int(value) if isinstance(value, str) else value


def check_parse(text):
    """A message is either the protocol's own error or exactly one of the commands it documents:
    the command's type, fields, transition and id are the message's own."""
    try:
        command = protocol.parse_command(text)
    except ProtocolError as error:
        assert error.code in ERROR_CODES and error.message
        json.loads(protocol.error_message(error.code, error.message, error.request_id))
        return
    assert isinstance(text, str), f"bytes were accepted as {command!r}"
    message = json.loads(text)
    if not isinstance(message, dict):  # a bare integer
        assert isinstance(command, SetLevel) and command.level == message and not isinstance(message, bool)
        return
    kind = message.get("type", "set")
    assert command.request_id == message.get("id"), (text, command)
    expected = {
        "set": (SetLevel, protocol.SetPower, protocol.Step, protocol.SetEffect),
        "toggle": (protocol.Toggle,),
        "sleep": (protocol.Sleep,),
        "schedule": (protocol.PutSchedule,),
        "unschedule": (protocol.DeleteSchedule,),
        "watch": (protocol.Watch,),
        "get": (protocol.GetState,),
        "ping": (protocol.Ping,),
    }[kind]
    assert isinstance(command, expected), (text, command)
    if hasattr(command, "transition"):
        assert command.transition == (float(message["transition"]) if "transition" in message else None), text
    if isinstance(command, SetLevel):
        assert type(command.level) is int and command.level == _number(message["level"]), (text, command)
    elif isinstance(command, protocol.SetPower):
        assert command.on is message["on"]
    elif isinstance(command, protocol.Step):
        assert command.delta == _number(message["step"]) and -100 <= command.delta <= 100
    elif isinstance(command, protocol.Sleep):
        after = message["after"]
        assert command.after == (None if after is None else float(after)), text
    elif isinstance(command, (protocol.PutSchedule, protocol.DeleteSchedule)):
        assert command.name == message["name"]
        if isinstance(command, protocol.PutSchedule):
            check_parse(
                json.dumps({k: v for k, v in message.items() if k in ("level", "on", "step", "transition")})
            )  # its action is a set
    elif isinstance(command, protocol.Watch):
        assert command.schedules is message.get("schedules") and command.lights is message.get("lights")
    elif isinstance(command, protocol.SetEffect):
        if message["effect"] is None:
            assert command.effect is None
        else:
            assert command.effect.name == message["effect"]
            for name, value in command.effect.fields().items():  # the message's, or the effect's default
                if name != "effect" and name in message:
                    assert value == float(message[name]), (text, command)
    if not isinstance(command, protocol.Watch):
        assert command.light == message.get("light"), (text, command)
        assert command.light is None or command.light == "*" or protocol.LIGHT_NAME.fullmatch(command.light)


@settings(max_examples=1500, deadline=None)
@given(messages)
def test_any_text_is_a_command_or_the_protocols_own_error(text):
    check_parse(text)


@settings(max_examples=1500, deadline=None)
@given(commands)
def test_every_kind_of_command_is_drawn_and_read_exactly(text):
    check_parse(text)


@settings(max_examples=300, deadline=None)
@given(st.binary())
def test_any_bytes_are_the_protocols_own_error(data):
    check_parse(data)


# ---------------------------------------------------------------- over a real connection


def random_message(rng: random.Random):
    """A message and what it must do: ("set", level), ("error", code), ("pong",), ("state",) or ("close",)."""
    kind = rng.randrange(12)
    if kind == 0:
        level = rng.randrange(101)
        return json.dumps({"level": rng.choice([level, str(level)]), "id": rng.randrange(1000)}), ("set", level)
    if kind == 1:
        level = rng.randrange(101)
        return f"{level}\n", ("set", level)
    if kind == 2:
        bad = rng.choice(
            [True, False, None, "", " 7", "7a", "\u0667", "\uff17", "\u00b2", 1.5, 0.5, [1], {"a": 1}, "-1"]
        )
        return json.dumps({"level": bad}), ("error", protocol.INVALID_MESSAGE)
    if kind == 3:
        return json.dumps({"level": rng.choice([101, -1, 10 ** rng.randrange(3, 300), -(10**40)])}), (
            "error",
            protocol.OUT_OF_RANGE,
        )
    if kind == 4:
        return '{"level": ' + "9" * rng.randrange(30, 3500) + "}", ("error", protocol.OUT_OF_RANGE)
    if kind == 5:
        depth = rng.randrange(1000, 2000)
        return "[" * depth + "]" * depth, ("error", protocol.INVALID_JSON)
    if kind == 6:
        return "[" * 100_000 + "]" * 100_000, ("close", 1009)
    if kind == 7:
        return os.urandom(rng.randrange(1, 300)), ("error", protocol.INVALID_MESSAGE)  # a binary frame
    if kind == 8:
        text = "".join(chr(rng.randrange(32, 0x3000)) for _ in range(rng.randrange(1, 60)))
        return "x" + text, ("error", protocol.INVALID_JSON)  # never valid JSON: it starts with x
    if kind == 9:
        return rng.choice(['{"level": NaN}', '{"level": Infinity}', '{"level": 5', "{'level': 5}", ""]), (
            "error",
            protocol.INVALID_JSON,
        )
    if kind == 10:
        return json.dumps({"type": rng.choice(["reboot", "GET", "set_level", "\u00e9"])}), (
            "error",
            protocol.UNKNOWN_TYPE,
        )
    return json.dumps({"type": "ping"}), ("pong",)


def test_2000_random_messages_change_the_state_only_for_valid_sets(server):
    rng = random.Random(2000)
    expected, changes, closes = 50, 0, 0
    client = Client(server.ws_url, max_size=None)
    client.recv()
    for n in range(2000):
        message, effect = random_message(rng)
        client.send(message)
        if effect[0] == "close":
            try:
                reply = client.recv()
                raise AssertionError(f"expected a 1009 close, got {reply}")
            except ConnectionClosed as closed:
                assert closed.rcvd.code == 1009
            closes += 1
            client = Client(server.ws_url, max_size=None)
            assert client.recv()["level"] == expected
            continue
        reply = client.recv()
        if effect[0] == "set":
            changes += effect[1] != expected
            expected = effect[1]
            assert reply["type"] == "state" and reply["level"] == expected, (n, message, reply)
        elif effect[0] == "error":
            assert (reply["type"], reply["code"]) == ("error", effect[1]), (n, message[:60], reply)
        else:
            assert reply == {"type": "pong"}
    client.close()
    assert server.get("/led")["level"] == expected
    assert server.get("/led")["seq"] == changes
    assert closes > 50 and changes > 100


def test_invalid_utf8_closes_only_that_connection(server):
    with Client(server.ws_url) as other:
        other.recv()
        sock = raw_websocket(server.port)
        sock.sendall(client_frame(0x1, b'{"level": "\xff\xfe"}'))
        received = read_until_closed(sock)
        sock.close()
        close_frames = [received[i:] for i in range(len(received)) if received[i] == 0x88]
        assert close_frames and int.from_bytes(close_frames[-1][2:4], "big") == 1007, received
        other.send({"level": 3})
        assert other.recv() == {"type": "state", "level": 3, "on": True, "brightness": 3, "seq": 1}


def test_random_bytes_after_the_handshake_close_only_that_connection(start_server):
    """Garbage is refused at once, or, if it happens to announce a long frame, the connection
    is reaped when it fails to answer the server's ping."""
    server = start_server("--ping-interval", "1")
    rng = random.Random(7)
    with Client(server.ws_url) as other:
        other.recv()
        for size in (1, 2, 7, 100, 5000, 70_000):
            sock = raw_websocket(server.port)
            try:
                sock.sendall(rng.randbytes(size))
                read_until_closed(sock)  # the server ends this connection (close frame and/or EOF)
            except (BrokenPipeError, ConnectionResetError):
                pass
            sock.close()
        assert other.nothing_pending()
        server.wait_for(lambda h: h["clients"] == 1, what="the garbage connections gone")
    assert server.led() == {"level": 50, "on": True, "brightness": 50, "seq": 0}


def test_churn_with_resets_leaves_fds_threads_and_subscribers_at_baseline(server):
    worker = worker_pid(server)
    fds = lambda: len(os.listdir(f"/proc/{worker}/fd"))  # noqa: E731

    def connect_and_drop(n):
        sock = raw_websocket(server.port)
        sock.recv(64)  # the state on connect
        if n % 3 == 0:  # pulled cable: TCP reset, no close frame
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        else:
            sock.sendall(client_frame(0x8, (1000).to_bytes(2, "big")))
            read_until_closed(sock)
        sock.close()

    def round_of(count, parallel=20):
        threads = []
        for start in range(0, count, parallel):
            threads = [threading.Thread(target=connect_and_drop, args=(n,)) for n in range(start, start + parallel)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

    base = server.wait_for(lambda h: h["connection_threads"] == 0, what="an idle server")
    base_fds = fds()
    round_of(2000)
    health = server.wait_for(
        lambda h: h["clients"] == 0 and h["connection_threads"] == 0,
        timeout=15,
        what="no subscribers and no connection threads",
    )
    deadline = time.monotonic() + 10
    while fds() > base_fds and time.monotonic() < deadline:
        time.sleep(0.1)
    print(
        f"after 2000 connections: fds {fds()} (baseline {base_fds}); OS threads {health['threads']} "
        f"(baseline {base['threads']}: under gevent, gevent's small pool for disk writes and DNS)"
    )
    assert fds() <= base_fds
    # Connections are greenlets: 2000 of them may not have left OS threads behind.
    assert health["threads"] < base["threads"] + 10, (base, health)
    assert "Traceback" not in server.log()
