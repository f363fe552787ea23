"""Serving: one process on gevent's WSGI server (or gunicorn for OS threads), shutdown signals,
and the open-files limit.

The hub's clients and the GPIO live in one process. The default, gevent, serves from
that process alone with gevent's own WSGI server: no master process to pay for (it
cost 29 MB under gunicorn). ``--worker gthread`` serves OS threads from gunicorn's
gthread worker, which needs its master. docs/performance.md has the figures. Flask's
development server is never used: it writes stray bytes after a WebSocket close frame.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

HTTP_HEADROOM = 50  # connections kept for HTTP beyond MAX_CLIENTS; the last of them make room (http_guard)
HANDLER_GRACE = 5.0  # seconds the connections' handlers get to end after the close handshakes
# Connections accepted per turn of the loop (gevent's default is 100). A burst of thousands
# of connections (idle ones, an attack) then has a few greenlets at a time, not hundreds:
# 4,200 at once left RSS 5 MB higher after they were gone with 100, 0.7 MB with 10.
ACCEPT_BATCH = 10
SHUTDOWN_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)


def serve(args: argparse.Namespace, load_app: Callable, *, shutdown: Callable, release: Callable) -> None:
    """Serve ``load_app()`` as ``args`` say until a signal ends it.

    The first SIGTERM/SIGINT/SIGQUIT calls ``shutdown(app)`` (every WebSocket closed
    with 1001), then the server stops and ``release(app)`` runs.
    """
    raise_open_files_limit(args.max_clients)
    if args.worker == "gevent":
        _serve_gevent(args, load_app, shutdown=shutdown, release=release)
    else:
        _serve_gunicorn(args, load_app, shutdown=shutdown, release=release)


def _serve_gevent(args: argparse.Namespace, load_app: Callable, *, shutdown: Callable, release: Callable) -> None:
    """Serve from this process: gevent's WSGI server, one greenlet per connection."""
    from gevent import monkey

    monkey.patch_all()  # before the app exists: its locks, threads and sockets become gevent's
    import gevent
    from gevent.event import Event
    from gevent.pool import Pool

    from limits.budget import Budget
    from serving.gevent_http import first_bytes_server, websocket_aware_handler
    from serving.http_guard import WaitingRoom, crowded

    app = load_app()
    # Connections served at once: MAX_CLIENTS WebSockets (the hub refuses more with a 503)
    # and 2 * HTTP_HEADROOM more. A connection takes its greenlet only once its first bytes
    # arrive (first_bytes_server); while waiting for a request it is in the waiting room,
    # and when the server is crowded (http_guard.crowded) each new connection closes the one
    # that has waited longest: idle connections never keep a real request waiting.
    pool = Pool(args.max_clients + 2 * HTTP_HEADROOM)
    waiting = WaitingRoom(
        crowded=lambda count, longest: crowded(count, longest, free=pool.free_count(), headroom=HTTP_HEADROOM),
        close=lambda connection: connection.cut_off(),
    )
    handler = websocket_aware_handler(waiting, make_budget=lambda: Budget(args.rate_limit, args.rate_burst))
    server = first_bytes_server(waiting)(
        (args.host, args.port),
        app,
        handler_class=handler,
        spawn=pool,
        backlog=2048,
        log=None,
        error_log=logging.getLogger("serve.http"),
    )
    app.extensions["ledsock"].waiting = waiting  # the app's Service (doors.http_edge): /healthz reports it
    server.max_accept = ACCEPT_BATCH
    server.start()
    log.info("serving from one process (pid %d), gevent", os.getpid())
    stopping = Event()
    for signum in SHUTDOWN_SIGNALS:
        gevent.signal_handler(signum, stopping.set)  # a second signal finds it set: no-op
    stopping.wait()
    log.info("shutting down")
    try:
        shutdown(app)
        server.stop(timeout=HANDLER_GRACE)
    finally:
        release(app)


def _serve_gunicorn(args: argparse.Namespace, load_app: Callable, *, shutdown: Callable, release: Callable) -> None:
    """Serve from gunicorn's gthread worker: one worker process under gunicorn's master."""
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self):
            for key, value in {
                "bind": f"[{args.host}]:{args.port}" if ":" in args.host else f"{args.host}:{args.port}",
                "workers": 1,  # the hub's clients and the GPIO live in one process
                "worker_class": args.worker,
                "threads": args.threads,
                # Connections the worker keeps at once (gunicorn's default is 1,000).
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
    closing: list[int] = []  # non-empty once a shutdown has begun in this (the main) thread

    for signum in SHUTDOWN_SIGNALS:
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
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    if hard != resource.RLIM_INFINITY and hard < wanted:
        try:  # allowed to root (CAP_SYS_RESOURCE); the systemd unit sets LimitNOFILE instead
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
            return
        except (ValueError, OSError):
            pass
    new_soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
    if new_soft < wanted:
        log.warning(
            "open files are limited to %d (ulimit -n), too few for %d clients; raise LimitNOFILE or lower MAX_CLIENTS",
            new_soft,
            max_clients,
        )


def configure_logging(level: str) -> None:
    """The log: standard error (the journal under systemd), a line each with its time, level,
    module and message. A module is named as the README names it (``light``, ``hub``), without
    the package it is in (``lamp``, ``broadcast``: the folders at the top with an ``__init__.py``)."""
    packages = {path.parent.name for path in Path(__file__).resolve().parent.parent.glob("*/__init__.py")}

    def name_the_module(record: logging.LogRecord) -> bool:
        package, dot, module = record.name.partition(".")
        record.module_name = module if dot and package in packages else record.name
        return True

    handler = logging.StreamHandler()
    handler.addFilter(name_the_module)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(module_name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    # The format names no source line or thread: don't look them up for every record (the
    # Logging HOWTO's "Optimization"); a line per change stays cheap.
    logging._srcfile = None
    logging.logThreads = logging.logMultiprocessing = False  # (gunicorn's lines name the process)


def off_the_event_loop(function, *args):
    """Run blocking I/O (the state file's fsync) where it stalls no one.

    With OS threads that is the calling thread. Under gevent (the default worker) every
    connection shares one OS thread, and an fsync there would stall them all, so the
    call goes to gevent's pool of real threads while its greenlet waits.
    """
    hub = gevent_hub()
    if hub is not None:
        return hub.threadpool.apply(function, args)
    return function(*args)


def gevent_hub():
    """gevent's hub when the service is served from gevent (threading monkey-patched), else None."""
    if "gevent" not in sys.modules:
        return None
    from gevent import get_hub, monkey

    return get_hub() if monkey.is_module_patched("threading") else None


_deadline_threads = None  # without gevent: a small pool of OS threads for with_deadline


def with_deadline(function, seconds: float):
    """``function()``, or TimeoutError after ``seconds`` (it then goes on in its thread).

    For a device write that could hang (the kernel's PWM files, lgpio): it runs in a real
    thread, so a hung system call costs that thread, never the event loop or the caller
    past its deadline. Under gevent the caller's greenlet waits and the others run.
    """
    global _deadline_threads
    hub = gevent_hub()
    if hub is not None:
        from gevent import Timeout

        call = hub.threadpool.spawn(function)
        try:
            return call.get(timeout=seconds)
        except Timeout:
            raise TimeoutError(f"no answer within {seconds:g} s") from None
    if _deadline_threads is None:
        from concurrent.futures import ThreadPoolExecutor

        _deadline_threads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ledsock-deadline")
    try:
        return _deadline_threads.submit(function).result(timeout=seconds)
    except TimeoutError:
        raise TimeoutError(f"no answer within {seconds:g} s") from None
