"""Meetings, campaigns and the preview as the CLI and the API both use them, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from service.campaigns import composer
from service.campaigns.campaigns import (
    CampaignError,
    CampaignSpec,
    create_campaign,
    set_campaign_status,
)
from service.campaigns.headcount import record_answer
from service.campaigns.meetings import (
    MeetingError,
    NoMeetings,
    cancel_meeting,
    move_meeting,
    schedule_meetings,
    upcoming,
)
from service.campaigns.planner import plan
from service.campaigns.preview import PreviewLine, page_of_lines, preview, preview_as, summary
from service.campaigns.recurrence import occurrences
from service.models import (
    AuditEntry,
    Campaign,
    CampaignKind,
    CampaignStatus,
    Channel,
    ConsentState,
    Group,
    MeetingChange,
    MeetingSchedule,
    OutboxKind,
    OutboxMessage,
    OutboxState,
)
from service.people.erasure import erase_participant
from tests.support import (
    Clock,
    make_campaign,
    make_group,
    make_history,
    make_participant,
    make_schedule,
)

SAM, LUCIA = "+12025550142", "+12025550145"
ACTOR = "api:robin@example.org"
# The test clock starts Tuesday 2026-03-03 at 12:00 in New York (17:00 UTC); the circle meets
# Tuesdays at 18:30 New York time, at first in Room 5.
TONIGHT = "20260303T1830"
NEXT_WEEK = "20260310T1830"


@pytest.fixture
def circle(session: Session) -> Group:
    return make_group(session, "CIRCLE")


@pytest.fixture
def meeting_circle(session: Session, circle: Group) -> Group:
    make_schedule(session, circle)
    return circle


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def states(session: Session) -> dict[str, OutboxState]:
    session.expire_all()
    return {r.send_key: r.state for r in session.scalars(select(OutboxMessage))}


def audit_log(session: Session) -> list[tuple[str, str, str | None, int | None, dict[str, Any]]]:
    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id))
    return [(e.actor, e.action, e.target_type, e.target_id, e.details) for e in entries]


# -- meetings -----------------------------------------------------------------------------------


def test_scheduling_meetings_sets_the_schedule_and_is_audited(
    session: Session, circle: Group, clock: Clock
) -> None:
    meeting, released = schedule_meetings(
        session, circle, rule=" FREQ=WEEKLY;INTERVAL=2;BYDAY=TU ",
        first=datetime(2026, 3, 3, 18, 30), duration_minutes=60, location="Room 5", now=clock.now,
        actor=ACTOR,
    )  # fmt: skip
    session.commit()

    assert released == 0
    assert (meeting.rrule, meeting.duration_minutes) == ("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", 60)
    assert [m.key for m in upcoming(session, circle, clock.now, 30)] == [
        "20260303T1830",
        "20260317T1830",
        "20260331T1830",
    ]
    assert audit_log(session) == [
        (ACTOR, "meetings.schedule", "group", circle.id,
         {"rule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", "first": "2026-03-03T18:30:00"}),
    ]  # fmt: skip


def test_a_new_schedule_drops_old_changes_and_takes_back_only_reminders(
    session: Session, meeting_circle: Group, clock: Clock
) -> None:
    make_participant(session, SAM, meeting_circle)
    make_campaign(session, meeting_circle, CampaignKind.REMINDER, offsets=["2h"])
    make_campaign(session, meeting_circle, CampaignKind.ENCOURAGEMENT, cadence="FREQ=DAILY",
                  created_at=clock.now)  # fmt: skip
    cancel_meeting(session, meeting_circle, NEXT_WEEK, now=clock.now, actor=ACTOR)
    plan(session, clock.now)
    session.commit()
    before = states(session)
    reminders = [key for key in before if key.startswith("r")]
    assert reminders and len(before) > len(reminders)

    _, released = schedule_meetings(
        session, meeting_circle, rule="FREQ=WEEKLY;BYDAY=WE", first=datetime(2026, 3, 4, 18, 30),
        duration_minutes=90, location=None, now=clock.now, actor=ACTOR,
    )  # fmt: skip
    session.commit()

    after = states(session)
    assert released == len(reminders)
    assert all(after[key] is OutboxState.CANCELED for key in reminders)
    assert all(state is OutboxState.QUEUED for key, state in after.items() if key[0] == "e")
    assert count(session, MeetingChange) == 0
    assert count(session, MeetingSchedule) == 1


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"rule": "FREQ=HOURLY"}, "rule", "at most daily"),
        ({"rule": "FREQ=WEEKLY;BYDAY=XX"}, "rule", "BYDAY"),
        ({"duration_minutes": 0}, "duration_minutes", "from 1 to 1440 minutes"),
        ({"duration_minutes": 1441}, "duration_minutes", "from 1 to 1440 minutes"),
        ({"location": "x" * 201}, "location", "at most 200 characters"),
        ({"first": datetime(2026, 3, 3, 18, 30, tzinfo=UTC)}, "first", "without a zone"),
    ],
)
def test_a_bad_schedule_is_refused_and_nothing_changes(
    session: Session,
    circle: Group,
    clock: Clock,
    changes: dict[str, Any],
    field: str,
    message: str,
) -> None:
    request: dict[str, Any] = {
        "rule": "FREQ=WEEKLY",
        "first": datetime(2026, 3, 3, 18, 30),
        "duration_minutes": 90,
        "location": None,
        **changes,
    }
    with pytest.raises(MeetingError, match=message) as refused:
        schedule_meetings(session, circle, now=clock.now, actor=ACTOR, **request)
    session.commit()

    assert refused.value.field == field and str(refused.value)
    assert count(session, MeetingSchedule) == 0
    assert count(session, AuditEntry) == 0


def test_a_group_without_meetings_says_so(session: Session, circle: Group, clock: Clock) -> None:
    with pytest.raises(NoMeetings, match="CIRCLE has no meetings yet"):
        upcoming(session, circle, clock.now, 30)
    with pytest.raises(NoMeetings):
        cancel_meeting(session, circle, TONIGHT, now=clock.now, actor=ACTOR)
    with pytest.raises(NoMeetings):
        move_meeting(session, circle, TONIGHT, to=None, location="Room 7", now=clock.now,
                     actor=ACTOR)  # fmt: skip


def test_cancelling_a_meeting_takes_back_its_reminders_and_not_another_groups(
    session: Session, meeting_circle: Group, clock: Clock
) -> None:
    other = make_group(session, "HARBOR")
    make_schedule(session, other)  # also Tuesdays at 18:30 New York time: the same keys
    make_participant(session, SAM, meeting_circle)
    make_participant(session, LUCIA, other)
    for group in (meeting_circle, other):
        make_campaign(session, group, CampaignKind.REMINDER, offsets=["2h"])
    plan(session, clock.now)
    session.commit()

    released = cancel_meeting(session, meeting_circle, TONIGHT, now=clock.now, actor=ACTOR)
    session.commit()

    assert released == 1
    rows = session.scalars(select(OutboxMessage)).all()
    cancelled = {r.group_id for r in rows if r.state is OutboxState.CANCELED}
    assert cancelled == {meeting_circle.id}
    views = {m.key: m for m in upcoming(session, meeting_circle, clock.now, 14)}
    assert views[TONIGHT].cancelled and not views[NEXT_WEEK].cancelled
    assert audit_log(session)[-1] == (
        ACTOR, "meetings.cancel", "group", meeting_circle.id, {"meeting": TONIGHT}
    )  # fmt: skip


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("tonight", "'tonight' is not a meeting key such as 20260303T1830"),
        ("20260304T1830", "20260304T1830 is not one of CIRCLE's meetings"),
        ("20260303T1900", "20260303T1900 is not one of CIRCLE's meetings"),
    ],
)
def test_a_key_that_names_no_meeting_is_refused(
    session: Session, meeting_circle: Group, clock: Clock, key: str, message: str
) -> None:
    with pytest.raises(MeetingError, match=message) as cancelling:
        cancel_meeting(session, meeting_circle, key, now=clock.now, actor=ACTOR)
    with pytest.raises(MeetingError, match=message) as moving:
        move_meeting(session, meeting_circle, key, to=None, location="Room 7", now=clock.now,
                     actor=ACTOR)  # fmt: skip
    assert cancelling.value.field == moving.value.field == "key"
    session.commit()
    assert count(session, MeetingChange) == 0


def test_moving_a_meeting_shows_it_at_its_new_time_and_place(
    session: Session, meeting_circle: Group, clock: Clock
) -> None:
    make_participant(session, SAM, meeting_circle)
    make_campaign(session, meeting_circle, CampaignKind.REMINDER, offsets=["2h"])
    plan(session, clock.now)
    session.commit()

    released = move_meeting(
        session, meeting_circle, NEXT_WEEK, to=datetime(2026, 3, 11, 19, 0), location="Room 7",
        now=clock.now, actor=ACTOR,
    )  # fmt: skip
    session.commit()

    assert released == 1  # next week's 2h reminder, to be planned again for Wednesday
    moved = {m.key: m for m in upcoming(session, meeting_circle, clock.now, 14)}[NEXT_WEEK]
    assert moved.moved and not moved.cancelled
    assert moved.starts_at == datetime(2026, 3, 11, 23, 0, tzinfo=UTC)  # 19:00 EDT
    assert moved.ends_at - moved.starts_at == timedelta(minutes=90)
    assert moved.location == "Room 7"
    assert audit_log(session)[-1][1:] == (
        "meetings.move", "group", meeting_circle.id,
        {"meeting": NEXT_WEEK, "to": "2026-03-11 19:00", "location": "Room 7"},
    )  # fmt: skip


def test_a_cancelled_meeting_that_is_moved_is_on_again(
    session: Session, meeting_circle: Group, clock: Clock
) -> None:
    cancel_meeting(session, meeting_circle, NEXT_WEEK, now=clock.now, actor=ACTOR)
    move_meeting(session, meeting_circle, NEXT_WEEK, to=None, location="Park", now=clock.now,
                 actor=ACTOR)  # fmt: skip
    session.commit()

    again = {m.key: m for m in upcoming(session, meeting_circle, clock.now, 14)}[NEXT_WEEK]
    assert not again.cancelled and again.location == "Park"


@pytest.mark.parametrize(
    ("to", "location", "field", "message"),
    [
        (None, None, None, "say where to move it"),
        (datetime(2026, 3, 11, 19, 0, tzinfo=UTC), None, "to", "without a zone"),
        (None, "x" * 201, "location", "at most 200 characters"),
    ],
)
def test_a_move_without_a_usable_destination_is_refused(
    session: Session,
    meeting_circle: Group,
    clock: Clock,
    to: datetime | None,
    location: str | None,
    field: str | None,
    message: str,
) -> None:
    with pytest.raises(MeetingError, match=message) as refused:
        move_meeting(session, meeting_circle, NEXT_WEEK, to=to, location=location,
                     now=clock.now, actor=ACTOR)  # fmt: skip
    assert refused.value.field == field


def test_upcoming_meetings_count_the_answers(
    session: Session, meeting_circle: Group, clock: Clock
) -> None:
    sam = make_participant(session, SAM, meeting_circle)
    lucia = make_participant(session, LUCIA, meeting_circle)
    record_answer(session, sam.id, meeting_circle.id, TONIGHT, True, clock.now)
    record_answer(session, lucia.id, meeting_circle.id, TONIGHT, False, clock.now)
    session.commit()

    tonight, next_week = upcoming(session, meeting_circle, clock.now, 8)

    assert (tonight.key, tonight.coming, tonight.not_coming) == (TONIGHT, 1, 1)
    assert tonight.starts_at == datetime(2026, 3, 3, 23, 30, tzinfo=UTC)
    assert tonight.location == "Room 5" and not tonight.moved
    assert (next_week.coming, next_week.not_coming) == (0, 0)


def test_meeting_changes_are_the_callers_to_commit(
    session: Session, meeting_circle: Group, clock: Clock
) -> None:
    cancel_meeting(session, meeting_circle, TONIGHT, now=clock.now, actor=ACTOR)
    session.rollback()

    assert count(session, MeetingChange) == 0
    assert count(session, AuditEntry) == 0


# -- campaigns ----------------------------------------------------------------------------------


def test_a_reminder_campaign_is_created_with_its_wording_and_warnings(
    session: Session, meeting_circle: Group, clock: Clock
) -> None:
    spec = CampaignSpec(
        kind=CampaignKind.REMINDER,
        name=" Tuesday ",
        offsets=["1D@18:00", "2h"],
        rsvp=True,
        wording={
            "en": " See you {{ meeting_when }}. ",
            "es": "¿Vendrá a {{ group }} {{ meeting_when }}? Es muy importante. "
            "{{ reply_instructions }}",
        },
    )

    campaign, warnings, _ = create_campaign(
        session, meeting_circle, spec, now=clock.now, actor=ACTOR
    )
    session.commit()

    assert (campaign.name, campaign.offsets, campaign.rsvp) == ("Tuesday", ["1d@18:00", "2h"], True)
    assert campaign.wording["en"] == "See you {{ meeting_when }}."
    assert campaign.status is CampaignStatus.ACTIVE
    assert len(warnings) == 1
    assert warnings[0].startswith("wording.es: This message is 2 segments: 'á' makes it UCS-2")
    assert audit_log(session) == [
        (ACTOR, "campaigns.create", "campaign", campaign.id,
         {"kind": "reminder", "name": "Tuesday"}),
    ]  # fmt: skip


def test_an_encouragement_campaign_keeps_its_pools_cadence_and_time(
    session: Session, circle: Group, clock: Clock
) -> None:
    spec = CampaignSpec(
        kind=CampaignKind.ENCOURAGEMENT,
        name="midweek",
        pools={"en": [" You've got this. ", "We're glad you're here, {{ first_name }}."]},
        cadence="FREQ=WEEKLY;BYDAY=WE",
        at=time(13, 0),
        window_hours=6,
    )

    campaign, warnings, _ = create_campaign(session, circle, spec, now=clock.now, actor=ACTOR)
    session.commit()

    assert warnings == []
    assert campaign.wording == {"en": "You've got this.\nWe're glad you're here, {{ first_name }}."}
    assert (campaign.cadence, campaign.cadence_time) == ("FREQ=WEEKLY;BYDAY=WE", time(13, 0))
    assert campaign.window_minutes == 6 * 60


def test_encouragement_by_stages_and_a_broadcast_at_its_time(
    session: Session, circle: Group, clock: Clock
) -> None:
    staged, _, _ = create_campaign(
        session, circle,
        CampaignSpec(kind=CampaignKind.ENCOURAGEMENT, name="welcome", stages=[14, 1, 3, 1]),
        now=clock.now, actor=ACTOR,
    )  # fmt: skip
    later = datetime(2026, 3, 4, 10, 0, tzinfo=ZoneInfo("America/New_York"))
    broadcast, _, _ = create_campaign(
        session, circle,
        CampaignSpec(kind=CampaignKind.BROADCAST, name="room", wording={"en": "Room 7 tonight."},
                     send_at=later),
        now=clock.now, actor=ACTOR,
    )  # fmt: skip
    right_away, _, _ = create_campaign(
        session, circle,
        CampaignSpec(kind=CampaignKind.BROADCAST, name="now", wording={"es": "Sala 7 hoy."}),
        now=clock.now, actor=ACTOR,
    )  # fmt: skip
    session.commit()

    assert (staged.stages, staged.cadence_time) == ([1, 3, 14], time(12, 0))
    assert broadcast.send_at == later and broadcast.send_at.tzinfo is UTC  # kept in UTC
    assert right_away.send_at == clock.now


def reminder(**changes: Any) -> CampaignSpec:
    fields = {"kind": CampaignKind.REMINDER, "name": "x", "offsets": ["2h"], **changes}
    return CampaignSpec(**fields)


def encouragement(**changes: Any) -> CampaignSpec:
    fields = {"kind": CampaignKind.ENCOURAGEMENT, "name": "x", "cadence": "FREQ=DAILY", **changes}
    return CampaignSpec(**fields)


def broadcast(**changes: Any) -> CampaignSpec:
    fields = {"kind": CampaignKind.BROADCAST, "name": "x", "wording": {"en": "Hi"}, **changes}
    return CampaignSpec(**fields)


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        (reminder(name="  "), "name", "1 to 120 characters"),
        (reminder(name="x" * 121), "name", "1 to 120 characters"),
        (reminder(offsets=[]), "offsets", "needs at least one offset"),
        (reminder(offsets=["2h", "soon"]), "offsets", "'soon' is not an offset"),
        (reminder(offsets=["61d"]), "offsets", "at most 60 days"),
        (reminder(wording={"en": "Hi {{ name }}"}), "wording.en", "Unknown variable"),
        (reminder(wording={"es": "Hola {% if %}"}), "wording.es", "Syntax error"),
        (reminder(wording={"fr": "Bonjour"}), "wording.fr", "one of: en, es"),
        (encouragement(cadence=None), "cadence", "a cadence or stages"),
        (encouragement(stages=[1, 3]), "cadence", "a cadence or stages"),
        (encouragement(cadence="FREQ=HOURLY"), "cadence", "at most daily"),
        (encouragement(cadence=None, stages=[1, 366]), "stages", "from 0 to 365"),
        (encouragement(cadence=None, stages=[-1]), "stages", "from 0 to 365"),
        (encouragement(window_hours=0), "window_hours", "1 to 168 hours"),
        (encouragement(window_hours=169), "window_hours", "1 to 168 hours"),
        (encouragement(at=time(12, 0, tzinfo=UTC)), "at", "without a zone"),
        (encouragement(pools={"en": []}), "pool.en", "no messages"),
        (encouragement(pools={"es": ["Hola", " "]}), "pool.es", "line 2"),
        (encouragement(pools={"es": ["Hola", "Nos vemos {{ meeting_when }}"]}), "pool.es",
         "line 2"),
        (broadcast(wording={}), "wording", "needs its words"),
        (broadcast(wording={"en": "  "}), "wording", "needs its words"),
        (broadcast(wording={"en": "See you {{ meeting_when }}"}), "wording.en", "meeting_when"),
        (broadcast(send_at=datetime(2026, 3, 4, 15, 0)), "send_at", "time zone"),
    ],
)  # fmt: skip
def test_a_bad_campaign_is_refused_saying_which_input_is_wrong(
    session: Session,
    meeting_circle: Group,
    clock: Clock,
    spec: CampaignSpec,
    field: str,
    message: str,
) -> None:
    with pytest.raises(CampaignError, match=message) as refused:
        create_campaign(session, meeting_circle, spec, now=clock.now, actor=ACTOR)
    session.commit()

    assert refused.value.field == field and str(refused.value)
    assert count(session, Campaign) == 0
    assert count(session, AuditEntry) == 0


def test_a_reminder_needs_the_groups_meetings(
    session: Session, circle: Group, clock: Clock
) -> None:
    with pytest.raises(CampaignError, match="CIRCLE has no meetings yet") as refused:
        create_campaign(session, circle, reminder(), now=clock.now, actor=ACTOR)
    assert refused.value.field is None


def test_pausing_a_campaign_takes_back_its_planned_texts_and_resuming_brings_them_back(
    session: Session, meeting_circle: Group, clock: Clock
) -> None:
    make_participant(session, SAM, meeting_circle)
    campaign = make_campaign(session, meeting_circle, CampaignKind.REMINDER, offsets=["2h"])
    plan(session, clock.now)
    session.commit()
    planned = len(states(session))

    paused = set_campaign_status(
        session, campaign, CampaignStatus.PAUSED, now=clock.now, actor=ACTOR
    )
    session.commit()
    assert paused == planned > 0
    assert set(states(session).values()) == {OutboxState.CANCELED}

    resumed = set_campaign_status(
        session, campaign, CampaignStatus.ACTIVE, now=clock.now, actor=ACTOR
    )
    plan(session, clock.now)
    session.commit()
    assert resumed == 0
    assert set(states(session).values()) == {OutboxState.QUEUED}
    assert [entry[1] for entry in audit_log(session)] == ["campaigns.paused", "campaigns.active"]


# -- preview ------------------------------------------------------------------------------------


def test_the_preview_shows_what_goes_and_leaves_nothing_behind(
    session: Session, meeting_circle: Group, clock: Clock
) -> None:
    make_participant(session, SAM, meeting_circle, name="Sam Rivera")
    make_participant(session, LUCIA, meeting_circle, name="Lucia Gomez")
    reminders = make_campaign(session, meeting_circle, CampaignKind.REMINDER, offsets=["2h"],
                              wording={"en": "See you {{ meeting_when }}."})  # fmt: skip
    make_campaign(session, meeting_circle, CampaignKind.BROADCAST, wording={"en": "Room 7."},
                  send_at=datetime(2026, 3, 3, 17, 30, tzinfo=UTC))  # fmt: skip
    audited = count(session, AuditEntry)

    lines = preview(session, meeting_circle, clock.now, 1)

    assert [(line.kind, line.local, line.recipients) for line in lines] == [
        ("broadcast", "Tue 2026-03-03 12:30", 2),
        ("reminder", "Tue 2026-03-03 16:30", 2),
    ]
    tonight = lines[1]
    assert tonight.due_at == datetime(2026, 3, 3, 21, 30, tzinfo=UTC)
    assert (tonight.timezone, tonight.campaign_id, tonight.note) == (
        "America/New_York", reminders.id, ""
    )  # fmt: skip
    assert sorted(tonight.names) == ["Lucia Gomez", "Sam Rivera"]
    assert tonight.text == "See you today at 6:30 PM."
    assert tonight.segments == 1
    assert count(session, OutboxMessage) == 0
    assert count(session, AuditEntry) == audited

    only = preview(session, meeting_circle, clock.now, 1, campaign_id=reminders.id)
    assert [line.kind for line in only] == ["reminder"]
    assert count(session, OutboxMessage) == 0


def test_the_preview_says_a_reminder_whose_moment_just_passed_goes_out_right_away(
    session: Session, meeting_circle: Group, clock: Clock
) -> None:
    """A meeting moved to soon: its reminder's moment passed ten minutes ago (it is 12:00 in New
    York, the meeting at 18:30); the planner still sends it, at once, and the preview says so
    rather than only naming a time already gone."""
    make_participant(session, SAM, meeting_circle, name="Sam Rivera")
    make_campaign(session, meeting_circle, CampaignKind.REMINDER, offsets=["6h40m", "2h"])

    lines = preview(session, meeting_circle, clock.now, 1)

    assert [(line.local, line.note) for line in lines] == [
        ("Tue 2026-03-03 11:50", "its time has passed: it goes out right away"),
        ("Tue 2026-03-03 16:30", ""),
    ]


def test_the_preview_words_each_person_and_names_moves_out_of_quiet_hours(
    session: Session, meeting_circle: Group, clock: Clock
) -> None:
    make_participant(session, SAM, meeting_circle, name="Sam Rivera")
    make_participant(session, LUCIA, meeting_circle, name="Lucia Gomez", language="es")
    meeting_circle.quiet_start = time(20, 0)
    session.commit()
    make_campaign(session, meeting_circle, CampaignKind.REMINDER, offsets=["1d@21:00"])

    lines = preview(session, meeting_circle, clock.now, 8)

    assert {line.local for line in lines} == {"Tue 2026-03-10 08:00"}
    assert all("quiet" in line.note for line in lines)
    worded = {line.names[0]: line.text for line in lines if line.recipients == 1}
    assert sorted(worded) == ["Lucia Gomez", "Sam Rivera"]
    assert "hoy a las 18:30" in worded["Lucia Gomez"]
    assert worded["Sam Rivera"].startswith("Hi Sam, a reminder: Circle Group meets today")


def test_the_preview_of_a_quiet_group_is_empty_and_refuses_unsaved_changes(
    session: Session, meeting_circle: Group, clock: Clock
) -> None:
    assert preview(session, meeting_circle, clock.now, 7) == []

    meeting_circle.name = "Renamed, not saved"
    with pytest.raises(RuntimeError, match="commit or discard"):
        preview(session, meeting_circle, clock.now, 7)


def test_the_preview_shows_what_is_still_due_never_a_campaigns_history(
    session: Session, circle: Group, clock: Clock
) -> None:
    """Two months of an old reminder campaign's rows (sent, expired unsent, left queued past
    their expiry by a worker that was down) are history: a week's preview is what it was
    without them."""
    make_schedule(session, circle, first=datetime(2026, 1, 6, 18, 30))
    sam = make_participant(session, SAM, circle, name="Sam Rivera")
    lucia = make_participant(session, LUCIA, circle, name="Lucia Gomez")
    old = make_campaign(session, circle, CampaignKind.REMINDER, offsets=["2h"],
                        created_at=datetime(2026, 1, 1, tzinfo=UTC))  # fmt: skip
    make_campaign(session, circle, CampaignKind.REMINDER, offsets=["6h40m", "1d@09:00"])
    before = preview(session, circle, clock.now, 7)
    past = [datetime(2026, 1, 6, 23, 30, tzinfo=UTC) + timedelta(weeks=n) for n in range(8)]
    assert make_history(session, old, [sam, lucia], past) == 48

    lines = preview(session, circle, clock.now, 7)
    only_old = preview(session, circle, clock.now, 7, campaign_id=old.id)

    late = "its time has passed: it goes out right away"
    assert [(line.local, line.note) for line in before] == [
        (local, note)
        for local, note in [
            ("Tue 2026-03-03 11:50", late),
            ("Tue 2026-03-03 16:30", ""),
            ("Mon 2026-03-09 09:00", ""),
            ("Tue 2026-03-10 11:50", ""),
        ]
        for _person in ("Sam", "Lucia")
    ]
    assert lines == before
    assert [line.local for line in only_old] == ["Tue 2026-03-03 16:30"] * 2
    assert count(session, OutboxMessage) == 48  # and the preview wrote nothing


def test_the_preview_finds_each_meeting_once_however_many_people_it_words(
    session: Session, meeting_circle: Group, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(20):
        make_participant(session, f"+1202555{n:04d}", meeting_circle, name=f"Person{n} Rivera")
    make_campaign(session, meeting_circle, CampaignKind.REMINDER, offsets=["2h"],
                  wording={"en": "{{ first_name }}: we meet {{ meeting_when }}."})  # fmt: skip
    expansions: list[str] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        expansions.append("occurrences")
        return occurrences(*args, **kwargs)

    monkeypatch.setattr(composer, "occurrences", counted)

    lines = preview(session, meeting_circle, clock.now, 8)

    assert [(line.local, line.recipients) for line in lines] == [
        ("Tue 2026-03-03 16:30", 1),
    ] * 20 + [("Tue 2026-03-10 16:30", 1)] * 20
    assert lines[0].text == "Person0: we meet today at 6:30 PM."
    assert len(expansions) == 2  # tonight's meeting and next week's, once each


def test_the_preview_leaves_out_someone_erased_after_planning(
    session: Session, meeting_circle: Group, clock: Clock
) -> None:
    sam = make_participant(session, SAM, meeting_circle, name="Sam Rivera")
    make_participant(session, LUCIA, meeting_circle, name="Lucia Gomez")
    make_campaign(session, meeting_circle, CampaignKind.REMINDER, offsets=["2h"])
    plan(session, clock.now)
    # An expired row is kept, and shown in previews, after its person is erased.
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.participant_id == sam.id)
        .values(state=OutboxState.EXPIRED)
    )
    erase_participant(session, sam, clock.now)
    session.commit()

    lines = preview(session, meeting_circle, clock.now, 8)

    assert lines and all(line.names == ["Lucia Gomez"] for line in lines)


def _one_per_person(lines: list[PreviewLine]) -> list[tuple[datetime, str, str, str, str]]:
    return sorted(
        (line.due_at, line.timezone, line.text, line.note, name)
        for line in lines
        for name in line.names
    )


def test_a_preview_summary_counts_texts_calls_people_moves_and_expiries_hour_by_hour(
    session: Session, meeting_circle: Group, clock: Clock
) -> None:
    """Quiet hours 13:00-19:00 where each person lives, the meeting at 18:30 New York time:
    "6h40m" before passed ten minutes ago (it goes at once), "5h" falls at 13:30 in New York
    (moved ahead to 12:59) but 10:30 in Los Angeles, and "30m" has no useful time left
    anywhere (it expires at the meeting's start)."""
    make_participant(session, SAM, meeting_circle, name="Sam Rivera")
    make_participant(session, LUCIA, meeting_circle, name="Lucia Gomez", language="es")
    make_participant(session, "+12025550147", meeting_circle, name="Kim Lee",
                     timezone="America/Los_Angeles", channel=Channel.VOICE)  # fmt: skip
    make_participant(session, "+12025550148", meeting_circle, name="Ana Ruiz",
                     consent=ConsentState.UNKNOWN)  # fmt: skip
    meeting_circle.quiet_start, meeting_circle.quiet_end = time(13, 0), time(19, 0)
    session.commit()
    make_campaign(session, meeting_circle, CampaignKind.REMINDER, offsets=["6h40m", "5h", "30m"])

    counted = preview_as(summary(sample=4), session, meeting_circle, clock.now, 1)

    assert (counted.texts, counted.calls, counted.people) == (4, 2, 3)
    assert (counted.moved, counted.right_away, counted.expiring, counted.sends) == (2, 3, 3, 9)
    assert (counted.start, counted.end) == (clock.now, clock.now + timedelta(days=1))
    la, ny = "America/Los_Angeles", "America/New_York"
    assert [
        (h.timezone, h.local, h.texts, h.calls, h.moved, h.expiring) for h in counted.hours
    ] == [
        (la, "Tue 2026-03-03 08:00", 0, 1, 0, 0),
        (ny, "Tue 2026-03-03 11:00", 2, 0, 0, 0),
        (ny, "Tue 2026-03-03 12:00", 2, 0, 2, 0),
        (la, "Tue 2026-03-03 10:00", 0, 1, 0, 0),
        (la, "Tue 2026-03-03 15:00", 0, 0, 0, 1),
        (ny, "Tue 2026-03-03 18:00", 0, 0, 0, 2),
    ]
    assert counted.hours[2].starts_at == datetime(2026, 3, 3, 17, 59, tzinfo=UTC)
    every = preview(session, meeting_circle, clock.now, 1)
    assert sum(line.recipients for line in every) == counted.sends
    # The sample is the first four sends, worded as the full list words them.
    late = "its time has passed: it goes out right away"
    assert [(line.local, line.names, line.note) for line in counted.sample] == [
        ("Tue 2026-03-03 08:50", ["Kim Lee"], late),
        ("Tue 2026-03-03 11:50", ["Sam Rivera"], late),
        ("Tue 2026-03-03 11:50", ["Lucia Gomez"], late),
        ("Tue 2026-03-03 12:59", ["Sam Rivera"], "moved ahead of quiet hours (13:00-19:00 "
         "America/New_York)"),
    ]  # fmt: skip
    assert all(line in every for line in counted.sample)
    assert count(session, OutboxMessage) == 0


def test_a_preview_pages_through_every_send_and_its_pages_make_the_whole_list(
    session: Session, meeting_circle: Group, clock: Clock
) -> None:
    for n in range(5):
        make_participant(session, f"+1202555{n:04d}", meeting_circle, name=f"Person{n} Rivera")
    make_campaign(session, meeting_circle, CampaignKind.REMINDER, offsets=["1d@18:00", "2h"])
    every = preview(session, meeting_circle, clock.now, 8)

    pages = [
        preview_as(page_of_lines(first, 3), session, meeting_circle, clock.now, 8)
        for first in range(0, 18, 3)
    ]

    assert {page.total for page in pages} == {15}  # tonight's, and next week's two, for five
    assert [sum(line.recipients for line in page.lines) for page in pages] == [3] * 5 + [0]
    assert _one_per_person([line for page in pages for line in page.lines]) == _one_per_person(
        every
    )
    first = pages[0].lines
    assert [line.names for line in first] == [["Person0 Rivera"], ["Person1 Rivera"],
                                              ["Person2 Rivera"]]  # fmt: skip
    assert preview_as(summary(sample=3), session, meeting_circle, clock.now, 8).sample == first


def test_the_preview_meets_a_row_it_did_not_copy_as_the_planner_would(
    session: Session, meeting_circle: Group, clock: Clock
) -> None:
    """A preview copies only the rows near its window; a row further off that the planner meets
    (tonight's reminder, already sent, its due time days ago) is met, and left, all the same."""
    sam = make_participant(session, SAM, meeting_circle, name="Sam Rivera")
    make_participant(session, LUCIA, meeting_circle, name="Lucia Gomez")
    reminders = make_campaign(session, meeting_circle, CampaignKind.REMINDER, offsets=["2h"])
    long_ago = clock.now - timedelta(days=3)
    session.add(
        OutboxMessage(
            send_key=f"r{reminders.id}:{sam.id}:{TONIGHT}:0", kind=OutboxKind.REMINDER,
            participant_id=sam.id, group_id=meeting_circle.id, campaign_id=reminders.id,
            occurrence_key=TONIGHT, body="Sent early.", state=OutboxState.SENT,
            due_at=long_ago, sent_at=long_ago, created_at=long_ago, updated_at=long_ago,
        )
    )  # fmt: skip
    session.commit()

    lines = preview(session, meeting_circle, clock.now, 8)
    plan(session, clock.now, horizon=timedelta(days=8))
    session.commit()

    assert [(line.local, line.names) for line in lines] == [
        ("Tue 2026-03-03 16:30", ["Lucia Gomez"]),  # Sam's went: the planner leaves it
        ("Tue 2026-03-10 16:30", ["Sam Rivera"]),
        ("Tue 2026-03-10 16:30", ["Lucia Gomez"]),
    ]
    queued = session.scalars(
        select(OutboxMessage.send_key).where(OutboxMessage.state == OutboxState.QUEUED)
    ).all()
    assert len(queued) == 3 and f"r{reminders.id}:{sam.id}:{TONIGHT}:0" not in queued
