"""The README's two set-up commands, as a newcomer runs them.

`make test` installs more than the service needs, so a package missing from
requirements.txt would hide behind the test requirements. These tests serve the
service from what requirements.txt alone installs, and run `make run` itself from a
fresh clone, so a Makefile step that only works in a developer's tree fails here too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from support import ROOT, Client, ServerProcess, free_port

# Variables the outer `make test` exports that must not leak into a nested make.
MAKE_VARIABLES = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKE_TERMOUT", "MAKE_TERMERR")


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, command))} failed:\n{result.stdout}\n{result.stderr}"
    return result


def service_env(tmp_path: Path) -> dict:
    """The environment of a user who just runs it: no test settings, a simulated LED found by
    `auto` (no pigpio daemon answers on the port it is pointed at), state kept in tmp_path."""
    env = {name: value for name, value in os.environ.items() if name not in MAKE_VARIABLES}
    env.update(
        HOST="127.0.0.1", PIGPIO_PORT=str(free_port()), STATE_FILE=str(tmp_path / "state.json"), LED_PIN_FACTORY=""
    )  # unset, as a user has it: "auto"
    return env


def check_serves_then_ends_on_ctrl_c(server: ServerProcess) -> int:
    """/healthz and the page answer, and Ctrl+C closes a client with 1001. Returns the exit status."""
    health = server.get("/healthz")
    assert health["status"] == "ok" and health["simulated"] is True, health
    assert "SIMULATED" in server.log()
    with urllib.request.urlopen(server.http + "/", timeout=10) as page:
        assert page.status == 200 and b"<title>" in page.read()
    client = Client(server.ws_url)
    assert client.recv()["type"] == "state"
    server.wait_for(lambda h: h["clients"] == 1, what="the client counted")
    os.killpg(server.proc.pid, signal.SIGINT)  # Ctrl+C reaches the terminal's whole process group
    try:
        code = server.proc.wait(30)
    finally:
        server._log.close()
    with pytest.raises(ConnectionClosed) as closed:
        client.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001, server.log()
    assert "GPIO21 released" in server.log() and "Traceback" not in server.log(), server.log()
    return code


def test_the_run_lock_alone_serves_the_page_and_ctrl_c_ends_it_cleanly(tmp_path):
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    # Only the service's lock: nothing the tests install may fill a gap in it.
    run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--require-hashes",
            "-r",
            str(ROOT / "requirements.txt"),
        ],
        timeout=300,
    )
    run([str(python), "-m", "pip", "check"])
    port = free_port()
    server = ServerProcess(
        tmp_path, port=port, command=[str(python), "app.py"], env={**service_env(tmp_path), "PORT": str(port)}
    )
    server.start(wait=False).wait_ready(timeout=60)
    assert check_serves_then_ends_on_ctrl_c(server) == 0, server.log()


def test_make_run_serves_from_a_fresh_clone(tmp_path):
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(ROOT), str(clone)])
    # The working tree as it is, tracked files only: what a clone would hold once committed.
    snapshot = run(["git", "stash", "create"], cwd=ROOT).stdout.strip()
    if snapshot:
        run(["git", "fetch", "-q", str(ROOT), snapshot], cwd=clone)
        run(["git", "checkout", "-q", "FETCH_HEAD"], cwd=clone)
    port = free_port()
    server = ServerProcess(
        tmp_path, port=port, command=["make", "run"], cwd=clone, env={**service_env(tmp_path), "PORT": str(port)}
    )
    server.start(wait=False).wait_ready(timeout=240)  # make creates .venv and installs the lock first
    assert (clone / ".venv" / "bin" / "python").exists()
    check_serves_then_ends_on_ctrl_c(server)  # make's own status tells of the interrupt, not the service's
    assert "] Error" not in server.log(), server.log()  # how make reports a recipe that failed
