"""The app factory in process: isolation, the injected LED, configuration, and the REST twin."""

import pytest

from app import DEFAULT_CONFIG, create_app
from broadcast.handshake import SERVER_OPTIONS
from curves.brightness import Curve
from led import Led

CIE = Curve("cie")  # the default curve: level to duty


def led_state(client) -> dict:
    """GET /led, without the level shown this instant (checked to be a level)."""
    body = client.get("/led").get_json()
    assert 0 <= body.pop("shown") <= 100
    return body


def test_the_injected_led_follows_rest_sets(app, client, mock_factory):
    assert led_state(client) == {"level": 50, "on": True, "brightness": 50, "seq": 0}
    response = client.post("/led", json={"level": 73})
    assert response.status_code == 200 and response.get_json() == {"level": 73, "on": True, "brightness": 73, "seq": 1}
    assert mock_factory.pin(21).state == pytest.approx(CIE.duty(73))
    assert client.post("/led", data={"level": "5"}).get_json() == {"level": 5, "on": True, "brightness": 5, "seq": 2}
    assert mock_factory.pin(21).state == pytest.approx(CIE.duty(5))


def test_a_bad_post_changes_nothing(client, mock_factory):
    response = client.post("/led", json={"level": "５"})
    assert response.status_code == 400 and response.get_json()["code"] == "invalid_message"
    assert led_state(client) == {"level": 50, "on": True, "brightness": 50, "seq": 0}
    assert mock_factory.pin(21).state == pytest.approx(CIE.duty(50))


def test_apps_share_no_state(mock_factory):
    first = create_app({"TESTING": True, "INITIAL_LEVEL": 10}, led=Led(18, pin_factory=mock_factory))
    second = create_app({"TESTING": True}, led=Led(19, pin_factory=mock_factory))
    first.test_client().post("/led", json={"level": 90})
    assert led_state(first.test_client()) == {"level": 90, "on": True, "brightness": 90, "seq": 1}
    assert led_state(second.test_client()) == {"level": 50, "on": True, "brightness": 50, "seq": 0}
    assert mock_factory.pin(18).state == pytest.approx(CIE.duty(90))
    assert mock_factory.pin(19).state == pytest.approx(CIE.duty(50))


def test_ping_interval_is_the_handlers_own_and_never_reaches_simple_websocket(mock_factory):
    import copy

    defaults = copy.deepcopy(DEFAULT_CONFIG)
    flask_app = create_app(
        {"SOCK_SERVER_OPTIONS": {"max_message_size": 100, "ping_interval": 3}}, led=Led(21, pin_factory=mock_factory)
    )
    # flask-sock passes these options to simple-websocket on every connection; its own
    # pinging would keep a selector per connection, so the handler pings instead.
    assert flask_app.config["SOCK_SERVER_OPTIONS"] == {"max_message_size": 100, **SERVER_OPTIONS}
    assert flask_app.config["MAX_CONTENT_LENGTH"] == 100
    assert DEFAULT_CONFIG == defaults  # building an app changes no default (it pops from its own copy)
