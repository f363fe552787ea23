"""Connections coming and going, stuck and dead peers, shutdown, hardware failure, websocat."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from curves.brightness import Curve
from lamp import light_report
from protocol import State

from support import Client, client_frame, free_port, raw_websocket, read_until_closed


def test_a_client_that_never_reads_delays_no_one_and_is_dropped(start_server):
    """Fill the stuck client's socket buffers for real (tens of thousands of messages), keep
    measuring the others, and see the stuck one cut off after SEND_TIMEOUT."""
    server = start_server("--send-timeout", "2", "--rate-limit", "1000000", "--rate-burst", "1000000")
    watcher, flooder = Client(server.ws_url), Client(server.ws_url)
    watcher.recv(), flooder.recv()
    stuck = raw_websocket(server.port, rcvbuf=4096)
    server.wait_for(lambda h: h["clients"] == 3, what="three clients")

    sent_at, seq_of, seen = {}, {}, []
    window = threading.Semaphore(32)  # requests in flight, so the server's inbox stays short
    done = threading.Event()

    def drain(client, handle):
        while not done.is_set():
            try:
                message = client.recv(timeout=0.5)
            except TimeoutError:
                continue
            except ConnectionClosed:
                return
            handle(message)

    def on_reply(message):
        if "id" in message:
            seq_of[message["seq"]] = sent_at[message["id"]]
            window.release()

    readers = [
        threading.Thread(target=drain, args=(flooder, on_reply)),
        threading.Thread(target=drain, args=(watcher, lambda m: seen.append((time.monotonic(), m["seq"])))),
    ]
    for t in readers:
        t.start()
    started = time.monotonic()
    dropped_after = None
    i = 0
    try:
        while time.monotonic() - started < 150:
            assert window.acquire(timeout=5), f"the writer's own replies stalled after {i} changes"
            sent_at[i] = time.monotonic()
            flooder.send({"level": i % 2 * 99 + 1, "id": i})  # alternate 1 and 100: every set is a change
            i += 1
            if dropped_after is None and i % 2000 == 0 and server.get("/healthz")["clients"] == 2:
                dropped_after = i
            if dropped_after is not None and i >= dropped_after + 2000:
                break
    finally:
        done.set()
        for t in readers:
            t.join()
    stuck.close()
    assert dropped_after is not None, f"stuck client not dropped after {i} changes"
    deadline = time.monotonic() + 5
    while "not reading for over 2 s" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "not reading for over 2 s" in server.log(), [
        line for line in server.log().splitlines() if "disconnected" in line or "WARNING" in line
    ]
    # Latency: time from the set being sent to the watcher holding that state.
    latencies = [t - seq_of[seq] for t, seq in seen if seq in seq_of]
    gaps = [b[0] - a[0] for a, b in zip(seen, seen[1:])]
    figures = (
        f"changes sent: {i}, stuck client dropped after ~{dropped_after}; watcher saw {len(seen)} states, "
        f"max latency {max(latencies):.3f} s, max gap {max(gaps):.3f} s"
    )
    print(figures)
    assert len(latencies) > 1000, figures
    assert max(latencies) < 1.0, figures
    assert max(gaps) < 1.0, figures
    watcher.close(), flooder.close()


def test_churn_leaves_no_subscribers_or_threads_behind(start_server):
    server = start_server("--threads", "60", "--max-clients", "55")

    def open_and_close(count):
        clients = [Client(server.ws_url) for _ in range(count)]
        for client in clients:
            client.recv()
        # A connection's handler reads its own frames, and a client that keeps up needs no
        # writer: open connections own no thread (under gevent, no greenlet) of their own.
        busy = server.wait_for(lambda h: h["clients"] == count, what=f"{count} clients")
        assert busy["connection_threads"] == 0, busy
        for client in clients:
            client.close()
        return server.wait_for(lambda h: h["clients"] == 0, what="no clients")

    open_and_close(50)
    for _ in range(4):  # 250 clients in all
        open_and_close(50)
    # `threads` counts OS threads, which stay one under gevent whatever leaks; what a
    # connection leaves behind shows in connection_threads.
    health = server.wait_for(lambda h: h["connection_threads"] == 0, timeout=10, what="no connection threads left")
    assert health["clients"] == 0


def test_a_client_dropped_without_a_close_frame_is_removed(server):
    sock = raw_websocket(server.port)
    server.wait_for(lambda h: h["clients"] == 1, what="one client")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()  # RST, no close frame
    server.wait_for(lambda h: h["clients"] == 0, what="client removed")


def test_dead_peers_are_found_by_ping(start_server):
    server = start_server("--ping-interval", "1")
    silent = raw_websocket(server.port)  # completes the handshake, then never answers a ping
    with Client(server.ws_url) as alive:  # answers pings like any real client
        alive.recv()
        server.wait_for(lambda h: h["clients"] == 2, what="two clients")
        server.wait_for(lambda h: h["clients"] == 1, timeout=8, what="silent peer removed")
        assert alive.nothing_pending()
    silent.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_shutdown_closes_every_websocket_with_1001_and_exits_0(start_server, sig):
    server = start_server()
    clients = [Client(server.ws_url) for _ in range(3)]
    for client in clients:
        client.recv()
    server.wait_for(lambda h: h["clients"] == 3, what="three clients")
    if sig == signal.SIGINT:  # Ctrl+C reaches the whole process group
        os.killpg(server.proc.pid, sig)
        code = server.proc.wait(20)
    else:
        code = server.stop(sig)
    assert code == 0, server.log()
    for client in clients:
        with pytest.raises(ConnectionClosed) as closed:
            client.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert "GPIO21 released" in server.log()
    assert "Traceback" not in server.log()


def test_websocat_sets_a_level_and_reads_it_back(server):
    websocat = Path(sys.executable).with_name("websocat")
    assert websocat.exists(), "websocat is missing: `make test` installs it from requirements-test.txt"
    result = subprocess.run(
        [str(websocat), "-n", "--max-messages-rev", "2", server.ws_url],
        input='{"level":9}\n',
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        '{"type":"state","level":50,"on":true,"brightness":50,"seq":0}',
        '{"type":"state","level":9,"on":true,"brightness":9,"seq":1}',
    ]
    assert server.led() == {"level": 9, "on": True, "brightness": 9, "seq": 1}


class TestHardwareFailure:
    """A failing pin, injected into an in-process app served over a real socket."""

    @pytest.fixture
    def served(self):
        from gpiozero.pins.mock import MockFactory
        from werkzeug.serving import make_server

        import app as app_module
        from led import Led

        from fakes import BrokenPWMPin

        factory = MockFactory(pin_class=BrokenPWMPin)
        led = Led(21, pin_factory=factory)
        flask_app = app_module.create_app({"TESTING": True}, led=led)
        port = free_port()
        http = make_server("127.0.0.1", port, flask_app, threaded=True)
        thread = threading.Thread(target=http.serve_forever, daemon=True)
        thread.start()
        yield port, factory.pin(21), flask_app
        http.shutdown()
        factory.close()

    def test_a_failed_write_answers_hardware_error_and_keeps_the_state(self, served):
        import json
        import urllib.request

        port, pin, flask_app = served
        service = flask_app.extensions["ledsock"].lights.default
        with Client(f"ws://127.0.0.1:{port}/ws") as sender, Client(f"ws://127.0.0.1:{port}/ws") as other:
            sender.recv(), other.recv()
            pin.broken = True
            reply = sender.request({"level": 10, "id": "h"})[0]
            assert (reply["type"], reply["code"], reply["id"]) == ("error", "hardware_error", "h")
            assert "GPIO21" in reply["message"]
            assert other.nothing_pending()
            assert service.state() == State(50, True, 0) and pin.state == pytest.approx(Curve("cie").duty(50))
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as response:
                health = json.loads(response.read())
            assert health["status"] == "degraded" and "GPIO21" in health["hardware_error"]
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/led", data=b'{"level": 10}', headers={"Content-Type": "application/json"}
            )
            with pytest.raises(urllib.error.HTTPError) as failed:
                urllib.request.urlopen(request)
            assert failed.value.code == 503
            assert json.loads(failed.value.read())["code"] == "hardware_error"
            pin.broken = False  # the daemon is back
            assert sender.request({"level": 10, "id": "ok"})[0] == {
                "type": "state",
                "level": 10,
                "on": True,
                "brightness": 10,
                "seq": 1,
                "id": "ok",
            }
            assert other.recv() == {"type": "state", "level": 10, "on": True, "brightness": 10, "seq": 1}
            assert light_report.health(service)["status"] == "ok"


def _frames(data: bytes) -> list[tuple[int, bytes]]:
    """Split what a server sent into (opcode, payload) frames; unframed bytes fail the test."""
    frames = []
    while data:
        assert len(data) >= 2, f"a stray byte after the frames: {data!r}"
        opcode, size, data = data[0] & 0x0F, data[1] & 0x7F, data[2:]
        if size == 126:
            size, data = int.from_bytes(data[:2], "big"), data[2:]
        assert len(data) >= size, f"a frame cut short or stray bytes: {data!r}"
        frames.append((opcode, data[:size]))
        data = data[size:]
    return frames


def test_a_client_closing_gets_one_close_frame_and_nothing_after_it(server):
    """The fault of Werkzeug's server (bytes written after the close frame) is not ours."""
    sock = raw_websocket(server.port)
    sock.sendall(client_frame(0x8, (1000).to_bytes(2, "big")))
    frames = _frames(read_until_closed(sock))
    sock.close()
    assert [opcode for opcode, _ in frames] == [0x1, 0x8], frames  # the state, then the close
    assert frames[-1][1][:2] == (1000).to_bytes(2, "big")


def test_shutdown_sends_1001_and_nothing_after_it(start_server):
    server = start_server()
    sock = raw_websocket(server.port)
    server.wait_for(lambda h: h["clients"] == 1, what="the client")
    server.proc.send_signal(signal.SIGTERM)
    received = b""
    sock.settimeout(5)
    while not any(opcode == 0x8 for opcode, _ in _frames_so_far(received)):
        received += sock.recv(4096)
    sock.sendall(client_frame(0x8, (1001).to_bytes(2, "big")))  # the client answers the close
    received += read_until_closed(sock)
    sock.close()
    frames = _frames(received)
    assert [opcode for opcode, _ in frames] == [0x1, 0x8], frames
    assert frames[-1][1][:2] == (1001).to_bytes(2, "big")
    assert server.proc.wait(20) == 0, server.log()


def _frames_so_far(data: bytes) -> list[tuple[int, bytes]]:
    try:
        return _frames(data)
    except AssertionError:  # the last frame has not all arrived yet
        return []


def test_the_service_is_one_process(start_server):
    """No master process beside the server under gevent (it cost 29 MB under gunicorn)."""
    server = start_server("--worker", "gevent")
    children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read_text().split()
    assert children == [], children
    assert server.get("/healthz")["status"] == "ok"
