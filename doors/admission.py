"""Who may use the service: the Host a request names, a browser's Origin, the token.

Pure rules, no Flask: ``web.py`` asks these before any route runs, so a refusal
comes before any upgrade, change or read.

The Host check closes DNS rebinding: a page on ``attacker.example`` whose name is
re-pointed at the Pi makes the visitor's browser send ``Host: attacker.example``,
with a matching Origin. No name the user did not give the service passes, so that
page can neither change the LED nor read its state.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

ANY_HOST = "*"


def own_host_names(hostname: str | None = None) -> frozenset[str]:
    """The names this machine answers to with no configuration: localhost, its host
    name (and that name's first label) and each of those with ``.local`` (mDNS)."""
    hostname = (hostname if hostname is not None else socket.gethostname()).lower().rstrip(".")
    names = {"localhost"}
    if hostname:
        for name in {hostname, hostname.split(".")[0]}:
            names.update((name, f"{name}.local"))
    return frozenset(names)


def host_name(host: str) -> str:
    """The name in a Host header, without its port: ``[::1]:5000`` -> ``::1``, ``Pi.local.`` -> ``pi.local``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    name, colon, port = host.rpartition(":")
    if colon and port.isdigit() and ":" not in name:
        host = name
    return host.rstrip(".")


def _is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_allowed(host: str, allowed: frozenset[str]) -> bool:
    """A request may be served if its Host is an IP address or one of the ``allowed`` names.

    ``allowed`` holds the own names and ALLOWED_HOSTS, lower-case; ``*`` allows any.
    """
    if ANY_HOST in allowed:
        return True
    name = host_name(host)
    return bool(name) and (name in allowed or _is_ip_literal(name))


def origin_allowed(origin: str, host: str, allowed) -> bool:
    """A browser's Origin may act here if it is this service's own host or is listed."""
    if origin in allowed:
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


def presented_token(headers, args, *, allow_query: bool) -> str | None:
    """The token a request carries: ``Authorization: Bearer``, or ``?token=`` where allowed."""
    header = headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return args.get("token") if allow_query else None
