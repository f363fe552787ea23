"""A TLS reverse proxy that serves the service under a path prefix, as nginx would.

``https://127.0.0.1:PORT/PREFIX/...`` is forwarded to ``http://127.0.0.1:BACKEND/...``:
the prefix is taken off the request line, the Host header is passed on unchanged
(nginx: ``proxy_set_header Host $http_host``), and a WebSocket upgrade is relayed
byte for byte in both directions. The certificate comes from a throwaway test CA
(trustme); the browser is told to accept it.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading

import trustme


class TlsPrefixProxy:
    def __init__(self, backend_port: int, prefix: str):
        self.backend_port = backend_port
        self.prefix = prefix.rstrip("/")
        self._cert = trustme.CA().issue_cert("127.0.0.1")
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._cert.configure_cert(self._context)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.paths: list[str] = []  # request paths as the browser sent them
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}{self.prefix}/"

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        client = raw
        try:
            client = self._context.wrap_socket(raw, server_side=True)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(65536)
                if not chunk:
                    return
                head += chunk
            head, rest = head.split(b"\r\n\r\n", 1)
            request_line, *headers = head.decode("latin-1").split("\r\n")
            method, path, version = request_line.split(" ")
            self.paths.append(path)
            if not (path == self.prefix or path.startswith(self.prefix + "/")):
                client.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            upgrade = any(h.lower().startswith("upgrade:") for h in headers)
            if not upgrade:  # one request per connection, so that every request line is rewritten
                headers = [h for h in headers if not h.lower().startswith("connection:")] + ["Connection: close"]
            forwarded = "\r\n".join([f"{method} {path[len(self.prefix) :] or '/'} {version}", *headers])
            with socket.create_connection(("127.0.0.1", self.backend_port)) as backend:
                backend.sendall(forwarded.encode("latin-1") + b"\r\n\r\n" + rest)
                _relay(client, backend)
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            client.close()


def _relay(client: ssl.SSLSocket, backend: socket.socket) -> None:
    """Copy bytes both ways until either side closes (one thread: an SSL socket is not shared)."""
    while True:
        ready = [client] if client.pending() else select.select([client, backend], [], [])[0]
        for source, target in ((client, backend), (backend, client)):
            if source in ready:
                data = source.recv(65536)
                if not data:
                    return
                target.sendall(data)
