"""The commands that run the clock: `serve`, `worker` and `demo` (scheduler/cli.py lists them)."""

from __future__ import annotations

import dataclasses
import errno
import logging
import os
import signal
import socket
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO

import click
import waitress
from flask import Flask
from waitress.server import create_server

from scheduler import clock
from service import logs
from service.app import create_app
from service.cli.database import schema_behind, upgrade_database
from service.config import Settings
from service.db import get_session
from service.demo.seed import (
    CIRCLE_KEYPAD_CODE,
    DEMO_COORDINATOR,
    DEMO_PASSWORD,
    demo_token,
    seed,
)
from service.metrics import OUTBOX_PATH, metrics_app
from service.sending.dispatch import dispatcher
from service.sending.gateway import ConsoleGateway

if sys.platform != "win32":
    import fcntl

log = logging.getLogger(__name__)


def _check_port(host: str, port: int) -> None:
    """Refuse, in one line, a host and port this process cannot listen on, before anything else."""
    try:
        family, kind, _, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind) as probe:
            if os.name != "nt":  # as waitress does: a port left in TIME_WAIT is free to take
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as error:
        if error.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", None)):
            raise click.ClickException(
                f"port {port} on {host} is already in use (another Peerline?); "
                f"stop it or choose another port, for example --port {port + 1}"
            ) from None
        raise click.ClickException(
            f"cannot listen on {host} port {port}: {error.strerror or error}"
        ) from None


def _check_schema(app: Flask) -> None:
    """A database without our tables stops start-up with what to run; one that is away does not."""
    problem = schema_behind(app.extensions["peerline.settings"].database_url)
    if problem is not None:
        raise click.ClickException(problem)


def _serve(app: Flask, host: str, port: int) -> None:
    ticking = clock.start(app)

    def stop(signum: int, _frame: FrameType | None) -> None:
        dispatcher(app).stopping.set()
        raise KeyboardInterrupt(f"signal {signum}")

    # waitress stops on KeyboardInterrupt; SIGTERM (docker stop, systemd) must do the same so
    # the scheduler finishes the tick in progress instead of dying mid-send.
    signal.signal(signal.SIGTERM, stop)
    try:
        # waitress: a production WSGI server that, unlike gunicorn, can share its process
        # with the scheduler's threads.
        waitress.serve(app, host=host, port=port, threads=8, ident="peerline")
    except KeyboardInterrupt:
        log.info("stopping: finishing the sends in flight")
    finally:
        clock.stop(app, ticking)


@click.command(help="Run the web app and the scheduler in one process (the embedded default).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
def serve(host: str, port: int) -> None:
    _check_port(host, port)
    app = create_app()
    _check_schema(app)
    _serve(app, host, port)


@click.command(help="Run only the scheduler (planner and dispatcher); start as many as you like.")
def worker() -> None:
    app = create_app()
    _check_schema(app)
    port = app.extensions["peerline.settings"].metrics_port
    if port is not None:
        # This process's own counters at /metrics, the database's gauges at /metrics/outbox.
        served = metrics_app(
            app.extensions["peerline.registry"], app.extensions["peerline.outbox_registry"]
        )
        server = create_server(served, host="0.0.0.0", port=port, threads=2)  # noqa: S104
        threading.Thread(target=server.run, name="peerline-metrics", daemon=True).start()
        log.info("metrics at http://0.0.0.0:%s/metrics and %s", port, OUTBOX_PATH)
    clock.run_until_stopped(app)


def _hold_demo_folder(instance_dir: Path) -> IO[str]:
    """Hold the demo's folder for as long as this process runs; refuse if another demo holds it.

    The returned file keeps the hold: close it (or exit) to let go.
    """
    instance_dir.mkdir(parents=True, exist_ok=True)
    held = (instance_dir / "demo.lock").open("w")
    if sys.platform != "win32":  # Windows refuses to delete a database another process has open
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            held.close()
            raise click.ClickException(
                f"another demo is running from {instance_dir} and its database is in use; "
                "stop it first, or run this one with PEERLINE_INSTANCE_DIR set to another folder"
            ) from None
    return held


@click.command(help="Start a demo on a fresh SQLite database with a phone simulator.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
def demo(host: str, port: int) -> None:
    settings = Settings.from_env(mode="demo")
    _check_port(host, port)  # before any file is touched: a running demo's database stays
    held = _hold_demo_folder(settings.instance_dir)
    path = settings.instance_dir / "demo.sqlite3"
    try:
        for leftover in (path, path.with_suffix(".sqlite3-wal"), path.with_suffix(".sqlite3-shm")):
            leftover.unlink(missing_ok=True)
    except OSError as error:
        raise click.ClickException(
            f"cannot start afresh: {error.filename} is held by another process ({error.strerror})"
        ) from None
    settings = dataclasses.replace(settings, database_url=f"sqlite:///{path}")
    base = f"http://{host}:{port}"
    app = create_app(settings, gateway=ConsoleGateway(base_url=base))
    with app.app_context():
        with logs.silenced():  # a fresh database's migrations are no news to a newcomer
            upgrade_database(settings.database_url)
        phones = seed(app)
        api_token = demo_token(get_session(), datetime.now(UTC))
    click.echo(
        f"\nPeerline demo: texts print here instead of going to phones.\n"
        f"  Tuesday Circle meets in about ten minutes: watch its reminder (reply C or N)\n"
        f"  arrive in a minute, and encouragement a few minutes later.\n"
        f"  The coordinators' dashboard:  {base}/\n"
        f"    sign in as {DEMO_COORDINATOR} with the password {DEMO_PASSWORD}\n"
        f"  Phone simulator:  {base}/demo/phone\n"
        f"  Or from a terminal:  peerline simulate --url {base} --from {phones[0]} 'JOIN CIRCLE'\n"
        f"  Robin gets the reminder as a call: answer it with the command the console prints.\n"
        f"  Call the IVR line and join by keypad (code {CIRCLE_KEYPAD_CODE}):\n"
        f"    peerline simulate-call --url {base} --from {phones[0]}\n"
        f"  The coordinators' API, as the demo's coordinator (a new token each run):\n"
        f"    curl -H 'Authorization: Bearer {api_token}' {base}/api/v1/groups\n"
        f"  The coordinators' commands on this demo's database, from another terminal:\n"
        f"    export PEERLINE_MODE=demo PEERLINE_DATABASE_URL={settings.database_url}\n"
        f"    peerline groups list\n"
        f"  Press Ctrl+C to stop.\n"
    )
    try:
        _serve(app, host, port)
    finally:
        held.close()
