"""`peerline web`: the web app under gunicorn, beside one or more `peerline worker`."""

from __future__ import annotations

import os
import sys
import tempfile

import click

from service.cli.database import schema_behind
from service.config import Settings


@click.command(
    help="Serve the web app with gunicorn (no scheduler: run `peerline worker` beside it). "
    "Without options it listens on 0.0.0.0:$PORT when PORT is set (else 127.0.0.1:8000) with "
    "$WEB_CONCURRENCY processes (4) of $WEB_THREADS threads (1)."
)
@click.option("--bind", help="HOST:PORT to listen on.")
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes.")
@click.option("--threads", type=click.IntRange(min=1), help="Threads in each worker.")
def web(bind: str | None, workers: int | None, threads: int | None) -> None:
    settings = Settings.from_env()  # a bad setting stops us here, in one line, not in every worker
    problem = schema_behind(settings.database_url)
    if problem is not None:
        raise click.ClickException(problem)
    # Each worker counts into files here, so /metrics shows the sum of them all, not the counts
    # of whichever worker answers the scrape (see service.metrics). A fresh folder each start.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="peerline-metrics-")
    # Only what was asked for on the command line; the rest comes from the environment
    # (service/web/gunicorn_conf.py), so WEB_CONCURRENCY and PORT hold unless overridden here.
    given = {"--bind": bind, "--workers": workers, "--threads": threads}
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        "python:service.web.gunicorn_conf",
        *(arg for name, value in given.items() if value is not None for arg in (name, str(value))),
        "service.app:create_app()",
    ]
    os.execv(sys.executable, argv)  # noqa: S606 - our own interpreter, fixed arguments
