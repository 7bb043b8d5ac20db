"""What a group's campaigns will send, and when, worked out by the planner itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.campaigns.composer import compose
from service.campaigns.planner import plan
from service.messages.segments import count_segments
from service.models import Group, Membership, OutboxMessage, OutboxState


@dataclass(frozen=True)
class PreviewLine:
    """One text going to some of a group's members at one moment, in one time zone."""

    due_at: datetime  # aware, UTC
    local: str  # due_at where the recipients live, e.g. "Tue 2026-03-03 17:30"
    timezone: str  # the recipients' zone
    kind: str  # reminder, encouragement or broadcast
    campaign_id: int | None
    text: str  # the words as they will go, or why they cannot be worded
    segments: int
    note: str  # why it moved or will not go, e.g. "moved out of quiet hours"; else ""
    recipients: int
    names: list[str]  # the recipients' names ("" for someone without one)


def preview(
    session: Session, group: Group, now: datetime, days: int, campaign_id: int | None = None
) -> list[PreviewLine]:
    """What the group's campaigns (or one of them) will send in the next days, by time.

    It plans for real inside the session's transaction and then rolls that transaction back,
    so the preview is the planner's own answer, not a second opinion that could disagree with
    it. Call it with nothing pending in the session: anything pending would be lost with it.
    """
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("preview rolls the session back; commit or discard its changes first")
    group_id = group.id
    try:
        plan(session, now, horizon=timedelta(days=days), group_id=group_id)
        return _lines(session, group_id, now + timedelta(days=days), campaign_id)
    finally:
        session.rollback()


def _lines(
    session: Session, group_id: int, end: datetime, campaign_id: int | None
) -> list[PreviewLine]:
    # An inner join: the rows of someone erased since they were planned go to nobody.
    query = (
        select(OutboxMessage, Membership)
        .join(
            Membership,
            (Membership.participant_id == OutboxMessage.participant_id)
            & (Membership.group_id == OutboxMessage.group_id),
        )
        .where(
            OutboxMessage.group_id == group_id,
            OutboxMessage.campaign_id.is_not(None),
            OutboxMessage.state.in_([OutboxState.QUEUED, OutboxState.EXPIRED]),
            OutboxMessage.due_at < end,
        )
        .order_by(OutboxMessage.due_at, OutboxMessage.id)
    )
    if campaign_id is not None:
        query = query.where(OutboxMessage.campaign_id == campaign_id)
    # People who get the same words at the same moment in the same zone make one line.
    same: dict[tuple[datetime, str, str, int | None, str, str], list[str]] = {}
    for row, membership in session.execute(query).all():
        try:
            text = compose(session, row, row.due_at)
        except ValueError as problem:
            text = f"(cannot be worded: {problem})"
        key = (
            row.due_at,
            membership.timezone,  # as the group has it
            row.kind.value,
            row.campaign_id,
            text,
            row.state_reason or "",
        )
        same.setdefault(key, []).append(membership.name or "")  # the group's own name
    return [
        PreviewLine(
            due_at=due_at,
            local=f"{due_at.astimezone(ZoneInfo(zone)):%a %Y-%m-%d %H:%M}",
            timezone=zone,
            kind=kind,
            campaign_id=campaign,
            text=text,
            segments=count_segments(text).segments,
            note=note,
            recipients=len(names),
            names=names,
        )
        for (due_at, zone, kind, campaign, text, note), names in same.items()
    ]
