"""Meeting warnings through both doors: `peerline meetings` prints them, the API returns them."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.campaigns.planner import plan
from service.models import CampaignKind, Group, MeetingSchedule, OutboxMessage, OutboxState
from tests.api import call, post, token_for
from tests.support import Clock, invoke, make_campaign, make_group, make_participant

CHICAGO = "America/Chicago"
# The test clock stands at Tuesday 3 March 2026, 17:00 UTC: 11:00 in Chicago, where the clocks
# go forward on Sunday 8 March and back on Sunday 1 November.
SKIPPED_WEDNESDAY = (
    "The first date, Wednesday 4 March, is not a Tuesday: the first meeting will be Tuesday "
    "10 March at 6:30 PM, then Tuesday 17 March and Tuesday 24 March."
)
SPRING_GAP = (
    "Sunday 8 March at 2:30 AM does not exist in America/Chicago: the clocks go forward an hour "
    "that night, so the meeting will start at 3:30 AM (CDT)."
)
FIRST_PAST = (
    "The first meeting, Tuesday 3 February at 6:30 PM, is already past: reminders go only for "
    "meetings still ahead, the next being Tuesday 3 March at 6:30 PM."
)
MOVED_PAST = (
    "The new time, Monday 2 March at 7:00 PM, is already past: no reminders will be sent for "
    "this meeting."
)
FALL_BACK = (
    "Sunday 1 November at 1:30 AM happens twice in America/Chicago: the clocks go back an hour "
    "that night; the meeting will be at the first 1:30 AM (CDT), not the second (CST)."
)
SCHEDULES = [
    pytest.param("FREQ=WEEKLY;BYDAY=TU", "2026-03-03 18:30", [], id="normal"),
    pytest.param("FREQ=WEEKLY;BYDAY=TU", "2026-03-04 18:30", [SKIPPED_WEDNESDAY], id="skipped"),
    pytest.param("FREQ=WEEKLY;BYDAY=SU", "2026-03-08 02:30", [SPRING_GAP], id="gap"),
    pytest.param("FREQ=WEEKLY;BYDAY=TU", "2026-02-03 18:30", [FIRST_PAST], id="past"),
]
MOVES = [
    pytest.param("20260310T1830", "2026-03-11 19:00", [], id="normal"),
    pytest.param("20260303T1830", "2026-03-02 19:00", [MOVED_PAST], id="past"),
    pytest.param("20261027T1830", "2026-11-01 01:30", [FALL_BACK], id="twice"),
]


@pytest.fixture
def circle(session: Session) -> Group:
    return make_group(session, "CIRCLE", timezone=CHICAGO)


def warned(output: str) -> list[str]:
    return [line.removeprefix("Warning: ") for line in output.splitlines() if "Warning" in line]


# -- the command line ---------------------------------------------------------------------------


@pytest.mark.parametrize(("rule", "first", "warnings"), SCHEDULES)
def test_a_schedule_set_from_the_command_line_is_kept_and_warns_after_the_result(
    runner: FlaskCliRunner, session: Session, circle: Group, rule: str, first: str,
    warnings: list[str],
) -> None:  # fmt: skip
    result = invoke(runner, "meetings", "schedule", "--group", "CIRCLE", "--rule", rule,
                    "--first", first)  # fmt: skip

    assert result.exit_code == 0, result.output
    assert result.output.startswith("CIRCLE meets: ")
    assert warned(result.output) == warnings
    kept = session.scalar(select(MeetingSchedule))
    assert kept is not None and kept.first_start.strftime("%Y-%m-%d %H:%M") == first


def test_the_meeting_list_shows_the_time_the_gap_warning_promised(
    runner: FlaskCliRunner, circle: Group
) -> None:
    invoke(runner, "meetings", "schedule", "--group", "CIRCLE", "--rule", "FREQ=WEEKLY;BYDAY=SU",
           "--first", "2026-03-08 02:30")  # fmt: skip

    listing = invoke(runner, "meetings", "list", "--group", "CIRCLE", "--days", "7").output

    assert "20260308T0230\tSun 2026-03-08 03:30" in listing


@pytest.mark.parametrize(("key", "to", "warnings"), MOVES)
def test_a_move_from_the_command_line_is_kept_and_warns_after_the_result(
    runner: FlaskCliRunner, circle: Group, key: str, to: str, warnings: list[str]
) -> None:
    invoke(runner, "meetings", "schedule", "--group", "CIRCLE", "--rule", "FREQ=WEEKLY;BYDAY=TU",
           "--first", "2026-03-03 18:30")  # fmt: skip

    result = invoke(runner, "meetings", "move", "--group", "CIRCLE", "--meeting", key, "--to", to)

    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"meeting {key} of CIRCLE moved")
    assert warned(result.output) == warnings


# -- the API ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("rule", "first", "warnings"), SCHEDULES)
def test_a_schedule_put_through_the_api_is_kept_and_answers_its_warnings(
    client: FlaskClient, session: Session, clock: Clock, circle: Group, rule: str, first: str,
    warnings: list[str],
) -> None:  # fmt: skip
    robin = token_for(session, clock, "robin@example.org")
    body = {"rule": rule, "first": first.replace(" ", "T")}

    status, answer = call(client, "PUT", f"/api/v1/groups/{circle.id}/schedule", robin, body)

    assert status == 200, answer
    assert answer["warnings"] == warnings
    assert answer["first"].startswith(first.replace(" ", "T"))


@pytest.mark.parametrize(("key", "to", "warnings"), MOVES)
def test_a_move_through_the_api_is_kept_and_answers_its_warnings(
    client: FlaskClient, session: Session, clock: Clock, circle: Group, key: str, to: str,
    warnings: list[str],
) -> None:  # fmt: skip
    robin = token_for(session, clock, "robin@example.org")
    base = f"/api/v1/groups/{circle.id}"
    call(client, "PUT", f"{base}/schedule", robin,
         {"rule": "FREQ=WEEKLY;BYDAY=TU", "first": "2026-03-03T18:30"})  # fmt: skip

    status, answer = post(
        client, f"{base}/meetings/{key}/move", robin, {"to": to.replace(" ", "T")}
    )

    assert status == 200, answer
    assert answer == {"key": key, "withdrawn": 0, "warnings": warnings}
    only_place = post(client, f"{base}/meetings/{key}/move", robin, {"location": "Room 7"})
    assert only_place[1]["warnings"] == []


def test_a_meeting_moved_into_the_past_gets_no_reminder_as_the_warning_says(
    client: FlaskClient, session: Session, clock: Clock, circle: Group
) -> None:
    robin = token_for(session, clock, "robin@example.org")
    base = f"/api/v1/groups/{circle.id}"
    call(client, "PUT", f"{base}/schedule", robin,
         {"rule": "FREQ=WEEKLY;BYDAY=TU", "first": "2026-03-03T18:30"})  # fmt: skip
    make_participant(session, "+12025550142", circle)
    make_campaign(session, circle, CampaignKind.REMINDER, offsets=["2h"])

    answer = post(client, f"{base}/meetings/20260303T1830/move", robin, {"to": "2026-03-02T19:00"})
    plan(session, clock.now)
    session.commit()

    assert answer[1]["warnings"] == [MOVED_PAST]
    tonight = session.scalars(
        select(OutboxMessage.state).where(OutboxMessage.occurrence_key == "20260303T1830")
    ).all()
    next_week = session.scalars(
        select(OutboxMessage.state).where(OutboxMessage.occurrence_key == "20260310T1830")
    ).all()
    assert OutboxState.QUEUED not in tonight and OutboxState.SENT not in tonight
    assert next_week == [OutboxState.QUEUED]  # the planner did run: next week's is waiting


def test_another_coordinators_group_answers_404_and_no_warnings(
    client: FlaskClient, session: Session, clock: Clock, circle: Group
) -> None:
    kim = token_for(session, clock, "kim@example.org")
    body = {"rule": "FREQ=WEEKLY;BYDAY=TU", "first": "2026-03-04T18:30"}

    status, answer = call(client, "PUT", f"/api/v1/groups/{circle.id}/schedule", kim, body)

    assert status == 404 and "warnings" not in answer
    assert session.scalar(select(MeetingSchedule)) is None


def test_the_openapi_document_describes_the_warnings_of_a_schedule_and_a_move(
    client: FlaskClient,
) -> None:
    document: dict[str, Any] = client.get("/api/v1/openapi.json").get_json()
    paths = document["paths"]
    schemas = document["components"]["schemas"]

    for path, method in (
        ("/api/v1/groups/{group_id}/schedule", "put"),
        ("/api/v1/groups/{group_id}/meetings/{key}/move", "post"),
    ):
        reference = paths[path][method]["responses"]["200"]["content"]["application/json"]
        schema = schemas[reference["schema"]["$ref"].rsplit("/", 1)[-1]]
        warnings = schema["properties"]["warnings"]
        assert warnings["type"] == "array" and warnings["items"]["type"] == "string"
        assert "clocks skip" in warnings["description"]


def test_a_meeting_at_the_end_of_the_calendar_is_answered_without_a_server_error(
    client: FlaskClient, session: Session, clock: Clock, circle: Group
) -> None:
    robin = token_for(session, clock, "robin@example.org")
    base = f"/api/v1/groups/{circle.id}"

    put = call(client, "PUT", f"{base}/schedule", robin,
               {"rule": "FREQ=WEEKLY;BYDAY=TU", "first": "2026-03-03T18:30"})  # fmt: skip
    moved = post(client, f"{base}/meetings/20260310T1830/move", robin, {"to": "9999-12-31T23:59"})

    assert put[0] == 200 and moved == (
        200,
        {"key": "20260310T1830", "withdrawn": 0, "warnings": []},
    )
