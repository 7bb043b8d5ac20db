"""What a group's campaigns will send, and when, worked out by the planner itself."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    MetaData,
    Table,
    UniqueConstraint,
    and_,
    column,
    insert,
    or_,
    select,
    text,
)
from sqlalchemy import table as lightweight_table
from sqlalchemy.orm import Session

from service.campaigns.campaigns import (
    CampaignChanges,
    CampaignSpec,
    create_campaign,
    update_campaign,
)
from service.campaigns.composer import Meetings, compose
from service.campaigns.planner import plan
from service.messages.segments import count_segments
from service.models import Campaign, Group, Membership, OutboxMessage, OutboxState

MAX_DAYS = 31  # the longest preview, from the command line and the API alike
_TEMPORARY = {"postgresql": "pg_temp", "sqlite": "temp"}  # where temporary tables live


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

    The planner itself plans, so the preview is its own answer, not a second opinion that could
    disagree with it; but it plans into a private copy of the group's outbox rows, on a
    connection of the preview's own, so a preview never locks a row the live planner or the
    dispatcher needs, however long it takes. It reads what is saved: commit first.
    """
    return _planned(session, group, now, days, lambda private: campaign_id)


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

    return _planned(session, group, now, days, prepare)


def _planned(
    session: Session,
    group: Group,
    now: datetime,
    days: int,
    prepare: Callable[[Session], int | None],
) -> list[PreviewLine]:
    """Plan the group in a private outbox, after prepare (which names the campaign to show)."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"a preview covers 1 to {MAX_DAYS} days")
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("a preview reads what is saved; commit or discard its changes first")
    group_id = group.id
    with session.get_bind().engine.connect() as connection:
        try:
            _private_outbox(connection, group_id)
            with Session(bind=connection, autoflush=True) as private:
                campaign_id = prepare(private)
                plan(private, now, horizon=timedelta(days=days), group_id=group_id)
                return _lines(private, group_id, now, now + timedelta(days=days), campaign_id)
        finally:
            _drop_private_outbox(connection)


def _private_outbox(connection: Connection, group_id: int) -> None:
    """A temporary outbox holding the group's campaign rows, which hides the real one from this
    connection: both databases look a name up among temporary tables first."""
    table = OutboxMessage.__table__
    name = OutboxMessage.__tablename__
    dialect = connection.dialect.name
    if dialect == "postgresql":
        schema = connection.scalar(text("SELECT current_schema()"))
        connection.exec_driver_sql(
            f'CREATE TEMPORARY TABLE {name} (LIKE "{schema}".{name} '
            "INCLUDING DEFAULTS INCLUDING INDEXES)"
        )
    else:
        schema = "main"
        copy = Table(
            name,
            MetaData(),
            *(
                Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
                for c in table.columns
            ),
            UniqueConstraint("send_key"),
            prefixes=["TEMPORARY"],
        )
        copy.create(connection)
    names = [c.name for c in table.columns]
    source = lightweight_table(name, *(column(n) for n in names), schema=schema)
    target = lightweight_table(name, *(column(n) for n in names), schema=_TEMPORARY[dialect])
    connection.execute(
        insert(target).from_select(
            names,
            select(*source.c).where(
                source.c.group_id == group_id, source.c.campaign_id.is_not(None)
            ),
        )
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


def _lines(
    session: Session, group_id: int, now: datetime, end: datetime, campaign_id: int | None
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
            _still_due(now),
            OutboxMessage.due_at < end,
        )
        .order_by(OutboxMessage.due_at, OutboxMessage.id)
    )
    if campaign_id is not None:
        query = query.where(OutboxMessage.campaign_id == campaign_id)
    # People who get the same words at the same moment in the same zone make one line.
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


def _still_due(now: datetime) -> ColumnElement[bool]:
    """What is still to come: a row waiting that can still go (at once, if its moment has
    passed), or one the plan expires at a moment still ahead. History (sent, expired or
    cancelled before now, a waiting row past its expiry) is not a preview's."""
    return or_(
        and_(
            OutboxMessage.state == OutboxState.QUEUED,
            or_(OutboxMessage.expires_at.is_(None), OutboxMessage.expires_at > now),
        ),
        and_(OutboxMessage.state == OutboxState.EXPIRED, OutboxMessage.due_at >= now),
    )


def _late(row: OutboxMessage, now: datetime) -> str:
    # The planner still sends a reminder whose moment passed a few minutes ago (a meeting moved
    # to soon): the time shown is gone, and the note says when it really goes.
    if row.state is OutboxState.QUEUED and row.due_at < now:
        return "its time has passed: it goes out right away"
    return ""
