"""The level survives restarts and power cuts: the state file, and the service around it."""

import json
import logging
import os
import random
import signal
import threading
import time

import pytest
from websockets.exceptions import ConnectionClosed

from lamp import state
from lamp.state import StateFile

from support import Client


def test_round_trip_and_atomic_write(tmp_path):
    path = tmp_path / "deep" / "state.json"
    saved = StateFile(path)
    saved.save_soon(73, True)
    saved.flush()
    assert json.loads(path.read_text()) == {"brightness": 73, "on": True, "level": 73}
    assert StateFile(path).load() == (73, True)
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]  # no temporary file left


def test_writes_are_debounced_to_one_per_interval(tmp_path, monkeypatch):
    saved = StateFile(tmp_path / "state.json", min_interval=0.3)
    writes = []
    real_write = saved._write
    monkeypatch.setattr(saved, "_write", lambda *state: (writes.append((time.monotonic(), *state)), real_write(*state)))
    started = time.monotonic()
    while time.monotonic() - started < 1.0:
        saved.save_soon(random.randrange(1, 101), random.random() < 0.5)
        time.sleep(0.005)
    saved.save_soon(42, False)
    deadline = time.monotonic() + 5
    path = tmp_path / "state.json"
    # The last write, within the interval: wait for the file itself (writes is noted as a write starts).
    while not path.exists() or json.loads(path.read_text() or "{}") != {"brightness": 42, "on": False, "level": 0}:
        assert time.monotonic() < deadline, writes[-1]
        time.sleep(0.01)
    gaps = [b[0] - a[0] for a, b in zip(writes, writes[1:])]
    assert 3 <= len(writes) <= 5 and min(gaps) >= 0.29, writes
    assert writes[-1][1] == {"brightness": 42, "on": False, "level": 0} and StateFile(
        tmp_path / "state.json"
    ).load() == (42, False)


@pytest.mark.parametrize("content", [b'{"lev', b"\x00\xff garbage \xfe", b'{"level": 150}', b"[]", b""])
def test_a_bad_file_is_moved_aside_with_one_warning(tmp_path, caplog, content):
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING):
        assert StateFile(path).load() is None
    assert len(caplog.records) == 1 and str(path) in caplog.text
    assert not path.exists()
    assert [p.read_bytes() for p in tmp_path.glob("state.json.bad-*")] == [content]


def test_an_unwritable_folder_warns_once(tmp_path, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")  # a file where the folder should be: even root cannot create below it
    saved = StateFile(blocker / "state.json", min_interval=0)
    with caplog.at_level(logging.WARNING):
        for level in (1, 2, 3):
            saved.save_soon(level, True)
            saved.flush()
    assert caplog.text.count("cannot write the state file") == 1


def test_default_locations():
    assert str(state.default_path({"STATE_FILE": "/x/s.json", "STATE_DIRECTORY": "/var/lib/l"})) == "/x/s.json"
    assert str(state.default_path({"STATE_DIRECTORY": "/var/lib/ledsock:/other"})) == "/var/lib/ledsock/state.json"
    assert str(state.default_path({"HOME": "/home/pi"})) == "/home/pi/.local/state/ledsock/state.json"


def test_power_on_choices():
    assert state.parse_power_on("last") == "last" and state.parse_power_on("OFF") == "off"
    assert state.parse_power_on("30") == 30 and state.parse_power_on("On") == "on"
    for bad in ("yes", "150", "-1", "\u00b2"):
        with pytest.raises(ValueError, match="last, on, off, or a level"):
            state.parse_power_on(bad)


# ---------------------------------------------------------------- the real service


def test_kill_9_after_the_debounce_window_keeps_the_level(start_server, tmp_path):
    path = tmp_path / "kept.json"
    server = start_server(env={"STATE_FILE": str(path)})
    assert server.post("/led", '{"level": 73}')[0] == 200
    server.wait_for(lambda h: h["state_file_writes"] >= 1, what="the debounced write")
    os.killpg(server.proc.pid, signal.SIGKILL)  # a power cut, as far as the process can tell
    server.proc.wait(10)
    again = start_server(env={"STATE_FILE": str(path)}, port=server.port)
    assert again.led() == {"level": 73, "on": True, "brightness": 73, "seq": 0}
    assert "restoring level 73" in again.log()


@pytest.mark.parametrize("power_on,expected", [("off", 0), ("30", 30), ("last", 73)])
def test_power_on_decides_the_level_at_start(start_server, tmp_path, power_on, expected):
    path = tmp_path / "s.json"
    path.write_text('{"level": 73}\n')
    server = start_server(env={"STATE_FILE": str(path), "POWER_ON": power_on})
    assert server.get("/led")["level"] == expected


@pytest.mark.parametrize("content", [b'{"level": 7', b"\x89PNG\r\n\x1a\n garbage"])
def test_a_truncated_or_garbage_file_gives_a_clean_start(start_server, tmp_path, content):
    path = tmp_path / "s.json"
    path.write_bytes(content)
    server = start_server("--initial-level", "44", env={"STATE_FILE": str(path)})
    assert server.led() == {"level": 44, "on": True, "brightness": 44, "seq": 0}
    assert server.log().count(f"state file {path}") == 1
    assert list(tmp_path.glob("s.json.bad-*"))
    server.post("/led", '{"level": 45}')
    server.stop()
    assert json.loads(path.read_text()) == {"brightness": 45, "on": True, "level": 45}


def test_an_unwritable_state_folder_warns_and_the_service_still_serves(start_server, tmp_path):
    (tmp_path / "blocker").write_text("")
    server = start_server(env={"STATE_FILE": str(tmp_path / "blocker" / "state.json")})
    with Client(server.ws_url) as client:
        client.recv()
        for level in (10, 20, 30):
            client.send({"level": level})
            assert client.recv()["level"] == level
    assert server.stop() == 0
    assert server.log().count("cannot write the state file") == 1


def test_sigterm_during_a_storm_persists_the_last_broadcast_level(start_server, tmp_path):
    path = tmp_path / "storm.json"
    server = start_server(env={"STATE_FILE": str(path)})
    clients = [Client(server.ws_url) for _ in range(20)]
    results = {}

    def storm(n, client):
        rng, states, code = random.Random(n), [], None
        try:
            while True:
                client.send({"level": rng.randrange(101)})
                try:
                    while True:  # read whatever has arrived, without waiting
                        message = client.recv(timeout=0.001)
                        if message["type"] == "state":
                            states.append((message["seq"], message["level"]))
                except TimeoutError:
                    pass
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
        try:  # anything still buffered before the close frame
            while True:
                message = client.recv(timeout=0.5)
                if message["type"] == "state":
                    states.append((message["seq"], message["level"]))
        except (ConnectionClosed, TimeoutError):
            pass
        results[n] = (code, states)

    threads = [threading.Thread(target=storm, args=(n, c)) for n, c in enumerate(clients)]
    for t in threads:
        t.start()
    server.wait_for(lambda h: h["seq"] >= 100, what="the storm under way")
    assert server.stop() == 0
    for t in threads:
        t.join(20)
    assert [results[n][0] for n in range(20)] == [1001] * 20
    last_seq, last_level = max(s for _, states in results.values() for s in states)
    assert last_seq > 50, "the storm made too few changes to prove anything"
    assert json.loads(path.read_text())["level"] == last_level
    assert all(max(states) == (last_seq, last_level) for _, states in results.values())


SLOW_DISK_UNDER_GEVENT = """
from gevent import monkey; monkey.patch_all()
import os, sys, time
import gevent
from serving.serve import off_the_event_loop
from lamp.state import StateFile

blocking_sleep = monkey.get_original("time", "sleep")
real_fsync = os.fsync
os.fsync = lambda fd: (blocking_sleep(0.3), real_fsync(fd))  # an SD card on a bad day
saved = StateFile(sys.argv[1], min_interval=0, run_blocking=off_the_event_loop)  # as create_app makes it
ticks = []
ticker = gevent.spawn(lambda: [ticks.append(time.monotonic()) or gevent.sleep(0.01) for _ in iter(int, 1)])
gevent.sleep(0.05)
started = time.monotonic()
saved.save_soon(61, True)
saved.flush()  # waits for the write, as shutdown does
took = time.monotonic() - started
during = [t for t in ticks if started <= t]
gaps = [b - a for a, b in zip(during, during[1:])]
print(f"{took:.2f} {max(gaps, default=took):.3f}")
"""


def test_under_gevent_a_slow_disk_write_stalls_no_other_greenlet(tmp_path):
    import subprocess
    import sys

    from support import ROOT

    path = tmp_path / "state.json"
    result = subprocess.run(
        [sys.executable, "-c", SLOW_DISK_UNDER_GEVENT, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    took, longest_gap = map(float, result.stdout.split())
    assert took >= 0.6  # two fsyncs (file, folder) of 0.3 s each really happened
    assert longest_gap < 0.25, f"the event loop stood still for {longest_gap:.3f} s during the write"
    assert json.loads(path.read_text())["level"] == 61


def test_a_slow_disk_write_never_holds_up_save_soon(tmp_path, monkeypatch):
    saved = StateFile(tmp_path / "state.json", min_interval=0)
    writing = threading.Event()
    real_write = saved._write
    monkeypatch.setattr(saved, "_write", lambda *state: (writing.set(), time.sleep(0.5), real_write(*state)))
    saved.save_soon(1, True)
    assert writing.wait(5)
    started = time.monotonic()
    saved.save_soon(2, True)  # called under the service's lock on every change
    assert time.monotonic() - started < 0.1
    saved.flush()
    assert StateFile(tmp_path / "state.json").load() == (2, True)


@pytest.mark.parametrize(
    "power_on,expected",
    [
        ("last", (0, False, 64)),
        ("on", (64, True, 64)),
        ("off", (0, False, 64)),
        ("20", (20, True, 20)),
        ("0", (0, False, 64)),
    ],
)
def test_power_and_brightness_survive_a_restart_as_power_on_says(start_server, tmp_path, power_on, expected):
    path = tmp_path / "kept.json"
    first = start_server(env={"STATE_FILE": str(path)})
    first.post("/led", '{"level": 64}')
    first.post("/led", '{"on": false}')
    assert first.stop() == 0
    assert json.loads(path.read_text()) == {"brightness": 64, "on": False, "level": 0}
    again = start_server(env={"STATE_FILE": str(path), "POWER_ON": power_on}, port=first.port)
    state = again.led()
    assert (state["level"], state["on"], state["brightness"]) == expected
