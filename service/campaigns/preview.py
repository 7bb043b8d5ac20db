"""What a group's campaigns will send, and when, worked out by the planner itself.

The planner plans into a private outbox and a reader reads what it wrote: every line
(`every_line`, for the command line), one page of them (`page_of_lines`), or a summary
counted by the database with a sample of the first lines (`summary`), which costs the same
for ten people as for a hundred thousand but for the planning itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    MetaData,
    Select,
    Table,
    and_,
    column,
    exists,
    func,
    insert,
    or_,
    select,
    text,
)
from sqlalchemy import table as lightweight_table
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import TableClause

from service.campaigns.campaigns import (
    CampaignChanges,
    CampaignSpec,
    create_campaign,
    live_campaigns,
    update_campaign,
)
from service.campaigns.composer import Meetings, compose
from service.campaigns.planner import HORIZON, fingerprint, plan
from service.messages.segments import count_segments
from service.models import (
    Campaign,
    CampaignPlan,
    Channel,
    Group,
    MeetingSchedule,
    Membership,
    OutboxMessage,
    OutboxState,
    PlanChange,
)

MAX_DAYS = 31  # the longest preview, from the command line and the API alike
SAMPLE = 10  # a summary's sample: the first planned sends, worded
MAX_SAMPLE = 100
_TEMPORARY = {"postgresql": "pg_temp", "sqlite": "temp"}  # where temporary tables live
# Rows due this long before now are copied for the planner to meet again, whatever their state
# (a reminder sent minutes ago); older ones only if still due, or else when the planner asks.
_RECENT = timedelta(days=1)


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


@dataclass(frozen=True)
class LinePage:
    """One page of a preview's planned sends, worded and made into lines."""

    total: int  # planned sends in the whole preview, one per person and moment
    lines: list[PreviewLine]  # the page's sends; a line may go on over the next page


@dataclass(frozen=True)
class HourCount:
    """What goes in one local hour where some of the recipients live."""

    starts_at: datetime  # aware, UTC: the first planned moment in the hour
    local: str  # the hour where they live, e.g. "Tue 2026-03-03 17:00"
    timezone: str
    texts: int
    calls: int
    moved: int  # of these texts and calls, how many quiet hours moved from their time
    expiring: int  # besides them: how many will not go, expired at this hour


@dataclass(frozen=True)
class PreviewSummary:
    """A preview counted by the database, with the first lines worded as a sample."""

    start: datetime  # the preview's window, aware, UTC
    end: datetime
    texts: int  # texts that will go
    calls: int  # calls that will be made
    people: int  # how many people get at least one of them
    moved: int  # texts and calls moved by quiet hours (or held by them) from their time
    right_away: int  # texts and calls whose moment has passed: they go at once
    expiring: int  # planned, but will not go: no useful time is left outside quiet hours
    sends: int  # every planned send the preview shows (texts, calls and expiring)
    hours: list[HourCount]  # in time order
    sample: list[PreviewLine]  # the first planned sends, as the lines of the full list


@dataclass(frozen=True)
class Due:
    """Where a preview reads: a group's (or one campaign's) rows still due, until end."""

    group_id: int
    now: datetime
    end: datetime
    campaign_id: int | None


T = TypeVar("T")
Reader = Callable[[Session, Due], T]


def preview(
    session: Session, group: Group, now: datetime, days: int, campaign_id: int | None = None
) -> list[PreviewLine]:
    """Every line the group's campaigns (or one of them) will send in the next days, by time."""
    return preview_as(every_line, session, group, now, days, campaign_id=campaign_id)


def preview_as(
    read: Reader[T],
    session: Session,
    group: Group,
    now: datetime,
    days: int,
    *,
    campaign_id: int | None = None,
) -> T:
    """What the group's campaigns (or one of them) will send in the next days, as read says.

    The planner itself plans, so the preview is its own answer, not a second opinion that could
    disagree with it. When the live planner's last plan of the group is current (no campaign,
    schedule, member or consent changed since, and it reaches the preview's end), the preview
    reads that plan where it lies, in the outbox; otherwise it plans into a private copy of the
    group's outbox rows, on a connection of the preview's own, so a preview never locks a row
    the live planner or the dispatcher needs, however long it takes. It reads what is saved:
    commit first.
    """
    end = _end(session, now, days)
    if _plan_is_current(session, group, end, campaign_id):
        return read(session, Due(group.id, now, end, campaign_id))
    return _planned(session, group, now, days, lambda private: campaign_id, read)


def _plan_is_current(
    session: Session, group: Group, end: datetime, campaign_id: int | None
) -> bool:
    """Whether the outbox holds what the planner would write now for the group's campaigns (or
    one of them) until end: each planned by the live planner from the inputs it has now, up to
    end or later, and no note of a member's or consent's change waiting for the next tick."""
    waiting = select(PlanChange.id).where(PlanChange.group_id == group.id).limit(1)
    if session.scalar(waiting) is not None:
        return False
    campaigns = live_campaigns().where(Campaign.group_id == group.id)
    if campaign_id is not None:
        campaigns = campaigns.where(Campaign.id == campaign_id)
    found = session.scalars(campaigns).all()
    plans = {
        p.campaign_id: p
        for p in session.scalars(
            select(CampaignPlan).where(CampaignPlan.campaign_id.in_([c.id for c in found]))
        )
    }
    meeting = session.scalar(select(MeetingSchedule).where(MeetingSchedule.group_id == group.id))
    for campaign in found:
        last = plans.get(campaign.id)
        if (
            last is None
            or last.planned_until < end
            or last.fingerprint != fingerprint(campaign, group, meeting, HORIZON)
        ):
            return False
    return True


def preview_draft(
    session: Session,
    group: Group,
    now: datetime,
    days: int,
    *,
    spec: CampaignSpec | None = None,
    campaign_id: int | None = None,
    changes: CampaignChanges | None = None,
) -> list[PreviewLine]:
    """Every line a campaign not yet saved would send (see preview_draft_as)."""
    return preview_draft_as(
        every_line, session, group, now, days, spec=spec, campaign_id=campaign_id, changes=changes
    )


def preview_draft_as(
    read: Reader[T],
    session: Session,
    group: Group,
    now: datetime,
    days: int,
    *,
    spec: CampaignSpec | None = None,
    campaign_id: int | None = None,
    changes: CampaignChanges | None = None,
) -> T:
    """What a campaign not yet saved would send: a new one (spec), or a saved one with changes.

    The campaign is created or changed by the same domain functions as a save, on the
    preview's own connection, planned by the planner, and all of it rolled back: nothing is
    saved and nothing goes. A refusal is the save's own CampaignError.
    """

    def prepare(private: Session) -> int:
        if spec is not None:
            draft, _, _ = create_campaign(
                private, private.get_one(Group, group.id), spec, now=now, actor="preview"
            )
            return draft.id
        assert campaign_id is not None and changes is not None
        saved = private.get_one(Campaign, campaign_id)
        update_campaign(private, saved, changes, now=now, actor="preview")
        return saved.id

    return _planned(session, group, now, days, prepare, read)


def _planned(
    session: Session,
    group: Group,
    now: datetime,
    days: int,
    prepare: Callable[[Session], int | None],
    read: Reader[T],
) -> T:
    """Plan the group in a private outbox, after prepare (which names the campaign to show)."""
    end = _end(session, now, days)
    group_id = group.id
    with session.get_bind().engine.connect() as connection:
        # First with a copy of only the rows near the window (a group's history stays out);
        # should the planner write a key the copy left out, again with every row.
        for near in ((now, end), None):
            try:
                copied = _private_outbox(connection, group_id, near)
                with Session(bind=connection, autoflush=True) as private:
                    campaign_id = prepare(private)
                    plan(private, now, horizon=timedelta(days=days), group_id=group_id)
                    private.flush()
                    if near is None or not _wrote_over_the_uncopied(connection, copied):
                        return read(private, Due(group_id, now, end, campaign_id))
            finally:
                _drop_private_outbox(connection)
    raise AssertionError("the whole outbox was copied")


def _end(session: Session, now: datetime, days: int) -> datetime:
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"a preview covers 1 to {MAX_DAYS} days")
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("a preview reads what is saved; commit or discard its changes first")
    return now + timedelta(days=days)


def _private_outbox(
    connection: Connection, group_id: int, near: tuple[datetime, datetime] | None
) -> tuple[int, int]:
    """A temporary outbox holding the group's campaign rows, which hides the real one from this
    connection: both databases look a name up among temporary tables first.

    near (now, end) copies only the rows a preview may show (still due before its end) and those
    of the day before now, which the planner may meet again. Returns the largest id copied, and
    the largest in the real outbox then.
    """
    table = OutboxMessage.__table__
    name = OutboxMessage.__tablename__
    dialect = connection.dialect.name
    if dialect == "postgresql":
        schema = connection.scalar(text("SELECT current_schema()"))
        connection.exec_driver_sql(
            f'CREATE TEMPORARY TABLE {name} (LIKE "{schema}".{name} INCLUDING DEFAULTS)'
        )
    else:
        copy = Table(
            name,
            MetaData(),
            *(
                Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
                for c in table.columns
            ),
            prefixes=["TEMPORARY"],
        )
        copy.create(connection)
    names = [c.name for c in table.columns]
    source, target = _tables(connection)
    rows = select(*source.c).where(source.c.group_id == group_id, source.c.campaign_id.is_not(None))
    if near is not None:
        now, end = near
        rows = rows.where(
            source.c.due_at < end,
            or_(source.c.due_at >= now - _RECENT, _still_due(now, source.c)),
        )
    connection.execute(insert(target).from_select(names, rows))
    # Indexed once filled, and only by the send key the planner's ON CONFLICT needs: an index
    # built once costs a fraction of one kept up row by row (the real outbox has eleven).
    temporary = _TEMPORARY[dialect]
    if dialect == "postgresql":
        connection.exec_driver_sql(f"CREATE UNIQUE INDEX ON {temporary}.{name} (send_key)")
        connection.exec_driver_sql(f"ANALYZE {temporary}.{name}")  # autovacuum never does
    else:
        connection.exec_driver_sql(
            f"CREATE UNIQUE INDEX {temporary}.preview_send_key ON {name} (send_key)"
        )
    return (
        connection.scalar(select(func.coalesce(func.max(target.c.id), 0))) or 0,
        connection.scalar(select(func.coalesce(func.max(source.c.id), 0))) or 0,
    )


def _wrote_over_the_uncopied(connection: Connection, ids: tuple[int, int]) -> bool:
    """Whether the planner wrote, as new, a key the real outbox held but the copy left out:
    there the real planner would have met that row (and perhaps left it as it is). Rows the
    live planner wrote since are not the preview's to meet."""
    copied, seen = ids
    real, private = _tables(connection)
    saved, new = real.alias("saved"), private.alias("planned")
    # New rows' ids come after every id copied: SQLite's from the copy's largest, PostgreSQL's
    # from the real outbox's own sequence.
    return bool(
        connection.scalar(
            select(
                exists().where(
                    new.c.id > copied, saved.c.send_key == new.c.send_key, saved.c.id <= seen
                )
            )
        )
    )


def _tables(connection: Connection) -> tuple[TableClause, TableClause]:
    """The real outbox and the private one, each named with its schema."""
    name = OutboxMessage.__tablename__
    dialect = connection.dialect.name
    schema = (
        connection.scalar(text("SELECT current_schema()")) if dialect == "postgresql" else "main"
    )
    columns = OutboxMessage.__table__.columns
    return (
        lightweight_table(name, *(column(c.name, c.type) for c in columns), schema=schema),
        lightweight_table(
            name, *(column(c.name, c.type) for c in columns), schema=_TEMPORARY[dialect]
        ),
    )


def _drop_private_outbox(connection: Connection) -> None:
    """Undo the planning and drop the copy; a connection that keeps it is never reused."""
    try:
        connection.rollback()
        connection.exec_driver_sql(
            f"DROP TABLE IF EXISTS {_TEMPORARY[connection.dialect.name]}."
            f"{OutboxMessage.__tablename__}"
        )
        connection.commit()
    except Exception:
        connection.invalidate()
        raise


# -- readers: what a preview shows of the plan ---------------------------------------------------


def every_line(session: Session, due: Due) -> list[PreviewLine]:
    """Every planned send, worded: for the command line, and small groups."""
    return _worded(session, due.now, _in_order(due))


def page_of_lines(first: int, size: int) -> Reader[LinePage]:
    """Sends first to first + size (in time order), worded; with how many there are in all."""

    def read(session: Session, due: Due) -> LinePage:
        total = session.scalar(select(func.count()).select_from(_rows(due).subquery())) or 0
        if first >= total:
            return LinePage(total, [])
        return LinePage(total, _worded(session, due.now, _in_order(due).offset(first).limit(size)))

    return read


def summary(sample: int = SAMPLE) -> Reader[PreviewSummary]:
    """How many texts and calls go, to how many people, hour by hour where they live, counted
    by the database; with the first `sample` sends worded."""

    def read(session: Session, due: Due) -> PreviewSummary:
        return _summary(session, due, sample)

    return read


def _summary(session: Session, due: Due, sample: int) -> PreviewSummary:
    # One row per planned moment, zone, channel and state: as many as the plan has slots,
    # however many people each reaches.
    rows = _rows(due).subquery()
    counted = session.execute(
        select(
            rows.c.due_at,
            rows.c.timezone,
            rows.c.channel,
            rows.c.state,
            rows.c.state_reason.is_not(None),
            func.count(),
        ).group_by(
            rows.c.due_at,
            rows.c.timezone,
            rows.c.channel,
            rows.c.state,
            rows.c.state_reason.is_not(None),
        )
    ).all()
    people = session.scalar(
        select(func.count(func.distinct(rows.c.participant_id))).where(
            rows.c.state == OutboxState.QUEUED
        )
    )
    hours: dict[tuple[str, str], dict[str, Any]] = {}
    totals = dict.fromkeys(("texts", "calls", "moved", "right_away", "expiring"), 0)
    for due_at, zone, channel, state, with_reason, number in counted:
        local = due_at.astimezone(ZoneInfo(zone))
        hour = hours.setdefault(
            (zone, f"{local:%a %Y-%m-%d %H}:00"),
            dict.fromkeys(("texts", "calls", "moved", "expiring"), 0) | {"starts_at": due_at},
        )
        hour["starts_at"] = min(hour["starts_at"], due_at)
        if state is OutboxState.EXPIRED:
            names = ["expiring"]
        else:
            names = ["texts" if channel is Channel.SMS else "calls"]
            names += ["moved"] if with_reason else []
            names += ["right_away"] if due_at < due.now else []
        for name in names:
            totals[name] += number
            if name in hour:
                hour[name] += number
    return PreviewSummary(
        start=due.now,
        end=due.end,
        people=people or 0,
        sends=totals["texts"] + totals["calls"] + totals["expiring"],
        hours=[
            HourCount(local=local, timezone=zone, **counts)
            for (zone, local), counts in sorted(
                hours.items(), key=lambda item: (item[1]["starts_at"], item[0])
            )
        ],
        sample=_worded(session, due.now, _in_order(due).limit(sample)) if sample else [],
        **totals,
    )


def _rows(
    due: Due,
) -> Select[int, datetime, Channel, OutboxState, str | None, int | None, str]:
    """The rows a preview shows, each with the zone its group has for the person."""
    # An inner join: the rows of someone erased since they were planned go to nobody.
    query = (
        select(
            OutboxMessage.id,
            OutboxMessage.due_at,
            OutboxMessage.channel,
            OutboxMessage.state,
            OutboxMessage.state_reason,
            OutboxMessage.participant_id,
            Membership.timezone,
        )
        .join(
            Membership,
            (Membership.participant_id == OutboxMessage.participant_id)
            & (Membership.group_id == OutboxMessage.group_id),
        )
        .where(
            OutboxMessage.group_id == due.group_id,
            OutboxMessage.campaign_id.is_not(None),
            _still_due(due.now),
            OutboxMessage.due_at < due.end,
        )
    )
    if due.campaign_id is not None:
        query = query.where(OutboxMessage.campaign_id == due.campaign_id)
    return query


def _in_order(due: Due) -> Select[OutboxMessage, Membership]:
    """The rows with their memberships, in time order, those of one line side by side; the
    same order on every request (new rows' ids are not: PostgreSQL's come from a sequence)."""
    return (
        _rows(due)
        .with_only_columns(OutboxMessage, Membership)
        .order_by(
            OutboxMessage.due_at,
            Membership.timezone,
            OutboxMessage.campaign_id,
            OutboxMessage.kind,
            OutboxMessage.state,
            OutboxMessage.participant_id,
            OutboxMessage.send_key,
        )
    )


def _worded(
    session: Session, now: datetime, query: Select[OutboxMessage, Membership]
) -> list[PreviewLine]:
    """The rows the query finds, worded; people who get the same words at the same moment in
    the same zone make one line."""
    same: dict[tuple[datetime, str, str, int | None, str, str], list[str]] = {}
    found = session.execute(query).all()
    # Each meeting found, and each person's membership read, once for the whole preview.
    meetings = Meetings(session)
    memberships = {(m.participant_id, m.group_id): m for _, m in found}
    for row, membership in found:
        try:
            text = compose(session, row, row.due_at, meetings=meetings, memberships=memberships)
        except ValueError as problem:
            text = f"(cannot be worded: {problem})"
        key = (
            row.due_at,
            membership.timezone,  # as the group has it
            row.kind.value,
            row.campaign_id,
            text,
            row.state_reason or _late(row, now),
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


def _still_due(now: datetime, rows: Any = OutboxMessage.__table__.c) -> ColumnElement[bool]:
    """What is still to come: a row waiting that can still go (at once, if its moment has
    passed), or one the plan expires at a moment still ahead. History (sent, expired or
    cancelled before now, a waiting row past its expiry) is not a preview's."""
    return or_(
        and_(
            rows.state == OutboxState.QUEUED,
            or_(rows.expires_at.is_(None), rows.expires_at > now),
        ),
        and_(rows.state == OutboxState.EXPIRED, rows.due_at >= now),
    )


def _late(row: OutboxMessage, now: datetime) -> str:
    # The planner still sends a reminder whose moment passed a few minutes ago (a meeting moved
    # to soon): the time shown is gone, and the note says when it really goes.
    if row.state is OutboxState.QUEUED and row.due_at < now:
        return "its time has passed: it goes out right away"
    return ""
