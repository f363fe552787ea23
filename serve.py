"""Serving: gunicorn with one worker process, shutdown signals, and the open-files limit.

One worker, because the hub's clients and the GPIO live in one process; gevent
greenlets by default (``--worker gthread`` for OS threads; docs/performance.md has
the comparison). Flask's development server is never used: it writes stray bytes
after a WebSocket close frame.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import Callable

log = logging.getLogger(__name__)

HTTP_HEADROOM = 50  # connections kept for HTTP beyond MAX_CLIENTS under gevent


def serve(args: argparse.Namespace, load_app: Callable, *, shutdown: Callable, release: Callable) -> None:
    """Serve ``load_app()`` as ``args`` say until a signal ends it.

    In the worker, the first SIGTERM/SIGINT/SIGQUIT calls ``shutdown(app)`` before
    gunicorn's own exit, and ``release(app)`` runs as the worker exits.
    """
    from gunicorn.app.base import BaseApplication

    raise_open_files_limit(args.max_clients)

    class Server(BaseApplication):
        def load_config(self):
            for key, value in {
                "bind": f"[{args.host}]:{args.port}" if ":" in args.host else f"{args.host}:{args.port}",
                "workers": 1,  # the hub's clients and the GPIO live in one process
                "worker_class": args.worker,
                "threads": args.threads,
                # gevent: connections at once. The headroom above MAX_CLIENTS keeps HTTP
                # requests (and the 503 for one client too many) served when /ws is full.
                "worker_connections": args.max_clients + HTTP_HEADROOM,
                "backlog": 2048,
                "graceful_timeout": 10,
                "loglevel": args.log_level,
                "proc_name": "ledsock",
                "post_worker_init": lambda worker: _install_shutdown(worker, shutdown),
                "worker_exit": lambda _arbiter, worker: _worker_exit(worker, release),
            }.items():
                self.cfg.set(key, value)
            if "control_socket_disable" in self.cfg.settings:  # gunicorn >= 24
                self.cfg.set("control_socket_disable", True)

        def load(self):
            return load_app()

    Server().run()


def _install_shutdown(worker, shutdown: Callable) -> None:
    """In the gunicorn worker: on SIGTERM/SIGINT/SIGQUIT, close every WebSocket with 1001 first."""
    app = worker.wsgi
    closing = []  # non-empty once a shutdown has begun in this (the main) thread
    cooperative = worker.cfg.worker_class_str == "gevent"

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        previous = signal.getsignal(signum)

        def close_then_exit(sig, frame, previous):
            shutdown(app)
            if callable(previous):
                previous(sig, frame)

        def on_signal(sig, frame, previous=previous):
            # Ctrl+C sends SIGINT to the worker and, through the master, SIGQUIT too. Only
            # the first signal acts: a second one must neither cut the close handshakes short
            # nor run gunicorn's exit again while the worker is already exiting.
            if closing:
                return
            closing.append(sig)
            if cooperative:  # gevent runs signal handlers in its hub, which must never wait
                import gevent
                gevent.spawn(close_then_exit, sig, frame, previous)
            else:
                close_then_exit(sig, frame, previous)

        signal.signal(signum, on_signal)


def _worker_exit(worker, release: Callable) -> None:
    app = getattr(worker, "wsgi", None)
    if app is not None:
        release(app)


def raise_open_files_limit(max_clients: int) -> None:
    """Let the process hold a socket per client: the usual soft limit of 1024 is too low."""
    import resource

    wanted = max_clients + HTTP_HEADROOM + 256  # listeners, log files, pigpio, state file
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new_soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
        if new_soft < wanted:
            log.warning("open files are limited to %d (ulimit -n), too few for %d clients; "
                        "raise LimitNOFILE or lower MAX_CLIENTS", new_soft, max_clients)


def off_the_event_loop(function, *args):
    """Run blocking I/O (the state file's fsync) where it stalls no one.

    With OS threads that is the calling thread. Under gevent (the default worker) every
    connection shares one OS thread, and an fsync there would stall them all, so the
    call goes to gevent's pool of real threads while its greenlet waits.
    """
    if "gevent" in sys.modules:
        from gevent import get_hub, monkey

        if monkey.is_module_patched("threading"):
            return get_hub().threadpool.apply(function, args)
    return function(*args)
