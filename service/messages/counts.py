"""A group's texts to its members, counted by state and by day of the group's time zone.

Database triggers (migration 0018) note each move of such a text into or out of a counted state
in ``outbox_count_changes``, in the writer's own transaction, so no writer (the ORM, a bulk
UPDATE, a hand-typed statement) can forget one: +1 as a text is handed to Twilio (on its
``sent_at``) or held back or expired (on its ``due_at``), -1 as it leaves that state or time. A
new time zone for a group counts its whole history again. fold() files the notes by local day
into ``outbox_day_counts``, a batch a transaction, and deletes them.

A count reads, in one statement, so in one snapshot (a fold that commits meanwhile is seen whole
or not at all): the period's whole days from ``outbox_day_counts``, the notes not yet folded in
those days, and the period's ragged ends, before its first whole day and after its last, from
the outbox itself. It is exact at every moment, and reads a row a day rather than a row a text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Date,
    and_,
    cast,
    delete,
    func,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.models import (
    Group,
    OutboxCountChange,
    OutboxDayCount,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    UTCDateTime,
)

# Handed to Twilio: whatever became of it afterwards. Counted on the day it went.
HANDED_OVER = (
    OutboxState.SENT,
    OutboxState.DELIVERED,
    OutboxState.UNDELIVERED,
    OutboxState.FAILED,
    OutboxState.UNKNOWN,
    OutboxState.RECONCILED,
)
# Held back when due, or too late to be useful. Counted on the day it was due.
HELD = (OutboxState.SUPPRESSED, OutboxState.EXPIRED)
# What the group's members were sent (not the on-call alerts, not keyword replies).
TO_MEMBERS = (
    OutboxKind.REMINDER,
    OutboxKind.ENCOURAGEMENT,
    OutboxKind.BROADCAST,
    OutboxKind.ONE_OFF,
    OutboxKind.INVITATION,
)

# The key of the PostgreSQL advisory lock a fold holds, "peercnts" in ASCII; a group's new time
# zone waits for it in its trigger (migration 0018), which names the same number.
FOLD_LOCK = 0x7065_6572_636E_7473
# Notes filed per transaction: a short transaction, and a few thousand rows to write.
FOLD_BATCH = 10_000

DayCounts = dict[date, Counter[OutboxState]]


def fold(session: Session, batch: int = FOLD_BATCH) -> int | None:
    """File up to batch notes by their group's local day and delete them; the caller commits.

    Returns how many it filed (fewer than batch: none are left), or None when another process
    is folding (PostgreSQL; SQLite has one writer).
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres and not session.scalar(select(func.pg_try_advisory_xact_lock(FOLD_LOCK))):
        return None
    notes = OutboxCountChange
    taken = session.execute(
        delete(notes)
        .where(notes.id.in_(select(notes.id).limit(batch)))
        .returning(notes.group_id, notes.state, notes.at, notes.n),
        execution_options={"synchronize_session": False},
    ).all()
    if not taken:
        return 0
    zones = {
        group_id: ZoneInfo(zone)
        for group_id, zone in session.execute(
            select(Group.id, Group.timezone).where(Group.id.in_({row.group_id for row in taken}))
        )
    }
    tally: Counter[tuple[int, date, OutboxState]] = Counter()
    for group_id, state, at, n in taken:
        if group_id in zones:  # groups are never deleted; a note of one that was is dropped
            tally[group_id, at.astimezone(zones[group_id]).date(), OutboxState(state)] += n
    rows = [
        {"group_id": group_id, "day": day, "state": state, "n": n}
        for (group_id, day, state), n in tally.items()
        if n
    ]
    if rows:
        days = OutboxDayCount.__table__
        insert = (postgresql if postgres else sqlite).insert(days)
        session.execute(
            insert.on_conflict_do_update(
                index_elements=[days.c.group_id, days.c.day, days.c.state],
                set_={"n": days.c.n + insert.excluded.n},
            ),
            rows,
        )
    return len(taken)


def fold_all(session: Session) -> int | None:
    """fold() a batch per transaction, committing each, until no note is left; how many it
    filed, or None when another process is folding."""
    filed = 0
    while True:
        taken = fold(session, FOLD_BATCH)
        session.commit()
        if taken is None:
            return None
        filed += taken
        if taken < FOLD_BATCH:
            return filed


@dataclass(frozen=True)
class _Span:
    """A period as one group's days see it: its whole local days, first to last (none when
    first > last), and where they begin and end; the rest of the period is its ragged ends."""

    zone: ZoneInfo
    first: date
    last: date
    start: datetime
    end: datetime


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """The first moment, in UTC, whose date in zone is day (where midnight falls in a gap, the
    moment the clocks jump)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _span(zone: ZoneInfo, since: datetime, until: datetime) -> _Span:
    try:
        first = since.astimezone(zone).date()
        if day_start(first, zone) < since:
            first += timedelta(days=1)
        last = until.astimezone(zone).date() - timedelta(days=1)
        if first <= last:
            start, end = day_start(first, zone), day_start(last + timedelta(days=1), zone)
            return _Span(zone, first, last, start, end)
    except OverflowError:  # a day at the very end of the calendar: no day to read whole
        pass
    # No whole day: it is all ends, read from the outbox.
    return _Span(zone, date.max, date.min, since, since)


def by_day(
    session: Session, zones: Mapping[int, str], since: datetime, until: datetime
) -> dict[int, DayCounts]:
    """Each group's counted texts between since (included) and until (excluded), by local day
    and state: the days with none are left out. zones gives each group's own time zone, as
    saved (the days are filed in it): a group's id and Group.timezone."""
    spans = {group_id: _span(ZoneInfo(zone), since, until) for group_id, zone in zones.items()}
    found: dict[int, DayCounts] = {group_id: {} for group_id in zones}
    if not spans:
        return found
    for group_id, day, at, state, n in session.execute(_counting(spans, since, until)):
        when = day if day is not None else at.astimezone(spans[group_id].zone).date()
        found[group_id].setdefault(when, Counter())[OutboxState(state)] += int(n)
    return found


def _counting(spans: Mapping[int, _Span], since: datetime, until: datetime) -> Any:
    """One statement: the whole days' counts and notes, and the ends' texts, for every group."""
    whole = {group_id: span for group_id, span in spans.items() if span.first <= span.last}
    parts: list[Any] = []
    no_day, no_time = cast(null(), Date), cast(null(), UTCDateTime())
    if whole:
        days, notes = OutboxDayCount, OutboxCountChange
        parts.append(
            select(days.group_id, days.day, no_time, days.state, days.n).where(
                or_(
                    *(
                        and_(days.group_id == g, days.day >= s.first, days.day <= s.last)
                        for g, s in whole.items()
                    )
                )
            )
        )
        parts.append(
            select(notes.group_id, no_day, notes.at, notes.state, func.sum(notes.n))
            .where(
                or_(
                    *(
                        and_(notes.group_id == g, notes.at >= s.start, notes.at < s.end)
                        for g, s in whole.items()
                    )
                )
            )
            .group_by(notes.group_id, notes.at, notes.state)
        )
    for states, column in ((HANDED_OVER, OutboxMessage.sent_at), (HELD, OutboxMessage.due_at)):
        ends = or_(
            *(
                and_(
                    OutboxMessage.group_id == g,
                    or_(
                        and_(column >= since, column < s.start),
                        and_(column >= s.end, column < until),
                    ),
                )
                for g, s in spans.items()
            )
        )
        parts.append(
            select(OutboxMessage.group_id, no_day, column, OutboxMessage.state, func.count())
            .where(OutboxMessage.kind.in_(TO_MEMBERS), OutboxMessage.state.in_(states), ends)
            .group_by(OutboxMessage.group_id, column, OutboxMessage.state)
        )
    return union_all(*parts)
