"""Turns meetings and campaigns into outbox rows for the planning horizon, each exactly once.

Every planned send has a unique key (campaign, participant, occurrence, offset), and rows are
written with one INSERT ... SELECT per (occurrence, offset, time zone) with ON CONFLICT on that
key, so planning twice, or in two processes at once, plans once. The same statement moves a
queued row when its meeting moved and brings back a cancelled one that is wanted again; rows no
longer wanted (a cancelled meeting, a member who left, a paused campaign) are cancelled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, String, and_, cast, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.campaigns import Offset
from service.models import (
    Campaign,
    CampaignKind,
    CampaignStatus,
    ConsentState,
    Group,
    MeetingSchedule,
    Membership,
    MembershipStatus,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Participant,
    UTCDateTime,
)
from service.quiet_hours import Placement, QuietHours, place_reminder
from service.recurrence import Change, Occurrence, Schedule, occurrences

log = logging.getLogger(__name__)

HORIZON = timedelta(days=8)
# A reminder whose moment passed longer ago than this when first planned is not sent late.
LATE_PLANNING_GRACE = timedelta(minutes=15)


@dataclass
class PlanReport:
    written: int = 0  # rows inserted, moved or brought back
    cancelled: int = 0


def plan(session: Session, now: datetime, horizon: timedelta = HORIZON) -> PlanReport:
    """Plan every active campaign's sends up to now + horizon; the caller commits."""
    report = PlanReport()
    campaigns = session.scalars(select(Campaign).order_by(Campaign.id)).all()
    for campaign in campaigns:
        if campaign.status is CampaignStatus.PAUSED:
            report.cancelled += cancel_queued(session, campaign.id, "campaign paused", now)
            continue
        if campaign.kind is CampaignKind.REMINDER:
            plan_reminders(session, campaign, now, horizon, report)
    return report


def schedule_of(group_schedule: MeetingSchedule, zone: str) -> tuple[Schedule, list[Change]]:
    schedule = Schedule(
        rrule=group_schedule.rrule,
        first_start=group_schedule.first_start,
        timezone=zone,
        duration=timedelta(minutes=group_schedule.duration_minutes),
        location=group_schedule.location,
    )
    changes = [
        Change(
            occurrence_key=c.occurrence_key,
            cancelled=c.cancelled,
            new_start=c.new_start,
            new_location=c.new_location,
        )
        for c in group_schedule.changes
    ]
    return schedule, changes


def plan_reminders(
    session: Session, campaign: Campaign, now: datetime, horizon: timedelta, report: PlanReport
) -> None:
    group = session.get_one(Group, campaign.group_id)
    meeting = session.scalar(select(MeetingSchedule).where(MeetingSchedule.group_id == group.id))
    if meeting is None or not campaign.offsets:
        return
    offsets = [Offset.parse(text) for text in campaign.offsets]
    reach = max(o.longest for o in offsets)
    schedule, changes = schedule_of(meeting, group.timezone)
    found = occurrences(schedule, changes, now, now + horizon + reach, include_cancelled=True)

    cancelled_keys = [o.key for o in found if o.cancelled]
    if cancelled_keys:
        report.cancelled += _cancel(
            session,
            and_(
                OutboxMessage.campaign_id == campaign.id,
                OutboxMessage.occurrence_key.in_(cancelled_keys),
            ),
            "meeting cancelled",
            now,
        )
    report.cancelled += _cancel(
        session,
        and_(
            OutboxMessage.campaign_id == campaign.id,
            OutboxMessage.participant_id.not_in(_eligible(group.id).with_only_columns(
                Participant.id
            )),
        ),
        "no longer an active member",
        now,
    )

    quiet = QuietHours(group.quiet_start, group.quiet_end)
    zones = session.scalars(_eligible(group.id).with_only_columns(Participant.timezone).distinct())
    for zone in list(zones):
        for occurrence in (o for o in found if not o.cancelled):
            for index, offset in enumerate(offsets):
                planned = offset.planned(occurrence.starts_at, zone)
                if planned > now + horizon:
                    continue
                placement = place_reminder(planned, occurrence.starts_at, zone, quiet)
                if (placement.send_at or planned) < now - LATE_PLANNING_GRACE:
                    continue
                report.written += _upsert(
                    session, campaign, occurrence, index, zone, placement, now
                )


def _eligible(group_id: int) -> Select[Participant]:
    """Members who may be planned for: active in the group and consenting."""
    return (
        select(Participant)
        .join(Membership, Membership.participant_id == Participant.id)
        .where(
            Membership.group_id == group_id,
            Membership.status == MembershipStatus.ACTIVE,
            Participant.consent == ConsentState.GRANTED,
        )
    )


def _upsert(
    session: Session,
    campaign: Campaign,
    occurrence: Occurrence,
    index: int,
    zone: str,
    placement: Placement,
    now: datetime,
) -> int:
    """Write one (occurrence, offset) for every eligible member in zone, in one statement."""
    state = OutboxState.EXPIRED if placement.expired else OutboxState.QUEUED
    due = placement.send_at or occurrence.starts_at
    kind_type = OutboxMessage.__table__.c.kind.type
    state_type = OutboxMessage.__table__.c.state.type
    channel_type = OutboxMessage.__table__.c.channel.type
    prefix, suffix = f"r{campaign.id}:", f":{occurrence.key}:{index}"
    rows = _eligible(campaign.group_id).where(Participant.timezone == zone).with_only_columns(
        (literal(prefix) + cast(Participant.id, String) + literal(suffix)).label("send_key"),
        literal(OutboxKind.REMINDER, kind_type).label("kind"),
        cast(Participant.channel, channel_type).label("channel"),
        Participant.id.label("participant_id"),
        literal(campaign.group_id).label("group_id"),
        literal(campaign.id).label("campaign_id"),
        literal(occurrence.key).label("occurrence_key"),
        literal(1).label("segments"),
        literal(state, state_type).label("state"),
        literal(placement.reason, String).label("state_reason"),
        literal(0).label("attempts"),
        literal(due, UTCDateTime()).label("due_at"),
        literal(placement.expires_at, UTCDateTime()).label("expires_at"),
        literal(now, UTCDateTime()).label("created_at"),
        literal(now, UTCDateTime()).label("updated_at"),
    )
    columns = [
        "send_key", "kind", "channel", "participant_id", "group_id", "campaign_id",
        "occurrence_key", "segments", "state", "state_reason", "attempts", "due_at",
        "expires_at", "created_at", "updated_at",
    ]  # fmt: skip
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(OutboxMessage).from_select(columns, rows)
    table = OutboxMessage.__table__
    # Only rows still waiting (or cancelled and now wanted again) are touched, and only when
    # something changed, so a quiet tick writes nothing.
    statement = statement.on_conflict_do_update(
        index_elements=["send_key"],
        set_={
            "due_at": statement.excluded.due_at,
            "expires_at": statement.excluded.expires_at,
            "state": statement.excluded.state,
            "state_reason": statement.excluded.state_reason,
            "updated_at": statement.excluded.updated_at,
        },
        where=and_(
            table.c.state.in_(
                [OutboxState.QUEUED, OutboxState.CANCELED, OutboxState.EXPIRED]
            ),
            or_(
                table.c.state == OutboxState.CANCELED,
                table.c.state != statement.excluded.state,
                table.c.due_at.is_distinct_from(statement.excluded.due_at),
                table.c.expires_at.is_distinct_from(statement.excluded.expires_at),
            ),
        ),
    )
    return int(session.execute(statement).rowcount or 0)  # type: ignore[attr-defined]


def cancel_queued(session: Session, campaign_id: int, reason: str, now: datetime) -> int:
    """Cancel a campaign's rows still waiting; planning brings back the ones wanted again."""
    return _cancel(session, OutboxMessage.campaign_id == campaign_id, reason, now)


def _cancel(session: Session, condition: object, reason: str, now: datetime) -> int:
    result = session.execute(
        update(OutboxMessage)
        .where(condition, OutboxMessage.state == OutboxState.QUEUED)  # type: ignore[arg-type]
        .values(state=OutboxState.CANCELED, state_reason=reason, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]

