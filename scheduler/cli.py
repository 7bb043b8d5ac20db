"""The commands that run the clock, `serve`, `worker` and `demo`, on the `peerline` command."""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
from datetime import UTC, datetime
from types import FrameType

import click
import waitress
from flask import Flask
from waitress.server import create_server

from scheduler import clock
from service.app import create_app
from service.cli import main as service_cli
from service.cli.database import upgrade_database
from service.config import Settings
from service.db import get_session
from service.demo.seed import CIRCLE_KEYPAD_CODE, demo_token, seed
from service.metrics import OUTBOX_PATH, metrics_app
from service.sending.dispatch import dispatcher
from service.sending.gateway import ConsoleGateway

log = logging.getLogger(__name__)
cli = service_cli.cli


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


@cli.command(help="Run the web app and the scheduler in one process (the embedded default).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
def serve(host: str, port: int) -> None:
    app = create_app()
    _serve(app, host, port)


@cli.command(help="Run only the scheduler (planner and dispatcher); start as many as you like.")
def worker() -> None:
    app = create_app()
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


@cli.command(help="Start a demo on a fresh SQLite database with a phone simulator.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
def demo(host: str, port: int) -> None:
    settings = Settings.from_env(mode="demo")
    path = settings.instance_dir / "demo.sqlite3"
    for leftover in (path, path.with_suffix(".sqlite3-wal"), path.with_suffix(".sqlite3-shm")):
        leftover.unlink(missing_ok=True)
    settings = dataclasses.replace(settings, database_url=f"sqlite:///{path}")
    app = create_app(settings, gateway=ConsoleGateway())
    with app.app_context():
        upgrade_database(settings.database_url)
        phones = seed(app)
        api_token = demo_token(get_session(), datetime.now(UTC))
    base = f"http://{host}:{port}"
    click.echo(
        f"\nPeerline demo: texts print here instead of going to phones.\n"
        f"  Tuesday Circle meets in about ten minutes: watch its reminder (reply C or N)\n"
        f"  arrive in a minute, and encouragement a few minutes later.\n"
        f"  Phone simulator:  {base}/demo/phone\n"
        f"  Or from a terminal:  peerline simulate --from {phones[0]} 'JOIN CIRCLE'\n"
        f"  Robin gets the reminder as a call: answer it with the command the console prints.\n"
        f"  Call the IVR line and join by keypad (code {CIRCLE_KEYPAD_CODE}):\n"
        f"    peerline simulate-call --url {base} --from {phones[0]}\n"
        f"  The coordinators' API, as the demo's coordinator (a new token each run):\n"
        f"    curl -H 'Authorization: Bearer {api_token}' {base}/api/v1/groups\n"
        f"  Press Ctrl+C to stop.\n"
    )
    _serve(app, host, port)


def main() -> None:
    service_cli.main()
