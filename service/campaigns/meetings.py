"""A group's meetings: setting when it meets, cancelling or moving one, and what is coming up.

The command line and the API both come here. Each change takes back the reminders still
waiting for the meetings it touches; the planner writes them again for the new time or place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session

from service.campaigns.composer import schedule_of
from service.campaigns.headcount import answers_by_meeting
from service.campaigns.recurrence import Schedule, ScheduleError, occurrences, validate
from service.messages.outbox import withdraw
from service.models import (
    Campaign,
    CampaignKind,
    Group,
    MeetingChange,
    MeetingSchedule,
    OutboxMessage,
)
from service.people import audit
from service.text import said, sentence_of

MAX_LOCATION = 200  # MeetingSchedule.location and MeetingChange.new_location
LONGEST_MEETING = 24 * 60  # minutes; the schema's check on duration_minutes


class MeetingError(ValueError):
    """A user-facing reason a meeting change was refused.

    field names the input that was wrong ("rule", "first", "duration_minutes", "location",
    "key", "to"), or is None when the request as a whole was refused.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NoMeetings(MeetingError):
    """The group has no schedule yet."""


@dataclass(frozen=True)
class MeetingView:
    """One upcoming meeting as a coordinator sees it, with the answers so far."""

    key: str  # the occurrence key, e.g. 20260303T1830; kept when the meeting moves
    starts_at: datetime  # aware, UTC
    ends_at: datetime  # aware, UTC
    location: str | None
    cancelled: bool
    moved: bool
    coming: int
    not_coming: int


def schedule_of_group(session: Session, group: Group) -> MeetingSchedule:
    """The group's meeting schedule; NoMeetings when it has none yet."""
    meeting = session.scalar(select(MeetingSchedule).where(MeetingSchedule.group_id == group.id))
    if meeting is None:
        raise NoMeetings(said("%(code)s has no meetings yet", code=group.join_code))
    return meeting


def schedule_meetings(
    session: Session,
    group: Group,
    *,
    rule: str,
    first: datetime,
    duration_minutes: int,
    location: str | None,
    now: datetime,
    actor: str,
) -> tuple[MeetingSchedule, int]:
    """Set (or replace) when the group meets; returns the schedule and the texts taken back.

    first is the first meeting's naive local wall time in the group's zone. Replacing a
    schedule drops the changes made to single meetings of the old one.
    """
    if not 1 <= duration_minutes <= LONGEST_MEETING:
        raise MeetingError(
            said("a meeting lasts from 1 to %(longest)d minutes", longest=LONGEST_MEETING),
            "duration_minutes",
        )
    _check_location(location, "location")
    _check_wall_time(first, "first")
    candidate = Schedule(
        rrule=rule.strip(),
        first_start=first,
        timezone=group.timezone,
        duration=timedelta(minutes=duration_minutes),
        location=location,
    )
    try:
        validate(candidate)
    except ScheduleError as error:
        raise MeetingError(sentence_of(error), "rule") from error
    meeting = session.scalar(select(MeetingSchedule).where(MeetingSchedule.group_id == group.id))
    if meeting is None:
        meeting = MeetingSchedule(group_id=group.id)
        session.add(meeting)
    else:
        meeting.changes.clear()
    meeting.rrule, meeting.first_start = candidate.rrule, first
    meeting.duration_minutes, meeting.location = duration_minutes, location
    meeting.updated_at = now
    released = withdraw(session, _reminders_of(group), "schedule changed", now)
    _record(
        session,
        actor,
        "meetings.schedule",
        group,
        now,
        rule=candidate.rrule,
        first=first.isoformat(),
    )
    return meeting, released


def cancel_meeting(session: Session, group: Group, key: str, *, now: datetime, actor: str) -> int:
    """Cancel one meeting by its key; returns how many of its reminders were taken back."""
    meeting = schedule_of_group(session, group)
    _check_known(group, meeting, key)
    _change_for(meeting, key, now).cancelled = True
    released = withdraw(
        session, _reminders_of(group, OutboxMessage.occurrence_key == key), "meeting cancelled", now
    )
    _record(session, actor, "meetings.cancel", group, now, meeting=key)
    return released


def move_meeting(
    session: Session,
    group: Group,
    key: str,
    *,
    to: datetime | None,
    location: str | None,
    now: datetime,
    actor: str,
) -> int:
    """Move one meeting to another time (naive local wall time) and/or place.

    A cancelled meeting that is moved is on again. Returns how many of its reminders were taken
    back to be planned for the new time.
    """
    if to is None and location is None:
        raise MeetingError(said("say where to move it: a new time, a new place, or both"))
    if to is not None:
        _check_wall_time(to, "to")
    _check_location(location, "location")
    meeting = schedule_of_group(session, group)
    _check_known(group, meeting, key)
    change = _change_for(meeting, key, now)
    change.cancelled = False
    if to is not None:
        change.new_start = to
    if location is not None:
        change.new_location = location
    released = withdraw(
        session, _reminders_of(group, OutboxMessage.occurrence_key == key), "meeting moved", now
    )
    _record(
        session,
        actor,
        "meetings.move",
        group,
        now,
        meeting=key,
        to=to.isoformat(sep=" ", timespec="minutes") if to is not None else None,
        location=location,
    )
    return released


def upcoming(session: Session, group: Group, now: datetime, days: int) -> list[MeetingView]:
    """The group's meetings from now for days, cancelled ones included, with their answers."""
    schedule, changes = schedule_of(group, schedule_of_group(session, group))
    counts = answers_by_meeting(session, group.id)
    views = []
    for o in occurrences(
        schedule, changes, now, now + timedelta(days=days), include_cancelled=True
    ):
        coming, not_coming = counts.get(o.key, (0, 0))
        views.append(
            MeetingView(
                key=o.key,
                starts_at=o.starts_at,
                ends_at=o.ends_at,
                location=o.location,
                cancelled=o.cancelled,
                moved=o.moved,
                coming=coming,
                not_coming=not_coming,
            )
        )
    return views


def _check_location(location: str | None, field: str) -> None:
    if location is not None and len(location) > MAX_LOCATION:
        raise MeetingError(
            said("a location has at most %(longest)d characters", longest=MAX_LOCATION), field
        )


def _check_wall_time(moment: datetime, field: str) -> None:
    if moment.tzinfo is not None:
        raise MeetingError(
            said("give the local wall-clock time in the group's time zone, without a zone"),
            field,
        )


def _check_known(group: Group, meeting: MeetingSchedule, key: str) -> None:
    """Refuse a key that names none of the group's meetings."""
    try:
        wall = datetime.strptime(key, "%Y%m%dT%H%M")
    except ValueError:
        raise MeetingError(
            said("%(key)r is not a meeting key such as 20260303T1830", key=key), "key"
        ) from None
    schedule, changes = schedule_of(group, meeting)
    around = wall.replace(tzinfo=ZoneInfo(group.timezone))
    # This meeting's own change is left out, so a meeting moved once can be moved again.
    found = occurrences(
        schedule, [c for c in changes if c.occurrence_key != key], around - timedelta(days=1),
        around + timedelta(days=1), include_cancelled=True,
    )  # fmt: skip
    if key not in {o.key for o in found}:
        raise MeetingError(
            said("%(key)s is not one of %(code)s's meetings", key=key, code=group.join_code),
            "key",
        )


def _change_for(meeting: MeetingSchedule, key: str, now: datetime) -> MeetingChange:
    for change in meeting.changes:
        if change.occurrence_key == key:
            return change
    change = MeetingChange(schedule_id=meeting.id, occurrence_key=key, created_at=now)
    meeting.changes.append(change)
    return change


def _reminders_of(group: Group, *conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    """The outbox rows of the group's reminder campaigns: the only ones that follow meetings.

    Encouragement and broadcasts have occurrence keys too, in the same form, and another group
    may meet at the same wall time, so a key alone would take back texts it should not.
    """
    reminders = select(Campaign.id).where(
        Campaign.group_id == group.id, Campaign.kind == CampaignKind.REMINDER
    )
    return and_(OutboxMessage.campaign_id.in_(reminders), *conditions)


def _record(
    session: Session, actor: str, action: str, group: Group, now: datetime, **details: object
) -> None:
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=action,
        now=now,
        target_type="group",
        target_id=group.id,
        **details,
    )
