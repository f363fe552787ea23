"""Each reach of adapters/ into a library's internals, pinned against the locked versions: an
upgrade that moves one fails here, naming it, before it fails anywhere else."""

import gc
import socket
import sys
import threading

import pytest

from adapters import gpio_stack, websocket_stack
from broadcast.handshake import SERVER_OPTIONS

UPGRADE = {
    "HTTP_HOST": "127.0.0.1",
    "HTTP_CONNECTION": "Upgrade",
    "HTTP_UPGRADE": "websocket",
    "HTTP_SEC_WEBSOCKET_KEY": "dGhlIHNhbXBsZSBub25jZQ==",
    "HTTP_SEC_WEBSOCKET_VERSION": "13",
}


@pytest.fixture
def handshaken():
    """simple-websocket's Server after its handshake, on one end of a socket pair, as the
    service's server hands it the connection (RAW_SOCKET_KEY) and flask-sock its options."""
    import simple_websocket

    ours, theirs = socket.socketpair()
    ws = simple_websocket.Server({**UPGRADE, websocket_stack.RAW_SOCKET_KEY: ours}, **SERVER_OPTIONS)
    yield ws, ours, theirs
    ours.close()
    theirs.close()


def test_simple_websocket_takes_the_raw_socket_key_as_it_is(handshaken):
    ws, ours, theirs = handshaken
    assert ws.mode == "gunicorn"  # the mode that neither duplicates the socket nor answers after the close
    assert websocket_stack.socket_of(ws) is ours
    assert theirs.recv(1024).startswith(b"HTTP/1.1 101")


def test_the_frame_connection_is_simple_websockets_wsproto_connection_cut_down(handshaken):
    from wsproto.connection import Connection, ConnectionState

    ws, _ours, _theirs = handshaken
    connection = websocket_stack.frame_connection(ws)
    assert isinstance(connection, Connection) and connection.state is ConnectionState.OPEN
    assert ws.ws is connection  # what flask-sock's ws.close() sends through


def test_connected_and_close_reason_are_what_flask_sock_reads_after_the_route(handshaken):
    import simple_websocket

    ws, ours, theirs = handshaken
    theirs.recv(1024)
    assert websocket_stack.is_open(ws) and websocket_stack.close_code(ws) == 1005  # none yet
    websocket_stack.mark_closed(ws, 1001)
    assert not websocket_stack.is_open(ws) and websocket_stack.close_code(ws) == 1001
    with pytest.raises(simple_websocket.ConnectionClosed):
        ws.close()  # what flask-sock does after the route: refused, and nothing is sent
    theirs.setblocking(False)
    with pytest.raises(BlockingIOError):
        theirs.recv(1)


def test_flask_sock_ends_a_websocket_in_the_raw_socket_mode_with_stop_iteration():
    from flask import Flask
    from flask_sock import Sock
    from werkzeug.test import EnvironBuilder

    app = Flask(__name__)
    app.config["SOCK_SERVER_OPTIONS"] = SERVER_OPTIONS
    Sock(app).route("/ws")(lambda ws: None)
    ours, theirs = socket.socketpair()
    try:
        environ = EnvironBuilder(
            path="/ws", headers={k[5:].replace("_", "-"): v for k, v in UPGRADE.items()}
        ).get_environ()
        environ[websocket_stack.RAW_SOCKET_KEY] = ours
        with pytest.raises(websocket_stack.WebSocketOver):
            app(environ, lambda *args: None)
    finally:
        ours.close()
        theirs.close()


def test_gevents_socket_wraps_a_non_blocking_os_socket_that_a_send_never_waits_on():
    import _socket

    import gevent.socket

    ours, theirs = gevent.socket.socketpair()
    try:
        under = websocket_stack.os_socket(ours)
        assert isinstance(under, _socket.socket) and not isinstance(under, gevent.socket.socket)
        assert under.gettimeout() == 0.0  # non-blocking: a full buffer raises at once
        with pytest.raises(BlockingIOError):
            while True:
                under.send(b"x" * 65536, socket.MSG_DONTWAIT)
        plain = socket.socket()
        assert websocket_stack.os_socket(plain) is plain  # with OS threads, the socket itself
        plain.close()
    finally:
        ours.close()
        theirs.close()


def test_pigpios_notification_thread_and_command_socket(pigpiod):
    import pigpio

    connection = pigpio.pi("127.0.0.1", pigpiod.port)
    try:
        assert connection.connected
        notify = connection._notify
        assert isinstance(notify, threading.Thread) and notify.is_alive()
        gpio_stack.stop_pigpio_notifications(connection)
        notify.join(5)
        assert not notify.is_alive()
        gpio_stack.set_pigpio_deadline(connection, 0.25)
        assert connection.sl.s.gettimeout() == 0.25  # the socket every command goes through
        assert connection.get_current_tick() >= 0  # and commands still work through it
    finally:
        connection.stop()


def test_gpiozeros_lgpio_pin_keeps_its_pwm_chip_and_number_where_the_fine_duty_pin_writes_them(lgpio):
    from gpiozero import PWMLED
    from gpiozero.pins.lgpio import LGPIOFactory

    factory = LGPIOFactory()
    factory.pin_class = gpio_stack.fine_duty_lgpio_pin()
    led = PWMLED(20, pin_factory=factory)
    try:
        pin = led.pin
        assert pin._pwm == (100, 0) and pin._number == 20 and pin.factory._handle in lgpio.handles
        led.value = 0.001107
        assert pin._pwm == (100, pytest.approx(0.1107)) and lgpio.calls[-1] == (
            "tx_pwm",
            (pin.factory._handle, 20, 100, pytest.approx(0.1107)),
        )
    finally:
        led.close()
        factory.close()


def test_lgpio_makes_its_fifo_where_lg_wd_says(tmp_path, monkeypatch):
    monkeypatch.delenv("LG_WD", raising=False)
    monkeypatch.delenv("RUNTIME_DIRECTORY", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert gpio_stack.lgpio_work_folder() == str(tmp_path)
    monkeypatch.setenv("RUNTIME_DIRECTORY", "/run/ledsock")
    assert gpio_stack.lgpio_work_folder() == "/run/ledsock"  # systemd's RuntimeDirectory first
    monkeypatch.setenv("LG_WD", "/somewhere")
    assert gpio_stack.lgpio_work_folder() == "/somewhere"  # lgpio's own setting, when given


def test_importing_the_real_lgpio_leaves_the_working_directory_where_it_was(tmp_path):
    """The real lgpio library moves the process into LG_WD when it loads (its module then opens
    its FIFO there, by a relative name): import_lgpio puts the service back where it was."""
    import subprocess
    import sys

    from support import ROOT

    code = (
        "import os; from adapters.gpio_stack import import_lgpio; before = os.getcwd(); import_lgpio(); "
        "print(before == os.getcwd(), os.environ['LG_WD'])"
    )
    bare = "import os; os.environ['LG_WD'] = os.environ['TMPDIR']; import lgpio; print(os.getcwd())"
    env = {"PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    moved = subprocess.run([sys.executable, "-c", bare], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert moved.stdout.strip() == str(tmp_path), moved.stderr  # lgpio's own way: it moves the process
    kept = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert kept.stdout.split() == ["True", str(tmp_path)], kept.stderr


def test_a_gpiozero_device_marked_closed_is_closed_and_never_touches_its_dead_pin_again():
    from gpiozero import PWMLED
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    class DeadPin(MockPWMPin):
        """A pin whose chip is gone: every write and close raises, as lgpio's do on a dead handle."""

        dead = False

        def _set_frequency(self, value):
            if self.dead:
                raise OSError("bad handle")
            super()._set_frequency(value)

        def close(self):
            if self.dead:
                raise OSError("bad handle")
            super().close()

    factory = MockFactory(pin_class=DeadPin)
    led = PWMLED(20, pin_factory=factory)
    pin = led.pin
    pin.dead = True
    with pytest.raises(OSError):
        led.close()  # what the service meets when the chip is gone
    factory.release_all(led)
    gpio_stack.mark_closed(led)
    assert led.closed
    unraisable = []
    hook, sys.unraisablehook = sys.unraisablehook, unraisable.append
    try:
        del led, pin
        gc.collect()  # GPIOBase.__del__ closes it again: nothing, no traceback on stderr
    finally:
        sys.unraisablehook = hook
    assert unraisable == []


def test_the_real_lgpio_after_geventss_patching_is_refused_and_before_it_its_thread_stays_an_os_thread(tmp_path):
    """Imported after gevent's patch_all, the real lgpio's notification thread is a greenlet
    blocked reading its FIFO and the import never returns: import_lgpio refuses it. Imported
    before (what app.main does), its thread is a real one and the loop goes on."""
    import subprocess
    import sys

    from support import ROOT

    late = (
        "from gevent import monkey; monkey.patch_all()\n"
        "from adapters.gpio_stack import import_lgpio, LgpioTooLate\n"
        "try:\n    import_lgpio()\nexcept LgpioTooLate as exc:\n    print('refused:', exc)\n"
    )
    early = (
        "from boards.pins import import_before_serving\n"
        "import_before_serving({'lgpio'})\n"
        "from gevent import monkey; monkey.patch_all()\n"
        "import gevent, lgpio, os\n"
        "from adapters.gpio_stack import import_lgpio\n"
        "ticks = []\n"
        "def tick():\n    for _ in range(10): ticks.append(1); gevent.sleep(0.01)\n"
        "gevent.spawn(tick).join(5)\n"
        "print(import_lgpio() is lgpio, len(ticks), lgpio._notify_thread.is_alive(), "
        "lgpio._notify_thread.native_id != os.getpid())\n"
    )
    env = {"PYTHONPATH": str(ROOT), "LG_WD": str(tmp_path), "PATH": "/usr/bin:/bin"}

    def run(code):
        command = [sys.executable, "-c", code]
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    refused = run(late)
    assert refused.stdout.startswith("refused: lgpio must be imported before gevent"), refused.stderr
    served = run(early)
    assert served.stdout.split() == ["True", "10", "True", "True"], served.stderr


def test_pigpios_notification_thread_ends_when_the_daemon_goes_instead_of_spinning():
    """Inputs keep pigpio's notification thread (it delivers their edges). When the daemon goes
    away, its loop would read the closed socket's empty answer forever: with the adapter's
    wrapper on its socket (``_notify.sl.s``), the end of file clears its ``go`` and it ends."""
    import pigpio

    from fake_pigpiod import FakePigpiod

    for wrapped in (True, False):
        daemon = FakePigpiod().start()
        connection = pigpio.pi("127.0.0.1", daemon.port)
        notify = connection._notify
        if wrapped:
            gpio_stack.end_pigpio_notifications_at_eof(connection)
        assert notify.is_alive() and notify.go
        daemon.stop()
        notify.join(2)
        if wrapped:
            assert not notify.is_alive() and notify.go is False
        else:  # pigpio's own: still looping on the dead socket (stopped here, or it would spin on)
            assert notify.is_alive()
            notify.go = False
        connection.sl.s.close()
