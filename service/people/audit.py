"""The audit log: who did what to which record."""

from __future__ import annotations

import getpass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from service.models import AuditEntry


def command_line_actor() -> str:
    """Who is at the command line, as the operating system knows them."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    now: datetime,
    target_type: str | None = None,
    target_id: int | None = None,
    **details: Any,
) -> None:
    """Add an entry in the caller's transaction; details must never hold a full phone number."""
    session.add(
        AuditEntry(
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            details=details,
            created_at=now,
        )
    )


def entries(
    *,
    actor: str | None = None,
    action: str | None = None,
    target_type: str | None = None,
    target_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Select[AuditEntry]:
    """The log's entries, newest first, narrowed by each filter given (until is excluded)."""
    query = select(AuditEntry)
    for column, value in (
        (AuditEntry.actor, actor),
        (AuditEntry.action, action),
        (AuditEntry.target_type, target_type),
        (AuditEntry.target_id, target_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(AuditEntry.created_at >= since)
    if until is not None:
        query = query.where(AuditEntry.created_at < until)
    return query.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
