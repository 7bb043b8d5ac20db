"""Past meetings' answers, kept for good: the CLI and the API, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.campaigns.headcount import record_answer
from service.campaigns.meetings import cancel_meeting
from service.models import Group, Membership, Participant
from service.people.erasure import erase_participant
from tests.api import get, two_coordinators
from tests.support import Clock, invoke, make_participant, make_schedule

# The clock starts Tuesday 2026-03-03 at 12:00 in New York; CIRCLE meets Tuesdays at 18:30.
TONIGHT, NEXT_WEEK = "20260303T1830", "20260310T1830"
TONIGHT_BEGAN = datetime(2026, 3, 3, 23, 31, tzinfo=UTC)  # 18:31 in New York
LONG_AGO = datetime(2026, 2, 1, tzinfo=UTC)


def circle_with_answers(session: Session, clock: Clock) -> tuple[Group, Group, str, Participant]:
    """Robin's CIRCLE: Sam coming, Lucia not, Ana coming, Bo silent, all members since February."""
    mine, theirs, robin, _ = two_coordinators(session, clock)
    make_schedule(session, mine)
    sam = session.scalars(select(Participant).where(Participant.name == "Sam Rivera")).one()
    lucia = make_participant(session, "+12025550145", mine, name="Lucia")
    ana = make_participant(session, "+12025550146", mine, name="Ana")
    make_participant(session, "+12025550147", mine, name="Bo")
    session.execute(update(Membership).values(created_at=LONG_AGO))
    for person, coming in ((sam, True), (lucia, False), (ana, True)):
        record_answer(session, person.id, mine.id, TONIGHT, coming, clock.now)
    session.commit()
    return mine, theirs, robin, ana


def test_answers_stay_readable_after_the_meeting_began_and_a_week_later(
    runner: FlaskCliRunner, session: Session, clock: Clock
) -> None:
    mine, *_ = circle_with_answers(session, clock)
    late = make_participant(
        session, "+12025550148", mine, name="Dee"
    )  # joins after tonight's meeting
    session.execute(
        update(Membership)
        .where(Membership.participant_id == late.id)
        .values(created_at=TONIGHT_BEGAN + timedelta(days=1))
    )
    session.commit()

    before = invoke(runner, "attendance", "--group", "CIRCLE")
    clock.now = TONIGHT_BEGAN
    during = invoke(runner, "attendance", "--group", "CIRCLE")
    clock.now = TONIGHT_BEGAN + timedelta(weeks=1)
    later = invoke(runner, "attendance", "--group", "CIRCLE")

    assert before.exit_code == 0
    assert "no meetings of CIRCLE in the last 8 week(s)" in before.output
    tonight = (
        "Tue 2026-03-03 18:30  coming 2, not coming 1, no answer 1  (20260303T1830)\n"
        "    coming: Ana, Sam Rivera\n"
        "    not coming: Lucia\n"
        "    no answer: Bo\n"
    )
    assert during.output == tonight
    assert later.output == (
        "Tue 2026-03-10 18:30  coming 0, not coming 0, no answer 5  (20260310T1830)\n"
        "    no answer: Ana, Bo, Dee, Lucia, Sam Rivera\n" + tonight
    )


def test_a_cancelled_meeting_shows_as_cancelled(
    client: FlaskClient, runner: FlaskCliRunner, session: Session, clock: Clock
) -> None:
    mine, _, robin, _ = circle_with_answers(session, clock)
    cancel_meeting(session, mine, NEXT_WEEK, now=clock.now, actor="api:robin@example.org")
    session.commit()
    clock.now = TONIGHT_BEGAN + timedelta(weeks=2)

    status, meetings = get(client, f"/api/v1/groups/{mine.id}/attendance?weeks=3", robin)
    printed = invoke(runner, "attendance", "--group", "CIRCLE", "--weeks", "3")

    assert status == 200
    assert [(m["key"], m["cancelled"], m["coming"]) for m in meetings] == [
        ("20260317T1830", False, 0),
        (NEXT_WEEK, True, 0),
        (TONIGHT, False, 2),
    ]
    assert meetings[0]["starts_at"].startswith("2026-03-17T18:30:00-04:00")
    assert "Tue 2026-03-10 18:30  cancelled  (20260310T1830)" in printed.output


def test_an_erased_persons_answer_counts_without_a_name(
    client: FlaskClient, runner: FlaskCliRunner, session: Session, clock: Clock
) -> None:
    mine, _, robin, ana = circle_with_answers(session, clock)
    clock.now = TONIGHT_BEGAN
    erase_participant(session, ana, clock.now)  # after the meeting: her answer to it stays
    session.commit()

    status, meetings = get(client, f"/api/v1/groups/{mine.id}/attendance", robin)
    printed = invoke(runner, "attendance", "--group", "CIRCLE")

    assert status == 200
    [tonight] = meetings
    assert (tonight["coming"], tonight["coming_names"]) == (2, ["Sam Rivera"])
    assert (tonight["not_coming"], tonight["not_coming_names"]) == (1, ["Lucia"])
    assert tonight["no_answer"] == 1  # Bo; Ana's answer stays, and she is no longer a member
    assert tonight["no_answer_names"] == ["Bo"]
    assert "    coming: Sam Rivera, 1 without a name\n" in printed.output
    assert "+1202555" not in printed.output


def test_another_groups_coordinator_gets_404(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, theirs, robin, _ = circle_with_answers(session, clock)
    make_schedule(session, theirs)
    clock.now = TONIGHT_BEGAN

    assert get(client, f"/api/v1/groups/{theirs.id}/attendance", robin)[0] == 404
    assert get(client, f"/api/v1/groups/{mine.id}/attendance?weeks=0", robin)[0] == 422
    assert get(client, f"/api/v1/groups/{mine.id}/attendance", robin)[0] == 200
