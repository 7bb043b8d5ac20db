"""Who is coming to each upcoming meeting, and who answered for each past one."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from service.campaigns.composer import schedule_of
from service.campaigns.recurrence import Occurrence, occurrences
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
    """The person's answer for one meeting (by text or keypad), replacing an earlier one.

    One statement, an upsert on the answer's unique key, instead of a read and a write.
    """
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    answer = Attendance.YES if coming else Attendance.NO
    session.execute(
        dialect.insert(Rsvp)
        .values(
            participant_id=participant_id,
            group_id=group_id,
            occurrence_key=key,
            answer=answer,
            answered_at=now,
        )
        .on_conflict_do_update(
            index_elements=[Rsvp.participant_id, Rsvp.group_id, Rsvp.occurrence_key],
            set_={"answer": answer, "answered_at": now},
        )
    )


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
    return headcounts_by_group(session, [group], start, days)[group.id]


def headcounts_by_group(
    session: Session, groups: Collection[Group], start: datetime, days: int
) -> dict[int, list[Headcount] | None]:
    """headcounts for each of these groups, in as many queries as for one."""
    ids = [group.id for group in groups]
    meetings = {
        meeting.group_id: meeting
        for meeting in session.scalars(
            select(MeetingSchedule)
            .where(MeetingSchedule.group_id.in_(ids))
            .options(selectinload(MeetingSchedule.changes))
        )
    }
    coming: dict[int, list[Occurrence]] = {}
    for group in groups:
        if group.id in meetings:
            schedule, changes = schedule_of(group, meetings[group.id])
            coming[group.id] = [
                o
                for o in occurrences(schedule, changes, start, start + timedelta(days=days))
                if not o.cancelled
            ]
    keys = {o.key for found in coming.values() for o in found}
    answers: dict[tuple[int, str], tuple[int, int]] = {}
    if keys:
        for group_id, key, answer, n in session.execute(
            select(Rsvp.group_id, Rsvp.occurrence_key, Rsvp.answer, func.count())
            .where(Rsvp.group_id.in_(list(coming)), Rsvp.occurrence_key.in_(sorted(keys)))
            .group_by(Rsvp.group_id, Rsvp.occurrence_key, Rsvp.answer)
        ).all():
            yes, no = answers.get((group_id, key), (0, 0))
            answers[group_id, key] = (yes + n, no) if answer is Attendance.YES else (yes, no + n)
    members: dict[int, int] = {}
    if coming:
        members = {
            group_id: int(n)
            for group_id, n in session.execute(
                select(Membership.group_id, func.count())
                .where(
                    Membership.group_id.in_(list(coming)),
                    Membership.status == MembershipStatus.ACTIVE,
                )
                .group_by(Membership.group_id)
            ).all()
        }
    found: dict[int, list[Headcount] | None] = {}
    for group_id in ids:
        if group_id not in coming:
            found[group_id] = None
            continue
        counts = []
        for occurrence in coming[group_id]:
            yes, no = answers.get((group_id, occurrence.key), (0, 0))
            counts.append(
                Headcount(
                    key=occurrence.key,
                    starts_at=occurrence.starts_at,
                    coming=yes,
                    not_coming=no,
                    no_answer=max(0, members.get(group_id, 0) - yes - no),
                )
            )
        found[group_id] = counts
    return found


@dataclass(frozen=True)
class PastMeeting:
    key: str
    starts_at: datetime  # aware, in the group's zone
    cancelled: bool
    coming: int
    not_coming: int
    no_answer: int
    coming_names: list[str]  # as the group knows them; erased or unnamed people count, unnamed
    not_coming_names: list[str]
    no_answer_names: list[str]  # the members counted in no_answer who have a name in the group


def attendance(
    session: Session, group: Group, now: datetime, weeks: int = 8
) -> list[PastMeeting] | None:
    """The group's meetings that began in the last weeks, newest first; None with no schedule.

    Answers are kept for good, so coming and not coming are exact, erased people's answers
    included (counted, without a name). Peerline keeps no history of who was a member when, so
    "no answer" counts the members active now who had joined before the meeting began and gave
    no answer to it: someone who has left since is not counted, one who came back is.
    """
    meeting = session.scalar(select(MeetingSchedule).where(MeetingSchedule.group_id == group.id))
    if meeting is None:
        return None
    schedule, changes = schedule_of(group, meeting)
    # A meeting starting this very moment has begun: the end of the range is just after now.
    past = occurrences(
        schedule,
        changes,
        now - timedelta(weeks=weeks),
        now + timedelta(microseconds=1),
        include_cancelled=True,
    )
    answers: dict[str, list[tuple[int | None, Attendance, str | None]]] = {}
    for key, participant_id, answer, name in session.execute(
        select(Rsvp.occurrence_key, Rsvp.participant_id, Rsvp.answer, Membership.name)
        .outerjoin(
            Membership,
            (Membership.participant_id == Rsvp.participant_id)
            & (Membership.group_id == Rsvp.group_id),
        )
        .where(Rsvp.group_id == group.id, Rsvp.occurrence_key.in_([o.key for o in past]))
        .order_by(Rsvp.answered_at, Rsvp.id)
    ).all():
        answers.setdefault(key, []).append((participant_id, answer, name))
    members = session.execute(
        select(Membership.participant_id, Membership.created_at, Membership.name).where(
            Membership.group_id == group.id, Membership.status == MembershipStatus.ACTIVE
        )
    ).all()
    zone = ZoneInfo(group.timezone)
    meetings = []
    for occurrence in reversed(past):
        given = answers.get(occurrence.key, [])
        answered = {participant_id for participant_id, _, _ in given}
        yes = [name for _, answer, name in given if answer is Attendance.YES]
        no = [name for _, answer, name in given if answer is not Attendance.YES]
        silent = [
            name
            for participant_id, joined, name in members
            if joined <= occurrence.starts_at and participant_id not in answered
        ]
        meetings.append(
            PastMeeting(
                key=occurrence.key,
                starts_at=occurrence.starts_at.astimezone(zone),
                cancelled=occurrence.cancelled,
                coming=len(yes),
                not_coming=len(no),
                no_answer=len(silent),
                coming_names=sorted(name for name in yes if name),
                not_coming_names=sorted(name for name in no if name),
                no_answer_names=sorted(name for name in silent if name),
            )
        )
    return meetings
