"""Today's last 30 days and its people who have gone quiet, and the same on the API and CLI."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.models import (
    Attendance,
    ConsentChange,
    ConsentEvent,
    ConsentSource,
    Group,
    InboundMessage,
    Membership,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Participant,
    Rsvp,
)
from tests.api import token_for
from tests.dashboard import sign_in, with_password
from tests.support import Clock, invoke, make_group, make_participant, new_sid


def _sent(session: Session, group: Group, at: datetime, state: OutboxState) -> None:
    session.add(
        OutboxMessage(
            send_key=new_sid(),
            kind=OutboxKind.REMINDER,
            group_id=group.id,
            body="See you Tuesday",
            state=state,
            due_at=at,
            sent_at=at,
        )
    )


def _joined_long_ago(session: Session, person: Participant, clock: Clock) -> None:
    for membership in session.scalars(
        select(Membership).where(Membership.participant_id == person.id)
    ):
        membership.created_at = clock.now - timedelta(weeks=20)
    session.commit()


def _circle(session: Session, clock: Clock) -> Group:
    """Robin's group: Sam (answered last week), Ana (silent since joining), Lee (texted)."""
    circle = make_group(session, "CIRCLE", timezone="America/Chicago")
    with_password(session, "robin@example.org", clock)
    sam = make_participant(session, "+12025550111", circle, name="Sam Circle")
    ana = make_participant(session, "+12025550122", circle, name="Ana Quiet")
    lee = make_participant(session, "+12025550133", circle, name="Lee Texter")
    for person in (sam, ana, lee):
        _joined_long_ago(session, person, clock)
    session.add(
        Rsvp(
            participant_id=sam.id,
            group_id=circle.id,
            occurrence_key="20260224T0030",
            answer=Attendance.YES,
            answered_at=clock.now - timedelta(days=6),
        )
    )
    session.add(
        InboundMessage(
            message_sid=new_sid(),
            participant_id=lee.id,
            group_id=circle.id,
            from_phone=lee.phone,
            body="thinking of you all",
            intent="other",
            received_at=clock.now - timedelta(days=20),
        )
    )
    # Two days ago (Chicago): two delivered, one failed; yesterday one sent; Ana's old opt-out
    # is not in the window.
    two_days = clock.now - timedelta(days=2)
    _sent(session, circle, two_days, OutboxState.DELIVERED)
    _sent(session, circle, two_days, OutboxState.DELIVERED)
    _sent(session, circle, two_days, OutboxState.FAILED)
    _sent(session, circle, clock.now - timedelta(days=1), OutboxState.SENT)
    _sent(session, circle, clock.now - timedelta(days=45), OutboxState.DELIVERED)
    session.commit()
    return circle


def _numbers(html: str, caption: str) -> list[str]:
    table = html.split(caption, 1)[1].split("</table>", 1)[0]
    return re.findall(r"<td>(\d+)</td>", table)


def test_today_charts_a_groups_last_30_days_with_the_numbers_beside_it(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _circle(session, clock)
    opted = make_participant(session, "+12025550144", session.scalars(select(Group)).one())
    session.add(
        ConsentEvent(
            participant_id=opted.id,
            phone_hash=opted.phone_hash,
            change=ConsentChange.OPT_OUT,
            source=ConsentSource.KEYWORD,
            created_at=clock.now - timedelta(days=3),
        )
    )
    session.commit()
    sign_in(client, "robin@example.org")

    page = client.get("/").text

    assert "<svg" in page and "<title id=" in page
    assert "4 sent, 2 delivered, 1 failed; 1 people opted out" in page
    assert _numbers(page, "Totals, the last 30 days") == ["4", "2", "1", "1"]
    days = page.split("Each day, in America/Chicago time", 1)[1]
    # Newest day first; the day two days ago (Sunday 1 March in Chicago) has its three texts.
    assert '<th scope="row">Sunday 1 March</th><td>3</td><td>2</td><td>1</td><td>0</td>' in days
    assert '<th scope="row">Monday 2 March</th><td>1</td><td>0</td><td>0</td><td>0</td>' in days


def test_today_lists_who_has_gone_quiet_with_the_groups_name_and_a_masked_number(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _circle(session, clock)
    sign_in(client, "robin@example.org")

    four = client.get("/").text.split("People who have gone quiet", 1)[1]
    two = client.get("/?weeks=2").text.split("People who have gone quiet", 1)[1]

    assert "Ana Quiet" in four and "+1******0122" in four and "Never, since joining" in four
    assert "Sam Circle" not in four and "Lee Texter" not in four
    assert "+12025550122" not in four
    assert "Ana Quiet" in two and "Lee Texter" in two and "Sam Circle" not in two


def test_today_shows_a_groups_ten_longest_quiet_and_links_to_all_of_them(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = _circle(session, clock)
    for number in range(12):
        person = make_participant(
            session, f"+120255502{number:02d}", circle, name=f"Quiet {number}"
        )
        _joined_long_ago(session, person, clock)
    sign_in(client, "robin@example.org")

    today = client.get("/").text.split("People who have gone quiet", 1)[1]
    everyone = client.get(f"/groups/{circle.id}/quiet?weeks=4")

    assert "13 members have neither answered" in today  # Ana and the twelve
    assert today.count("<tr><td>") == 10
    link = f'href="/groups/{circle.id}/quiet?weeks=4">All 13 who have gone quiet in Circle Group'
    assert link in today
    assert everyone.status_code == 200
    assert everyone.text.count("<tr><td>") == 13
    assert "Ana Quiet" in everyone.text and "+1******0211" in everyone.text
    assert "+12025550211" not in everyone.text


def test_the_weeks_chosen_are_remembered_and_bad_weeks_are_refused_beside_the_field(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _circle(session, clock)
    sign_in(client, "robin@example.org")

    client.get("/?weeks=2")
    later = client.get("/")
    refused = client.get("/?weeks=nine")
    too_many = client.get("/?weeks=99")

    assert 'value="2"' in later.text and "Lee Texter" in later.text
    assert refused.status_code == 200
    assert "Choose a number of weeks from 1 to 52." in refused.text
    assert 'aria-invalid="true"' in refused.text and 'value="2"' in refused.text
    assert "Choose a number of weeks from 1 to 52." in too_many.text


def test_someone_who_joined_recently_or_opted_out_is_not_quiet(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = _circle(session, clock)
    new = make_participant(session, "+12025550155", circle, name="New Person")
    for membership in session.scalars(
        select(Membership).where(Membership.participant_id == new.id)
    ):
        membership.created_at = clock.now - timedelta(days=3)
    ana = session.scalars(select(Participant).where(Participant.name == "Ana Quiet")).one()
    ana.consent = ana.consent.REVOKED
    session.commit()
    sign_in(client, "robin@example.org")

    quiet = client.get("/").text.split("People who have gone quiet", 1)[1]

    assert "New Person" not in quiet and "Ana Quiet" not in quiet
    assert "Nobody has been quiet for 4 weeks or more." in quiet


def test_the_api_lists_quiet_members_of_the_callers_group_only(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = _circle(session, clock)
    harbor = make_group(session, "HARBOR", coordinator_email="kim@example.org")
    token = token_for(session, clock, "robin@example.org")
    headers = {"Authorization": f"Bearer {token}"}

    found = client.get(f"/api/v1/groups/{circle.id}/quiet?weeks=2", headers=headers)
    theirs = client.get(f"/api/v1/groups/{harbor.id}/quiet", headers=headers)
    bad = client.get(f"/api/v1/groups/{circle.id}/quiet?weeks=0", headers=headers)

    assert found.status_code == 200
    assert [(m["name"], m["phone"]) for m in found.get_json()] == [
        ("Ana Quiet", "+1******0122"),
        ("Lee Texter", "+1******0133"),
    ]
    assert found.get_json()[0]["last_heard"] is None
    assert theirs.status_code == 404
    assert bad.status_code == 422


def test_the_api_gives_the_counts_day_by_day_in_the_groups_zone(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = _circle(session, clock)
    token = token_for(session, clock, "robin@example.org")

    days = client.get(
        f"/api/v1/groups/{circle.id}/stats/daily", headers={"Authorization": f"Bearer {token}"}
    ).get_json()

    assert len(days) == 31  # 30 days back from 11 AM in Chicago touch 31 calendar days
    assert {"day": "2026-03-01", "sent": 3, "delivered": 2, "failed": 1, "opted_out": 0} in days
    assert sum(day["sent"] for day in days) == 4


def test_a_day_by_day_count_covers_at_most_400_days(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = _circle(session, clock)
    auth = {"Authorization": f"Bearer {token_for(session, clock, 'robin@example.org')}"}
    url = f"/api/v1/groups/{circle.id}/stats/daily"

    a_year = client.get(url, headers=auth, query_string={"since": "2025-02-01T00:00:00Z"})
    millennia = client.get(
        url,
        headers=auth,
        query_string={"since": "1000-01-01T00:00:00Z", "until": "3000-01-01T00:00:00Z"},
    )

    assert a_year.status_code == 200 and len(a_year.get_json()) > 365
    assert millennia.status_code == 422
    assert "at most 400 days" in millennia.get_json()["message"]


def test_a_period_whose_days_fall_outside_the_calendar_is_refused_not_an_error(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    """Found by the API's fuzzing: the first hour of 1 AD is still 1 BC in Chicago."""
    circle = _circle(session, clock)
    auth = {"Authorization": f"Bearer {token_for(session, clock, 'robin@example.org')}"}
    first_hours = {"since": "0001-01-01T01:00:01Z", "until": "0001-01-01T13:00:28Z"}
    thirty_days_before_1_ad = {"until": "0001-01-05T00:00:00Z"}

    answers = [
        client.get(f"/api/v1/groups/{circle.id}/{path}", headers=auth, query_string=query)
        for path in ("stats", "stats/daily")
        for query in (first_hours, thirty_days_before_1_ad)
    ]

    assert [a.status_code for a in answers] == [422] * 4
    assert {a.get_json()["message"] for a in answers} == {
        "the period's days must fall within the years 1 to 9999"
    }


def test_peerline_quiet_lists_the_quiet_members_with_masked_numbers(
    runner: FlaskCliRunner, session: Session, clock: Clock
) -> None:
    _circle(session, clock)

    shown = invoke(runner, "quiet", "--group", "circle", "--weeks", "2")
    nobody = invoke(runner, "quiet", "--group", "circle", "--weeks", "1")

    assert "Ana Quiet\t+1******0122" in shown.output and "never" in shown.output
    assert "Lee Texter" in shown.output and "Sam Circle" not in shown.output
    assert "+12025550122" not in shown.output
    assert "Sam Circle" not in nobody.output


def test_the_chart_names_its_first_and_last_day_in_the_groups_zone(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _circle(session, clock)
    sign_in(client, "robin@example.org")

    chart = client.get("/").text.split("<svg", 1)[1].split("</svg>", 1)[0]

    assert ">1 Feb</text>" in chart and ">3 Mar</text>" in chart


def test_today_keeps_each_groups_days_and_quiet_people_apart_in_each_groups_zone(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = _circle(session, clock)
    harbor = make_group(session, "HARBOR", timezone="Asia/Tokyo")  # Robin's too
    kai = make_participant(session, "+12025550155", harbor, name="Kai Harbor")
    _joined_long_ago(session, kai, clock)
    _sent(session, harbor, clock.now - timedelta(hours=1), OutboxState.DELIVERED)
    session.commit()
    sign_in(client, "robin@example.org")

    page = client.get("/").text
    ours = page.split(f'aria-labelledby="group-{circle.id}"', 1)[1].split("</section>", 1)[0]
    theirs = page.split(f'aria-labelledby="group-{harbor.id}"', 1)[1].split("</section>", 1)[0]

    assert "4 sent, 2 delivered, 1 failed; 0 people opted out" in ours
    assert "Ana Quiet" in ours and "Kai Harbor" not in ours
    assert "1 sent, 1 delivered, 0 failed; 0 people opted out" in theirs
    assert "Kai Harbor" in theirs and "Ana Quiet" not in theirs
    # 4 PM UTC on 3 March is 1 AM on 4 March in Tokyo: the text counts on Harbor's own day.
    days = theirs.split("Each day, in Asia/Tokyo time", 1)[1]
    assert '<th scope="row">Wednesday 4 March</th><td>1</td><td>1</td><td>0</td><td>0</td>' in days
