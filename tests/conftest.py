"""Fixtures: an isolated app per test (simulated LED), and real server processes."""
import pytest

from support import ServerProcess


@pytest.fixture
def mock_factory():
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    factory = MockFactory(pin_class=MockPWMPin)
    yield factory
    factory.close()


@pytest.fixture
def app(mock_factory):
    """An isolated app around a simulated LED on GPIO21, with no state file."""
    from app import create_app
    from led import Led

    led = Led(21, pin_factory=mock_factory)
    flask_app = create_app({"TESTING": True}, led=led)
    yield flask_app
    led.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def start_server(tmp_path):
    """Start `python app.py ...` with extra flags/env; every server is stopped afterwards."""
    servers = []

    def start(*args, env=None, port=None, wait=True):
        server = ServerProcess(tmp_path, *args, env=env, port=port)
        servers.append(server)
        return server.start(wait=wait)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def server(start_server):
    return start_server()
