"""What a group's messages came to over a period: sent, delivered, failed, opt-outs, answers.

Counts come from rows that outlive an erasure (outbox rows keep their group, kind and state),
except opt-outs and confirmations, which follow the people who are still on record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, case, cast, func, literal_column, select
from sqlalchemy.orm import Session

from service.models import (
    Attendance,
    ConsentChange,
    ConsentEvent,
    Membership,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Rsvp,
)

# Handed to Twilio: whatever became of it afterwards.
HANDED_OVER = (
    OutboxState.SENT,
    OutboxState.DELIVERED,
    OutboxState.UNDELIVERED,
    OutboxState.FAILED,
    OutboxState.UNKNOWN,
    OutboxState.RECONCILED,
)
# What the group's members were sent (not the on-call alerts, not keyword replies).
TO_MEMBERS = (
    OutboxKind.REMINDER,
    OutboxKind.ENCOURAGEMENT,
    OutboxKind.BROADCAST,
    OutboxKind.ONE_OFF,
    OutboxKind.INVITATION,
)


@dataclass(frozen=True)
class GroupStats:
    since: datetime
    until: datetime
    sent: int  # handed to Twilio in the period
    delivered: int
    failed: int  # failed or undelivered
    suppressed: int  # held back at send time: no consent, paused, quiet hours ran out
    expired: int  # too late to be useful
    opted_out: int  # members who opted out in the period
    confirmations: int  # "coming" answers given in the period
    declines: int  # "not coming" answers given in the period


def group_stats(session: Session, group_id: int, since: datetime, until: datetime) -> GroupStats:
    """Counts for one group between since (included) and until (excluded)."""
    handed = session.execute(
        select(OutboxMessage.state, func.count())
        .where(
            OutboxMessage.group_id == group_id,
            OutboxMessage.kind.in_(TO_MEMBERS),
            OutboxMessage.state.in_(HANDED_OVER),
            OutboxMessage.sent_at >= since,
            OutboxMessage.sent_at < until,
        )
        .group_by(OutboxMessage.state)
    ).all()
    by_state = {state: int(n) for state, n in handed}
    held = dict(
        session.execute(
            select(OutboxMessage.state, func.count())
            .where(
                OutboxMessage.group_id == group_id,
                OutboxMessage.kind.in_(TO_MEMBERS),
                OutboxMessage.state.in_([OutboxState.SUPPRESSED, OutboxState.EXPIRED]),
                OutboxMessage.due_at >= since,
                OutboxMessage.due_at < until,
            )
            .group_by(OutboxMessage.state)
        ).all()
    )
    opted_out = session.scalar(
        select(func.count(func.distinct(ConsentEvent.participant_id))).where(
            ConsentEvent.change == ConsentChange.OPT_OUT,
            ConsentEvent.created_at >= since,
            ConsentEvent.created_at < until,
            ConsentEvent.participant_id.in_(
                select(Membership.participant_id).where(Membership.group_id == group_id)
            ),
        )
    )
    answers = dict(
        session.execute(
            select(Rsvp.answer, func.count())
            .where(Rsvp.group_id == group_id, Rsvp.answered_at >= since, Rsvp.answered_at < until)
            .group_by(Rsvp.answer)
        ).all()
    )
    return GroupStats(
        since=since,
        until=until,
        sent=sum(by_state.values()),
        delivered=by_state.get(OutboxState.DELIVERED, 0),
        failed=by_state.get(OutboxState.FAILED, 0) + by_state.get(OutboxState.UNDELIVERED, 0),
        suppressed=int(held.get(OutboxState.SUPPRESSED, 0)),
        expired=int(held.get(OutboxState.EXPIRED, 0)),
        opted_out=int(opted_out or 0),
        confirmations=int(answers.get(Attendance.YES, 0)),
        declines=int(answers.get(Attendance.NO, 0)),
    )


@dataclass(frozen=True)
class DayStats:
    day: date  # in the zone asked for
    sent: int
    delivered: int
    failed: int  # failed or undelivered
    opted_out: int


def _local_day(session: Session, column: Any, group: Any, minutes: Mapping[int, int]) -> Any:
    """column's calendar day, moved by its group's offset in minutes: SQL's date() has no zones.

    The offsets are written into the SQL, not bound, so that the GROUP BY's expression is the
    SELECT's own to PostgreSQL.
    """
    offset = case(
        *[
            (group == literal_column(str(int(g))), literal_column(str(int(m))))
            for g, m in minutes.items()
        ],
        else_=literal_column("0"),
    )
    if session.get_bind().dialect.name == "sqlite":
        return func.date(column, cast(offset, String) + literal_column("' minutes'"))
    # timezone('UTC', ...) so that the server's own TimeZone setting plays no part.
    return func.date(func.timezone("UTC", column + literal_column("interval '1 minute'") * offset))


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def daily_stats(
    session: Session, group_id: int, since: datetime, until: datetime, zone: str
) -> list[DayStats]:
    """group_stats' sent, delivered, failed and opt-outs per day in zone, oldest first.

    Days are cut at the zone's offset at until, so a day around a DST change is off by an
    hour at its edges: good enough for a chart, and one GROUP BY instead of a query a day.
    """
    return daily_stats_by_group(session, {group_id: zone}, since, until)[group_id]


def daily_stats_by_group(
    session: Session, zones: Mapping[int, str], since: datetime, until: datetime
) -> dict[int, list[DayStats]]:
    """daily_stats for each group given (its id: the zone of its days), in two queries for all."""
    if not zones:
        return {}
    offsets = {
        group_id: until.astimezone(ZoneInfo(zone)).utcoffset() or timedelta(0)
        for group_id, zone in zones.items()
    }
    minutes = {group_id: int(o.total_seconds() // 60) for group_id, o in offsets.items()}
    ids = list(zones)
    day = _local_day(session, OutboxMessage.sent_at, OutboxMessage.group_id, minutes)
    counts: dict[tuple[int, date], dict[OutboxState, int]] = {}
    for group_id, when, state, n in session.execute(
        select(OutboxMessage.group_id, day, OutboxMessage.state, func.count())
        .where(
            OutboxMessage.group_id.in_(ids),
            OutboxMessage.kind.in_(TO_MEMBERS),
            OutboxMessage.state.in_(HANDED_OVER),
            OutboxMessage.sent_at >= since,
            OutboxMessage.sent_at < until,
        )
        .group_by(OutboxMessage.group_id, day, OutboxMessage.state)
    ):
        counts.setdefault((group_id, _as_date(when)), {})[state] = int(n)
    # Opt-outs of the people who are (or were) members of each group.
    left_day = _local_day(session, ConsentEvent.created_at, Membership.group_id, minutes)
    left = {
        (group_id, _as_date(when)): int(n)
        for group_id, when, n in session.execute(
            select(
                Membership.group_id,
                left_day,
                func.count(func.distinct(ConsentEvent.participant_id)),
            )
            .join(Membership, Membership.participant_id == ConsentEvent.participant_id)
            .where(
                Membership.group_id.in_(ids),
                ConsentEvent.change == ConsentChange.OPT_OUT,
                ConsentEvent.created_at >= since,
                ConsentEvent.created_at < until,
            )
            .group_by(Membership.group_id, left_day)
        )
    }
    found = {}
    for group_id, offset in offsets.items():
        first = (since + offset).date()
        last = (until - timedelta(microseconds=1) + offset).date()
        days = []
        for number in range((last - first).days + 1):
            on = first + timedelta(days=number)
            by_state = counts.get((group_id, on), {})
            days.append(
                DayStats(
                    day=on,
                    sent=sum(by_state.values()),
                    delivered=by_state.get(OutboxState.DELIVERED, 0),
                    failed=by_state.get(OutboxState.FAILED, 0)
                    + by_state.get(OutboxState.UNDELIVERED, 0),
                    opted_out=left.get((group_id, on), 0),
                )
            )
        found[group_id] = days
    return found
