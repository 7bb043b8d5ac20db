"""Planning campaigns into the outbox, and sending what was planned, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import Engine, delete, event, func, select
from sqlalchemy.orm import Session

from scheduler.dispatcher import dispatch_due
from service.campaigns import composer
from service.campaigns import wording as campaign_wording
from service.campaigns.planner import plan
from service.campaigns.recurrence import occurrences
from service.db import make_engine
from service.models import (
    CampaignKind,
    CampaignStatus,
    Channel,
    Group,
    MeetingChange,
    MeetingSchedule,
    Membership,
    MembershipStatus,
    OutboxMessage,
    OutboxState,
    Rsvp,
)
from tests.integration.test_sms_conversation import replies
from tests.support import (
    Clock,
    RecordingGateway,
    invoke,
    make_campaign,
    make_group,
    make_participant,
    make_schedule,
    text_in,
)

SAM, LUCIA = "+12025550142", "+12025550145"
# The test clock starts Tuesday 2026-03-03 at 12:00 in New York (17:00 UTC); the group meets
# Tuesdays at 18:30 New York time.
TONIGHT_UTC = datetime(2026, 3, 3, 23, 30, tzinfo=UTC)


def rows(session: Session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.due_at)))


def run(app: Flask, session: Session, clock: Clock) -> None:
    """One tick of the clock: plan, then send what is due."""
    plan(session, clock.now)
    session.commit()
    dispatch_due(app)


def advance(
    app: Flask,
    session: Session,
    clock: Clock,
    until: datetime,
    step: timedelta = timedelta(minutes=5),
) -> None:
    """Tick every step until `until`, as the scheduler would, and once at `until` itself.

    What a tick does depends only on the clock, and every moment these tests look at (a
    reminder's due time, a meeting, `until`) lies on the five-minute grid from the clock's
    start: a tick a minute would reach each of them at the same tick, only with four more
    ticks in between that find nothing new (a full plan() each, some 25 ms).
    """
    while clock.now < until:
        clock.now = min(until, clock.now + step)
        run(app, session, clock)


def sent_kinds(session: Session) -> list[str]:
    planned = [r for r in rows(session) if r.kind.value not in ("reply", "alert")]
    return [r.kind.value for r in planned if r.state is OutboxState.SENT]


@pytest.fixture
def circle(session: Session) -> Group:
    group = make_group(session, "CIRCLE")
    make_schedule(session, group)
    return group


def test_planning_twice_plans_each_send_once(session: Session, circle: Group, clock: Clock) -> None:
    make_participant(session, SAM, circle)
    make_campaign(session, circle, CampaignKind.REMINDER, offsets=["1d@18:00", "2h"])

    first = plan(session, clock.now)
    session.commit()
    second = plan(session, clock.now)
    session.commit()

    planned = rows(session)
    keys = [r.send_key for r in planned]
    assert len(keys) == len(set(keys))
    assert first.written == len(planned) > 0
    assert second.written == 0 and second.cancelled == 0
    # Tonight's "2h" and next week's two reminders (the 1d@18:00 for tonight already passed).
    assert [r.due_at for r in planned] == [
        TONIGHT_UTC - timedelta(hours=2),
        datetime(2026, 3, 9, 22, 0, tzinfo=UTC),  # Monday 18:00 EDT (DST began March 8)
        datetime(2026, 3, 10, 20, 30, tzinfo=UTC),
    ]
    assert all(r.expires_at in (TONIGHT_UTC, TONIGHT_UTC + timedelta(days=7) - timedelta(hours=1))
               for r in planned)  # fmt: skip


@pytest.mark.slow  # ticks through days of the clock
def test_a_reminder_goes_once_at_its_time_worded_for_its_reader(
    app: Flask, session: Session, circle: Group, clock: Clock, gateway: RecordingGateway
) -> None:
    make_participant(session, SAM, circle, name="Sam Rivera")
    make_participant(session, LUCIA, circle, name="Lucia Gomez", language="es")
    make_campaign(session, circle, CampaignKind.REMINDER, offsets=["2h"], rsvp=True)

    advance(app, session, clock, TONIGHT_UTC - timedelta(hours=2, minutes=1))
    assert gateway.sent == []
    advance(app, session, clock, TONIGHT_UTC - timedelta(hours=1))

    assert gateway.to(SAM) == [
        "Hi Sam, a reminder: Circle Group meets today at 6:30 PM at Room 5. "
        "Reply C to confirm, N if you can't come."
    ]
    assert len(gateway.to(LUCIA)) == 1
    assert "hoy a las 18:30" in gateway.to(LUCIA)[0]
    sent = [r for r in rows(session) if r.state is OutboxState.SENT]
    assert len(sent) == 2 and all(r.body for r in sent)  # what went out is kept on the row


@pytest.mark.slow  # ticks through days of the clock
def test_each_group_reaches_the_same_person_its_own_way(
    app: Flask, session: Session, circle: Group, clock: Clock, gateway: RecordingGateway
) -> None:
    """Sam is in two groups: CIRCLE texts in English, in New York time; MARTES calls, in
    Spanish, with the meeting said in Chicago time. Each reminder goes as its group has it."""
    martes = make_group(session, "MARTES", coordinator_email="kim@example.org")
    make_schedule(session, martes)
    make_participant(session, SAM, circle, martes, name="Sam Rivera")
    spanish_calls = session.scalars(
        select(Membership).where(Membership.group_id == martes.id)
    ).one()
    spanish_calls.language, spanish_calls.timezone = "es", "America/Chicago"
    spanish_calls.channel = Channel.VOICE
    for group in (circle, martes):
        make_campaign(session, group, CampaignKind.REMINDER, offsets=["2h"], rsvp=True)
    session.commit()

    advance(app, session, clock, TONIGHT_UTC - timedelta(hours=1))

    assert gateway.to(SAM) == [
        "Hi Sam, a reminder: Circle Group meets today at 6:30 PM at Room 5. "
        "Reply C to confirm, N if you can't come."
    ]
    [call] = gateway.calls
    assert call.to == SAM
    [row] = [r for r in rows(session) if r.group_id == martes.id and r.state is OutboxState.SENT]
    assert row.channel is Channel.VOICE and row.body is not None
    assert "hoy a las 17:30" in row.body  # 18:30 in New York is 17:30 in Chicago


@pytest.mark.slow  # ticks through days of the clock
def test_a_reminder_names_the_person_only_as_its_own_group_does(
    app: Flask, session: Session, circle: Group, clock: Clock, gateway: RecordingGateway
) -> None:
    """MARTES knows Sam as "Sam Rivera"; CIRCLE enrolled the number without a name. CIRCLE's
    reminder, which its coordinator can read in the outbox, does not say "Sam"."""
    martes = make_group(session, "MARTES", coordinator_email="kim@example.org")
    make_participant(session, SAM, martes, circle, name="Sam Rivera")
    unnamed = session.scalars(select(Membership).where(Membership.group_id == circle.id)).one()
    unnamed.name = None
    make_campaign(session, circle, CampaignKind.REMINDER, offsets=["2h"])
    session.commit()

    advance(app, session, clock, TONIGHT_UTC - timedelta(hours=1))

    [text] = gateway.to(SAM)
    assert text.startswith("Hi there, a reminder: Circle Group meets today at 6:30 PM")
    assert "Sam" not in "".join(r.body or "" for r in rows(session))


def test_a_batch_of_reminders_finds_its_meeting_and_compiles_its_words_once(
    app: Flask,
    session: Session,
    circle: Group,
    clock: Clock,
    gateway: RecordingGateway,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Thirty people reminded of one meeting in one tick: the schedule is read, the recurrence
    expanded and the words compiled once, not per person; the next tick reads the meeting
    afresh, so a move made between ticks is in the next reminders."""
    people = [f"+1202555{n:04d}" for n in range(30)]
    for n, phone in enumerate(people):
        make_participant(session, phone, circle, name=f"Person{n} Rivera")
    make_campaign(session, circle, CampaignKind.REMINDER, offsets=["3h", "2h"],
                  wording={"en": "{{ first_name }}: we meet {{ meeting_when }}."})  # fmt: skip
    run(app, session, clock)
    expansions: list[str] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        expansions.append("occurrences")
        return occurrences(*args, **kwargs)

    monkeypatch.setattr(composer, "occurrences", counted)
    campaign_wording._compiled.cache_clear()
    statements: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", note)
    try:
        clock.now = TONIGHT_UTC - timedelta(hours=3)
        assert dispatch_due(app) == 30
    finally:
        event.remove(Engine, "before_cursor_execute", note)

    assert len(gateway.sent) == 30
    assert gateway.to(people[7]) == ["Person7: we meet today at 6:30 PM."]
    assert len(expansions) == 1
    assert campaign_wording._compiled.cache_info().misses == 1
    assert len([s for s in statements if "FROM meeting_schedules" in s]) == 1
    # The schedule's changes come in the same query, joined.
    (schedule_read,) = [s for s in statements if "FROM meeting_schedules" in s]
    assert "JOIN meeting_changes" in schedule_read
    assert not [s for s in statements if "FROM meeting_changes" in s]
    assert len([s for s in statements if "FROM memberships" in s]) == 1  # the batch's own

    schedule = session.scalars(select(MeetingSchedule)).one()
    session.add(
        MeetingChange(
            schedule_id=schedule.id,
            occurrence_key="20260303T1830",
            new_start=datetime(2026, 3, 3, 19, 0),
        )
    )
    session.commit()
    clock.now = datetime(2026, 3, 4, 0, 0, tzinfo=UTC) - timedelta(hours=2)  # 2h before 19:00
    run(app, session, clock)

    assert gateway.to(people[7]) == [
        "Person7: we meet today at 6:30 PM.",
        "Person7: we meet today at 7:00 PM.",
    ]
    assert len(gateway.sent) == 60
    assert len(expansions) == 2  # once more, in the one tick that worded the second 30


@pytest.mark.slow  # ticks through days of the clock
def test_a_meeting_moved_after_planning_reminds_at_the_new_time_only(
    app: Flask, session: Session, circle: Group, clock: Clock, gateway: RecordingGateway
) -> None:
    make_participant(session, SAM, circle)
    make_campaign(session, circle, CampaignKind.REMINDER, offsets=["2h"])
    run(app, session, clock)

    schedule = session.scalars(select(MeetingSchedule)).one()
    session.add(
        MeetingChange(
            schedule_id=schedule.id,
            occurrence_key="20260303T1830",
            new_start=datetime(2026, 3, 3, 20, 0),
            new_location="Room 7",
        )
    )
    session.commit()

    advance(app, session, clock, datetime(2026, 3, 4, 1, 0, tzinfo=UTC))

    assert len(gateway.sent) == 1
    assert "8:00 PM at Room 7" in gateway.sent[0].body
    sent = [r for r in rows(session) if r.state is OutboxState.SENT]
    # Due two hours before the new time, to the minute, and sent at the tick that reached it.
    assert [r.due_at for r in sent] == [datetime(2026, 3, 3, 23, 0, tzinfo=UTC)]
    assert [r.sent_at for r in sent] == [datetime(2026, 3, 3, 23, 0, tzinfo=UTC)]


@pytest.mark.slow  # ticks through days of the clock
def test_a_cancelled_meeting_sends_nothing(
    app: Flask, session: Session, circle: Group, clock: Clock, gateway: RecordingGateway
) -> None:
    make_participant(session, SAM, circle)
    make_campaign(session, circle, CampaignKind.REMINDER, offsets=["2h"])
    run(app, session, clock)
    schedule = session.scalars(select(MeetingSchedule)).one()
    session.add(
        MeetingChange(schedule_id=schedule.id, occurrence_key="20260303T1830", cancelled=True)
    )
    session.commit()

    advance(app, session, clock, TONIGHT_UTC)

    assert gateway.sent == []
    assert rows(session)[0].state is OutboxState.CANCELED


def test_leaving_and_pausing_withdraw_planned_texts_and_coming_back_restores_them(
    app: Flask, session: Session, circle: Group, clock: Clock
) -> None:
    make_participant(session, SAM, circle)
    campaign = make_campaign(session, circle, CampaignKind.REMINDER, offsets=["2h"])
    run(app, session, clock)

    membership = session.scalars(select(Membership)).one()
    membership.status = MembershipStatus.LEFT
    session.commit()
    run(app, session, clock)
    assert {r.state for r in rows(session)} == {OutboxState.CANCELED}

    membership.status = MembershipStatus.ACTIVE
    session.commit()
    run(app, session, clock)
    assert {r.state for r in rows(session)} == {OutboxState.QUEUED}

    campaign.status = CampaignStatus.PAUSED
    session.commit()
    run(app, session, clock)
    assert {r.state for r in rows(session)} == {OutboxState.CANCELED}


def test_a_reminder_due_in_quiet_hours_moves_to_an_allowed_time(
    app: Flask, session: Session, clock: Clock, gateway: RecordingGateway
) -> None:
    group = make_group(session, "EARLY")
    make_schedule(session, group, rule="FREQ=WEEKLY;BYDAY=WE", first=datetime(2026, 3, 4, 8, 30))
    make_participant(session, SAM, group)
    make_campaign(session, group, CampaignKind.REMINDER, offsets=["12h"])

    plan(session, clock.now)
    session.commit()

    row = rows(session)[0]
    # 12 h before 08:30 is 20:30, which is allowed; the quiet hours start at 21:00.
    assert row.due_at == datetime(2026, 3, 4, 1, 30, tzinfo=UTC)
    group.quiet_start = time(20, 0)
    session.commit()
    session.execute(delete(OutboxMessage))
    session.commit()
    plan(session, clock.now)
    session.commit()
    moved = rows(session)[0]
    assert moved.state is OutboxState.QUEUED
    assert moved.due_at in (
        datetime(2026, 3, 4, 0, 59, tzinfo=UTC),  # 19:59, the evening before
        datetime(2026, 3, 4, 13, 0, tzinfo=UTC),  # 08:00, before the 08:30 meeting
    )
    assert moved.state_reason and "quiet hours" in moved.state_reason


def test_after_a_three_hour_outage_stale_reminders_expire_and_encouragement_goes_once(
    app: Flask, session: Session, circle: Group, clock: Clock, gateway: RecordingGateway
) -> None:
    make_participant(session, SAM, circle)
    make_campaign(session, circle, CampaignKind.REMINDER, offsets=["1h"])
    make_campaign(
        session,
        circle,
        CampaignKind.ENCOURAGEMENT,
        cadence="FREQ=DAILY",
        cadence_time=time(17, 0),
        created_at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    plan(session, clock.now)
    session.commit()

    # Down from 16:59 to 19:59 New York time: the 17:30 reminder's meeting began at 18:30.
    clock.now = datetime(2026, 3, 4, 0, 59, tzinfo=UTC)
    run(app, session, clock)
    run(app, session, clock)

    states = {r.kind.value: r.state for r in rows(session) if r.occurrence_key == "20260303T1830"}
    assert states == {"reminder": OutboxState.EXPIRED}
    encouragement = [r for r in rows(session) if r.kind.value == "encouragement"]
    assert [r.state for r in encouragement if r.occurrence_key == "20260303T1700"] == [
        OutboxState.SENT
    ]
    assert len(gateway.to(SAM)) == 1


@pytest.mark.postgres
@pytest.mark.slow
def test_two_planner_processes_at_once_plan_each_send_once(pg_url: str) -> None:
    engine = make_engine(pg_url)
    now = Clock().now
    try:
        with Session(engine) as session:
            group = make_group(session, "RACE")
            make_schedule(session, group)
            for n in range(40):
                make_participant(session, f"+1202555{1000 + n:04d}", group)
            make_campaign(session, group, CampaignKind.REMINDER, offsets=["1d@18:00", "2h", "30m"])
        script = (
            "import sys; from datetime import datetime; from sqlalchemy.orm import Session;"
            "from service.db import make_engine; from service.campaigns.planner import plan;"
            "s = Session(make_engine(sys.argv[1]));"
            "[(plan(s, datetime.fromisoformat(sys.argv[2])), s.commit()) for _ in range(5)]"
        )
        root = Path(__file__).resolve().parents[2]
        planners = [
            subprocess.Popen([sys.executable, "-c", script, pg_url, now.isoformat()], cwd=root)
            for _ in range(2)
        ]
        assert [p.wait(timeout=120) for p in planners] == [0, 0]

        with Session(engine) as session:
            total = session.scalar(select(func.count()).select_from(OutboxMessage))
            keys = session.scalar(select(func.count(func.distinct(OutboxMessage.send_key))))
        # Tonight's 2h and 30m, and next week's three, for each of the 40.
        assert total == keys == 40 * 5
    finally:
        engine.dispose()


def test_rsvp_replies_count_toward_the_next_meeting(
    client: FlaskClient, runner: FlaskCliRunner, session: Session, circle: Group
) -> None:
    make_participant(session, SAM, circle)
    make_participant(session, LUCIA, circle, language="es")
    make_participant(session, "+12025550146", circle)

    sam = replies(text_in(client, SAM, "C"))
    lucia = replies(text_in(client, LUCIA, "no puedo"))
    replies(text_in(client, "+12025550146", "1"))
    replies(text_in(client, "+12025550146", "2"))  # changed their mind: the last answer counts

    assert sam == ["Peerline: Thanks, you're down as coming to Circle Group today at 6:30 PM."]
    assert lucia == [
        "Peerline: Gracias por avisar. Le extranaremos en Circle Group hoy a las 18:30."
    ]
    answers = {(r.occurrence_key, r.answer.value) for r in session.scalars(select(Rsvp))}
    assert answers == {("20260303T1830", "yes"), ("20260303T1830", "no")}
    counted = invoke(runner, "headcount", "--group", "CIRCLE", "--days", "8").output
    assert "Tue 2026-03-03 18:30  coming 1, not coming 2, no answer 0  (20260303T1830)" in counted
    assert "Tue 2026-03-10 18:30  coming 0, not coming 0, no answer 3" in counted


@pytest.mark.slow  # ticks through days of the clock
def test_pause_stops_encouragement_but_not_reminders_and_resume_restarts_it(
    app: Flask,
    client: FlaskClient,
    session: Session,
    circle: Group,
    clock: Clock,
    gateway: RecordingGateway,
) -> None:
    make_participant(session, SAM, circle)
    make_campaign(session, circle, CampaignKind.REMINDER, offsets=["2h"])
    make_campaign(
        session,
        circle,
        CampaignKind.ENCOURAGEMENT,
        cadence="FREQ=DAILY",
        cadence_time=time(13, 0),
        created_at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    run(app, session, clock)

    answer = replies(text_in(client, SAM, "pause 2 weeks"))
    assert answer == [
        "Peerline: Encouragement messages are paused until March 17, 2026. Meeting reminders "
        "continue. Reply RESUME to restart them."
    ]
    # Days go by a tick each half hour: the reminder (21:30 UTC) and the daily encouragement
    # (13:00 in New York, 18:00 UTC) fall on ticks, as they would a tick a minute.
    half_hour = timedelta(minutes=30)
    advance(app, session, clock, datetime(2026, 3, 5, 19, 0, tzinfo=UTC), half_hour)
    assert sent_kinds(session) == ["reminder"]

    assert "back on" in replies(text_in(client, SAM, "RESUME"))[0]
    advance(app, session, clock, datetime(2026, 3, 6, 19, 0, tzinfo=UTC), half_hour)
    assert sent_kinds(session) == ["reminder", "encouragement"]  # Friday 13:00 New York time


def test_preview_shows_what_goes_when_with_moves_and_expiries_and_sends_nothing(
    runner: FlaskCliRunner, session: Session, circle: Group, gateway: RecordingGateway
) -> None:
    from service.cli.campaigns import preview

    make_participant(session, SAM, circle, name="Sam Rivera")
    make_participant(session, LUCIA, circle, name="Lucia Gomez", language="es")
    circle.quiet_start = time(20, 0)
    session.commit()
    make_campaign(session, circle, CampaignKind.REMINDER, offsets=["2h", "1d@21:00"])

    result = runner.invoke(preview, ["--group", "CIRCLE", "--days", "8"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Tue 2026-03-03 16:30 America/New_York (21:30 UTC) reminder to 1, 1 segment"
    assert (
        lines[1]
        == ("    Hi Sam, a reminder: Circle Group meets today at 6:30 PM at Room 5. ").rstrip()
    )
    assert any("hoy a las 18:30" in line for line in lines), result.output
    # 21:00 the evening before is quiet (from 20:00): it moves to 08:00 on the day.
    assert any(
        line.startswith("Tue 2026-03-10 08:00 America/New_York") and "moved out of quiet" in line
        for line in lines
    ), result.output
    assert gateway.sent == []
    assert rows(session) == []  # a preview plans nothing for real


def test_preview_summary_counts_hour_by_hour_and_shows_the_first_texts(
    runner: FlaskCliRunner, session: Session, circle: Group, gateway: RecordingGateway
) -> None:
    from service.cli.campaigns import preview

    make_participant(session, SAM, circle, name="Sam Rivera")
    make_participant(session, LUCIA, circle, name="Lucia Gomez", language="es")
    circle.quiet_start = time(20, 0)
    session.commit()
    make_campaign(session, circle, CampaignKind.REMINDER, offsets=["2h", "1d@21:00"])

    result = runner.invoke(preview, ["--group", "CIRCLE", "--days", "8", "--summary"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:5] == [
        "6 texts and 0 calls to 2 people in the next 8 day(s); 2 moved by quiet hours, "
        "0 going at once, 0 expiring unsent",
        "  Tue 2026-03-03 16:00 America/New_York: 2 texts, 0 calls",
        "  Tue 2026-03-10 08:00 America/New_York: 2 texts, 0 calls, 2 moved",
        "  Tue 2026-03-10 16:00 America/New_York: 2 texts, 0 calls",
        "The first:",
    ]
    assert lines[5].startswith("Tue 2026-03-03 16:30 America/New_York (21:30 UTC) reminder to 1")
    assert gateway.sent == []
    assert rows(session) == []


def test_a_broadcast_goes_once_to_every_member_and_waits_out_quiet_hours(
    app: Flask,
    runner: FlaskCliRunner,
    session: Session,
    circle: Group,
    clock: Clock,
    gateway: RecordingGateway,
) -> None:
    make_participant(session, SAM, circle, name="Sam Rivera")
    # 22:30 in Kolkata when it is 12:00 in New York
    make_participant(
        session, LUCIA, circle, name="Lucia Gomez", language="es", timezone="Asia/Kolkata"
    )
    created = invoke(
        runner, "campaigns", "create", "--group", "CIRCLE", "--kind", "broadcast",
        "--name", "room", "--at", "now",
        "--wording-en", "Hi {{ first_name }}, we're in Room 7 tonight.",
        "--wording-es", "Hola {{ first_name }}, hoy estamos en la sala 7.",
    )  # fmt: skip
    assert created.exit_code == 0, created.output

    run(app, session, clock)
    run(app, session, clock)
    assert gateway.to(SAM) == ["Hi Sam, we're in Room 7 tonight."]
    assert gateway.to(LUCIA) == []

    # 08:00 in Kolkata is 02:30 UTC.
    advance(app, session, clock, datetime(2026, 3, 4, 2, 30, tzinfo=UTC), timedelta(minutes=15))
    assert gateway.to(LUCIA) == ["Hola Lucia, hoy estamos en la sala 7."]
    assert gateway.to(SAM) == ["Hi Sam, we're in Room 7 tonight."]


def test_a_groups_quiet_hours_can_be_changed(
    runner: FlaskCliRunner, session: Session, circle: Group
) -> None:
    result = invoke(runner, "groups", "quiet-hours", "--group", "CIRCLE", "22:30-07:00")
    assert result.exit_code == 0, result.output
    session.expire_all()
    assert (circle.quiet_start, circle.quiet_end) == (time(22, 30), time(7, 0))
    refused = invoke(runner, "groups", "quiet-hours", "--group", "CIRCLE", "late")
    assert refused.exit_code == 1 and "--quiet-hours: 'late'" in refused.output
