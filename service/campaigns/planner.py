"""Turns meetings and campaigns into outbox rows for the planning horizon, each exactly once.

Every planned send has a unique key (campaign, participant, occurrence, offset), and rows are
written with one INSERT ... SELECT per (occurrence, offset, time zone) with ON CONFLICT on that
key, so planning twice, or in two processes at once, plans once. A queued row is moved when its
meeting moved, and a cancelled one that is wanted again brought back (an expired one only for a
time still ahead); rows no longer wanted (a cancelled meeting, a member who left, a paused
campaign) are cancelled.

The scheduler's tick runs plan_changed: one planner at a time, a commit per campaign, and only
the campaigns whose inputs changed, or whose horizon reached new moments.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    String,
    and_,
    cast,
    delete,
    func,
    literal,
    or_,
    select,
    update,
)
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
    CampaignPlan,
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
    PlanChange,
    UTCDateTime,
)

log = logging.getLogger(__name__)

HORIZON = timedelta(days=8)
# A reminder whose moment passed longer ago than this when first planned is not sent late.
LATE_PLANNING_GRACE = timedelta(minutes=15)


# The key of the PostgreSQL advisory lock a planning run holds, so that one worker plans at a
# time: "peerplan" in ASCII (8098991047082533230); any other advisory lock must use another key.
PLANNER_LOCK = 0x7065_6572_706C_616E
# Bump when the planner's rules change (what it writes from the same inputs): every campaign is
# then planned afresh once, rather than skipped on a fingerprint taken under the old rules.
RULES = "1"


@dataclass
class PlanReport:
    written: int = 0  # rows inserted, moved or brought back
    cancelled: int = 0
    planned: int = 0  # campaigns planned afresh: new, or something they depend on changed
    extended: int = 0  # campaigns unchanged whose horizon moved on: only the new moments planned
    skipped: int = 0  # campaigns unchanged, horizon already planned: nothing read or written
    failed: int = 0  # campaigns whose planning raised: rolled back, tried again next run


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
        plan_campaign(session, campaign, now, horizon, report)
    return report


def plan_campaign(
    session: Session,
    campaign: Campaign,
    now: datetime,
    horizon: timedelta,
    report: PlanReport,
    *,
    since: datetime | None = None,
) -> None:
    """Plan one campaign up to now + horizon; the caller commits.

    since: a plan from these same inputs already covers every moment up to it, so only moments
    after it are planned, and nothing is withdrawn (what was, was withdrawn then).
    """
    if campaign.status is CampaignStatus.PAUSED:
        if since is None:
            report.cancelled += cancel_queued(session, campaign.id, "campaign paused", now)
        return
    if campaign.kind is CampaignKind.REMINDER:
        plan_reminders(session, campaign, now, horizon, report, since)
    elif campaign.kind is CampaignKind.ENCOURAGEMENT:
        plan_encouragement(session, campaign, now, horizon, report, since)
    else:
        plan_broadcast(session, campaign, now, horizon, report, since)


def plan_reminders(
    session: Session,
    campaign: Campaign,
    now: datetime,
    horizon: timedelta,
    report: PlanReport,
    since: datetime | None = None,
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
    if since is None and cancelled_keys:
        report.cancelled += withdraw(
            session,
            and_(
                OutboxMessage.campaign_id == campaign.id,
                OutboxMessage.occurrence_key.in_(cancelled_keys),
            ),
            "meeting cancelled",
            now,
            replan=False,
        )
    if since is None:
        report.cancelled += _cancel_ineligible(session, campaign, now)

    held = [o for o in found if not o.cancelled]
    if since is not None and not any(
        _may_fall_in(offset, o.starts_at, since, now + horizon) for o in held for offset in offsets
    ):
        return  # nothing came into the horizon since the last plan, in any zone: no member read
    quiet = QuietHours(group.quiet_start, group.quiet_end)
    zones = session.scalars(_eligible(group.id).with_only_columns(Membership.timezone).distinct())
    for zone in list(zones):
        for occurrence in held:
            for index, offset in enumerate(offsets):
                planned = offset.planned(occurrence.starts_at, zone)
                if planned > now + horizon or (since is not None and planned <= since):
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


# How far, in any zone, a wall-clock offset ("1d@18:00") lands from its meeting's start less its
# days: the meeting's local day began up to 24 h before it, the hour adds up to 24 h, and a
# change of clocks an hour or two. Two days holds it.
_ANY_ZONE = timedelta(days=2)


def _may_fall_in(offset: Offset, start: datetime, after: datetime, until: datetime) -> bool:
    """Whether offset's moment before a meeting at start can fall in (after, until] in some zone."""
    if offset.before is not None:
        return after < start - offset.before <= until
    assert offset.days_before is not None
    middle = start - timedelta(days=offset.days_before)
    return middle - _ANY_ZONE <= until and middle + _ANY_ZONE > after


def plan_encouragement(
    session: Session,
    campaign: Campaign,
    now: datetime,
    horizon: timedelta,
    report: PlanReport,
    since: datetime | None = None,
) -> None:
    """Encouragement at a cadence in each person's own zone, or by days since they joined."""
    group = session.get_one(Group, campaign.group_id)
    quiet = QuietHours(group.quiet_start, group.quiet_end)
    window = timedelta(minutes=campaign.window_minutes)
    at = campaign.cadence_time or time(12, 0)
    if since is None:
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
            first = datetime.combine(started.date(), at, tzinfo=ZoneInfo(zone))
            upcoming = occurrences(cadence, [], now - LATE_PLANNING_GRACE, now + horizon)
            for occurrence in upcoming:
                if since is not None and occurrence.starts_at <= since:
                    continue
                sequence = len(occurrences(cadence, [], first, occurrence.starts_at))
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
    if not campaign.stages:
        return
    joiners = _eligible(group.id).with_only_columns(
        Participant.id, Membership.timezone, Membership.created_at
    )
    if since is not None:
        # Only members one of whose stages can have come into the horizon since the last plan,
        # in their zone: the local day they joined began up to a day from when they joined, the
        # hour adds up to a day; two days either way holds it.
        until = now + horizon
        joiners = joiners.where(
            or_(
                *(
                    Membership.created_at.between(
                        since - timedelta(days=days) - _ANY_ZONE,
                        until - timedelta(days=days) + _ANY_ZONE,
                    )
                    for days in campaign.stages
                )
            )
        )
    for participant_id, zone, joined_at in session.execute(joiners).all():
        local_day = joined_at.astimezone(ZoneInfo(zone)).date()
        for sequence, days in enumerate(campaign.stages):
            moment = datetime.combine(local_day + timedelta(days=days), at, tzinfo=ZoneInfo(zone))
            if not now - LATE_PLANNING_GRACE <= moment <= now + horizon:
                continue
            if since is not None and moment <= since:
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
    session: Session,
    campaign: Campaign,
    now: datetime,
    horizon: timedelta,
    report: PlanReport,
    since: datetime | None = None,
) -> None:
    """One text to every member at its time, moved out of each person's quiet hours."""
    group = session.get_one(Group, campaign.group_id)
    quiet = QuietHours(group.quiet_start, group.quiet_end)
    when = campaign.send_at or campaign.created_at
    window = timedelta(minutes=campaign.window_minutes)
    if when > now + horizon or when + window <= now:
        return  # not yet, or its time is over: nothing more to plan, ever
    if since is not None and when <= since:
        return  # planned from these same inputs already
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
        replan=False,
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
    """Write one slot for every member the query selects: one statement (two on PostgreSQL)."""
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
    now_value = literal(now, UTCDateTime())
    if session.get_bind().dialect.name == "postgresql":
        # ON CONFLICT DO UPDATE locks every conflicting row, even one its WHERE leaves as it is,
        # so a dispatcher's claim (SKIP LOCKED) would pass over a campaign's due rows until the
        # plan commits. Instead: UPDATE only the rows that differ (the only ones locked), then
        # INSERT the missing ones with DO NOTHING, which locks none.
        wanted = _differs(
            state=literal(state, state_type),
            due_at=literal(due, UTCDateTime()),
            expires_at=literal(placement.expires_at, UTCDateTime()),
            now=now_value,
        )
        # A join, not IN (subquery): with IN, statistics that call the outbox empty (all its
        # rows deleted since the last ANALYZE) choose a nested loop that scans the members once
        # per outbox row, which at 250,000 members outlasts the statement timeout; a join hashes
        # one side and stays linear however wrong the estimate.
        keys = members.with_only_columns(key.label("send_key")).subquery()
        moved = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.send_key == keys.c.send_key, wanted)
            .values(
                due_at=due,
                expires_at=placement.expires_at,
                state=state,
                state_reason=placement.reason,
                updated_at=now,
                occurrence_key=slot.occurrence_key,
            )
            .execution_options(synchronize_session=False, preserve_rowcount=True)
        )
        added = session.execute(
            postgresql.insert(OutboxMessage)
            .from_select(columns, rows)
            .on_conflict_do_nothing(index_elements=["send_key"]),
            execution_options={"preserve_rowcount": True},
        )
        written = max(0, int(moved.rowcount)) + max(0, int(added.rowcount))  # type: ignore[attr-defined]
    else:  # SQLite: one process, one writer at a time; one statement does both
        statement = sqlite.insert(OutboxMessage).from_select(columns, rows)
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=["send_key"],
            set_={
                "due_at": excluded.due_at,
                "expires_at": excluded.expires_at,
                "state": excluded.state,
                "state_reason": excluded.state_reason,
                "updated_at": excluded.updated_at,
                # A broadcast's key names no time: its occurrence follows a change of its time.
                "occurrence_key": excluded.occurrence_key,
            },
            where=_differs(
                state=excluded.state,
                due_at=excluded.due_at,
                expires_at=excluded.expires_at,
                now=now_value,
            ),
        )
        result = session.execute(statement, execution_options={"preserve_rowcount": True})
        written = max(0, int(result.rowcount))  # type: ignore[attr-defined]
    note_settled(session, state, slot.kind, written)  # counted only when already too late
    return written


def _differs(
    *,
    state: ColumnElement[Any],
    due_at: ColumnElement[Any],
    expires_at: ColumnElement[Any],
    now: ColumnElement[Any],
) -> ColumnElement[bool]:
    """Whether a planned row is to be written again as state, due_at and expires_at: only rows
    still waiting (or cancelled and now wanted again), and only when something changed, so a
    quiet tick writes nothing."""
    row = OutboxMessage
    return and_(
        row.state.in_([OutboxState.QUEUED, OutboxState.CANCELED, OutboxState.EXPIRED]),
        # An expired row comes back only for a time still ahead (its meeting moved, say):
        # never for the moment it already missed, which would expire it again, every tick.
        or_(row.state != OutboxState.EXPIRED, due_at > now),
        or_(
            row.state == OutboxState.CANCELED,
            row.state != state,
            row.due_at.is_distinct_from(due_at),
            row.expires_at.is_distinct_from(expires_at),
        ),
    )


def cancel_queued(session: Session, campaign_id: int, reason: str, now: datetime) -> int:
    """Cancel a campaign's rows still waiting; planning brings back the ones wanted again."""
    return withdraw(session, OutboxMessage.campaign_id == campaign_id, reason, now, replan=False)


def plan_changed(
    connection: Connection, now: datetime, horizon: timedelta = HORIZON
) -> PlanReport | None:
    """Plan what changed since the last run, committing campaign by campaign; None when another
    planner is running (PostgreSQL: an advisory lock, PLANNER_LOCK; SQLite has one process).

    connection must not be in a transaction; it is committed after each campaign, so that a
    dispatcher waits for no more than one campaign's rows, and a campaign that fails is rolled
    back alone and logged, and tried again on the next run.

    A campaign is skipped when its fingerprint (its own row, its group's zone and quiet hours,
    the meeting schedule and its changes, the horizon's length) is the one it was last planned
    from, no note in plan_changes names its group (members joining, leaving or changing, consent,
    a pause, a withdrawal by anyone else), and its last plan reached now + horizon already. When
    only the horizon moved on, only the moments after the last plan's end are planned.
    """
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        taken = connection.scalar(select(func.pg_try_advisory_lock(PLANNER_LOCK)))
        connection.commit()
        if not taken:
            log.debug("another planner is running: not planning this tick")
            return None
    report = PlanReport()
    try:
        with Session(bind=connection, expire_on_commit=False) as session:
            _take_changes(session)
            session.commit()
            ids = session.scalars(
                live_campaigns().with_only_columns(Campaign.id).order_by(Campaign.id)
            ).all()
            session.commit()
            for campaign_id in ids:
                try:
                    _plan_if_changed(session, campaign_id, now, horizon, report)
                    session.commit()
                except Exception:
                    session.rollback()  # raises in turn if the database is away: the run ends
                    report.failed += 1
                    log.exception("campaign %s not planned; the others were", campaign_id)
                session.expunge_all()  # a campaign's rows are not kept for the next one's
    finally:
        if postgres:
            if connection.in_transaction():
                connection.rollback()
            connection.execute(select(func.pg_advisory_unlock(PLANNER_LOCK)))
            connection.commit()
    return report


def _take_changes(session: Session) -> None:
    """Turn the notes of changes into campaigns planned afresh: their last plans are forgotten.

    Only notes this transaction sees are deleted; one written by a transaction that commits
    later stays for the next run.
    """
    groups = session.scalars(select(PlanChange.group_id).distinct()).all()
    for start in range(0, len(groups), 1_000):
        chunk = groups[start : start + 1_000]
        session.execute(delete(PlanChange).where(PlanChange.group_id.in_(chunk)))
        session.execute(
            delete(CampaignPlan).where(
                CampaignPlan.campaign_id.in_(
                    select(Campaign.id).where(Campaign.group_id.in_(chunk))
                )
            )
        )


def _plan_if_changed(
    session: Session, campaign_id: int, now: datetime, horizon: timedelta, report: PlanReport
) -> None:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.deleted_at is not None:
        return  # deleted since the list was read
    group = session.get_one(Group, campaign.group_id)
    meeting = session.scalar(select(MeetingSchedule).where(MeetingSchedule.group_id == group.id))
    print_ = fingerprint(campaign, group, meeting, horizon)
    last = session.get(CampaignPlan, campaign_id)
    until = now + horizon
    if last is not None and last.fingerprint == print_:
        if until <= last.planned_until:
            report.skipped += 1
            return
        plan_campaign(session, campaign, now, horizon, report, since=last.planned_until)
        report.extended += 1
        last.planned_until = until
        return
    plan_campaign(session, campaign, now, horizon, report)
    report.planned += 1
    if last is None:
        session.add(CampaignPlan(campaign_id=campaign_id, fingerprint=print_, planned_until=until))
    else:
        last.fingerprint, last.planned_until = print_, until


def fingerprint(
    campaign: Campaign, group: Group, meeting: MeetingSchedule | None, horizon: timedelta
) -> str:
    """A hash of everything a campaign's plan reads except its members and their consent."""
    inputs: list[object] = [
        RULES,
        horizon.total_seconds(),
        [
            campaign.group_id, campaign.kind, campaign.status, campaign.offsets, campaign.rsvp,
            campaign.wording, campaign.cadence, campaign.cadence_time, campaign.stages,
            campaign.window_minutes, campaign.send_at, campaign.created_at, campaign.deleted_at,
        ],
        [group.timezone, group.quiet_start, group.quiet_end],
    ]  # fmt: skip
    if meeting is not None:
        changes = sorted(
            (c.occurrence_key, c.cancelled, c.new_start, c.new_location) for c in meeting.changes
        )
        inputs.append(
            [meeting.rrule, meeting.first_start, meeting.duration_minutes, meeting.location]
        )
        inputs.append(changes)
    text = json.dumps(inputs, default=str, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()
