"""Words for a campaign's row at the moment it goes: the person's language, name and zone now."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session, joinedload

from service.campaigns.campaigns import rotation_pick
from service.campaigns.recurrence import Change, Occurrence, Schedule, next_occurrence, occurrences
from service.campaigns.wording import default_pool, default_template, render
from service.messages.outbox import Memberships, membership_of
from service.models import (
    Campaign,
    CampaignKind,
    Channel,
    Group,
    MeetingSchedule,
    Membership,
    MembershipStatus,
    OutboxMessage,
    Participant,
)
from service.people.participants import first_word


def schedule_of(group: Group, meeting: MeetingSchedule) -> tuple[Schedule, list[Change]]:
    """The pure schedule of a group's meetings, with each occurrence's changes."""
    schedule = Schedule(
        rrule=meeting.rrule,
        first_start=meeting.first_start,
        timezone=group.timezone,
        duration=timedelta(minutes=meeting.duration_minutes),
        location=meeting.location,
    )
    changes = [
        Change(
            occurrence_key=c.occurrence_key,
            cancelled=c.cancelled,
            new_start=c.new_start,
            new_location=c.new_location,
        )
        for c in meeting.changes
    ]
    return schedule, changes


class Meetings:
    """Groups' meetings as read for one batch, tick or request: each group's schedule is read,
    and each meeting found, once, however many people are worded for it.

    Made for one batch and dropped with it, never kept between them: a meeting moved or
    cancelled since is seen by the next.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._schedules: dict[int, tuple[Schedule, list[Change]] | None] = {}
        self._found: dict[tuple[int, str], Occurrence | None] = {}
        self._next: dict[tuple[int, datetime], Occurrence | None] = {}

    def schedule(self, group: Group) -> tuple[Schedule, list[Change]] | None:
        """The group's schedule and its changes, or None if it has no meetings."""
        if group.id not in self._schedules:
            if "schedule" not in inspect(group).unloaded:
                meeting = group.schedule  # loaded with the group (a reply's one query)
            else:
                meeting = (
                    self.session.scalars(
                        select(MeetingSchedule)
                        .where(MeetingSchedule.group_id == group.id)
                        .options(joinedload(MeetingSchedule.changes))  # one query, not two
                    )
                    .unique()
                    .one_or_none()
                )
            self._schedules[group.id] = None if meeting is None else schedule_of(group, meeting)
        return self._schedules[group.id]

    def find(self, group: Group, key: str) -> Occurrence | None:
        """The meeting a key names, wherever it was moved to (within a fortnight of its slot)."""
        if (group.id, key) not in self._found:
            self._found[group.id, key] = self._find(group, key)
        return self._found[group.id, key]

    def _find(self, group: Group, key: str) -> Occurrence | None:
        found = self.schedule(group)
        if found is None:
            return None
        schedule, changes = found
        slot = datetime.strptime(key, "%Y%m%dT%H%M").replace(tzinfo=ZoneInfo(group.timezone))
        around = occurrences(
            schedule,
            changes,
            slot - timedelta(days=14),
            slot + timedelta(days=14),
            include_cancelled=True,
        )
        return next((o for o in around if o.key == key), None)

    def next(self, group: Group, now: datetime) -> Occurrence | None:
        """The group's next meeting not yet over (someone may answer as it begins)."""
        if (group.id, now) not in self._next:
            found = self.schedule(group)
            self._next[group.id, now] = (
                None
                if found is None
                else next_occurrence(found[0], found[1], now - found[0].duration)
            )
        return self._next[group.id, now]


def find_occurrence(session: Session, group: Group, key: str) -> Occurrence | None:
    """The meeting a key names, wherever it was moved to (within a fortnight of its slot)."""
    return Meetings(session).find(group, key)


def compose(
    session: Session,
    row: OutboxMessage,
    moment: datetime,
    *,
    meetings: Meetings | None = None,
    memberships: Memberships | None = None,
) -> str:
    """Word a campaign row for its participant; raises ValueError when it cannot be worded.

    A batch passes its Meetings, and the memberships it loaded, so that each meeting is found,
    and each membership read, once for all its rows.
    """
    campaign = session.get(Campaign, row.campaign_id) if row.campaign_id else None
    participant = session.get(Participant, row.participant_id) if row.participant_id else None
    if campaign is None or participant is None:
        raise ValueError("its campaign or participant is gone")
    group = session.get_one(Group, campaign.group_id)
    # As this group reaches them: its language, zone and name for the person.
    membership = membership_of(session, participant.id, group.id, memberships)
    reach: Membership | Participant = membership or participant
    language = reach.language
    first_name = first_word(membership.name if membership else None)  # never another group's
    common = {
        "language": language,
        "now": moment,
        "first_name": first_name,
        "group": group.public_name,
        "send_at": moment,
    }
    if campaign.kind is CampaignKind.REMINDER:
        occurrence = (meetings or Meetings(session)).find(group, row.occurrence_key or "")
        if occurrence is None or occurrence.cancelled:
            raise ValueError("its meeting is no longer on the calendar")
        if row.channel is Channel.VOICE:
            # Spoken by the call, whose keypad menu takes the place of reply instructions.
            text, rsvp = default_template("spoken_reminder", language), False
        else:
            text = campaign.wording.get(language) or default_template("reminder", language)
            rsvp = campaign.rsvp
        return render(
            text,
            meeting_start=occurrence.starts_at,
            zone=reach.timezone,
            location=occurrence.location,
            rsvp=rsvp,
            **common,  # type: ignore[arg-type]
        ).text
    # Encouragement and broadcasts are plain sentences with no reply instructions: a call
    # speaks the same words a text would carry (the coordinator's own, as they wrote them).
    if campaign.kind is CampaignKind.ENCOURAGEMENT:
        own = campaign.wording.get(language)
        pool = own.splitlines() if own else default_pool(language)
        sequence = int((row.send_key.rsplit(":", 1)[-1]) or 0)
        line = pool[rotation_pick(len(pool), campaign.id, participant.id, sequence)]
        return render(line, **common).text  # type: ignore[arg-type]
    text = campaign.wording.get(language) or next(iter(campaign.wording.values()))
    return render(text, **common).text  # type: ignore[arg-type]


def next_meeting_for(
    session: Session, participant: Participant, now: datetime
) -> tuple[Group, Occurrence] | None:
    """The person's next meeting across their active groups (the one that meets first)."""
    found = []
    meetings = Meetings(session)
    # Their memberships as the session holds them (a text's handler loaded them with the person).
    active = (m for m in participant.memberships if m.status is MembershipStatus.ACTIVE)
    for membership in active:
        occurrence = meetings.next(membership.group, now)
        if occurrence is not None:
            found.append((occurrence.starts_at, membership.group, occurrence))
    if not found:
        return None
    _, group, occurrence = min(found, key=lambda item: item[0])
    return group, occurrence


def when_words(
    person: Participant | Membership, language: str, start: datetime, now: datetime
) -> str:
    """A meeting's time as the person would say it: "tomorrow at 6:30 PM", "hoy a las 18:30",
    in their own zone (a membership: the zone their group has for them)."""
    return render(
        "{{ meeting_when }}",
        language=language,
        now=now,
        first_name=None,
        group="",
        meeting_start=start,
        zone=person.timezone,
    ).text
