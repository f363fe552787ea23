"""Hostile pages, tokens, floods and too many clients, against a real server process: what needs
the server itself (a WebSocket that opens, a flood, a full house); the rules alone are tested in
process in test_admission.py."""

import json
import time
import urllib.error
import urllib.request

import pytest
from websockets.exceptions import InvalidStatus

from support import Client


def refused(url, **kwargs):
    """Open a WebSocket that the server must refuse; return (HTTP status, JSON body)."""
    with pytest.raises(InvalidStatus) as caught:
        Client(url, **kwargs)
    response = caught.value.response
    return response.status_code, json.loads(response.body)


def post(server, body, headers):
    request = urllib.request.Request(server.http + "/led", data=body.encode(), method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_the_own_page_and_non_browser_clients_may(server):
    with Client(server.ws_url, origin=f"http://127.0.0.1:{server.port}") as page, Client(server.ws_url) as script:
        assert page.recv()["type"] == script.recv()["type"] == "state"


def test_listed_origins_may(start_server):
    server = start_server(env={"ALLOWED_ORIGINS": "https://dash.example, http://kiosk.lan:8080"})
    with (
        Client(server.ws_url, origin="https://dash.example") as a,
        Client(server.ws_url, origin="http://kiosk.lan:8080") as b,
    ):
        a.recv(), b.recv()
    assert refused(server.ws_url, origin="https://dash.example.evil")[0] == 403
    assert post(server, "level=9", {**FORM, "Origin": "https://dash.example"}) == (
        200,
        {"level": 9, "on": True, "brightness": 9, "seq": 1},
    )


@pytest.fixture
def token_server(start_server):
    return start_server(env={"LED_TOKEN": "correct horse"})


def test_with_a_token_set_the_websocket_needs_it(token_server):
    server = token_server
    for url, headers in (
        (server.ws_url, None),
        (server.ws_url + "?token=wrong", None),
        (server.ws_url, {"Authorization": "Bearer wrong"}),
    ):
        status, body = refused(url, additional_headers=headers)
        assert (status, body["code"]) == (401, "unauthorized")
    with (
        Client(server.ws_url + "?token=correct%20horse") as by_query,
        Client(server.ws_url, additional_headers={"Authorization": "Bearer correct horse"}) as by_header,
    ):
        assert by_query.recv()["type"] == by_header.recv()["type"] == "state"
    assert "correct horse" not in server.log()


def test_a_flood_is_rate_limited_and_the_connection_survives(start_server):
    server = start_server("--rate-limit", "50", "--rate-burst", "100")
    with Client(server.ws_url) as flooder, Client(server.ws_url) as other:
        flooder.recv(), other.recv()
        for i in range(400):
            flooder.send({"type": "ping", "id": i})
        replies = [flooder.recv() for _ in range(400)]
        pongs = [r for r in replies if r["type"] == "pong"]
        limited = [r for r in replies if r.get("code") == "rate_limited"]
        assert len(pongs) + len(limited) == 400
        assert 100 <= len(pongs) < 200, len(pongs)  # the burst, plus what refilled meanwhile
        assert "over 50 messages a second" in limited[0]["message"]
        deadline = time.monotonic() + 5
        while True:  # the bucket refills: a ping is answered again soon
            flooder.send({"type": "ping", "id": "after"})
            reply = flooder.recv()  # one reply a message: the pong, or rate_limited (no id)
            if reply == {"type": "pong", "id": "after"}:
                break
            assert reply.get("code") == "rate_limited" and time.monotonic() < deadline, reply
            time.sleep(0.05)
        assert other.nothing_pending()


def test_extra_clients_get_503_at_once_and_never_hang(start_server):
    server = start_server("--threads", "10", "--max-clients", "3")
    clients = [Client(server.ws_url) for _ in range(3)]
    for client in clients:
        client.recv()
    for _ in range(5):
        started = time.monotonic()
        status, body = refused(server.ws_url)
        assert (status, body["code"]) == (503, "too_many_clients")
        assert "maximum of 3" in body["message"]
        assert time.monotonic() - started < 2
    assert server.get("/led")["level"] == 50  # HTTP still has threads
    clients.pop().close()
    server.wait_for(lambda h: h["clients"] == 2, what="a free slot")
    with Client(server.ws_url) as late:
        assert late.recv()["type"] == "state"
    for client in clients:
        client.close()


# ---------------------------------------------------------------- DNS rebinding: the Host check

REBOUND = {"Host": "attacker.example", "Origin": "http://attacker.example"}
UPGRADE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


def raw_request(server, method, path, headers, body=None):
    """One HTTP request with exactly these headers (Host included); returns (status, body)."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body.encode() if body is not None else None)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_every_default_name_of_the_service_is_accepted(server):
    import socket

    hostname = socket.gethostname()
    short = hostname.split(".")[0]
    for host in (
        f"127.0.0.1:{server.port}",
        "127.0.0.1",
        f"[::1]:{server.port}",
        "[::1]",
        f"localhost:{server.port}",
        "LOCALHOST",
        hostname,
        f"{short}.local:{server.port}",
        f"{short}.local.",
        "192.168.1.20:5000",
        "[fe80::1]:5000",
    ):
        status, text = raw_request(server, "GET", "/led", {"Host": host})
        assert (status, json.loads(text)["seq"]) == (200, 0), host
    status, _ = raw_request(
        server,
        "POST",
        "/led",
        {"Host": f"{short}.local:{server.port}", "Origin": f"http://{short}.local:{server.port}", **FORM},
        "level=9",
    )
    assert status == 200
    status, _ = raw_request(server, "GET", "/ws", {"Host": f"localhost:{server.port}", **UPGRADE})
    assert status == 101
