"""One client cannot hurt the others: each attack against a real server process, with another
client's `get` and /healthz measured while it runs (tests/attacks.py has the attackers)."""
import json
import socket
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import protocol
from attacks import (EMPTY_CONTINUATION, EMPTY_PONG, IMPOSSIBLE_CRON, UNFINISHED_TEXT, Flood, Watcher,
                     idle_connections, rss_kb)
from mqtt_support import Broker, Listener
from support import Client, client_frame, raw_websocket, worker_pid

# What the watching client and /healthz must get while an attack runs. The targets of the
# issue (p99 50 / 100 ms) are met and printed by `make bench`; a test asserts an order of
# magnitude the undefended server misses by far (it answered nothing for seconds).
WATCH_MAX = 1.0  # seconds, the slowest answer allowed during an attack


def assert_served(watcher: Watcher) -> None:
    figures = watcher.summary()
    assert watcher.gets and watcher.healthz, figures
    assert not watcher.failures, figures
    assert max(watcher.gets) < WATCH_MAX and max(watcher.healthz) < WATCH_MAX, figures


# ---------------------------------------------------------------- 1: frame floods


@pytest.mark.parametrize("head, unit", [(b"", EMPTY_PONG), (UNFINISHED_TEXT, EMPTY_CONTINUATION)],
                         ids=["empty pongs", "empty continuations"])
def test_a_frame_flood_is_closed_with_1008_while_others_are_served(server, head, unit):
    with Watcher(server) as watcher:
        time.sleep(0.2)  # the watcher's figures before the attack, too
        flood = Flood(server.port, unit, head=head, seconds=8).start().join()
        time.sleep(0.2)
    assert flood.close_code == 1008, (flood.received[:40], flood.sent)
    assert flood.ended_after is not None and flood.ended_after < 3, flood.ended_after
    assert_served(watcher)
    assert "closed with 1008" in server.log()
    server.wait_for(lambda h: h["clients"] == 0, what="the flooder gone")


def test_a_client_may_ping_now_and_then_and_fragment_a_message(server):
    """The budget leaves room for what clients do: a ping a second, a message in a few frames."""
    sock = raw_websocket(server.port)
    try:
        sock.settimeout(5)
        sock.recv(4096)  # the state on connect
        for n in range(5):
            sock.sendall(client_frame(0x9, b"p%d" % n))
            assert sock.recv(4096) == b"\x8a\x02p%d" % n  # the pong, with the ping's payload
        parts = [b'{"type":', b'"ping",', b'"id":7}']
        sock.sendall(bytes([0x01, 0x80 | len(parts[0])]) + b"\0\0\0\0" + parts[0]
                     + bytes([0x00, 0x80 | len(parts[1])]) + b"\0\0\0\0" + parts[1]
                     + bytes([0x80, 0x80 | len(parts[2])]) + b"\0\0\0\0" + parts[2])
        assert sock.recv(4096) == b'\x81\x16{"type":"pong","id":7}'
    finally:
        sock.close()


def test_sigterm_during_a_flood_exits_at_once(server):
    flood = Flood(server.port, client_frame(0x1, b"1"), seconds=6).start()  # whole messages, rate-limited
    time.sleep(1)
    started = time.monotonic()
    assert server.stop() == 0
    took = time.monotonic() - started
    flood.join()
    assert took < 3, f"SIGTERM took {took:.1f} s during a flood"


# ---------------------------------------------------------------- 6: numbers past Decimal's range

HUGE = ["1e999999999", "-1e999999999", "1E+999999999", "1e-999999999", "9" * 5000, "-" + "9" * 5000,
        "1" + "0" * 4301 + ".5"]
FIELDS = ["level", "on", "step", "transition", "id", "after", "offset", "name", "at", "cron", "sun", "days"]


def commands_with(value: str) -> list[str]:
    """Every command of the protocol with ``value`` (JSON text) in each of its fields."""
    bases = [{"level": 5}, {"on": True}, {"step": 5}, {"type": "toggle"}, {"type": "get"}, {"type": "ping"},
             {"type": "sleep", "after": 60}, {"type": "unschedule", "name": "a"},
             {"type": "schedule", "name": "a", "at": "06:00", "level": 5},
             {"type": "schedule", "name": "a", "sun": "sunset", "offset": 5, "on": True},
             {"type": "schedule", "name": "a", "cron": "0 7 * * *", "step": 5}]
    texts = []
    for base in bases:
        for field in FIELDS:
            message = {**base, field: "@@"}
            texts.append(json.dumps(message).replace('"@@"', value))
    return texts


@settings(max_examples=400, deadline=None)
@given(value=st.sampled_from(HUGE) | st.from_regex(r"-?[0-9]{1,3}(\.[0-9]{1,3})?[eE][-+]?[0-9]{6,12}", fullmatch=True)
       | st.integers(1, 400).map(lambda depth: "[" * depth + "]" * depth),
       index=st.integers(0, 10 * len(FIELDS) + len(FIELDS) - 1))
def test_huge_exponents_digits_and_nesting_in_any_field_are_the_protocols_own_error(value, index):
    text = commands_with(value)[index]
    try:
        command = protocol.parse_command(text)
    except protocol.ProtocolError as error:
        assert error.code in (protocol.INVALID_MESSAGE, protocol.OUT_OF_RANGE, protocol.INVALID_JSON), error.code
        json.loads(protocol.error_message(error.code, error.message, error.request_id))
    else:  # accepted: only where the value is a harmless number (a tiny transition, say)
        assert command is not None


def test_an_overflowing_number_is_a_typed_error_on_every_door(start_server, tmp_path):
    broker = Broker(tmp_path).start()
    try:
        server = start_server(env={"MQTT_URL": broker.url, "MQTT_DEVICE_ID": "lamp1"})
        server.wait_for(lambda h: h["mqtt_connected"], what="the bridge connected")
        hears = Listener(broker, "ledsock/lamp1/error")
        with Client(server.ws_url) as client:
            client.recv()
            for text in ('{"step": 1e999999999}', '{"id": 1e999999999, "type": "get"}'):
                client.send(text)
                error = client.recv()
                assert error["type"] == "error" and error["code"] in ("out_of_range", "invalid_message"), error
                status, body = server.post("/led", text)
                assert status == 400 and body["code"] == error["code"], (status, body)
                hears.publish("ledsock/lamp1/set", text.encode())
                heard = hears.wait_for("ledsock/lamp1/error", lambda e: e["message"] == error["message"])
                assert heard["code"] == error["code"]
            assert client.nothing_pending()  # the WebSocket is still a WebSocket
        log = server.log()
        assert "Traceback" not in log and "Overflow" not in log, log[-2000:]
        assert server.led()["seq"] == 0
        hears.close()
    finally:
        broker.stop()
