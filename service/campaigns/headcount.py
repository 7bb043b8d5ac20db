"""Who is coming to each upcoming meeting: yes, no, and no answer yet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.campaigns.composer import schedule_of
from service.campaigns.recurrence import occurrences
from service.models import Attendance, Group, MeetingSchedule, Membership, MembershipStatus, Rsvp


@dataclass(frozen=True)
class Headcount:
    key: str  # the occurrence key, e.g. 20260317T1830
    starts_at: datetime
    coming: int
    not_coming: int
    no_answer: int  # active members who have not answered (for a future meeting: yet)


def record_answer(
    session: Session, participant_id: int, group_id: int, key: str, coming: bool, now: datetime
) -> None:
    """The person's answer for one meeting (by text or keypad), replacing an earlier one."""
    rsvp = session.scalar(
        select(Rsvp).where(
            Rsvp.participant_id == participant_id,
            Rsvp.group_id == group_id,
            Rsvp.occurrence_key == key,
        )
    )
    if rsvp is None:
        rsvp = Rsvp(participant_id=participant_id, group_id=group_id, occurrence_key=key)
        session.add(rsvp)
    rsvp.answer = Attendance.YES if coming else Attendance.NO
    rsvp.answered_at = now


def answers_by_meeting(session: Session, group_id: int) -> dict[str, tuple[int, int]]:
    """(coming, not coming) for each occurrence key of the group that has answers."""
    counts: dict[str, tuple[int, int]] = {}
    for key, answer, n in session.execute(
        select(Rsvp.occurrence_key, Rsvp.answer, func.count())
        .where(Rsvp.group_id == group_id)
        .group_by(Rsvp.occurrence_key, Rsvp.answer)
    ).all():
        yes, no = counts.get(key, (0, 0))
        counts[key] = (yes + n, no) if answer is Attendance.YES else (yes, no + n)
    return counts


def headcounts(
    session: Session, group: Group, start: datetime, days: int
) -> list[Headcount] | None:
    """The group's meetings from start for days, with their answers; None with no schedule."""
    meeting = session.scalar(select(MeetingSchedule).where(MeetingSchedule.group_id == group.id))
    if meeting is None:
        return None
    schedule, changes = schedule_of(group, meeting)
    answers = answers_by_meeting(session, group.id)
    members = session.scalar(
        select(func.count()).where(
            Membership.group_id == group.id, Membership.status == MembershipStatus.ACTIVE
        )
    )
    counts = []
    for occurrence in occurrences(schedule, changes, start, start + timedelta(days=days)):
        if occurrence.cancelled:
            continue
        yes, no = answers.get(occurrence.key, (0, 0))
        counts.append(
            Headcount(
                key=occurrence.key,
                starts_at=occurrence.starts_at,
                coming=yes,
                not_coming=no,
                no_answer=max(0, int(members or 0) - yes - no),
            )
        )
    return counts
