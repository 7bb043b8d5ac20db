"""Claims due outbox rows and hands each to the gateway once."""

from __future__ import annotations

import logging
from datetime import datetime

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.clock import app_clock
from service.db import sessions
from service.models import OutboxKind, OutboxMessage, OutboxState
from service.sending import send_now

log = logging.getLogger(__name__)

BATCH = 100


def claim_due(session: Session, now: datetime, limit: int = BATCH) -> list[int]:
    """Ids of queued rows due by now, locked against other workers where the database can."""
    query = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.state == OutboxState.QUEUED,
            OutboxMessage.due_at <= now,
            OutboxMessage.kind != OutboxKind.REPLY,
        )
        .order_by(OutboxMessage.due_at, OutboxMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def dispatch_due(app: Flask) -> int:
    """One tick: send every row that is due; returns how many were handed over or settled."""
    with sessions(app)() as session:
        ids = claim_due(session, app_clock(app)())
        session.commit()
    if ids:
        log.info("dispatching %d due row(s)", len(ids))
        # deliver() re-reads each row under lock and skips any another worker took meanwhile.
        send_now(app, ids)
    return len(ids)
