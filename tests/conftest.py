"""Fixtures shared by the tests: an isolated app per test (simulated LED), real server
processes, and the boards' fakes (a pigpio daemon, lgpio under gpiozero)."""

import sys

import pytest

from fake_boards import fake_lgpio
from fake_pigpiod import FakePigpiod
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
def app_with(mock_factory):
    """``app_with(**config)``: an isolated app with those settings, around a simulated LED."""
    from app import create_app
    from led import Led

    leds = []

    def make(**config):
        leds.append(Led(21 + len(leds), pin_factory=mock_factory))
        return create_app({"TESTING": True, **config}, led=leds[-1])

    yield make
    for led in leds:
        led.close()


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


@pytest.fixture
def pigpiod():
    """tests/fake_pigpiod.py on a free port: pigpio's socket protocol, recording the duty cycles."""
    daemon = FakePigpiod().start()
    yield daemon
    daemon.stop()


@pytest.fixture
def lgpio(monkeypatch):
    """A fake lgpio under gpiozero's real LGPIOFactory, on a board gpiozero knows (a Pi 5)."""
    module = fake_lgpio(chips=(0,), busy=(5,))
    monkeypatch.setitem(sys.modules, "lgpio", module)
    monkeypatch.delitem(sys.modules, "gpiozero.pins.lgpio", raising=False)
    import gpiozero.pins.local

    # This machine is no Pi: gpiozero reads the board from /proc, so the test tells it.
    monkeypatch.setattr(gpiozero.pins.local, "get_pi_revision", lambda: 0xD04170)
    yield module
    sys.modules.pop("gpiozero.pins.lgpio", None)
    module.close_fifo()
