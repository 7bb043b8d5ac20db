"""Turns meetings and campaigns into outbox rows for the planning horizon, each exactly once.

Every planned send has a unique key (campaign, participant, occurrence, offset), and rows are
written with one INSERT ... SELECT per (occurrence, offset, time zone) with ON CONFLICT on that
key, so planning twice, or in two processes at once, plans once. The same statement moves a
queued row when its meeting moved and brings back a cancelled one that is wanted again (an
expired one only for a time still ahead); rows no longer wanted (a cancelled meeting, a member
who left, a paused campaign) are cancelled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, String, and_, cast, literal, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.campaigns.campaigns import Offset, live_campaigns
from service.campaigns.composer import schedule_of
from service.campaigns.recurrence import Schedule, occurrences
from service.messages.outbox import withdraw
from service.messages.quiet_hours import Placement, QuietHours, place_encouragement, place_reminder
from service.metrics import note_settled
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

log = logging.getLogger(__name__)

HORIZON = timedelta(days=8)
# A reminder whose moment passed longer ago than this when first planned is not sent late.
LATE_PLANNING_GRACE = timedelta(minutes=15)


@dataclass
class PlanReport:
    written: int = 0  # rows inserted, moved or brought back
    cancelled: int = 0


def plan(
    session: Session, now: datetime, horizon: timedelta = HORIZON, *, group_id: int | None = None
) -> PlanReport:
    """Plan every active campaign's sends up to now + horizon; the caller commits.

    group_id limits planning to one group's campaigns (a preview of that group).
    """
    report = PlanReport()
    query = live_campaigns().order_by(Campaign.id)
    if group_id is not None:
        query = query.where(Campaign.group_id == group_id)
    campaigns = session.scalars(query).all()
    for campaign in campaigns:
        if campaign.status is CampaignStatus.PAUSED:
            report.cancelled += cancel_queued(session, campaign.id, "campaign paused", now)
            continue
        if campaign.kind is CampaignKind.REMINDER:
            plan_reminders(session, campaign, now, horizon, report)
        elif campaign.kind is CampaignKind.ENCOURAGEMENT:
            plan_encouragement(session, campaign, now, horizon, report)
        else:
            plan_broadcast(session, campaign, now, horizon, report)
    return report


def plan_reminders(
    session: Session, campaign: Campaign, now: datetime, horizon: timedelta, report: PlanReport
) -> None:
    group = session.get_one(Group, campaign.group_id)
    meeting = session.scalar(select(MeetingSchedule).where(MeetingSchedule.group_id == group.id))
    if meeting is None or not campaign.offsets:
        return
    offsets = [Offset.parse(text) for text in campaign.offsets]
    reach = max(o.longest for o in offsets)
    schedule, changes = schedule_of(group, meeting)
    found = occurrences(schedule, changes, now, now + horizon + reach, include_cancelled=True)

    cancelled_keys = [o.key for o in found if o.cancelled]
    if cancelled_keys:
        report.cancelled += withdraw(
            session,
            and_(
                OutboxMessage.campaign_id == campaign.id,
                OutboxMessage.occurrence_key.in_(cancelled_keys),
            ),
            "meeting cancelled",
            now,
        )
    report.cancelled += _cancel_ineligible(session, campaign, now)

    quiet = QuietHours(group.quiet_start, group.quiet_end)
    zones = session.scalars(_eligible(group.id).with_only_columns(Membership.timezone).distinct())
    for zone in list(zones):
        for occurrence in (o for o in found if not o.cancelled):
            for index, offset in enumerate(offsets):
                planned = offset.planned(occurrence.starts_at, zone)
                if planned > now + horizon:
                    continue
                placement = place_reminder(planned, occurrence.starts_at, zone, quiet)
                if (placement.send_at or planned) < now - LATE_PLANNING_GRACE:
                    continue
                slot = Slot(
                    OutboxKind.REMINDER,
                    f"r{campaign.id}:",
                    f":{occurrence.key}:{index}",
                    occurrence.key,
                    placement,
                )
                members = _eligible(group.id).where(Membership.timezone == zone)
                report.written += _upsert(session, campaign, members, slot, now)


def plan_encouragement(
    session: Session, campaign: Campaign, now: datetime, horizon: timedelta, report: PlanReport
) -> None:
    """Encouragement at a cadence in each person's own zone, or by days since they joined."""
    group = session.get_one(Group, campaign.group_id)
    quiet = QuietHours(group.quiet_start, group.quiet_end)
    window = timedelta(minutes=campaign.window_minutes)
    at = campaign.cadence_time or time(12, 0)
    report.cancelled += _cancel_ineligible(session, campaign, now)
    if campaign.cadence:
        zones = list(
            session.scalars(_eligible(group.id).with_only_columns(Membership.timezone).distinct())
        )
        for zone in zones:
            started = campaign.created_at.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
            cadence = Schedule(
                rrule=campaign.cadence,
                first_start=datetime.combine(started.date(), at),
                timezone=zone,
                duration=timedelta(minutes=1),
            )
            since = datetime.combine(started.date(), at, tzinfo=ZoneInfo(zone))
            upcoming = occurrences(cadence, [], now - LATE_PLANNING_GRACE, now + horizon)
            for occurrence in upcoming:
                sequence = len(occurrences(cadence, [], since, occurrence.starts_at))
                slot = Slot(
                    OutboxKind.ENCOURAGEMENT,
                    f"e{campaign.id}:",
                    f":{occurrence.key}:{sequence}",
                    occurrence.key,
                    place_encouragement(occurrence.starts_at, zone, quiet, window),
                )
                members = _not_paused(
                    _eligible(group.id).where(Membership.timezone == zone), occurrence.starts_at
                )
                report.written += _upsert(session, campaign, members, slot, now)
        return
    joined = session.execute(
        _eligible(group.id).with_only_columns(
            Participant.id, Membership.timezone, Membership.created_at
        )
    ).all()
    for participant_id, zone, since in joined:
        local_day = since.astimezone(ZoneInfo(zone)).date()
        for sequence, days in enumerate(campaign.stages):
            moment = datetime.combine(local_day + timedelta(days=days), at, tzinfo=ZoneInfo(zone))
            if not now - LATE_PLANNING_GRACE <= moment <= now + horizon:
                continue
            key = moment.strftime("%Y%m%dT%H%M")
            slot = Slot(
                OutboxKind.ENCOURAGEMENT,
                f"e{campaign.id}:",
                f":{key}:{sequence}",
                key,
                place_encouragement(moment, zone, quiet, window),
            )
            members = _not_paused(
                _eligible(group.id).where(Participant.id == participant_id), moment
            )
            report.written += _upsert(session, campaign, members, slot, now)


def plan_broadcast(
    session: Session, campaign: Campaign, now: datetime, horizon: timedelta, report: PlanReport
) -> None:
    """One text to every member at its time, moved out of each person's quiet hours."""
    group = session.get_one(Group, campaign.group_id)
    quiet = QuietHours(group.quiet_start, group.quiet_end)
    when = campaign.send_at or campaign.created_at
    window = timedelta(minutes=campaign.window_minutes)
    if when > now + horizon or when + window <= now:
        return  # not yet, or its time is over: nothing more to plan, ever
    report.cancelled += _cancel_ineligible(session, campaign, now)
    zones = list(
        session.scalars(_eligible(group.id).with_only_columns(Membership.timezone).distinct())
    )
    for zone in zones:
        slot = Slot(
            OutboxKind.BROADCAST,
            f"b{campaign.id}:",
            "",
            when.strftime("%Y%m%dT%H%M"),
            place_encouragement(when, zone, quiet, window),
        )
        members = _eligible(group.id).where(Membership.timezone == zone)
        report.written += _upsert(session, campaign, members, slot, now)


def _not_paused(members: Select[Participant], moment: datetime) -> Select[Participant]:
    return members.where(
        or_(
            Participant.encouragement_paused_until.is_(None),
            Participant.encouragement_paused_until <= moment,
        )
    )


def _cancel_ineligible(session: Session, campaign: Campaign, now: datetime) -> int:
    eligible = _eligible(campaign.group_id).with_only_columns(Participant.id)
    return withdraw(
        session,
        and_(
            OutboxMessage.campaign_id == campaign.id,
            OutboxMessage.participant_id.not_in(eligible),
        ),
        "no longer an active member",
        now,
    )


def _eligible(group_id: int) -> Select[Participant]:
    """Members who may be planned for: active in the group and consenting. Their membership
    is joined: it holds the zone and channel through which this group reaches them."""
    return (
        select(Participant)
        .join(Membership, Membership.participant_id == Participant.id)
        .where(
            Membership.group_id == group_id,
            Membership.status == MembershipStatus.ACTIVE,
            Participant.consent == ConsentState.GRANTED,
        )
    )


@dataclass(frozen=True)
class Slot:
    """One planned moment of a campaign for everyone a query selects."""

    kind: OutboxKind
    prefix: str  # send key = prefix + participant id + suffix
    suffix: str
    occurrence_key: str
    placement: Placement


def _upsert(
    session: Session, campaign: Campaign, members: Select[Participant], slot: Slot, now: datetime
) -> int:
    """Write one slot for every member the query selects, in one statement."""
    placement = slot.placement
    state = OutboxState.EXPIRED if placement.expired else OutboxState.QUEUED
    due = placement.send_at or placement.expires_at
    kind_type = OutboxMessage.__table__.c.kind.type
    state_type = OutboxMessage.__table__.c.state.type
    channel_type = OutboxMessage.__table__.c.channel.type
    key = literal(slot.prefix) + cast(Participant.id, String) + literal(slot.suffix)
    rows = members.with_only_columns(
        key.label("send_key"),
        literal(slot.kind, kind_type).label("kind"),
        cast(Membership.channel, channel_type).label("channel"),
        Participant.id.label("participant_id"),
        literal(campaign.group_id).label("group_id"),
        literal(campaign.id).label("campaign_id"),
        literal(slot.occurrence_key).label("occurrence_key"),
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
            # A broadcast's key names no time: its occurrence follows a change of its time.
            "occurrence_key": statement.excluded.occurrence_key,
        },
        where=and_(
            table.c.state.in_([OutboxState.QUEUED, OutboxState.CANCELED, OutboxState.EXPIRED]),
            # An expired row comes back only for a time still ahead (its meeting moved, say):
            # never for the moment it already missed, which would expire it again, every tick.
            or_(
                table.c.state != OutboxState.EXPIRED,
                statement.excluded.due_at > literal(now, UTCDateTime()),
            ),
            or_(
                table.c.state == OutboxState.CANCELED,
                table.c.state != statement.excluded.state,
                table.c.due_at.is_distinct_from(statement.excluded.due_at),
                table.c.expires_at.is_distinct_from(statement.excluded.expires_at),
            ),
        ),
    )
    result = session.execute(statement, execution_options={"preserve_rowcount": True})
    written = max(0, int(result.rowcount))  # type: ignore[attr-defined]
    note_settled(session, state, slot.kind, written)  # counted only when already too late
    return written


def cancel_queued(session: Session, campaign_id: int, reason: str, now: datetime) -> int:
    """Cancel a campaign's rows still waiting; planning brings back the ones wanted again."""
    return withdraw(session, OutboxMessage.campaign_id == campaign_id, reason, now)
