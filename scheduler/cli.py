"""The `peerline` command: the coordinators' commands plus those that run the clock."""

from __future__ import annotations

import dataclasses
import logging

import click
import waitress
from flask import Flask

from scheduler import clock
from service import cli as service_cli
from service.app import create_app
from service.config import Settings
from service.demo import seed
from service.gateway import ConsoleGateway

log = logging.getLogger(__name__)
cli = service_cli.cli


def _serve(app: Flask, host: str, port: int) -> None:
    ticking = clock.start(app)
    try:
        # waitress: a production WSGI server that, unlike gunicorn, can share its process
        # with the scheduler's threads.
        waitress.serve(app, host=host, port=port, threads=8, ident="peerline")
    finally:
        ticking.shutdown(wait=True)


@cli.command(help="Run the web app and the scheduler in one process (the embedded default).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
def serve(host: str, port: int) -> None:
    app = create_app()
    _serve(app, host, port)


@cli.command(help="Run only the scheduler (planner and dispatcher); start as many as you like.")
def worker() -> None:
    clock.run_until_stopped(create_app())


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
    base = f"http://{host}:{port}"
    click.echo(
        f"\nPeerline demo: texts print here instead of going to phones.\n"
        f"  Tuesday Circle meets in about ten minutes: watch its reminder (reply C or N)\n"
        f"  arrive in a minute, and encouragement a few minutes later.\n"
        f"  Phone simulator:  {base}/demo/phone\n"
        f"  Or from a terminal:  peerline simulate --from {phones[0]} 'JOIN CIRCLE'\n"
        f"  Press Ctrl+C to stop.\n"
    )
    _serve(app, host, port)


def main() -> None:
    service_cli.main()
