"""Correcting a group from the command line and the API, and admins creating groups by API."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.campaigns.planner import plan
from service.models import CampaignKind, Group, Membership, OutboxMessage, OutboxState, Role
from tests.api import call, post, token_for, two_coordinators
from tests.support import (
    Clock,
    invoke,
    make_campaign,
    make_group,
    make_participant,
    make_schedule,
    text_in,
)

NEW = "+12025550177"


def settings_of(session: Session, group_id: int) -> tuple[Any, ...]:
    """Everything a group has that a coordinator can set, as the database has it now."""
    session.expire_all()
    g = session.get_one(Group, group_id)
    return (
        g.name, g.public_name, g.join_code, g.keypad_code, g.timezone, g.language,
        g.quiet_start, g.quiet_end, g.on_call_phone, g.voice_fallback, g.voicemail_details,
        g.texts_between_meetings_to_callers,
    )  # fmt: skip


def patch(client: FlaskClient, group_id: int, token: str, body: Any) -> tuple[int, Any]:
    return call(client, "PATCH", f"/api/v1/groups/{group_id}", token, body)


def count_groups(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Group)) or 0


def texted_back(client: FlaskClient, sender: str, body: str) -> str:
    return text_in(client, sender, body).text


# -- every field, through both doors ------------------------------------------------------------


def test_every_setting_of_a_group_can_be_corrected_from_the_command_line(
    runner: FlaskCliRunner, session: Session
) -> None:
    circle = make_group(session, "CIRCLE", on_call_phone="+12025550100")

    result = invoke(
        runner, "groups", "update", "circle", "--name", "Tuesday evening circle",
        "--public-name", "Evening Circle", "--code", "evening", "--keypad-code", "482913",
        "--timezone", "America/Chicago", "--language", "es", "--quiet-hours", "22:00-07:30",
        "--on-call-phone", "(202) 555-0123", "--landline-fallback", "--voicemail-details",
        "--texts-between-meetings",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert settings_of(session, circle.id) == (
        "Tuesday evening circle", "Evening Circle", "EVENING", "482913", "America/Chicago", "es",
        time(22, 0), time(7, 30), "+12025550123", True, True, True,
    )  # fmt: skip
    assert "CIRCLE changed:" not in result.output  # told by its new code
    assert "join code: CIRCLE -> EVENING" in result.output
    assert "time zone: America/New_York -> America/Chicago" in result.output
    assert "quiet hours: 21:00-08:00 -> 22:00-07:30" in result.output
    assert "on-call phone: +1******0100 -> +1******0123" in result.output
    assert "EVENING now:" in result.output and "landline fallback: on" in result.output
    assert "555-0123" not in result.output and "Warning" not in result.output


def test_only_the_options_given_change(runner: FlaskCliRunner, session: Session) -> None:
    circle = make_group(session, "CIRCLE", on_call_phone="+12025550100")
    before = settings_of(session, circle.id)

    result = invoke(runner, "groups", "update", "CIRCLE", "--public-name", "Tuesday Circle")

    assert result.exit_code == 0, result.output
    assert settings_of(session, circle.id) == (before[0], "Tuesday Circle", *before[2:])
    assert "public name: Circle Group -> Tuesday Circle" in result.output
    again = invoke(runner, "groups", "update", "CIRCLE", "--public-name", "Tuesday Circle")
    assert "CIRCLE: nothing changed" in again.output


def test_every_setting_of_a_group_can_be_corrected_through_the_api(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)
    body = {
        "name": "Tuesday evening circle",
        "public_name": "Evening Circle",
        "join_code": "evening",
        "keypad_code": "482913",
        "timezone": "America/Chicago",
        "language": "es",
        "quiet_hours": "22:00-07:30",
        "on_call_phone": "(202) 555-0123",
        "voice_fallback": True,
        "voicemail_details": True,
        "texts_between_meetings_to_callers": True,
    }

    status, group = patch(client, mine.id, robin, body)

    assert status == 200, group
    assert settings_of(session, mine.id) == (
        "Tuesday evening circle", "Evening Circle", "EVENING", "482913", "America/Chicago", "es",
        time(22, 0), time(7, 30), "+12025550123", True, True, True,
    )  # fmt: skip
    assert group["join_code"] == "EVENING" and group["quiet_hours"] == "22:00-07:30"
    assert group["on_call_phone"] == "+12025550123" and group["warnings"] == []
    assert "time zone: America/New_York -> America/Chicago" in group["changed"]
    assert len(group["changed"]) == 11
    status, again = patch(client, mine.id, robin, {"language": "es"})
    assert status == 200 and again["changed"] == []


# -- refused: nothing changes -------------------------------------------------------------------


def test_a_join_code_another_group_has_is_refused_and_nothing_changes(
    client: FlaskClient, runner: FlaskCliRunner, session: Session, clock: Clock
) -> None:
    mine, theirs, robin, _ = two_coordinators(session, clock)
    before = settings_of(session, mine.id)

    status, problem = patch(client, mine.id, robin, {"name": "Renamed", "join_code": "other"})
    assert status == 409, problem
    assert problem["details"]["json"] == {"join_code": [problem["message"]]}
    assert "OTHER is taken" in problem["message"]
    # Nothing about the group that has it: not its id, names or coordinator.
    for secret in (str(theirs.id), theirs.name, theirs.public_name, "kim"):
        assert secret not in str(problem)
    status, problem = patch(client, mine.id, robin, {"keypad_code": theirs.keypad_code})
    assert status == 409 and problem["details"]["json"].keys() == {"keypad_code"}

    result = invoke(runner, "groups", "update", "CIRCLE", "--name", "Renamed", "--code", "OTHER")
    assert result.exit_code == 1 and "--code: the code OTHER is taken" in result.output
    assert settings_of(session, mine.id) == before


def test_a_word_participants_text_for_something_else_cannot_be_a_join_code(
    client: FlaskClient, runner: FlaskCliRunner, session: Session, clock: Clock
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)
    before = settings_of(session, mine.id)

    for word in ("STOP", "help", "START", "YES", "JOIN", "Salir", "info"):
        status, problem = patch(client, mine.id, robin, {"join_code": word})
        assert status == 422 and "join_code" in problem["details"]["json"], (word, problem)
        assert "for something else" in problem["message"]
        result = invoke(runner, "groups", "update", "CIRCLE", "--code", word)
        assert result.exit_code == 1 and "--code:" in result.output, word
    for bad in ("AB", "CIRCLE-2", "THIRTEENCHARS", "ÑANDU", "X" * 100):
        status, problem = patch(client, mine.id, robin, {"join_code": bad})
        assert status == 422 and "3 to 12 letters or digits" in problem["message"], bad
    assert settings_of(session, mine.id) == before


def test_a_bad_zone_number_quiet_hours_or_keypad_code_is_refused_clearly_and_changes_nothing(
    client: FlaskClient, runner: FlaskCliRunner, session: Session, clock: Clock
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)
    before = settings_of(session, mine.id)
    cases = [
        ("timezone", "--timezone", "Mars/Olympus", "'Mars/Olympus' is not a time zone"),
        ("on_call_phone", "--on-call-phone", "555-01", "'555-01' is not a"),
        ("quiet_hours", "--quiet-hours", "late", "'late' is not a range of hours"),
        ("quiet_hours", "--quiet-hours", "25:00-08:00", "such as 21:00-08:00"),
        ("keypad_code", "--keypad-code", "0123", "cannot start with 0"),
        ("keypad_code", "--keypad-code", "12ab", "4 to 8 digits"),
        ("name", "--name", "   ", "1 to 120 characters"),
    ]
    for field, option, value, message in cases:
        # Given with a good change beside it: all or nothing.
        status, problem = patch(client, mine.id, robin, {field: value, "language": "es"})
        assert status == 422, (field, value, problem)
        assert message in problem["message"] and field in problem["details"]["json"]
        result = invoke(runner, "groups", "update", "CIRCLE", option, value, "--language", "es")
        assert result.exit_code == 1, (option, value)
        assert f"{option}: " in result.output and message in result.output
        assert "Traceback" not in result.output
    assert settings_of(session, mine.id) == before


def test_the_on_call_number_is_masked_in_the_log(
    runner: FlaskCliRunner, session: Session, caplog: Any
) -> None:
    make_group(session, "CIRCLE")
    caplog.set_level("INFO")

    result = invoke(runner, "groups", "update", "CIRCLE", "--on-call-phone", "(202) 555-0123")

    assert result.exit_code == 0, result.output
    assert "on-call phone: (none) -> +1******0123" in caplog.text
    assert "5550123" not in caplog.text and "555-0123" not in caplog.text


# -- who may ------------------------------------------------------------------------------------


def test_another_coordinators_group_cannot_be_changed_and_is_not_found(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, theirs, _, kim = two_coordinators(session, clock)
    before = settings_of(session, mine.id)

    status, problem = patch(client, mine.id, kim, {"name": "Kim's now"})

    assert status == 404 and problem["message"] == f"No group {mine.id}."
    assert settings_of(session, mine.id) == before
    admin = token_for(session, clock, "admin@example.org", Role.ADMIN)
    status, changed = patch(client, theirs.id, admin, {"public_name": "Thursday Group"})
    assert status == 200 and changed["public_name"] == "Thursday Group"


def test_a_coordinator_who_is_not_an_admin_cannot_create_a_group(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _, _, robin, _ = two_coordinators(session, clock)
    good = {
        "name": "Robin's own",
        "public_name": "Own Group",
        "join_code": "OWN",
        "timezone": "America/Chicago",
        "coordinator_email": "robin@example.org",
    }

    for body in (good, {"join_code": "STOP"}):
        status, problem = post(client, "/api/v1/groups", robin, body)
        assert status == 403, problem
        assert "Only an admin may create a group" in problem["message"]
    assert count_groups(session) == 2


def test_a_group_an_admin_creates_answers_a_join(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _, _, robin, _ = two_coordinators(session, clock)
    admin = token_for(session, clock, "admin@example.org", Role.ADMIN)

    status, group = post(
        client, "/api/v1/groups", admin,
        {"name": "Wednesday group", "public_name": "Midweek", "join_code": "midweek",
         "timezone": "America/Chicago", "coordinator_email": "Robin@Example.org",
         "on_call_phone": "+12025550100"},
    )  # fmt: skip

    assert status == 201, group
    assert group["join_code"] == "MIDWEEK" and group["language"] == "en"
    assert group["quiet_hours"] == "21:00-08:00" and group["warnings"] == []
    keypad = group["keypad_code"]
    assert len(keypad) == 6 and keypad.isdigit() and keypad[0] != "0"
    # It is Robin's: in Robin's list.
    status, robins = call(client, "GET", "/api/v1/groups", robin)
    assert "MIDWEEK" in [g["join_code"] for g in robins]
    assert "reply YES" in texted_back(client, NEW, "JOIN MIDWEEK")
    session.expire_all()
    membership = session.scalars(select(Membership).where(Membership.group_id == group["id"]))
    assert len(membership.all()) == 1

    by_id = {"name": "By id", "public_name": "By id", "join_code": "BYID", "timezone": "UTC",
             "coordinator_id": group["coordinator_id"], "keypad_code": "7777"}  # fmt: skip
    status, second = post(client, "/api/v1/groups", admin, by_id)
    assert status == 201 and second["keypad_code"] == "7777", second
    status, problem = post(client, "/api/v1/groups", admin, {**by_id, "join_code": "OTHER3"})
    assert status == 409 and "keypad_code" in problem["details"]["json"]
    nobody = {**by_id, "join_code": "NOBODY", "keypad_code": "8888", "coordinator_id": 999}
    status, problem = post(client, "/api/v1/groups", admin, nobody)
    assert status == 422 and "coordinator_id" in problem["details"]["json"]
    assert count_groups(session) == 4


# -- the on-call phone --------------------------------------------------------------------------


def test_a_group_without_an_on_call_phone_is_warned_of_at_every_door(
    client: FlaskClient, runner: FlaskCliRunner, session: Session, clock: Clock
) -> None:
    assert invoke(runner, "coordinators", "create", "--email", "robin@example.org",
                  "--name", "Robin").exit_code == 0  # fmt: skip
    created = invoke(
        runner, "groups", "create", "--name", "Tuesday", "--public-name", "Tuesday Circle",
        "--code", "CIRCLE", "--timezone", "America/Chicago", "--coordinator", "robin@example.org",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert "Warning: CIRCLE has no on-call phone: an urgent message (crisis words) will alert " \
        "nobody by text" in created.output  # fmt: skip
    assert "NONE: urgent texts alert nobody" in invoke(runner, "groups", "list").output

    robin = token_for(session, clock, "robin@example.org")
    circle = session.scalars(select(Group)).one()
    status, detail = call(client, "GET", f"/api/v1/groups/{circle.id}", robin)
    assert status == 200 and "no on-call phone" in detail["warnings"][0]

    status, fixed = patch(client, circle.id, robin, {"on_call_phone": "+12025550100"})
    assert status == 200 and fixed["warnings"] == []
    assert "NONE" not in invoke(runner, "groups", "list").output
    status, removed = patch(client, circle.id, robin, {"on_call_phone": None})
    assert status == 200 and "no on-call phone" in removed["warnings"][0]
    assert settings_of(session, circle.id)[8] is None

    cleared = invoke(runner, "groups", "update", "CIRCLE", "--on-call-phone", "+12025550100")
    assert "Warning" not in cleared.output
    taken_away = invoke(runner, "groups", "update", "CIRCLE", "--no-on-call-phone")
    assert "Warning: CIRCLE has no on-call phone" in taken_away.output


# -- what a change means for what is planned ----------------------------------------------------


def test_the_old_join_code_stops_joining_once_it_changed(
    client: FlaskClient, runner: FlaskCliRunner, session: Session
) -> None:
    make_group(session, "CIRCLE", on_call_phone="+12025550100")

    assert invoke(runner, "groups", "update", "CIRCLE", "--code", "TUESDAY").exit_code == 0

    assert "couldn't find a group with the code CIRCLE" in texted_back(client, NEW, "JOIN CIRCLE")
    assert "reply YES" in texted_back(client, NEW, "JOIN TUESDAY")


def test_a_new_time_zone_moves_the_reminders_planned_and_not_yet_sent(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)
    make_schedule(session, mine)  # Tuesdays 18:30, from 2026-03-03, where the group is
    make_campaign(session, mine, CampaignKind.REMINDER, offsets=["2h"])
    clock.now = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
    plan(session, clock.now)
    session.commit()

    def tonights() -> OutboxMessage:
        session.expire_all()
        return session.scalars(
            select(OutboxMessage).where(OutboxMessage.occurrence_key == "20260303T1830")
        ).one()

    # 16:30 in New York (EST) is 21:30 UTC.
    assert tonights().due_at == datetime(2026, 3, 3, 21, 30, tzinfo=UTC)
    status, _ = patch(client, mine.id, robin, {"timezone": "America/Los_Angeles"})
    assert status == 200
    session.expire_all()  # the next tick reads the group afresh
    plan(session, clock.now)
    session.commit()

    # The meeting is 18:30 in Los Angeles now: its reminder, 16:30 there, is 00:30 UTC.
    row = tonights()
    assert row.due_at == datetime(2026, 3, 4, 0, 30, tzinfo=UTC)
    assert row.state is OutboxState.QUEUED


def test_new_quiet_hours_move_the_texts_planned_and_not_yet_sent(
    runner: FlaskCliRunner, session: Session, clock: Clock
) -> None:
    circle = make_group(session, "CIRCLE", on_call_phone="+12025550100")
    make_participant(session, "+12025550142", circle)
    make_schedule(session, circle)
    make_campaign(session, circle, CampaignKind.REMINDER, offsets=["3h"])
    clock.now = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
    plan(session, clock.now)
    session.commit()
    row = session.scalars(
        select(OutboxMessage).where(OutboxMessage.occurrence_key == "20260303T1830")
    ).one()
    assert row.due_at == datetime(2026, 3, 3, 20, 30, tzinfo=UTC)  # 15:30

    result = invoke(runner, "groups", "update", "CIRCLE", "--quiet-hours", "14:00-16:00")
    assert result.exit_code == 0, result.output
    assert "Planned texts and calls move at the next planning tick." in result.output
    session.expire_all()  # the next tick reads the group afresh
    plan(session, clock.now)
    session.commit()

    session.expire_all()
    moved = session.get_one(OutboxMessage, row.id)
    assert moved.due_at == datetime(2026, 3, 3, 21, 0, tzinfo=UTC)  # 16:00, when quiet ends
