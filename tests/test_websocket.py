"""Protocol v1 over real WebSocket connections to a real server process."""

import json
import random
import socket
import threading

import pytest
from websockets.exceptions import ConnectionClosed

from support import Client, client_frame, raw_websocket, read_until_closed


def test_a_new_client_gets_the_initial_state(start_server):
    server = start_server("--initial-level", "37")
    with Client(server.ws_url) as client:
        assert client.recv() == {"type": "state", "level": 37, "on": True, "brightness": 37, "seq": 0}
    assert server.led() == {"level": 37, "on": True, "brightness": 37, "seq": 0}


def test_a_set_reaches_every_client_with_the_same_seq(server):
    clients = [Client(server.ws_url) for _ in range(4)]
    for client in clients:
        assert client.recv()["type"] == "state"
    clients[0].send({"level": 81})
    received = [client.recv() for client in clients]
    assert received == [{"type": "state", "level": 81, "on": True, "brightness": 81, "seq": 1}] * 4
    clients[2].send("7\n")  # a terminal user types a bare number
    assert [client.recv() for client in clients] == [
        {"type": "state", "level": 7, "on": True, "brightness": 7, "seq": 2}
    ] * 4
    assert server.led() == {"level": 7, "on": True, "brightness": 7, "seq": 2}
    for client in clients:
        client.close()


BAD_MESSAGES = [
    ('{"level": 150}', "out_of_range"),
    ('{"level": -3}', "out_of_range"),
    ('{"level": 1e999}', "out_of_range"),
    ('{"level": ' + "9" * 3000 + "}", "out_of_range"),
    ('{"level": "\u00b2"}', "invalid_message"),
    ('{"level": "\uff15"}', "invalid_message"),
    ('{"level": true}', "invalid_message"),
    ('{"level": 12.5}', "invalid_message"),
    ('{"level": null}', "invalid_message"),
    ('{"level": ""}', "invalid_message"),
    ('{"levle": 5}', "invalid_message"),
    ("[5]", "invalid_message"),
    ('{"level": NaN}', "invalid_json"),
    ('{"level": 5', "invalid_json"),
    ("", "invalid_json"),
    ("[" * 2000 + "]" * 2000, "invalid_json"),
    ('{"type": "dance"}', "unknown_type"),
    (b'{"level": 5}', "invalid_message"),
    (b"\x00\xff\xfe", "invalid_message"),
]


@pytest.mark.parametrize("message,code", BAD_MESSAGES, ids=lambda v: repr(v)[:30])
def test_bad_input_gets_a_typed_error_to_its_sender_only(server, message, code):
    with Client(server.ws_url) as sender, Client(server.ws_url) as other:
        sender.recv(), other.recv()
        sender.send(message)
        reply = sender.recv()
        assert reply["type"] == "error" and reply["code"] == code
        assert set(reply) == {"type", "code", "message"} and reply["message"]
        assert sender.nothing_pending() and other.nothing_pending()
    assert server.led() == {"level": 50, "on": True, "brightness": 50, "seq": 0}


def test_an_error_names_what_was_wrong_and_what_is_accepted(server):
    with Client(server.ws_url) as client:
        client.recv()
        client.send({"level": 150})
        assert client.recv() == {
            "type": "error",
            "code": "out_of_range",
            "message": "level must be an integer from 0 to 100, got 150",
        }


def test_get_ping_and_id_echo(server):
    with Client(server.ws_url) as client, Client(server.ws_url) as other:
        client.recv(), other.recv()
        assert client.request({"type": "ping", "id": "p1"})[0] == {"type": "pong", "id": "p1"}
        client.send({"type": "ping"})
        assert client.recv() == {"type": "pong"}
        assert client.request({"type": "get", "id": 17})[0] == {
            "type": "state",
            "level": 50,
            "on": True,
            "brightness": 50,
            "seq": 0,
            "id": 17,
        }
        assert client.request({"level": "64", "id": "s1"})[0] == {
            "type": "state",
            "level": 64,
            "on": True,
            "brightness": 64,
            "seq": 1,
            "id": "s1",
        }
        assert other.recv() == {
            "type": "state",
            "level": 64,
            "on": True,
            "brightness": 64,
            "seq": 1,
        }  # no id for the others
        reply = client.request({"level": 500, "id": "bad"})[0]
        assert (reply["code"], reply["id"]) == ("out_of_range", "bad")
        assert client.request({"type": "nope", "id": 3})[0]["code"] == "unknown_type"
        assert other.nothing_pending()


def test_a_set_that_changes_nothing_is_answered_to_its_sender_only(server):
    with Client(server.ws_url) as client, Client(server.ws_url) as other:
        client.recv(), other.recv()
        assert client.request({"level": 50, "id": "same"})[0] == {
            "type": "state",
            "level": 50,
            "on": True,
            "brightness": 50,
            "seq": 0,
            "id": "same",
        }
        client.send({"level": 50})
        assert client.recv() == {"type": "state", "level": 50, "on": True, "brightness": 50, "seq": 0}
        assert other.nothing_pending()
    assert server.led() == {"level": 50, "on": True, "brightness": 50, "seq": 0}


def random_level(rng):
    return {"level": rng.randrange(101)}


def random_lamp_command(rng):
    """Levels, power, toggles and steps, half of them fading (fades retarget one another)."""
    command = rng.choice(
        [
            {"level": rng.randrange(101)},
            {"on": rng.random() < 0.5},
            {"type": "toggle"},
            {"step": rng.randrange(-30, 31)},
        ]
    )
    if rng.random() < 0.5:
        command["transition"] = rng.choice([0, 0.05, 0.3, 1.0])
    return command


@pytest.mark.parametrize("command", [random_level, random_lamp_command])
def test_every_client_converges_after_concurrent_random_sets(start_server, command):
    server = start_server("--threads", "80")
    clients = [Client(server.ws_url) for _ in range(50)]
    for client in clients:
        client.recv()
    go = threading.Barrier(len(clients))

    received = {}

    def storm(n, client, rng):
        go.wait()
        for i in range(20):
            client.send({**command(rng), "id": f"{n}-{i}"})
        # The reply to its last set means the server has taken all of this client's sets.
        reply, before = client.recv_until(lambda m: m.get("id") == f"{n}-19", timeout=60)
        received[n] = before + [reply]

    threads = [threading.Thread(target=storm, args=(n, c, random.Random(n))) for n, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(received) == len(clients)
    final = server.get("/led")
    assert final["seq"] > 0
    for n, client in enumerate(clients):
        # A get is answered after everything queued before it, so the last state before
        # its reply is the last state this client received.
        reply, before = client.request({"type": "get", "id": f"final-{n}"})
        states = [m for m in received[n] + before if m["type"] == "state"]
        seqs = [m["seq"] for m in states]
        assert seqs == sorted(seqs), "states arrived out of order"
        assert [states[-1][k] for k in ("level", "on", "brightness", "seq")] == [
            final[k] for k in ("level", "on", "brightness", "seq")
        ]
        assert [reply[k] for k in ("level", "on", "brightness", "seq")] == [
            final[k] for k in ("level", "on", "brightness", "seq")
        ]
    for client in clients:
        client.close()


def test_rest_post_reaches_websocket_clients(server):
    with Client(server.ws_url) as a, Client(server.ws_url) as b:
        a.recv(), b.recv()
        assert server.post("/led", '{"level": 12}') == (200, {"level": 12, "on": True, "brightness": 12, "seq": 1})
        assert a.recv() == b.recv() == {"type": "state", "level": 12, "on": True, "brightness": 12, "seq": 1}
        assert server.post("/led", "level=88", "application/x-www-form-urlencoded") == (
            200,
            {"level": 88, "on": True, "brightness": 88, "seq": 2},
        )
        assert a.recv() == b.recv() == {"type": "state", "level": 88, "on": True, "brightness": 88, "seq": 2}


def test_a_client_offering_permessage_deflate_as_browsers_do_is_served_uncompressed(server):
    with Client(server.ws_url, compression="deflate") as client, Client(server.ws_url, compression=None) as plain:
        assert client.recv() == plain.recv()
        # Declined on purpose: messages are tiny, and shared frames need no per-client zlib.
        assert client.conn.protocol.extensions == []
        assert "Sec-WebSocket-Extensions" not in client.conn.response.headers
        for level in (1, 2, 3):
            client.send({"level": level})
            assert client.recv()["level"] == plain.recv()["level"] == level


def test_a_message_over_the_size_limit_closes_that_connection_with_1009(server):
    with Client(server.ws_url, max_size=None) as big, Client(server.ws_url) as other:
        big.recv(), other.recv()
        big.send('{"level": 5, "pad": "' + "x" * 100_000 + '"}')
        with pytest.raises(ConnectionClosed) as closed:
            big.recv()
        assert closed.value.rcvd.code == 1009
        other.send({"level": 6})
        assert other.recv() == {"type": "state", "level": 6, "on": True, "brightness": 6, "seq": 1}
    assert server.led() == {"level": 6, "on": True, "brightness": 6, "seq": 1}


def test_a_message_just_under_the_limit_is_served(server):
    with Client(server.ws_url) as client:
        client.recv()
        message = '{"level": 9, "pad": "' + "x" * 4000 + '"}'
        assert len(message) < 4096
        client.send(message)
        assert client.recv() == {"type": "state", "level": 9, "on": True, "brightness": 9, "seq": 1}


def test_the_log_has_a_line_per_connect_change_and_disconnect_with_the_address(server):
    with Client(server.ws_url) as client:
        client.recv()
        port = client.conn.local_address[1]
        client.send({"level": 3})
        client.recv()
    server.wait_for(lambda h: h["clients"] == 0, what="disconnect")
    log = server.log()
    assert f"client 127.0.0.1:{port} connected (1 clients)" in log
    assert f"level 50 -> 3 (seq 1) by ws 127.0.0.1:{port}" in log
    assert f"client 127.0.0.1:{port} disconnected: client closed (0 clients)" in log


def test_health_reports_the_simulated_led(server):
    with Client(server.ws_url) as client:
        client.recv()
        health = server.wait_for(lambda h: h["clients"] == 1, what="one client")
    assert health["status"] == "ok"
    assert (health["pin"], health["pin_factory"], health["simulated"]) == (21, "mock", True)
    assert (health["level"], health["seq"]) == (50, 0)
    assert isinstance(health["uptime_s"], (int, float))
    assert "SIMULATED" in server.log()


def test_rest_rejects_bad_input_with_the_same_error_objects(server):
    with Client(server.ws_url) as client:
        client.recv()
        cases = [
            ('{"level": true}', "application/json", 400, "invalid_message"),
            ('{"level": 101}', "application/json", 400, "out_of_range"),
            ('{"type": "ping"}', "application/json", 400, "invalid_message"),
            ('{"level": 5', "application/json", 400, "invalid_json"),
            ("level=\u00b2", "application/x-www-form-urlencoded", 400, "invalid_message"),
            ("level=", "application/x-www-form-urlencoded", 400, "invalid_message"),
            ('{"level": 5, "pad": "' + "x" * 5000 + '"}', "application/json", 413, "invalid_message"),
        ]
        for body, content_type, status, code in cases:
            got_status, reply = server.post("/led", body, content_type)
            assert (got_status, reply["type"], reply["code"]) == (status, "error", code), body[:40]
            assert reply["message"]
        assert client.nothing_pending()
    assert server.led() == {"level": 50, "on": True, "brightness": 50, "seq": 0}
    assert server.post("/led", "80", "application/json") == (200, {"level": 80, "on": True, "brightness": 80, "seq": 1})


def test_a_client_flooding_its_socket_does_not_starve_the_others(start_server):
    """2,000 sets arrive in one burst on one connection; another client's ping is answered
    while the burst is still being worked through, not after it."""
    server = start_server("--rate-limit", "1000000", "--rate-burst", "1000000")
    with Client(server.ws_url) as other:
        other.recv()
        flooder = raw_websocket(server.port)
        drained = threading.Thread(target=read_until_closed, args=(flooder, 30), daemon=True)
        drained.start()  # its replies are read, so it never waits for room
        burst = b"".join(
            client_frame(0x1, json.dumps({"level": 1 + i % 99 + (i % 99 >= 49)}).encode()) for i in range(2000)
        )
        flooder.sendall(burst)
        other.recv()  # the burst has begun
        pong, before = other.request({"type": "ping", "id": "p"}, timeout=30)
        seqs = [m["seq"] for m in before if m.get("type") == "state"]
        print(f"the ping was answered after state seq {max(seqs, default=0)} of the burst's 2000")
        assert max(seqs, default=0) < 1500, max(seqs)
        flooder.shutdown(socket.SHUT_RDWR)
        drained.join(10)
        flooder.close()
