"""What the outbox holds, for /metrics and `peerline status`, read from the database.

The numbers come from the database at the moment they are asked for, not from counters in one
process, so every web and worker process reports the same truth.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from service.models import OutboxKind, OutboxMessage, OutboxState


@dataclass(frozen=True)
class OutboxSummary:
    by_state_and_kind: dict[tuple[str, str], int]
    due_now: int  # queued rows whose time has come
    oldest_due_seconds: float  # how late the most overdue queued row is; 0 when none
    stuck_sending: int  # 'sending' rows past their lease: a worker died mid-send
    # Lateness (due to handed over) of what went out in the last RECENT, by quantile.
    recent_sent: int
    lateness: dict[float, float]


RECENT = timedelta(minutes=15)
QUANTILES = (0.5, 0.9, 0.99)


def summarize(session: Session, now: datetime) -> OutboxSummary:
    counts = session.execute(
        select(OutboxMessage.state, OutboxMessage.kind, func.count()).group_by(
            OutboxMessage.state, OutboxMessage.kind
        )
    ).all()
    due = session.execute(
        select(func.count(), func.min(OutboxMessage.due_at)).where(
            OutboxMessage.state == OutboxState.QUEUED, OutboxMessage.due_at <= now
        )
    ).one()
    stuck = session.scalar(
        select(func.count()).where(
            OutboxMessage.state == OutboxState.SENDING, OutboxMessage.lease_until <= now
        )
    )
    recent_sent, lateness = _recent_lateness(session, now)
    oldest = due[1]
    return OutboxSummary(
        by_state_and_kind={(s.value, k.value): n for s, k, n in counts},
        due_now=int(due[0] or 0),
        oldest_due_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        stuck_sending=int(stuck or 0),
        recent_sent=recent_sent,
        lateness=lateness,
    )


def _recent_lateness(session: Session, now: datetime) -> tuple[int, dict[float, float]]:
    """How many texts went out in the last RECENT, and their lateness by quantile.

    PostgreSQL computes the quantiles itself (a scrape may come every few seconds, over
    hundreds of thousands of rows); SQLite, the embedded one-process default, hands over the
    rows and Python ranks them.
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


class OutboxCollector(Collector):
    """Prometheus collector that asks the database on every scrape."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self.sessions = sessions
        self.clock = clock

    def describe(self) -> Iterator[Metric]:
        # Registering must not touch the database (it may not be migrated yet, as in the demo).
        return iter(())

    def collect(self) -> Iterator[Metric]:
        with self.sessions() as session:
            summary = summarize(session, self.clock())
        rows = GaugeMetricFamily(
            "peerline_outbox_messages", "Outbox rows by state and kind.", labels=["state", "kind"]
        )
        for (state, kind), n in sorted(summary.by_state_and_kind.items()):
            rows.add_metric([state, kind], n)
        yield rows
        yield GaugeMetricFamily(
            "peerline_outbox_due", "Queued rows whose time has come.", value=summary.due_now
        )
        yield GaugeMetricFamily(
            "peerline_outbox_lateness_seconds",
            "How late the most overdue queued row is.",
            value=summary.oldest_due_seconds,
        )
        yield GaugeMetricFamily(
            "peerline_outbox_stuck_sending",
            "Rows in 'sending' past their lease.",
            value=summary.stuck_sending,
        )
        recent = GaugeMetricFamily(
            "peerline_outbox_recent_lateness_seconds",
            "Due to handed over, for texts sent in the last 15 minutes, by quantile.",
            labels=["quantile"],
        )
        for q, seconds in summary.lateness.items():
            recent.add_metric([str(q)], seconds)
        yield recent


class ProcessMetrics:
    """What this process's planner and dispatcher did, counted as it happens."""

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
