"""The benchmark's load generator: many light WebSocket clients in one asyncio loop.

A full client library would spend more CPU per message than the servers under test,
on the same two cores. These clients do the least RFC 6455 needs: the handshake,
masked frames out, unmasked frames in (text, ping, close), and permessage-deflate
when the server accepts it. Each server's dialect (ledsock and the asyncio
reference speak protocol v1, the textbook server speaks Socket.IO) is a small
``Dialect`` that knows its path, its greeting and how a level change is sent.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
import time
import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Dialect:
    """How one server's clients talk: where to connect and what a change looks like."""

    name: str
    path: str
    greeting: tuple[str, ...]  # messages a client sends once connected
    ready_after: int  # data messages a new client receives before it is subscribed

    def set_level(self, level: int) -> str:
        raise NotImplementedError

    def is_change(self, text: str) -> bool:
        """Whether a data message a subscriber receives is a broadcast change."""
        raise NotImplementedError

    def level_of(self, text: str) -> int:
        raise NotImplementedError


class ProtocolV1(Dialect):
    """ledsock's protocol v1 (and the asyncio reference, which speaks it too)."""

    def set_level(self, level):
        return f'{{"level":{level}}}'

    def is_change(self, text):
        return text.startswith('{"type":"state"')

    def level_of(self, text):
        return json.loads(text)["level"]


class SocketIO(Dialect):
    """Socket.IO 5 over Engine.IO 4, WebSocket transport only, as the textbook's page uses it."""

    def set_level(self, level):
        return f'42["led",{{"level":"{level}"}}]'

    def is_change(self, text):
        return text.startswith('42["led"')

    def level_of(self, text):
        return int(json.loads(text[2:])[1]["level"])


PROTOCOL_V1 = ProtocolV1("protocol v1", "/ws", (), 1)
# Engine.IO sends its open packet, the client joins the namespace with "40", the server
# answers "40{...}", and the textbook server's connect handler emits the state.
SOCKET_IO = SocketIO("socket.io", "/socket.io/?EIO=4&transport=websocket", ("40",), 3)


class Client(asyncio.Protocol):
    """One WebSocket connection; calls ``on_message(client, text)`` for each data message."""

    def __init__(self, host: str, port: int, dialect: Dialect, *, deflate: bool, on_message=None, read: bool = True):
        self.host, self.port, self.dialect = host, port, dialect
        self.offer_deflate = deflate
        self.on_message = on_message
        self.read = read  # False: never read after the handshake (a stuck client)
        self.transport: asyncio.Transport | None = None
        self.opened = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()
        self.buffer = bytearray()
        self.handshaken = False
        self.inflate = None  # a zlib stream when the server accepted permessage-deflate
        self.received = 0  # data messages, including the greeting ones
        self.joined_after = 0  # changes made before this client subscribed
        self.last_text = ""

    # -- asyncio.Protocol
    def connection_made(self, transport):
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        extensions = (
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" if self.offer_deflate else ""
        )
        transport.write(
            (
                f"GET {self.dialect.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extensions}\r\n"
            ).encode()
        )

    def data_received(self, data):
        self.buffer += data
        if not self.handshaken:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).decode("latin-1")
            del self.buffer[: end + 4]
            if not head.startswith("HTTP/1.1 101"):
                self._fail(ConnectionError(head.splitlines()[0]))
                return
            self.handshaken = True
            if "permessage-deflate" in head.lower():
                self.inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            for text in self.dialect.greeting:
                self.send(text)
            if not self.read:
                transport = self.transport
                transport.pause_reading()
            if not self.opened.done():
                self.opened.set_result(self)
        self._parse_frames()

    def connection_lost(self, exc):
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(exc)

    # -- frames
    def _parse_frames(self):
        buf = self.buffer
        while len(buf) >= 2:
            first, second = buf[0], buf[1]
            size, offset = second & 0x7F, 2
            if size == 126:
                if len(buf) < 4:
                    return
                size, offset = struct.unpack_from("!H", buf, 2)[0], 4
            elif size == 127:
                if len(buf) < 10:
                    return
                size, offset = struct.unpack_from("!Q", buf, 2)[0], 10
            if len(buf) < offset + size:
                return
            payload = bytes(buf[offset : offset + size])
            del buf[: offset + size]
            opcode = first & 0x0F
            if opcode in (1, 2):
                if first & 0x40 and self.inflate is not None:
                    payload = self.inflate.decompress(payload + b"\x00\x00\xff\xff")
                text = payload.decode()
                if text == "2" and self.dialect is SOCKET_IO:  # Engine.IO ping
                    self.send("3")
                    continue
                self.received += 1
                self.last_text = text
                if self.on_message is not None:
                    self.on_message(self, text)
            elif opcode == 9:
                self._send_frame(0xA, payload)
            elif opcode == 8:
                self._send_frame(0x8, payload[:2])
                self.transport.close()

    def send(self, text: str) -> None:
        self._send_frame(0x1, text.encode())

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        size = len(payload)
        if size < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
        else:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.transport.write(head + mask + masked)

    def _fail(self, exc):
        if not self.opened.done():
            self.opened.set_exception(exc)
        self.transport.close()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()


async def connect(
    host, port, dialect, *, deflate=False, on_message=None, read=True, rcvbuf=None, timeout=30.0, attempts=3
) -> Client:
    """Open one client and wait until it holds the server's greeting (it is subscribed).

    A connection reset during the handshake (a full accept queue) is retried twice
    after a short pause; RETRIES counts them, and the report prints the count.
    """
    for attempt in range(attempts):
        try:
            return await _connect_once(
                host, port, dialect, deflate=deflate, on_message=on_message, read=read, rcvbuf=rcvbuf, timeout=timeout
            )
        except (ConnectionResetError, ConnectionRefusedError):
            if attempt == attempts - 1:
                raise
            RETRIES[0] += 1
            await asyncio.sleep(0.2 * (attempt + 1))


RETRIES = [0]  # handshakes retried after a reset, over the whole run


async def _connect_once(host, port, dialect, *, deflate, on_message, read, rcvbuf, timeout) -> Client:
    loop = asyncio.get_running_loop()
    client = Client(host, port, dialect, deflate=deflate, on_message=on_message, read=read)
    sock = None
    if rcvbuf is not None:
        import socket

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await loop.sock_connect(sock, (host, port))
        await loop.create_connection(lambda: client, sock=sock)
    else:
        await loop.create_connection(lambda: client, host, port)
    await asyncio.wait_for(client.opened, timeout)
    if read:
        deadline = time.monotonic() + timeout
        while client.received < dialect.ready_after:
            if client.closed.done() or time.monotonic() > deadline:
                raise ConnectionError(f"no greeting from {dialect.name} ({client.received} messages)")
            await asyncio.sleep(0.002)
    return client


async def connect_many(count, host, port, dialect, *, deflate=False, on_message=None, parallel=100):
    """Open ``count`` subscribers, ``parallel`` at a time; returns them and the seconds it took."""
    started = time.perf_counter()
    clients: list[Client] = []
    for start in range(0, count, parallel):
        batch = [
            connect(host, port, dialect, deflate=deflate, on_message=on_message)
            for _ in range(min(parallel, count - start))
        ]
        clients += await asyncio.gather(*batch)
    return clients, time.perf_counter() - started
