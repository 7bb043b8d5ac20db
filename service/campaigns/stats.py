"""What a group's messages came to over a period: sent, delivered, failed, opt-outs, answers.

Texts come from the group's day counts (service/messages/counts.py: exact, a row a day), which
outlive an erasure as the outbox rows do; opt-outs and confirmations follow the people who are
still on record. Days are the group's own local days.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.messages.counts import HANDED_OVER, by_day
from service.models import (
    Attendance,
    ConsentChange,
    ConsentEvent,
    Group,
    Membership,
    OutboxState,
    Rsvp,
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


def _failed(by_state: Counter[OutboxState]) -> int:
    return by_state[OutboxState.FAILED] + by_state[OutboxState.UNDELIVERED]


def _sent(by_state: Counter[OutboxState]) -> int:
    return sum(by_state[state] for state in HANDED_OVER)


def group_stats(session: Session, group: Group, since: datetime, until: datetime) -> GroupStats:
    """Counts for one group between since (included) and until (excluded)."""
    by_state: Counter[OutboxState] = Counter()
    for day in by_day(session, {group.id: group.timezone}, since, until)[group.id].values():
        by_state.update(day)
    opted_out = session.scalar(
        select(func.count(func.distinct(ConsentEvent.participant_id))).where(
            ConsentEvent.change == ConsentChange.OPT_OUT,
            ConsentEvent.created_at >= since,
            ConsentEvent.created_at < until,
            ConsentEvent.participant_id.in_(
                select(Membership.participant_id).where(Membership.group_id == group.id)
            ),
        )
    )
    answers = dict(
        session.execute(
            select(Rsvp.answer, func.count())
            .where(Rsvp.group_id == group.id, Rsvp.answered_at >= since, Rsvp.answered_at < until)
            .group_by(Rsvp.answer)
        ).all()
    )
    return GroupStats(
        since=since,
        until=until,
        sent=_sent(by_state),
        delivered=by_state[OutboxState.DELIVERED],
        failed=_failed(by_state),
        suppressed=by_state[OutboxState.SUPPRESSED],
        expired=by_state[OutboxState.EXPIRED],
        opted_out=int(opted_out or 0),
        confirmations=int(answers.get(Attendance.YES, 0)),
        declines=int(answers.get(Attendance.NO, 0)),
    )


@dataclass(frozen=True)
class DayStats:
    day: date  # in the group's zone
    sent: int
    delivered: int
    failed: int  # failed or undelivered
    opted_out: int


def daily_stats(session: Session, group: Group, since: datetime, until: datetime) -> list[DayStats]:
    """group_stats' sent, delivered, failed and opt-outs per local day of the group, oldest
    first; the first and last days count only their part within the period."""
    return daily_stats_by_group(session, [group], since, until)[group.id]


def daily_stats_by_group(
    session: Session, groups: Sequence[Group], since: datetime, until: datetime
) -> dict[int, list[DayStats]]:
    """daily_stats for each group given, in two queries for all."""
    if not groups:
        return {}
    zones = {group.id: ZoneInfo(group.timezone) for group in groups}
    counts = by_day(session, {group.id: group.timezone for group in groups}, since, until)
    # Opt-outs of the people who are (or were) members of each group, each once a day.
    left: dict[tuple[int, date], set[int]] = {}
    for group_id, participant_id, when in session.execute(
        select(Membership.group_id, ConsentEvent.participant_id, ConsentEvent.created_at)
        .join(Membership, Membership.participant_id == ConsentEvent.participant_id)
        .where(
            Membership.group_id.in_(list(zones)),
            ConsentEvent.change == ConsentChange.OPT_OUT,
            ConsentEvent.created_at >= since,
            ConsentEvent.created_at < until,
        )
    ):
        if participant_id is not None:  # an erased person is no longer counted
            day = when.astimezone(zones[group_id]).date()
            left.setdefault((group_id, day), set()).add(participant_id)
    found = {}
    for group_id, zone in zones.items():
        first = since.astimezone(zone).date()
        last = (until - timedelta(microseconds=1)).astimezone(zone).date()
        days = []
        for number in range((last - first).days + 1):
            on = first + timedelta(days=number)
            by_state = counts[group_id].get(on, Counter())
            days.append(
                DayStats(
                    day=on,
                    sent=_sent(by_state),
                    delivered=by_state[OutboxState.DELIVERED],
                    failed=_failed(by_state),
                    opted_out=len(left.get((group_id, on), ())),
                )
            )
        found[group_id] = days
    return found
