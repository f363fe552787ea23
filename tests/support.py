"""Run the real service as a process (the way `make run` does) and talk to it like a client would."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`python app.py` on a free loopback port with a simulated LED, its log kept in a file."""

    def __init__(
        self,
        log_dir: Path,
        *args: str,
        env: dict | None = None,
        port: int | None = None,
        command: list[str] | None = None,
        cwd: Path = ROOT,
    ):
        self.port = port or free_port()
        self.args = list(args)
        # What starts the service; by default this interpreter runs app.py on the port.
        self.command = command or [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(self.port)]
        self.cwd = cwd
        # Each server keeps its level in the test's own folder, never in the user's home.
        self.env = {
            **os.environ,
            "LED_PIN_FACTORY": "mock",
            "STATE_FILE": str(log_dir / f"state-{self.port}.json"),
            **(env or {}),
        }
        self.log_path = log_dir / f"server-{self.port}-{time.monotonic_ns()}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self, wait: bool = True) -> ServerProcess:
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [*self.command, *self.args],
            cwd=self.cwd,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 20) -> None:
        """Wait until /healthz answers; fail at once, with the log, if the process ends."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                self.get("/healthz")
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"server did not answer within {timeout} s:\n{self.log()}")

    def stop(self, sig=signal.SIGTERM, timeout: float = 20) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise AssertionError(f"server ignored {sig!r} for {timeout} s:\n{self.log()}") from None
        finally:
            self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(self.http + path, timeout=10) as response:
            return json.loads(response.read())

    def led(self) -> dict:
        """GET /led without "shown" (the level the LED shows this instant, checked here)."""
        state = self.get("/led")
        shown = state.pop("shown")
        assert isinstance(shown, (int, float)) and 0 <= shown <= 100, state
        return state

    def post(self, path: str, body: bytes | str, content_type: str = "application/json") -> tuple[int, dict]:
        return self.request("POST", path, body, content_type)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str = b"",
        content_type: str = "application/json",
        headers: dict | None = None,
    ) -> tuple[int, dict]:
        """``method`` on ``path`` with ``body``: the status and the JSON answer."""
        data = body.encode() if isinstance(body, str) else body
        sent = {"Content-Type": content_type, **(headers or {})}
        req = urllib.request.Request(self.http + path, data=data or None, method=method, headers=sent)
        try:
            with urllib.request.urlopen(req, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def wait_for(self, predicate, timeout: float = 10, what: str = "condition") -> dict:
        """Poll /healthz until ``predicate(health)`` holds."""
        deadline = time.monotonic() + timeout
        while True:
            health = self.get("/healthz")
            if predicate(health):
                return health
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} not reached within {timeout} s: {health}")
            time.sleep(0.05)


def run_documented_session(server, start: str, end: str) -> None:
    """Run the first session of docs/protocol.md between the headings ``start`` and ``end``
    against ``server``, byte for byte: its first line says where to connect ("→ (connect to
    /ws?...)"), each "→" line is sent as written and each "←" line must come back exactly."""
    doc = (ROOT / "docs" / "protocol.md").read_text()
    section = doc[doc.index(start) : doc.index(end)]
    begin = section.index("```\n") + 4
    session = section[begin : section.index("\n```", begin)].splitlines()
    path = session[0].removeprefix("→ (connect to ").removesuffix(")")
    with Client(server.ws_url.removesuffix("/ws") + path) as client:
        for line in session[1:]:
            arrow, text = line.split(" ", 1)
            if arrow == "→":
                client.send(text)
            else:
                assert client.conn.recv(5) == text, line
        assert client.nothing_pending()


class Client:
    """A real WebSocket client (the `websockets` library) that speaks JSON."""

    def __init__(self, url: str, **kwargs):
        self._exit = contextlib.ExitStack()
        self.conn = self._exit.enter_context(connect(url, open_timeout=10, close_timeout=5, **kwargs))

    def send(self, message) -> None:
        self.conn.send(message if isinstance(message, (str, bytes)) else json.dumps(message))

    def recv(self, timeout: float = 5) -> dict:
        return json.loads(self.conn.recv(timeout))

    def recv_until(self, predicate, timeout: float = 10) -> tuple[dict, list[dict]]:
        """Read until a message matches; return it and everything read before it."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            message = self.recv(max(0.01, deadline - time.monotonic()))
            if predicate(message):
                return message, seen
            seen.append(message)

    def request(self, message: dict, timeout: float = 10) -> tuple[dict, list[dict]]:
        """Send a request with an id; return its reply and the messages that came before it."""
        request_id = message["id"]
        self.send(message)
        return self.recv_until(lambda m: m.get("id") == request_id, timeout)

    def nothing_pending(self) -> bool:
        """True when the next message is the reply to a fresh ping, i.e. nothing else was queued."""
        marker = f"probe-{time.monotonic_ns()}"
        reply, before = self.request({"type": "ping", "id": marker})
        return reply == {"type": "pong", "id": marker} and before == []

    def close(self) -> None:
        self._exit.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def raw_websocket(port: int, rcvbuf: int | None = None, path: str = "/ws") -> socket.socket:
    """Open a WebSocket by hand and return the bare socket, so the test decides when (if ever) to read."""
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def client_frame(opcode: int, payload: bytes) -> bytes:
    """One masked, final WebSocket frame as a client must send it (RFC 6455 section 5.2)."""
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        header = bytes([0x80 | opcode, 0x80 | size])
    elif size < 65536:
        header = bytes([0x80 | opcode, 0x80 | 126]) + size.to_bytes(2, "big")
    else:
        header = bytes([0x80 | opcode, 0x80 | 127]) + size.to_bytes(8, "big")
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def read_until_closed(sock: socket.socket, timeout: float = 5) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def worker_pid(server: ServerProcess) -> int:
    """The process where the sockets live: the server itself under gevent, gunicorn's one
    worker (the server's one child) under gthread."""
    children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read_text().split()
    assert len(children) <= 1, children
    return int(children[0]) if children else server.proc.pid


def chosen_factory(requested: str = "auto", environ=None, *, pin: int = 21, **options) -> str:
    """The pin factory boards.pins chooses for one light on ``pin``."""
    import os

    from boards.pins import choose_pin_factories

    return choose_pin_factories({"led": pin}, requested, os.environ if environ is None else environ, **options)["led"]


def shell_env() -> dict:
    """The shell a user has after `make test`: .venv's bin (websocat) first on PATH."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}


def require(tool: str) -> str:
    path = shutil.which(tool, path=shell_env()["PATH"])
    assert path, f"{tool} is missing: `make test` installs it (see the Makefile)"
    return path


# The real browser the page tests drive: Debian's Chromium, as root, with nothing from the network.
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
