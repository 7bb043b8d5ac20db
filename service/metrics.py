"""What the outbox holds and what each process did with it, for Prometheus and `peerline status`.

A scrape reads no more than it must, however long the outbox's history grows:

- **What is live** (rows queued, sending or unknown) is read from the database at each scrape,
  in two statements that go through the partial indexes holding only live rows
  (``ix_outbox_messages_due``, ``ix_outbox_messages_in_flight``): they read as many rows as
  are live, never the delivered past. These gauges describe the database, not a process, so
  they are served apart, at ``/metrics/outbox`` (on the web port, with the token, and on a
  worker's metrics port); one scrape job reads them from one target, so no series repeats.
- **What has settled** (sent, delivered, failed, suppressed, expired, canceled, ...) is not
  read at all: each process counts the rows it moves into those states, when the transaction
  that moved them commits (``peerline_outbox_settled_total``), beside what its planner and
  dispatcher did. Prometheus sums the processes; a rolled-back change is never counted. These
  are served at ``/metrics``. Under gunicorn the web's workers share their counts through
  ``PROMETHEUS_MULTIPROC_DIR`` (set by `peerline web`), so a scrape sees all of them.
- `peerline status`, asked by a person, reads the whole table once (``totals``) and the
  lateness of the last 15 minutes; no scrape does.

Rows change state through the ORM (counted by watching each flush) and through a few bulk
statements (withdrawals, the planner's expired slots, the dispatcher's sent batch), which
count what they moved with ``note_settled``.
"""

from __future__ import annotations

import math
import os
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Counter, Histogram, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, SessionTransaction, UOWTransaction, sessionmaker
from sqlalchemy.orm.attributes import get_history
from sqlalchemy.orm.base import PASSIVE_NO_INITIALIZE

from service.models import (
    IN_FLIGHT_ROWS,
    LIVE_STATES,
    QUEUED_ROWS,
    SETTLED_STATES,
    OutboxKind,
    OutboxMessage,
    OutboxState,
)

RECENT = timedelta(minutes=15)
QUANTILES = (0.5, 0.9, 0.99)
OUTBOX_PATH = "/metrics/outbox"
_PENDING = "peerline.metrics.settled"  # a session's moves, counted when it commits


# -- what is live: the database's gauges ------------------------------------------------------


@dataclass(frozen=True)
class LiveOutbox:
    rows: dict[tuple[OutboxState, OutboxKind], int]  # every live state and kind, 0 included
    due_now: int  # queued rows whose time has come
    oldest_due_seconds: float  # how late the most overdue queued row is; 0 when none
    stuck_sending: int  # 'sending' rows past their lease: a worker died mid-send
    lookups_due: int  # 'unknown' rows whose lookup in Twilio's records is due


def live(session: Session, now: datetime) -> LiveOutbox:
    """The live rows, read through the partial indexes that hold only them."""
    rows = {(state, kind): 0 for state in LIVE_STATES for kind in OutboxKind}
    due_now, oldest = 0, None
    for kind, n, due, first in session.execute(
        select(
            OutboxMessage.kind,
            func.count(),
            func.count().filter(OutboxMessage.due_at <= now),
            func.min(OutboxMessage.due_at),
        )
        .where(QUEUED_ROWS)
        .group_by(OutboxMessage.kind)
    ):
        rows[OutboxState.QUEUED, kind] = n
        due_now += due
        oldest = first if oldest is None else min(oldest, first)
    lapsed: Tally[OutboxState] = Tally()
    for state, kind, n, past_lease in session.execute(
        select(
            OutboxMessage.state,
            OutboxMessage.kind,
            func.count(),
            func.count().filter(OutboxMessage.lease_until <= now),
        )
        .where(IN_FLIGHT_ROWS)
        .group_by(OutboxMessage.state, OutboxMessage.kind)
    ):
        rows[state, kind] = n
        lapsed[state] += past_lease
    return LiveOutbox(
        rows=rows,
        due_now=due_now,
        oldest_due_seconds=max(0.0, (now - oldest).total_seconds()) if due_now and oldest else 0.0,
        stuck_sending=lapsed[OutboxState.SENDING],
        lookups_due=lapsed[OutboxState.UNKNOWN],
    )


class OutboxCollector(Collector):
    """The live outbox, asked of the database on every scrape of /metrics/outbox."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self.sessions = sessions
        self.clock = clock

    def describe(self) -> Iterator[Metric]:
        # Registering must not touch the database (it may not be migrated yet, as in the demo).
        return iter(())

    def collect(self) -> Iterator[Metric]:
        with self.sessions() as session:
            outbox = live(session, self.clock())
        rows = GaugeMetricFamily(
            "peerline_outbox_messages",
            "Live outbox rows (queued, sending, unknown) by state and kind.",
            labels=["state", "kind"],
        )
        for (state, kind), n in sorted(outbox.rows.items()):
            rows.add_metric([state.value, kind.value], n)
        yield rows
        yield GaugeMetricFamily(
            "peerline_outbox_due", "Queued rows whose time has come.", value=outbox.due_now
        )
        yield GaugeMetricFamily(
            "peerline_outbox_lateness_seconds",
            "How late the most overdue queued row is.",
            value=outbox.oldest_due_seconds,
        )
        yield GaugeMetricFamily(
            "peerline_outbox_stuck_sending",
            "Rows in 'sending' past their lease.",
            value=outbox.stuck_sending,
        )
        yield GaugeMetricFamily(
            "peerline_outbox_lookups_due",
            "Rows in 'unknown' whose lookup in Twilio's records is due.",
            value=outbox.lookups_due,
        )


# -- what settled: each process's counters ------------------------------------------------------


class ProcessMetrics:
    """What this process's planner, dispatcher and webhooks did, counted as it happens."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.planned = Counter(
            "peerline_planner_rows",
            "Outbox rows this process's planner wrote (planned or moved) and withdrew.",
            ["action"],
            registry=registry,
        )
        self.outcomes = Counter(
            "peerline_dispatch_outcomes",
            "Rows this process's dispatcher settled, by outcome (sent, retry, unknown, ...).",
            ["outcome"],
            registry=registry,
        )
        self.lateness = Histogram(
            "peerline_dispatch_lateness_seconds",
            "From a row's due time to its hand-over to the gateway, in this process.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600),
            registry=registry,
        )
        self.settled = Counter(
            "peerline_outbox_settled",
            "Outbox rows this process moved into a state past the queue, by state and kind.",
            ["state", "kind"],
            registry=registry,
        )
        for state in SETTLED_STATES:
            for kind in OutboxKind:
                self.settled.labels(state.value, kind.value)  # every series from 0
        # Web requests, labelled by the route's rule (/inbox/<int:message_id>), never the path
        # asked for, so no id, number or scanner's guess makes a series of its own.
        self.requests = Counter(
            "peerline_http_requests",
            "HTTP requests this process answered, by method, route and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.request_seconds = Histogram(
            "peerline_http_request_duration_seconds",
            "Time to answer an HTTP request in this process, by method, route and status.",
            ["method", "route", "status"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )


def note_settled(session: Session, state: OutboxState, kind: OutboxKind, n: int = 1) -> None:
    """Count n rows a bulk statement moved into state, once session's transaction commits."""
    if state in SETTLED_STATES and n:
        pending: Tally[tuple[OutboxState, OutboxKind]] = session.info.setdefault(_PENDING, Tally())
        pending[state, kind] += n


def count_settled(sessions: sessionmaker[Session], counter: Callable[[], Counter]) -> None:
    """Count every row the sessions move into a settled state, when the move commits.

    counter is asked for the counter at each commit: the app's counters of the moment, so a
    registry put in their place (a test's own, say) counts from then on.
    """

    def flushed(session: Session, _flush: UOWTransaction) -> None:
        for row in _outbox_rows(session.new, session.dirty):
            # The one attribute's history: inspect(row).attrs builds all of the row's (a few
            # dozen), for each of a batch's rows at each flush.
            history = get_history(row, "state", PASSIVE_NO_INITIALIZE)
            if not history.added or history.added[0] in (history.deleted or ()):
                continue
            if history.added[0] is OutboxState.SENT and OutboxState.SENDING in (
                history.deleted or ()
            ):
                continue  # a callback ahead of the worker's record: the record counts it
            note_settled(session, history.added[0], row.kind)

    def committed(session: Session) -> None:
        for (state, kind), n in session.info.pop(_PENDING, {}).items():
            counter().labels(state.value, kind.value).inc(n)

    def ended(session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None:
            session.info.pop(_PENDING, None)  # rolled back or closed: nothing moved

    event.listen(sessions, "after_flush", flushed)
    event.listen(sessions, "after_commit", committed)
    event.listen(sessions, "after_transaction_end", ended)


def _outbox_rows(*groups: Iterable[object]) -> Iterator[OutboxMessage]:
    for group in groups:
        yield from (row for row in group if isinstance(row, OutboxMessage))


# -- serving ------------------------------------------------------------------------------------


def process_registry(own: CollectorRegistry) -> CollectorRegistry:
    """This process's counters; under gunicorn, every worker's of this server, summed."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        shared = CollectorRegistry()
        MultiProcessCollector(shared)  # type: ignore[no-untyped-call]
        return shared
    return own


def metrics_app(own: CollectorRegistry, outbox: CollectorRegistry) -> Callable[..., Any]:
    """The WSGI app a worker serves on its metrics port: its own counters at /metrics, the
    database's gauges at /metrics/outbox, and /healthz for a container's health check."""
    counters, gauges = make_wsgi_app(own), make_wsgi_app(outbox)

    def route(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO")
        if path == "/healthz":  # the same answer as the web's: this process is alive
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b'{"status":"ok"}\n']
        chosen = gauges if path == OUTBOX_PATH else counters
        return chosen(environ, start_response)

    return route


# -- for a person asking: `peerline status` -----------------------------------------------------


def totals(session: Session) -> dict[tuple[str, str], int]:
    """Every row by state and kind: the whole table, read once for a person who asked."""
    counts = session.execute(
        select(OutboxMessage.state, OutboxMessage.kind, func.count()).group_by(
            OutboxMessage.state, OutboxMessage.kind
        )
    ).all()
    return {(s.value, k.value): n for s, k, n in counts}


def recent_lateness(session: Session, now: datetime) -> tuple[int, dict[float, float]]:
    """How many texts went out in the last RECENT, and their lateness by quantile.

    PostgreSQL computes the quantiles itself; SQLite, the embedded one-process default, hands
    over the rows and Python ranks them.
    """
    recent = (
        OutboxMessage.sent_at >= now - RECENT,
        OutboxMessage.kind != OutboxKind.REPLY,
    )
    if session.get_bind().dialect.name == "postgresql":
        late = func.greatest(func.extract("epoch", OutboxMessage.sent_at - OutboxMessage.due_at), 0)
        found = session.execute(
            select(
                func.count(),
                *(func.percentile_cont(q).within_group(late) for q in QUANTILES),
            ).where(*recent)
        ).one()
        count = int(found[0] or 0)
        return count, (
            {q: float(v) for q, v in zip(QUANTILES, found[1:], strict=True)} if count else {}
        )
    rows = session.execute(select(OutboxMessage.due_at, OutboxMessage.sent_at).where(*recent)).all()
    ordered = sorted(max(0.0, (sent - due).total_seconds()) for due, sent in rows if sent)
    return len(ordered), ({q: _quantile(ordered, q) for q in QUANTILES} if ordered else {})


def _quantile(ordered: list[float], q: float) -> float:
    """The q-quantile of ordered values (nearest rank)."""
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]
