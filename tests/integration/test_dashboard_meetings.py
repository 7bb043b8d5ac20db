"""The dashboard's Meetings page: a schedule in words, its next dates and warnings, cancelling
and moving one meeting, and who answered for past ones; on both databases."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from service.campaigns.headcount import record_answer
from service.campaigns.meeting_warnings import move_warnings, schedule_warnings
from service.models import Group, MeetingChange, MeetingSchedule, Membership, Role
from tests.api import call, token_for
from tests.dashboard import csrf_token, sign_in, with_password
from tests.support import Clock, invoke, make_group, make_participant, make_schedule

# The clock starts Tuesday 3 March 2026 at 12:00 in New York, CIRCLE's zone.
EVERY_OTHER_TUESDAY = {
    "often": "every_n_weeks",
    "days": "1",
    "weeks": "2",
    "nth": "1",
    "day_of_month": "1",
    "at": "18:30",
    "start": "2026-03-03",
    "until": "",
    "duration": "90",
    "location": "Room 5",
}


@pytest.fixture
def circle(client: FlaskClient, session: Session, clock: Clock) -> Group:
    """Robin's CIRCLE, Robin signed in; Kim runs HARBOR."""
    group = make_group(session, "CIRCLE", coordinator_email="robin@example.org")
    make_group(session, "HARBOR", coordinator_email="kim@example.org")
    with_password(session, "robin@example.org", clock)
    sign_in(client, "robin@example.org")
    return group


def page_of(circle: Group) -> str:
    return f"/groups/{circle.id}/meetings"


def post_form(client: FlaskClient, path: str, data: dict[str, Any]) -> Any:
    token = csrf_token(client, "/")
    return client.post(path, data={"csrf_token": token, **data})


def text_of(answer: Any) -> str:
    """The page's words, without tags, as a reader hears them."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", answer.text)).split())


def test_today_and_the_meetings_list_link_each_group_to_its_meetings(
    client: FlaskClient, session: Session, circle: Group
) -> None:
    make_schedule(session, circle)

    today = client.get("/").text
    listed = client.get("/meetings")

    assert f'href="/groups/{circle.id}/meetings"' in today
    assert f'href="/groups/{circle.id}/meetings"' in listed.text
    assert (
        "Circle Group : meets every Tuesday at 6:30 PM, from 3 March (America/New_York time)."
        in text_of(listed)
    )
    assert "Harbor" not in listed.text


def test_a_coordinator_schedules_every_other_tuesday_and_reads_it_back_with_the_next_dates(
    client: FlaskClient, session: Session, circle: Group
) -> None:
    before = client.get(page_of(circle))
    assert "No meetings are scheduled for this group yet" in before.text

    saved = post_form(client, f"{page_of(circle)}/schedule", EVERY_OTHER_TUESDAY)

    assert saved.status_code == 302
    assert saved.headers["Location"] == page_of(circle)
    stored = session.scalars(select(MeetingSchedule)).one()
    assert (stored.rrule, stored.first_start) == (
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
        datetime(2026, 3, 3, 18, 30),
    )
    shown = client.get(page_of(circle))
    words = text_of(shown)
    assert "Saved: the group meets every other Tuesday at 6:30 PM, from 3 March." in words
    assert "The group meets every other Tuesday at 6:30 PM, from 3 March." in words
    assert "America/New_York time" in words
    next_dates = re.search(r'<ol class="next-dates">(.*?)</ol>', shown.text, re.S)
    assert next_dates is not None
    assert re.findall(r"<li>([^<]*)</li>", next_dates.group(1)) == [
        "Tuesday 3 March 2026 at 6:30 PM",
        "Tuesday 17 March 2026 at 6:30 PM",
        "Tuesday 31 March 2026 at 6:30 PM",
        "Tuesday 14 April 2026 at 6:30 PM",
        "Tuesday 28 April 2026 at 6:30 PM",
        "Tuesday 12 May 2026 at 6:30 PM",
    ]
    assert "FREQ" not in shown.text and "INTERVAL" not in shown.text
    # The form comes back holding the schedule's own choices.
    assert re.search(
        r'value="every_n_weeks"[^>]*checked|checked[^>]*value="every_n_weeks"', shown.text
    )
    assert re.search(r'id="days-1"[^>]*checked|checked[^>]*id="days-1"', shown.text)


def test_the_page_the_api_and_the_command_line_say_the_schedule_in_the_same_words(
    client: FlaskClient, runner: FlaskCliRunner, session: Session, clock: Clock, circle: Group
) -> None:
    make_schedule(session, circle, "FREQ=MONTHLY;BYDAY=-1TH", datetime(2026, 3, 26, 19, 0))
    said = "the last Thursday of every month at 7:00 PM, from 26 March"

    api = call(
        client,
        "GET",
        f"/api/v1/groups/{circle.id}/schedule",
        token_for(session, clock, "robin@example.org"),
    )
    listing = invoke(runner, "meetings", "list", "--group", "CIRCLE").output
    page = text_of(client.get(page_of(circle)))

    assert api[1]["description"] == said
    assert listing.splitlines()[0] == f"CIRCLE meets {said} (America/New_York time)"
    assert f"The group meets {said}." in page


def test_a_rule_set_by_hand_reads_as_the_fallback_sentence_never_the_rule(
    client: FlaskClient, session: Session, circle: Group
) -> None:
    make_schedule(session, circle, "FREQ=DAILY;COUNT=3", datetime(2026, 3, 4, 9, 0))

    page = text_of(client.get(page_of(circle)))

    assert (
        "The group meets on a schedule set by hand that this page cannot put in words, "
        "from 4 March at 9:00 AM." in page
    )
    assert "FREQ" not in page
    assert "Friday 6 March 2026 at 9:00 AM" in page


@pytest.mark.parametrize(
    ("choices", "rule", "first"),
    [
        # 02:30 on the Sunday the clocks go forward in New York does not exist.
        (
            {"often": "weekly", "days": "6", "at": "02:30", "start": "2026-03-08"},
            "FREQ=WEEKLY;BYDAY=SU",
            datetime(2026, 3, 8, 2, 30),
        ),
        # The first Sunday from 1 March is already past.
        (
            {"often": "weekly", "days": "6", "at": "10:00", "start": "2026-03-01"},
            "FREQ=WEEKLY;BYDAY=SU",
            datetime(2026, 3, 1, 10, 0),
        ),
    ],
)
def test_saving_shows_the_same_warnings_as_the_api_and_the_command_line(
    client: FlaskClient,
    session: Session,
    clock: Clock,
    circle: Group,
    choices: dict[str, str],
    rule: str,
    first: datetime,
) -> None:
    expected = schedule_warnings(rule, first, "America/New_York", clock.now)
    assert expected  # each case has something to warn of

    post_form(client, f"{page_of(circle)}/schedule", {**EVERY_OTHER_TUESDAY, **choices})
    page = text_of(client.get(page_of(circle)))
    token = token_for(session, clock, "robin@example.org")
    body = {"rule": rule, "first": first.isoformat(timespec="minutes")}
    api = call(client, "PUT", f"/api/v1/groups/{circle.id}/schedule", token, body)

    assert api[1]["warnings"] == expected
    for warning in expected:
        assert warning in page


@pytest.mark.parametrize(
    ("choices", "message"),
    [
        ({"often": "weekly", "days": []}, "choose at least one day of the week"),
        ({"often": "every_n_weeks", "weeks": "1"}, "every 2 to 52 weeks"),
        ({"often": "nth_weekday", "days": ["1", "3"]}, "choose one day of the week"),
        ({"often": "monthly_date", "day_of_month": "40"}, "a day of the month is from 1 to 31"),
        ({"until": "2026-03-01"}, "the last day cannot be before the first"),
        ({"at": ""}, "Give the time the meeting starts."),
        ({"start": "not a date"}, "Not a valid date value."),
        ({"duration": "0"}, "Number must be between 1 and 1440."),
        ({"location": "x" * 201}, "Field cannot be longer than 200 characters."),
        ({"often": "hourly"}, "Not a valid choice."),
        ({"start": "9999-12-31"}, "no meeting falls on or after this date"),
    ],
)
def test_a_bad_choice_comes_back_beside_its_field_and_changes_nothing(
    client: FlaskClient, session: Session, circle: Group, choices: dict[str, Any], message: str
) -> None:
    answer = post_form(client, f"{page_of(circle)}/schedule", {**EVERY_OTHER_TUESDAY, **choices})

    assert answer.status_code == 422  # the form again, with the reason beside the field
    assert message in html.unescape(answer.text)
    assert 'class="error"' in answer.text
    assert session.scalar(select(func.count()).select_from(MeetingSchedule)) == 0


def test_saving_the_same_schedule_twice_keeps_one_schedule(
    client: FlaskClient, session: Session, circle: Group
) -> None:
    first = post_form(client, f"{page_of(circle)}/schedule", EVERY_OTHER_TUESDAY)
    again = post_form(client, f"{page_of(circle)}/schedule", EVERY_OTHER_TUESDAY)

    assert (first.status_code, again.status_code) == (302, 302)
    assert session.scalar(select(func.count()).select_from(MeetingSchedule)) == 1


def test_a_coordinator_cancels_one_meeting_and_cancelling_twice_is_harmless(
    client: FlaskClient, session: Session, clock: Clock, circle: Group
) -> None:
    make_schedule(session, circle)  # Tuesdays at 18:30 from 3 March, Room 5
    page = text_of(client.get(page_of(circle)))
    assert "Cancel the meeting of Tuesday 10 March 2026 at 6:30 PM" in page

    path = f"{page_of(circle)}/20260310T1830/cancel"
    answers = [post_form(client, path, {}), post_form(client, path, {})]

    assert [a.status_code for a in answers] == [302, 302]
    assert session.scalar(select(func.count()).select_from(MeetingChange)) == 1
    shown = text_of(client.get(page_of(circle)))
    assert "The meeting is cancelled; its reminders will not go out." in shown
    assert "Tuesday 10 March 2026 at 6:30 PM (cancelled)" in shown
    token = token_for(session, clock, "robin@example.org")
    meetings = call(client, "GET", f"/api/v1/groups/{circle.id}/meetings?days=8", token)[1]
    assert [(m["key"], m["cancelled"]) for m in meetings] == [
        ("20260303T1830", False),
        ("20260310T1830", True),
    ]


def test_a_coordinator_moves_one_meeting_to_another_day_and_place(
    client: FlaskClient, session: Session, circle: Group
) -> None:
    make_schedule(session, circle)
    form = client.get(f"{page_of(circle)}/20260310T1830/move")
    assert form.status_code == 200
    assert 'value="2026-03-10"' in form.text and 'value="18:30"' in form.text
    assert 'value="Room 5"' in form.text

    moved = post_form(
        client,
        f"{page_of(circle)}/20260310T1830/move",
        {"day": "2026-03-11", "at": "19:00", "location": "Room 7"},
    )

    assert moved.status_code == 302
    shown = text_of(client.get(page_of(circle)))
    assert "The meeting is moved to Wednesday 11 March 2026 at 7:00 PM." in shown
    assert "Wednesday 11 March 2026 at 7:00 PM (moved) Room 7" in shown
    change = session.scalars(select(MeetingChange)).one()
    assert (change.new_start, change.new_location) == (datetime(2026, 3, 11, 19, 0), "Room 7")


@pytest.mark.parametrize(
    ("day", "at"),
    [("2026-03-02", "18:00"), ("2026-11-01", "01:30"), ("2026-03-08", "02:15")],
)
def test_a_move_shows_the_same_warnings_as_the_api(
    client: FlaskClient, session: Session, clock: Clock, circle: Group, day: str, at: str
) -> None:
    make_schedule(session, circle)
    to = datetime.fromisoformat(f"{day}T{at}")
    expected = move_warnings(to, "America/New_York", clock.now)
    assert expected

    post_form(client, f"{page_of(circle)}/20260310T1830/move", {"day": day, "at": at})
    page = text_of(client.get(page_of(circle)))

    for warning in expected:
        assert warning in page


def test_a_bad_move_comes_back_beside_its_field_and_changes_nothing(
    client: FlaskClient, session: Session, circle: Group
) -> None:
    make_schedule(session, circle)

    answer = post_form(client, f"{page_of(circle)}/20260310T1830/move", {"day": "", "at": "19:00"})

    assert answer.status_code == 422  # the form again, with the reason beside the field
    assert "Give the new date." in answer.text
    assert session.scalar(select(func.count()).select_from(MeetingChange)) == 0


@pytest.mark.parametrize(
    "path",
    [
        "/meetings/20260311T1830/cancel",  # a Wednesday: no meeting of the rule
        "/meetings/not-a-key/cancel",
        "/meetings/20260311T1830/move",
    ],
)
def test_a_meeting_the_group_does_not_have_answers_404(
    client: FlaskClient, session: Session, circle: Group, path: str
) -> None:
    make_schedule(session, circle)

    assert (
        post_form(
            client, f"/groups/{circle.id}{path}", {"day": "2026-03-12", "at": "19:00"}
        ).status_code
        == 404
    )
    assert session.scalar(select(func.count()).select_from(MeetingChange)) == 0


def test_a_group_without_meetings_has_no_meeting_to_cancel_or_move(
    client: FlaskClient, circle: Group
) -> None:
    assert post_form(client, f"{page_of(circle)}/20260310T1830/cancel", {}).status_code == 404
    assert client.get(f"{page_of(circle)}/20260310T1830/move").status_code == 404


def test_past_meetings_name_who_confirmed_declined_and_did_not_answer(
    client: FlaskClient, session: Session, clock: Clock, circle: Group
) -> None:
    make_schedule(session, circle)
    sam = make_participant(session, "+12025550141", circle, name="Sam Rivera")
    lucia = make_participant(session, "+12025550145", circle, name="Lucia")
    make_participant(session, "+12025550147", circle, name="Bo")
    session.execute(update(Membership).values(created_at=datetime(2026, 2, 1, tzinfo=UTC)))
    record_answer(session, sam.id, circle.id, "20260303T1830", True, clock.now)
    record_answer(session, lucia.id, circle.id, "20260303T1830", False, clock.now)
    session.commit()
    clock.now += timedelta(days=1)
    assert client.get("/").status_code == 302  # a day without activity signed Robin out
    sign_in(client, "robin@example.org")

    shown = client.get(page_of(circle))
    page = text_of(shown)

    assert (
        "Tuesday 3 March 2026 at 6:30 PM Confirmed: 1 Sam Rivera Declined: 1 Lucia "
        "Did not answer: 1 Bo" in page
    )
    assert "2025550" not in shown.text


def test_an_admin_sees_any_groups_meetings(
    client: FlaskClient, session: Session, clock: Clock, circle: Group
) -> None:
    harbor = session.scalars(select(Group).where(Group.join_code == "HARBOR")).one()
    with_password(session, "admin@example.org", clock, role=Role.ADMIN)
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/")})
    sign_in(client, "admin@example.org")

    assert client.get(f"/groups/{harbor.id}/meetings").status_code == 200
    assert client.get("/groups/4242/meetings").status_code == 404


def test_a_cancelled_meeting_is_held_after_all_by_moving_it_to_its_own_time(
    client: FlaskClient, session: Session, circle: Group
) -> None:
    make_schedule(session, circle)
    post_form(client, f"{page_of(circle)}/20260310T1830/cancel", {})
    form = client.get(f"{page_of(circle)}/20260310T1830/move")
    assert "This meeting is cancelled" in form.text

    post_form(
        client,
        f"{page_of(circle)}/20260310T1830/move",
        {"day": "2026-03-10", "at": "18:30", "location": "Room 5"},
    )

    page = text_of(client.get(page_of(circle)))
    assert "Tuesday 10 March 2026 at 6:30 PM (cancelled)" not in page
    assert "Cancel the meeting of Tuesday 10 March 2026 at 6:30 PM" in page
