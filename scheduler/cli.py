"""The `peerline` command: the coordinators' commands plus those that run the clock."""

from __future__ import annotations

import dataclasses
import logging
import signal
from datetime import UTC, datetime
from types import FrameType

import click
import prometheus_client
import waitress
from flask import Flask
from flask.cli import with_appcontext

from scheduler import clock
from service import cli as service_cli
from service.app import create_app
from service.config import Settings
from service.db import get_session
from service.demo import CIRCLE_KEYPAD_CODE, demo_token, seed
from service.dispatch import dispatcher
from service.gateway import ConsoleGateway
from service.preview import preview as preview_of

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
        # This process's own counters (sends, lateness) and the outbox gauges, for Prometheus.
        prometheus_client.start_http_server(port, registry=app.extensions["peerline.registry"])
        log.info("metrics at http://0.0.0.0:%s/metrics", port)
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
        service_cli.upgrade_database(settings.database_url)
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


@cli.command(help="Show exactly what a group's campaigns will send, and when, without sending.")
@click.option("--group", "code", required=True)
@click.option("--days", default=7, show_default=True)
@with_appcontext
def preview(code: str, days: int) -> None:
    session = get_session()
    group = service_cli.find_group(session, code)
    join_code = group.join_code  # the preview rolls the session back, expiring the group
    lines = preview_of(session, group, service_cli.now(), days)
    if not lines:
        click.echo(f"nothing planned for {join_code} in the next {days} day(s)")
        return
    for line in lines:
        plural = "s" if line.segments != 1 else ""
        click.echo(f"{line.local} {line.timezone} ({line.due_at:%H:%M} UTC) {line.kind} "
                   f"to {line.recipients}, {line.segments} segment{plural}"
                   + (f"  [{line.note}]" if line.note else ""))  # fmt: skip
        click.echo(f"    {line.text}")


def main() -> None:
    service_cli.main()
