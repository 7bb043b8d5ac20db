"""The coordinators' command line, driven as a coordinator would."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.models import (
    AuditEntry,
    Campaign,
    ConsentChange,
    ConsentEvent,
    ConsentSource,
    ConsentState,
    Group,
    MeetingSchedule,
    Membership,
    MembershipStatus,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Participant,
)
from tests.support import (
    Clock,
    RecordingGateway,
    invoke,
    make_group,
    make_participant,
    make_schedule,
    text_in,
)


def count(session: Session, model: type) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model)) or 0


def create_circle(runner: FlaskCliRunner) -> None:
    assert (
        invoke(
            runner, "coordinators", "create", "--email", "Robin@Example.org", "--name", "Robin Diaz"
        ).exit_code
        == 0
    )
    result = invoke(
        runner,
        "groups",
        "create",
        "--name",
        "Tuesday recovery circle",
        "--public-name",
        "Tuesday Circle",
        "--code",
        "circle",
        "--timezone",
        "America/Chicago",
        "--coordinator",
        "robin@example.org",
        "--on-call-phone",
        "(202) 555-0100",
    )
    assert result.exit_code == 0, result.output
    assert "participants text JOIN CIRCLE" in result.output


def schedule_weekly(runner: FlaskCliRunner) -> None:
    result = invoke(runner, "meetings", "schedule", "--group", "CIRCLE", "--rule", "FREQ=WEEKLY",
                    "--first", "2026-03-03 18:30")  # fmt: skip
    assert result.exit_code == 0, result.output


def test_db_upgrade_is_idempotent(runner: FlaskCliRunner) -> None:
    result = invoke(runner, "db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "database is up to date" in result.output


def test_groups_create_and_list(runner: FlaskCliRunner, session: Session) -> None:
    create_circle(runner)

    group = session.scalars(select(Group)).one()
    assert (group.join_code, group.timezone, group.on_call_phone) == (
        "CIRCLE",
        "America/Chicago",
        "+12025550100",
    )
    listing = invoke(runner, "groups", "list").output
    assert group.keypad_code is not None and len(group.keypad_code) == 6
    assert (
        f"CIRCLE\t{group.keypad_code}\tTuesday recovery circle\tTuesday Circle\t"
        "America/Chicago\ten\t0"
    ) in listing


def test_a_new_group_never_gets_a_keypad_code_another_group_has(
    runner: FlaskCliRunner, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_circle(runner)
    circle = session.scalars(select(Group)).one()
    # The random draw first repeats CIRCLE's code, then gives a free one.
    draws = iter([int(circle.keypad_code or 0) - 100_000, 123_456])
    monkeypatch.setattr("service.models.secrets.randbelow", lambda _: next(draws))

    result = invoke(runner, "groups", "create", "--name", "Thursday", "--public-name",
                    "Thursday Circle", "--code", "THURSDAY", "--timezone", "America/Chicago",
                    "--coordinator", "robin@example.org")  # fmt: skip

    assert result.exit_code == 0, result.output
    thursday = session.scalars(select(Group).where(Group.join_code == "THURSDAY")).one()
    assert thursday.keypad_code == "223456" and "call and type 223456" in result.output


def test_groups_calls_turns_landline_fallback_and_voicemail_details_on_and_off(
    runner: FlaskCliRunner, session: Session
) -> None:
    create_circle(runner)

    on = invoke(runner, "groups", "calls", "--group", "circle", "--landline-fallback",
                "--voicemail-details")  # fmt: skip
    group = session.scalars(select(Group)).one()
    assert on.exit_code == 0, on.output
    assert (group.voice_fallback, group.voicemail_details) == (True, True)
    assert f"keypad code {group.keypad_code}" in on.output

    off = invoke(runner, "groups", "calls", "--group", "CIRCLE", "--no-voicemail-details")
    session.expire_all()
    assert off.exit_code == 0 and "names no group or place" in off.output
    assert (group.voice_fallback, group.voicemail_details) == (True, False)


def test_groups_calls_chooses_texts_or_calls_between_meetings_for_callers_and_says_which(
    runner: FlaskCliRunner, session: Session
) -> None:
    create_circle(runner)
    group = session.scalars(select(Group)).one()
    assert group.texts_between_meetings_to_callers is False

    on = invoke(runner, "groups", "calls", "--group", "CIRCLE", "--texts-between-meetings")
    session.expire_all()
    assert on.exit_code == 0, on.output
    assert "between meetings, callers get texts (landlines: calls)" in on.output
    assert group.texts_between_meetings_to_callers is True

    off = invoke(runner, "groups", "calls", "--group", "CIRCLE", "--calls-between-meetings")
    session.expire_all()
    assert off.exit_code == 0 and "between meetings, callers get calls" in off.output
    assert group.texts_between_meetings_to_callers is False


def test_groups_create_refuses_bad_input_and_changes_nothing(
    runner: FlaskCliRunner, session: Session
) -> None:
    create_circle(runner)
    base = [
        "groups",
        "create",
        "--name",
        "n",
        "--public-name",
        "p",
        "--coordinator",
        "robin@example.org",
    ]
    cases = {
        ("--code", "CIRCLE", "--timezone", "UTC"): "the code CIRCLE is taken",
        ("--code", "AB", "--timezone", "UTC"): "--code: a join code is 3 to 12 letters or digits",
        ("--code", "NEW", "--timezone", "Mars/Olympus"): "is not a time zone",
        ("--code", "NEW", "--timezone", "UTC", "--on-call-phone", "12"): "--on-call-phone",
    }
    for extra, message in cases.items():
        result = invoke(runner, *base, *extra)
        assert result.exit_code == 1, extra
        assert message in result.output
        assert "Traceback" not in result.output
    nobody = invoke(
        runner,
        "groups",
        "create",
        "--name",
        "n",
        "--public-name",
        "p",
        "--code",
        "NEW",
        "--timezone",
        "UTC",
        "--coordinator",
        "who@example.org",
    )
    assert "no coordinator who@example.org" in nobody.output
    assert count(session, Group) == 1


def test_participants_add_with_recorded_consent_is_active_at_once(
    runner: FlaskCliRunner, session: Session, gateway: RecordingGateway
) -> None:
    create_circle(runner)

    result = invoke(
        runner,
        "participants",
        "add",
        "--phone",
        "202-555-0142",
        "--group",
        "CIRCLE",
        "--name",
        "Sam Rivera",
        "--consented",
        "paper form, filed 2026-03-01",
    )

    assert result.exit_code == 0, result.output
    assert "+1******0142 is active in CIRCLE" in result.output
    sam = session.scalars(select(Participant)).one()
    assert (sam.phone, sam.timezone, sam.consent) == (
        "+12025550142",
        "America/Chicago",
        ConsentState.GRANTED,
    )
    event = session.scalars(select(ConsentEvent)).one()
    assert (event.change, event.source, event.words) == (
        ConsentChange.OPT_IN,
        ConsentSource.COORDINATOR,
        "paper form, filed 2026-03-01",
    )
    assert gateway.sent == []


def test_participants_add_without_consent_invites_them_to_reply_yes(
    runner: FlaskCliRunner, session: Session, gateway: RecordingGateway
) -> None:
    create_circle(runner)

    result = invoke(runner, "participants", "add", "--phone", "2025550142", "--group", "CIRCLE")

    assert result.exit_code == 0, result.output
    assert "is pending in CIRCLE" in result.output and "invited" in result.output
    assert gateway.to("+12025550142") == [
        "Peerline: Robin added this number for reminders for Tuesday Circle. Reply YES to "
        "confirm. Msg&data rates may apply. Reply STOP to cancel."
    ]
    assert session.scalars(select(Membership)).one().status is MembershipStatus.PENDING


def test_an_opted_out_number_stays_opted_out_when_added_again(
    runner: FlaskCliRunner, session: Session, gateway: RecordingGateway
) -> None:
    group = make_group(session, "CIRCLE")
    make_participant(session, "+12025550142", group, consent=ConsentState.REVOKED)
    make_group(session, "OTHER")

    result = invoke(
        runner,
        "participants",
        "add",
        "--phone",
        "+12025550142",
        "--group",
        "OTHER",
        "--consented",
        "says they agreed",
    )

    assert "has opted out" in result.output
    assert gateway.sent == []
    session.expire_all()
    assert session.scalars(select(Participant)).one().consent is ConsentState.REVOKED


def test_participants_add_refuses_a_bad_phone(runner: FlaskCliRunner, session: Session) -> None:
    create_circle(runner)
    result = invoke(runner, "participants", "add", "--phone", "555-CALL-NOW", "--group", "CIRCLE")
    assert result.exit_code == 1
    assert "--phone: '555-CALL-NOW' is not a valid phone number" in result.output
    assert count(session, Participant) == 0


def test_a_mistyped_number_is_shown_back_as_typed(runner: FlaskCliRunner) -> None:
    create_circle(runner)
    for typed in ("(202) 555-234", "abc"):
        result = invoke(runner, "participants", "add", "--phone", typed, "--group", "CIRCLE")
        assert result.exit_code == 1
        assert f"'{typed}' is not" in result.output


def test_participants_list_masks_numbers_unless_asked(
    runner: FlaskCliRunner, session: Session
) -> None:
    make_participant(session, "+12025550142", make_group(session, "CIRCLE"), name="Sam Rivera")

    masked = invoke(runner, "participants", "list", "--group", "CIRCLE").output
    full = invoke(runner, "participants", "list", "--show-phones").output

    assert "+1******0142\tSam Rivera\tCIRCLE\tactive\tgranted\tsms" in masked
    assert "+12025550142" not in masked
    assert "+12025550142\tSam Rivera" in full


def test_send_to_an_unknown_group_is_a_clear_error(runner: FlaskCliRunner) -> None:
    result = invoke(runner, "send", "--group", "NOPE", "hello")
    assert result.exit_code == 1
    assert "no group has the code NOPE" in result.output


def test_coordinator_actions_are_audited_without_phone_numbers(
    runner: FlaskCliRunner, session: Session
) -> None:
    create_circle(runner)
    invoke(
        runner,
        "participants",
        "add",
        "--phone",
        "202-555-0142",
        "--group",
        "CIRCLE",
        "--consented",
        "form",
    )
    invoke(runner, "send", "--group", "CIRCLE", "--key", "k1", "hello")

    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()

    assert [e.action for e in entries] == [
        "coordinator.create",
        "group.create",
        "participant.add",
        "group.send",
    ]
    assert all(e.actor.startswith("cli:") for e in entries)
    assert entries[2].details == {"group": "CIRCLE", "status": "active", "consent_recorded": True}
    assert entries[3].details == {"key": "k1", "queued": 1, "waiting": 0, "at_night": False}
    assert "5550142" not in repr([e.details for e in entries])


def test_meetings_and_campaigns_from_the_command_line(
    runner: FlaskCliRunner, session: Session
) -> None:
    create_circle(runner)
    schedule = invoke(
        runner,
        "meetings",
        "schedule",
        "--group",
        "CIRCLE",
        "--rule",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
        "--first",
        "2026-03-03 18:30",
        "--location",
        "Room 5",
    )
    assert schedule.exit_code == 0, schedule.output
    listing = invoke(runner, "meetings", "list", "--group", "CIRCLE", "--days", "30").output
    assert listing.startswith(
        "CIRCLE meets every other Tuesday at 6:30 PM, from 3 March (America/Chicago time)\n"
    )
    assert "20260303T1830\tTue 2026-03-03 18:30\tRoom 5" in listing
    assert "20260317T1830\tTue 2026-03-17 18:30" in listing  # every other week
    assert "20260310" not in listing

    moved = invoke(
        runner,
        "meetings",
        "move",
        "--group",
        "CIRCLE",
        "--meeting",
        "20260317T1830",
        "--to",
        "2026-03-18 19:00",
        "--location",
        "Room 7",
    )
    cancelled = invoke(
        runner, "meetings", "cancel", "--group", "CIRCLE", "--meeting", "20260331T1830"
    )
    assert moved.exit_code == 0 and cancelled.exit_code == 0
    listing = invoke(runner, "meetings", "list", "--group", "CIRCLE", "--days", "30").output
    assert "20260317T1830\tWed 2026-03-18 19:00\tRoom 7\tmoved" in listing
    assert "20260331T1830\tTue 2026-03-31 18:30\tRoom 5\tcancelled" in listing

    created = invoke(
        runner,
        "campaigns",
        "create",
        "--group",
        "CIRCLE",
        "--kind",
        "reminder",
        "--name",
        "Tuesday",
        "--offset",
        "1d@18:00",
        "--offset",
        "2h",
        "--rsvp",
    )
    assert created.exit_code == 0, created.output
    assert "ID\tGROUP" in invoke(runner, "campaigns", "list").output
    assert invoke(runner, "campaigns", "pause", "1").output.startswith("campaign 1 is paused")
    assert invoke(runner, "campaigns", "resume", "1").output.startswith("campaign 1 is active")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rule", "FREQ=HOURLY", "--first", "2026-03-03 18:30"], "--rule:"),
        (["--rule", "FREQ=WEEKLY;BYDAY=XX", "--first", "2026-03-03 18:30"], "--rule:"),
        (["--rule", "FREQ=WEEKLY", "--first", "next tuesday"], "--first: 'next tuesday'"),
    ],
)
def test_a_bad_schedule_is_refused_clearly(
    runner: FlaskCliRunner, session: Session, args: list[str], message: str
) -> None:
    create_circle(runner)
    result = invoke(runner, "meetings", "schedule", "--group", "CIRCLE", *args)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert count(session, MeetingSchedule) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "reminder", "--offset", "soon"], "--offset: 'soon' is not an offset"),
        (["--kind", "reminder"], "needs at least one --offset"),
        (
            ["--kind", "reminder", "--offset", "2h", "--wording-en", "Hi {{ name }}"],
            "Unknown variable {{ name }}",
        ),
        (["--kind", "reminder", "--offset", "2h", "--wording-en", "Hi {% if %}"], "--wording-en"),
        (["--kind", "encouragement"], "needs --cadence or --stages"),
        (["--kind", "broadcast"], "a broadcast needs its words"),
        (["--kind", "broadcast", "--wording-en", "See you {{ meeting_when }}"], "--wording-en"),
    ],
)
def test_a_bad_campaign_is_refused_at_creation(
    runner: FlaskCliRunner, session: Session, args: list[str], message: str
) -> None:
    create_circle(runner)
    schedule_weekly(runner)
    result = invoke(runner, "campaigns", "create", "--group", "CIRCLE", "--name", "x", *args)
    assert result.exit_code != 0
    assert message in result.output, result.output
    assert count(session, Campaign) == 0


def test_a_reminder_longer_than_one_segment_is_warned_about(
    runner: FlaskCliRunner, session: Session
) -> None:
    create_circle(runner)
    schedule_weekly(runner)
    result = invoke(
        runner,
        "campaigns",
        "create",
        "--group",
        "CIRCLE",
        "--kind",
        "reminder",
        "--name",
        "long",
        "--offset",
        "2h",
        "--wording-es",
        "¿Vendrá a {{ group }} {{ meeting_when }}? Es muy importante. {{ reply_instructions }}",
    )
    assert result.exit_code == 0
    assert "warning: --wording-es: This message is 2 segments: 'á' makes it UCS-2" in result.output
    assert count(session, Campaign) == 1


def test_stats_counts_what_a_group_was_sent_and_how_people_answered(
    runner: FlaskCliRunner, client: FlaskClient, session: Session, clock: Clock
) -> None:
    group = make_group(session, "CIRCLE")
    make_schedule(session, group)
    sam = make_participant(session, "+12025550142", group)
    make_participant(session, "+12025550143", group, name="Pat")
    for n, state in enumerate([OutboxState.DELIVERED, OutboxState.FAILED]):
        session.add(
            OutboxMessage(
                send_key=f"stats:{n}", kind=OutboxKind.ONE_OFF, participant_id=sam.id,
                group_id=group.id, body="Hi", state=state, due_at=clock.now, sent_at=clock.now,
            )
        )  # fmt: skip
    session.commit()
    text_in(client, "+12025550142", "C")
    text_in(client, "+12025550143", "STOP")
    clock.now += timedelta(minutes=1)

    result = invoke(runner, "stats", "--group", "circle", "--days", "7")

    assert result.exit_code == 0, result.output
    shown = dict(line.strip().rsplit(": ", 1) for line in result.output.splitlines()[1:])
    assert shown == {
        "sent": "2", "delivered": "1", "failed or undelivered": "1",
        "held back when due (no consent, paused, ...)": "0",
        "expired (too late to be useful)": "0", "members who opted out": "1",
        "coming": "1", "not coming": "0",
    }  # fmt: skip
    assert invoke(runner, "stats", "--group", "NOPE").exit_code != 0
