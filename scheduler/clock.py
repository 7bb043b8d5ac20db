"""APScheduler wiring: it only ticks; every tick is idempotent, so any number may run."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from scheduler.dispatcher import dispatch_due

log = logging.getLogger(__name__)


def start(app: Flask, *, dispatch_every: float = 1.0) -> BackgroundScheduler:
    """Start ticking in background threads; the caller stops it with shutdown()."""
    clock = BackgroundScheduler(timezone="UTC")
    clock.add_job(
        dispatch_due,
        "interval",
        args=[app],
        seconds=dispatch_every,
        id="dispatch",
        max_instances=1,
        coalesce=True,  # after a pause, one tick catches up; the outbox knows what is due
        misfire_grace_time=30,
    )
    clock.start()
    log.info("scheduler started: dispatching every %ss", dispatch_every)
    return clock


def run_until_stopped(app: Flask) -> None:
    """Tick in the foreground until SIGTERM or SIGINT, then finish the tick in progress."""
    stopped = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: stopping after the current tick", signum)
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    clock = start(app)
    try:
        stopped.wait()
    finally:
        clock.shutdown(wait=True)
