"""`peerline web`: the web app under gunicorn, beside one or more `peerline worker`."""

from __future__ import annotations

import os
import sys
import tempfile

import click

from service.cli.database import schema_behind
from service.config import Settings


@click.command(
    help="Serve the web app with gunicorn (no scheduler: run `peerline worker` beside it)."
)
@click.option("--bind", default="127.0.0.1:8000", show_default=True)
@click.option("--workers", default=2, show_default=True)
@click.option("--threads", default=4, show_default=True)
def web(bind: str, workers: int, threads: int) -> None:
    settings = Settings.from_env()  # a bad setting stops us here, in one line, not in every worker
    problem = schema_behind(settings.database_url)
    if problem is not None:
        raise click.ClickException(problem)
    # Each worker counts into files here, so /metrics shows the sum of them all, not the counts
    # of whichever worker answers the scrape (see service.metrics). A fresh folder each start.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="peerline-metrics-")
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        bind,
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--access-logfile",
        "-",
        "--config",
        "python:service.web.gunicorn_hooks",
        "service.app:create_app()",
    ]
    os.execv(sys.executable, argv)  # noqa: S606 - our own interpreter, fixed arguments
