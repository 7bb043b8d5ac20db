"""Message bodies are kept for the retention period, then blanked; the rows stay.

What a text said, either way, is the most sensitive thing Peerline holds, and after a while
nobody needs it. The row itself stays, with its state, times, segments and group, so every
count and statistic (group stats, daily stats, metrics, `peerline status`) reads the same after
as before; only the words go, and ``body_removed_at`` says when, so a page can say so. The
consent ledger is never touched: it is the record of what a person asked for.

A row still queued or in flight is never blanked, whatever its age: its words may yet go out.
Rows are blanked in bounded batches, in id order, so each transaction is short and a batch
never reads again what an earlier one passed over; running it twice blanks nothing more.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Update, and_, func, select, update
from sqlalchemy.orm import Session

from service.models import SETTLED_STATES, InboundMessage, OutboxMessage

BATCH = 500


@dataclass(frozen=True)
class Removed:
    """How many bodies one batch blanked (or would), and where the next batch starts."""

    outbox: int
    inbound: int
    outbox_after: int = 0  # the last outbox id this batch looked at
    inbound_after: int = 0
    found: bool = False  # whether it found any: another worker may have blanked them first

    def __bool__(self) -> bool:
        return self.found


def cutoff(now: datetime, days: int) -> datetime:
    """Words older than this go."""
    return now - timedelta(days=days)


def _old_outbox(before: datetime) -> ColumnElement[bool]:
    return and_(
        OutboxMessage.body_removed_at.is_(None),
        OutboxMessage.body.is_not(None),
        OutboxMessage.state.in_(SETTLED_STATES),  # nothing will send these words again,
        # The row's last change: a late status callback keeps its words another period.
        OutboxMessage.updated_at < before,
    )


def _old_inbound(before: datetime) -> ColumnElement[bool]:
    return and_(
        InboundMessage.body_removed_at.is_(None),
        InboundMessage.received_at < before,
    )


def count_old(session: Session, now: datetime, days: int) -> Removed:
    """How many bodies a run would blank now (for --dry-run): one read of each table."""
    before = cutoff(now, days)
    outbox = session.scalar(select(func.count()).where(_old_outbox(before))) or 0
    inbound = session.scalar(select(func.count()).where(_old_inbound(before))) or 0
    return Removed(outbox, inbound)


def remove_old_bodies(
    session: Session,
    now: datetime,
    days: int,
    *,
    after: Removed | None = None,
    limit: int = BATCH,
) -> Removed:
    """Blank up to limit outbox bodies and limit inbound bodies older than days, past after.

    The caller commits, then calls again with the result as after, until it is falsy.
    """
    before = cutoff(now, days)
    outbox_after = after.outbox_after if after else 0
    inbound_after = after.inbound_after if after else 0

    outbox_ids = list(
        session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.id > outbox_after, _old_outbox(before))
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
    )
    outbox = inbound = 0
    if outbox_ids:
        outbox = _count(
            session,
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(outbox_ids), _old_outbox(before))
            # updated_at kept: blanking is not a change of the send's story.
            .values(body="", body_removed_at=now, updated_at=OutboxMessage.updated_at),
        )
    inbound_ids = list(
        session.scalars(
            select(InboundMessage.id)
            .where(InboundMessage.id > inbound_after, _old_inbound(before))
            .order_by(InboundMessage.id)
            .limit(limit)
        )
    )
    if inbound_ids:
        inbound = _count(
            session,
            update(InboundMessage)
            .where(InboundMessage.id.in_(inbound_ids), _old_inbound(before))
            .values(body="", body_removed_at=now),
        )
    session.expire_all()
    return Removed(
        outbox=outbox,
        inbound=inbound,
        outbox_after=outbox_ids[-1] if outbox_ids else outbox_after,
        inbound_after=inbound_ids[-1] if inbound_ids else inbound_after,
        found=bool(outbox_ids or inbound_ids),
    )


def _count(session: Session, statement: Update) -> int:
    """Run statement; how many rows it changed (the WHERE is checked again as it runs, so rows
    another worker blanked meanwhile are not counted twice)."""
    result = session.execute(statement.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0))


def batches(session: Session, now: datetime, days: int, *, limit: int = BATCH) -> Iterator[Removed]:
    """Blank every old body, one batch at a time; the caller commits after each it is given."""
    batch = remove_old_bodies(session, now, days, limit=limit)
    while batch:
        yield batch
        batch = remove_old_bodies(session, now, days, after=batch, limit=limit)
