"""APScheduler wiring: it only ticks; every tick is idempotent, so any number may run."""

from __future__ import annotations

import gc
import logging
import signal
import threading
from datetime import UTC, datetime, timedelta
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from scheduler.dispatcher import dispatch_due
from service.campaigns.planner import plan_changed
from service.clock import app_clock
from service.config import Settings
from service.conversation.inbox import daily_texts
from service.db import sessions
from service.messages import counts, retention
from service.metrics import ProcessMetrics
from service.sending.dispatch import dispatcher
from service.web.journal import Journal, database_reachable

log = logging.getLogger(__name__)


def plan_tick(app: Flask) -> None:
    """Plan what changed, campaign by campaign; harmless to run as often, and in as many places,
    as wanted: one worker at a time plans, the others skip the tick."""
    engine = sessions(app).kw["bind"]
    with engine.connect() as connection:
        report = plan_changed(connection, app_clock(app)())
    if report is None:
        return  # another worker is planning
    if report.written or report.cancelled:
        log.info("planned %d row(s), withdrew %d", report.written, report.cancelled)
        counters: ProcessMetrics = app.extensions["peerline.metrics"]
        counters.planned.labels("written").inc(report.written)
        counters.planned.labels("withdrawn").inc(report.cancelled)
    log.debug(
        "campaigns: %d planned, %d extended, %d unchanged, %d failed",
        report.planned,
        report.extended,
        report.skipped,
        report.failed,
    )


def daily_text_tick(app: Flask) -> None:
    """Queue the daily texts about waiting replies that are due; once a local day each."""
    settings: Settings = app.extensions["peerline.settings"]
    with sessions(app)() as session:
        queued = daily_texts(session, app_clock(app)(), settings.public_url)
        session.commit()
    if queued:
        log.info("queued %d daily text(s) about waiting replies", queued)


def retention_tick(app: Flask) -> None:
    """Blank the words of texts older than the retention period, a batch per transaction."""
    settings: Settings = app.extensions["peerline.settings"]
    outbox = inbound = 0
    with sessions(app)() as session:
        for batch in retention.batches(session, app_clock(app)(), settings.retention_days):
            session.commit()
            outbox, inbound = outbox + batch.outbox, inbound + batch.inbound
    if outbox or inbound:
        log.info(
            "retention: blanked the words of %d sent and %d received text(s) older than %d days",
            outbox,
            inbound,
            settings.retention_days,
        )


def count_tick(app: Flask) -> None:
    """File the notes of texts counted since the last tick by their group's day, a batch per
    transaction, until none is left; one worker at a time folds, the others skip the tick."""
    with sessions(app)() as session:
        filed = counts.fold_all(session)
    if filed:
        log.debug("filed %d count change(s) by day", filed)


def journal_tick(app: Flask) -> None:
    """Replay the texts kept in the journal while the database was away, once it is back."""
    journal: Journal = app.extensions["peerline.journal"]
    if journal.waiting() and database_reachable(app):
        journal.replay(app)


class _DispatchOverlap(logging.Filter):
    """Drop APScheduler's warning that a dispatch tick was skipped because the last one is still
    running: a tick drains everything due (up to 30 s, or a rate-limited backlog), so under load
    most ticks find the previous one busy, by design. Any other job's skips still warn."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("dispatch_due" in message and "maximum number of running instances" in message)


_OVERLAP = _DispatchOverlap()


def freeze_startup() -> None:
    """Keep what start-up made (modules, the app, its wording) out of the collector's passes.

    A worker holds some 200,000 objects once started, and each full collection walked them
    all, holding the GIL: in a 5,000-text drain on a busy machine, four full collections held
    it 0.76 s of the drain's 10.8 s. Frozen, they are never walked again (a cycle among them is
    never freed: they live as long as the process anyway), and a full pass costs milliseconds.
    """
    gc.collect()
    gc.freeze()


def start(
    app: Flask, *, dispatch_every: float = 1.0, plan_every: float = 60.0
) -> BackgroundScheduler:
    """Start ticking in background threads; the caller stops it with shutdown()."""
    freeze_startup()
    for name in ("apscheduler.scheduler", "apscheduler.executors.default"):
        logging.getLogger(name).addFilter(_OVERLAP)  # once: the same filter is not added twice
    clock = BackgroundScheduler(timezone="UTC")
    clock.add_job(
        plan_tick,
        "interval",
        args=[app],
        seconds=plan_every,
        id="plan",
        next_run_time=datetime.now(UTC),  # plan at once on start, then every minute
        max_instances=1,
        coalesce=True,
        misfire_grace_time=300,
    )
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
    clock.add_job(
        journal_tick,
        "interval",
        args=[app],
        seconds=plan_every / 6,
        id="journal",
        next_run_time=datetime.now(UTC),  # what a killed process left, replayed on start
        max_instances=1,
        coalesce=True,
    )
    clock.add_job(
        daily_text_tick,
        "interval",
        args=[app],
        seconds=plan_every * 5,
        id="daily_text",
        max_instances=1,
        coalesce=True,
    )
    clock.add_job(
        count_tick,
        "interval",
        args=[app],
        seconds=plan_every,
        id="count",
        max_instances=1,
        coalesce=True,
    )
    clock.add_job(
        retention_tick,
        "interval",
        args=[app],
        days=1,
        id="retention",
        # Soon after each start too, so a process restarted more often than daily still runs it.
        next_run_time=datetime.now(UTC) + timedelta(minutes=10),
        max_instances=1,
        coalesce=True,
    )
    clock.start()
    log.info(
        "scheduler started: planning every %ss, dispatching every %ss", plan_every, dispatch_every
    )
    return clock


def stop(app: Flask, clock: BackgroundScheduler) -> None:
    """Stop ticking: sends already in flight finish, claimed rows not yet sent go back to the
    queue, and no row is left in 'sending'."""
    dispatcher(app).stopping.set()
    clock.shutdown(wait=True)
    dispatcher(app).close()
    log.info("scheduler stopped")


def run_until_stopped(app: Flask) -> None:
    """Tick in the foreground until SIGTERM or SIGINT, then finish the sends in flight."""
    stopped = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: finishing the sends in flight, then stopping", signum)
        dispatcher(app).stopping.set()
        stopped.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    clock = start(app)
    try:
        stopped.wait()
    finally:
        stop(app, clock)
