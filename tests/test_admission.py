"""Who may use the service, in process with Flask's test client (as flaskr's tests do): a
browser's Origin, the token, the Host a request names (DNS rebinding). Refusals come before any
upgrade, change or read, as the same JSON error objects every door answers with; what needs
a real server (a WebSocket that opens, a full house) is in test_security.py."""

import logging

import pytest

UPGRADE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}
REBOUND = {"Host": "attacker.example", "Origin": "http://attacker.example"}
FORM = "application/x-www-form-urlencoded"


def state_of(app) -> dict:
    return app.test_client().get("/led").get_json()


def test_a_foreign_page_cannot_open_the_websocket(app, client, caplog):
    caplog.set_level(logging.WARNING)
    for origin in ("http://evil.example", "null", "http://localhost.evil.example", "file://", "ftp://localhost"):
        response = client.get("/ws", headers={**UPGRADE, "Origin": origin})
        assert (response.status_code, response.get_json()["code"]) == (403, "forbidden_origin"), origin
    assert client.get("/healthz").get_json()["clients"] == 0
    assert "Origin http://evil.example is not allowed" in caplog.text


def test_a_cross_site_form_post_changes_nothing(app, client):
    response = client.post("/led", data="level=99", content_type=FORM, headers={"Origin": "http://evil.example"})
    assert (response.status_code, response.get_json()["code"]) == (403, "forbidden_origin")
    assert state_of(app)["seq"] == 0 and state_of(app)["level"] == 50
    answer = client.post("/led", data="level=99", content_type=FORM)  # curl sends no Origin
    assert (answer.status_code, answer.get_json()) == (200, {"level": 99, "on": True, "brightness": 99, "seq": 1})
    own = client.post("/led", data="level=98", content_type=FORM, headers={"Origin": "http://localhost"})
    assert (own.status_code, own.get_json()) == (200, {"level": 98, "on": True, "brightness": 98, "seq": 2})


def test_listed_origins_may_post(app_with):
    app = app_with(ALLOWED_ORIGINS=("https://dash.example", "http://kiosk.lan:8080"))
    client = app.test_client()
    answer = client.post("/led", data="level=9", content_type=FORM, headers={"Origin": "https://dash.example"})
    assert (answer.status_code, answer.get_json()) == (200, {"level": 9, "on": True, "brightness": 9, "seq": 1})
    evil = client.post("/led", data="level=9", content_type=FORM, headers={"Origin": "https://dash.example.evil"})
    assert evil.status_code == 403


def test_with_a_token_set_post_needs_the_bearer_header(app_with, caplog):
    app = app_with(LED_TOKEN="correct horse")
    client = app.test_client()
    assert client.post("/led", data="level=5", content_type=FORM).status_code == 401
    nope = client.post("/led", data="level=5", content_type=FORM, headers={"Authorization": "Bearer nope"})
    assert nope.status_code == 401 and nope.headers["WWW-Authenticate"] == 'Bearer realm="ledsock"'
    ok = client.post("/led", data="level=5", content_type=FORM, headers={"Authorization": "Bearer correct horse"})
    assert (ok.status_code, ok.get_json()) == (200, {"level": 5, "on": True, "brightness": 5, "seq": 1})
    assert state_of(app) | {"shown": 0} == {"level": 5, "on": True, "brightness": 5, "seq": 1, "shown": 0}
    refused = client.get("/ws", headers=UPGRADE, query_string={"token": "wrong"})
    assert (refused.status_code, refused.get_json()["code"]) == (401, "unauthorized")
    assert "correct horse" not in caplog.text


def test_a_rebinding_page_can_neither_change_nor_read_the_led(app, client, caplog):
    # What the attacker's page makes the visitor's browser send: `curl -H 'Host: attacker.example'
    # -H 'Origin: http://attacker.example' -d level=7 http://PI:5000/led`, and the same for /ws.
    caplog.set_level(logging.WARNING)
    for method, path, extra, body in [
        ("POST", "/led", {"Content-Type": FORM}, "level=7"),
        ("GET", "/ws", UPGRADE, None),
        ("GET", "/led", {}, None),
        ("GET", "/healthz", {}, None),
        ("GET", "/", {}, None),
        ("GET", "/static/ledsock.js", {}, None),
    ]:
        response = client.open(path, method=method, headers={**REBOUND, **extra}, data=body)
        assert response.status_code == 403, (path, response.status_code, response.data)
        assert response.get_json()["code"] == "forbidden_host", (path, response.data)
    assert state_of(app)["seq"] == 0
    assert "Host attacker.example is not this service's" in caplog.text


def test_allowed_hosts_adds_names_and_star_turns_the_check_off(app_with):
    named = app_with(ALLOWED_HOSTS=("lamp.example", " Kiosk.Lan")).test_client()
    for host in ("lamp.example", "kiosk.lan:8080"):
        assert named.get("/led", headers={"Host": host}).status_code == 200, host
    assert named.get("/led", headers={"Host": "lamp.example.evil"}).status_code == 403
    anything = app_with(ALLOWED_HOSTS=("*",)).test_client()
    assert anything.get("/led", headers=REBOUND).status_code == 200


@pytest.mark.parametrize(
    "path, method, status, code",
    [
        ("/nowhere", "GET", 404, "not_found"),
        ("/led", "PUT", 405, "method_not_allowed"),
        ("/ws", "GET", 400, "invalid_message"),  # admitted, but no upgrade: what a page's failed WebSocket never says
    ],
)
def test_every_refusal_is_the_protocols_json_error_object(client, path, method, status, code):
    response = client.open(path, method=method)
    assert (response.status_code, response.mimetype, response.get_json()["type"], response.get_json()["code"]) == (
        status,
        "application/json",
        "error",
        code,
    )
