"""What went, or will go, to a coordinator's groups: the outbox as its pages and exports read it."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Select, select

from service.models import OutboxMessage, OutboxState


def sends(
    group_ids: Collection[int] | None,
    *,
    campaign_id: int | None = None,
    states: Collection[OutboxState] = (),
    since: datetime | None = None,
    until: datetime | None = None,
) -> Select[OutboxMessage]:
    """Texts and calls of these groups (None: every row, for an admin), latest due first,
    narrowed to a campaign, some states, and a period of due times (since included)."""
    query = select(OutboxMessage)
    if group_ids is not None:
        query = query.where(OutboxMessage.group_id.in_(list(group_ids)))
    if campaign_id is not None:
        query = query.where(OutboxMessage.campaign_id == campaign_id)
    if states:
        query = query.where(OutboxMessage.state.in_(list(states)))
    if since is not None:
        query = query.where(OutboxMessage.due_at >= since)
    if until is not None:
        query = query.where(OutboxMessage.due_at < until)
    return query.order_by(OutboxMessage.due_at.desc(), OutboxMessage.id.desc())
