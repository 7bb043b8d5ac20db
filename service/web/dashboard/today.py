"""What Today shows for each of a coordinator's groups, read through the domain's own code."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.campaigns.headcount import Headcount, headcounts
from service.conversation.inbox import needing_a_human
from service.models import QUEUED_ROWS, Group, OutboxMessage

# How far ahead Today looks for a group's next meeting: past a monthly one, with room to spare.
MEETING_HORIZON_DAYS = 70
GOING_OUT = timedelta(hours=24)


@dataclass(frozen=True)
class GroupToday:
    group: Group
    scheduled: bool  # the group has meetings at all
    next_meeting: Headcount | None  # None: none in the horizon (or no schedule)
    unread: int  # replies waiting for a human that nobody has read
    urgent: int  # of those, the urgent ones
    going_out: int  # texts and calls due in the next 24 hours


def groups_today(
    session: Session, group_ids: Collection[int] | None, now: datetime
) -> list[GroupToday]:
    """Today for these groups (None: every group, for an admin), by public name."""
    query = select(Group).order_by(Group.public_name, Group.id)
    if group_ids is not None:
        query = query.where(Group.id.in_(list(group_ids)))
    groups = list(session.scalars(query))
    if not groups:
        return []
    ids = [group.id for group in groups]

    waiting = needing_a_human(ids, unread_only=True).order_by(None).subquery()
    replies = {
        group_id: (int(unread), int(urgent or 0))
        for group_id, unread, urgent in session.execute(
            select(
                waiting.c.group_id,
                func.count(),
                func.count().filter(waiting.c.urgent.is_(True)),
            ).group_by(waiting.c.group_id)
        )
    }
    due: dict[int | None, int] = {
        group_id: count
        for group_id, count in session.execute(
            select(OutboxMessage.group_id, func.count())
            .where(
                QUEUED_ROWS,
                OutboxMessage.due_at < now + GOING_OUT,
                OutboxMessage.group_id.in_(ids),
            )
            .group_by(OutboxMessage.group_id)
        )
    }
    found = []
    for group in groups:
        counts = headcounts(session, group, now, MEETING_HORIZON_DAYS)
        unread, urgent = replies.get(group.id, (0, 0))
        found.append(
            GroupToday(
                group=group,
                scheduled=counts is not None,
                next_meeting=counts[0] if counts else None,
                unread=unread,
                urgent=urgent,
                going_out=int(due.get(group.id, 0)),
            )
        )
    return found
