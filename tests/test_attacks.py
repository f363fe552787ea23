"""One client cannot hurt the others: each attack against a real server process, with another
client's `get` and /healthz measured while it runs (tests/attacks.py has the attackers)."""

import json
import socket
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import protocol

from attacks import (
    EMPTY_CONTINUATION,
    EMPTY_PONG,
    IMPOSSIBLE_CRON,
    UNFINISHED_TEXT,
    WATCH_MAX,
    Flood,
    Watcher,
    assert_served,
    effect_churn,
    every_light_flood,
    idle_connections,
    rss_kb,
    schedule_churn,
    slow_readers,
)
from mqtt_support import Broker, Listener
from support import Client, client_frame, raw_websocket, read_until_closed, worker_pid

# Timed against a real server: these run one after another, on one test worker.
pytestmark = pytest.mark.xdist_group("timed attacks")

# ---------------------------------------------------------------- 1: frame floods


@pytest.mark.parametrize(
    "head, unit", [(b"", EMPTY_PONG), (UNFINISHED_TEXT, EMPTY_CONTINUATION)], ids=["empty pongs", "empty continuations"]
)
def test_a_frame_flood_is_closed_with_1008_while_others_are_served(server, head, unit):
    with Watcher(server) as watcher:
        watcher.more_rounds()  # the watcher's figures before the attack, too
        flood = Flood(server.port, unit, head=head, seconds=8).start().join()
        watcher.more_rounds()
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
        sock.sendall(
            bytes([0x01, 0x80 | len(parts[0])])
            + b"\0\0\0\0"
            + parts[0]
            + bytes([0x00, 0x80 | len(parts[1])])
            + b"\0\0\0\0"
            + parts[1]
            + bytes([0x80, 0x80 | len(parts[2])])
            + b"\0\0\0\0"
            + parts[2]
        )
        assert sock.recv(4096) == b'\x81\x16{"type":"pong","id":7}'
    finally:
        sock.close()


def fragments(payload: bytes) -> bytes:
    """``payload`` as one text message in one-byte frames, masked as a client sends them."""
    frames = []
    for index in range(len(payload)):
        opcode = 0x1 if index == 0 else 0x0
        final = 0x80 if index == len(payload) - 1 else 0
        frames.append(bytes([final | opcode, 0x81]) + b"\0\0\0\0" + payload[index : index + 1])
    return b"".join(frames)


@pytest.mark.parametrize("size", [30, 4096])
def test_a_message_in_one_byte_frames_is_taken_up_to_the_largest_message(server, size):
    """RFC 6455 lets a client fragment a message as it likes: bounded by bytes, not frames."""
    head = b'{"type":"ping","id":7,"p":"'
    message = head + b"x" * (size - len(head) - 2) + b'"}'
    assert len(message) == size
    sock = raw_websocket(server.port)
    try:
        sock.settimeout(5)
        sock.recv(4096)  # the state on connect
        sock.sendall(fragments(message))
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

HUGE = [
    "1e999999999",
    "-1e999999999",
    "1E+999999999",
    "1e-999999999",
    "9" * 5000,
    "-" + "9" * 5000,
    "1" + "0" * 4301 + ".5",
]
FIELDS = ["level", "on", "step", "transition", "id", "after", "offset", "name", "at", "cron", "sun", "days"]


def commands_with(value: str) -> list[str]:
    """Every command of the protocol with ``value`` (JSON text) in each of its fields."""
    bases = [
        {"level": 5},
        {"on": True},
        {"step": 5},
        {"type": "toggle"},
        {"type": "get"},
        {"type": "ping"},
        {"type": "sleep", "after": 60},
        {"type": "unschedule", "name": "a"},
        {"type": "schedule", "name": "a", "at": "06:00", "level": 5},
        {"type": "schedule", "name": "a", "sun": "sunset", "offset": 5, "on": True},
        {"type": "schedule", "name": "a", "cron": "0 7 * * *", "step": 5},
    ]
    texts = []
    for base in bases:
        for field in FIELDS:
            message = {**base, field: "@@"}
            texts.append(json.dumps(message).replace('"@@"', value))
    return texts


@settings(max_examples=400, deadline=None)
@given(
    value=st.sampled_from(HUGE)
    | st.from_regex(r"-?[0-9]{1,3}(\.[0-9]{1,3})?[eE][-+]?[0-9]{6,12}", fullmatch=True)
    | st.integers(1, 400).map(lambda depth: "[" * depth + "]" * depth),
    index=st.integers(0, 10 * len(FIELDS) + len(FIELDS) - 1),
)
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


# ---------------------------------------------------------------- 2: crontab lines that never fire


def test_impossible_crontab_lines_are_refused_at_a_bounded_cost(server):
    with Watcher(server) as watcher, Client(server.ws_url) as attacker:
        attacker.recv()
        started = time.monotonic()
        for n in range(50):
            attacker.send({**IMPOSSIBLE_CRON, "id": n})
        replies = [attacker.recv_until(lambda m: m.get("id") == n)[0] for n in range(50)]
        took = time.monotonic() - started
    assert all(
        r["type"] == "error" and r["code"] == "invalid_message" and "never fire" in r["message"] for r in replies
    ), replies[0]
    assert took < 2, f"50 impossible lines took {took:.1f} s"  # undefended: about 0.4 s each
    assert_served(watcher)
    assert server.get("/schedules") == []


def test_a_state_file_of_impossible_lines_starts_at_once_without_them(start_server, tmp_path):
    server = start_server(wait=False)
    server.proc.terminate()
    server.proc.wait()
    path = tmp_path / f"state-{server.port}.json"
    lines = [{"name": f"x{n}", "cron": f"{n} 0 31 2,4,6,9,11 *", "level": 5} for n in range(31)]
    lines.append({"name": "ok", "cron": "0 7 * * *", "level": 60})
    path.write_text(json.dumps({"brightness": 40, "on": True, "level": 40, "schedules": lines}))
    again = start_server(env={"STATE_FILE": str(path)}, port=server.port, wait=False)
    started = time.monotonic()
    again.wait_ready()
    assert time.monotonic() - started < 5
    assert [s["name"] for s in again.get("/schedules")] == ["ok"]
    assert again.log().count("a saved schedule was dropped") == 31


# ---------------------------------------------------------------- 3: idle and trickling connections


def test_idle_connections_and_trickled_headers_leave_http_and_websockets_served(server):
    pid = worker_pid(server)
    before = rss_kb(pid)
    idle, trickler = [], None
    try:
        with Watcher(server) as watcher:
            idle = idle_connections(server.port, 4200)  # more than the server takes at once (MAX_CLIENTS + 100)
            trickler = socket.create_connection(("127.0.0.1", server.port))
            trickler.sendall(b"GET /healthz HTTP/1.1\r\n")  # the headers come one byte at a time, then stop
            for byte in b"Host: 127.0.0.1\r\n":
                time.sleep(0.05)
                trickler.send(bytes([byte]))
            started = time.monotonic()
            with Client(server.ws_url) as late:  # a WebSocket that connects after all of them
                assert late.recv()["type"] == "state"
            assert time.monotonic() - started < WATCH_MAX
            # The headers' deadline (10 s) closes the trickler; gevent answers 400 first.
            assert read_until_closed(trickler, timeout=15).startswith(b"HTTP/1.1 400"), "the trickler was not cut off"
            during = rss_kb(pid)
        assert_served(watcher)
        health = server.get("/healthz")
        assert health["http_closed_waiting"] >= 100, health  # 4,201 tried, about 4,050 fit
    finally:
        for sock in idle + [trickler]:
            if sock is not None:
                sock.close()
    assert "HTTP: the server is full" in server.log()
    server.wait_for(lambda h: h["http_waiting"] <= 1, what="the idle connections gone")
    after = rss_kb(pid)
    # While it lasts, the attack holds at most the server's connections (MAX_CLIENTS + 100,
    # each far cheaper than the WebSocket client MAX_CLIENTS is sized for); then it is given back.
    assert during - before < 40_000 and after - before < 8_000, (before, during, after)  # make bench: the 5 MB target


def test_a_slow_body_gets_408_and_a_huge_one_413_without_reaching_the_app(start_server):
    server = start_server()
    slow = socket.create_connection(("127.0.0.1", server.port))
    slow.sendall(
        b'POST /led HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{"lev'
    )
    started = time.monotonic()
    answer = read_until_closed(slow, timeout=15)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408") and json.loads(body)["code"] == "invalid_message", answer
    assert 9 < time.monotonic() - started < 13
    slow.close()
    huge = socket.create_connection(("127.0.0.1", server.port))
    huge.sendall(b"POST /led HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 999999999\r\n\r\n")
    assert read_until_closed(huge).startswith(b"HTTP/1.1 413")
    huge.close()
    assert server.led()["seq"] == 0


def test_a_thousand_clients_slow_to_send_their_handshake_are_all_served(server):
    """What the idle-connection defence must not do: cut off a burst of real clients (a
    thousand pages reconnecting after a restart) that connect first and send later."""
    sockets = idle_connections(server.port, 1000)
    try:
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        for sock in sockets:
            sock.sendall(
                (
                    f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
                    f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                ).encode()
            )
        for sock in sockets:
            sock.settimeout(10)
            assert sock.recv(12) == b"HTTP/1.1 101"
        assert server.get("/healthz")["http_closed_waiting"] == 0
    finally:
        for sock in sockets:
            sock.close()


# ---------------------------------------------------------------- 4: slow readers


def test_slow_readers_with_unsolicited_pongs_are_dropped_and_memory_comes_back(start_server):
    server = start_server("--ping-interval", "1")
    pid = worker_pid(server)
    with Client(server.ws_url) as warm:  # the first schedule loads APScheduler: not the attack's cost
        warm.recv()
        warm.request({"type": "schedule", "name": "warm", "at": "07:00", "level": 5, "id": "w"})
        warm.request({"type": "unschedule", "name": "warm", "id": "u"})
    before = rss_kb(pid)
    with Watcher(server) as watcher:
        figures = slow_readers(server, seconds=8)
        during = rss_kb(pid)
    assert figures["dropped"] == 50 and figures["last_dropped_after_s"] < 5, figures
    assert_served(watcher)
    server.wait_for(lambda h: h["clients"] == 0, what="every client gone")
    after = rss_kb(pid)
    assert during - before < 10_000 and after - before < 5_000, (before, during, after)
    assert "no answer to a ping within 1 s" in server.log()


# ---------------------------------------------------------------- 5: schedule messages and the disk


def test_schedule_messages_write_the_state_file_at_most_once_a_second(server):
    with Client(server.ws_url) as writer, Client(server.ws_url + "?watch=schedules") as watcher:
        writer.recv(), watcher.recv()
        writer.request({"type": "schedule", "name": "same", "at": "07:00", "level": 5, "id": "first"})
        assert watcher.recv()["name"] == "same"  # news of a change
        writes_before = server.wait_for(lambda h: h["state_file_writes"] == 1, what="its write")["state_file_writes"]
        started = time.monotonic()
        schedule_churn(server, seconds=2)  # 300 messages
        took = time.monotonic() - started
        last = server.wait_for(lambda h: not h["state_file_pending"], what="the last write")  # within a second
        writes = last["state_file_writes"] - writes_before
        assert 1 <= writes <= took + 2, (writes, took)
        _, news = watcher.request({"type": "ping", "id": "probe"})
        names = [m.get("name") for m in news if m["type"] in ("schedule", "schedule_deleted")]
        assert names and "same" not in names, names  # the identical puts told no one
    assert [s["name"] for s in server.get("/schedules")] == ["same"]


# ---------------------------------------------------------------- 7: every light at once


def test_commands_for_every_light_and_watches_turned_on_and_off_hold_up_no_one(start_server):
    """Several lights multiply what one message asks for: a "*" command is a change of every
    light for every watcher, a watch turned on sends every light and schedule again."""
    server = start_server(env=every_light_flood.server_env)
    pid = worker_pid(server)
    with Watcher(server, fan_out=True) as watcher:
        watcher.more_rounds()
        before = rss_kb(pid)
        figures = every_light_flood(server, seconds=6)
        watcher.more_rounds()
    assert figures["messages"] > 2000, figures  # the attack ran
    assert_served(watcher)
    assert watcher.converged, watcher.summary()
    server.wait_for(lambda h: h["clients"] == 0, timeout=20, what="the attackers gone")
    assert rss_kb(pid) - before < 5 * 1024, (before, rss_kb(pid))
    print(f"every light at once: {figures}; {watcher.summary()}")


# ---------------------------------------------------------------- 8: effects everywhere


def test_effects_on_every_light_switched_as_fast_as_clients_can_hold_up_no_one(start_server):
    """Eight lights each writing 60 levels a second, and every light's effect switched again
    and again: the LED's writers share the loop with everyone."""
    server = start_server(env=effect_churn.server_env)
    with Watcher(server, fan_out=True) as watcher:
        watcher.more_rounds()
        figures = effect_churn(server, seconds=6)
        watcher.more_rounds()
    assert figures["messages"] > 200, figures  # the attack ran
    assert_served(watcher)
    assert watcher.converged, watcher.summary()
    print(f"effects everywhere: {figures}; {watcher.summary()}")
