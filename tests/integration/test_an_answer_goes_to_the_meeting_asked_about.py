"""Someone in two groups who answers C or N answers the meeting their last reminder was about,
not whichever of their groups meets first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.models import (
    Channel,
    Group,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Participant,
    Rsvp,
)
from tests.support import Clock, make_group, make_participant, make_schedule, text_in

NOW = datetime(2026, 3, 3, 20, 0, tzinfo=UTC)  # Tuesday 3 pm in New York
SAM = "+12025550142"


@pytest.fixture
def groups(session: Session, clock: Clock) -> tuple[Group, Group]:
    clock.now = NOW
    circle = make_group(session, "CIRCLE")  # meets tonight, Tuesday 18:30
    make_schedule(session, circle)
    harbor = make_group(session, "HARBOR")  # meets tomorrow, Wednesday 18:30
    make_schedule(session, harbor, rule="FREQ=WEEKLY;BYDAY=WE", first=datetime(2026, 3, 4, 18, 30))
    return circle, harbor


def _reminded(
    session: Session, person: Participant, group: Group, key: str, ago: timedelta
) -> None:
    """A reminder of one of the group's meetings went to the person ago."""
    session.add(
        OutboxMessage(
            send_key=f"test:{group.id}:{key}",
            kind=OutboxKind.REMINDER,
            channel=Channel.SMS,
            participant_id=person.id,
            group_id=group.id,
            occurrence_key=key,
            body="See you tomorrow? Reply C or N.",
            state=OutboxState.DELIVERED,
            due_at=NOW - ago,
            sent_at=NOW - ago,
            created_at=NOW - ago,
            updated_at=NOW - ago,
        )
    )
    session.commit()


def _answers(session: Session) -> set[tuple[int, str, str]]:
    session.expire_all()
    return {(r.group_id, r.occurrence_key, r.answer.value) for r in session.scalars(select(Rsvp))}


def test_a_c_to_the_later_groups_reminder_answers_that_group(
    client: FlaskClient, session: Session, groups: tuple[Group, Group]
) -> None:
    circle, harbor = groups
    sam = make_participant(session, SAM, circle, harbor)
    _reminded(session, sam, harbor, "20260304T1830", ago=timedelta(hours=1))

    answer = text_in(client, SAM, "C").get_data(as_text=True)

    assert "Harbor Group tomorrow at 6:30 PM" in answer
    assert _answers(session) == {(harbor.id, "20260304T1830", "yes")}


def test_without_a_reminder_the_first_meeting_is_answered(
    client: FlaskClient, session: Session, groups: tuple[Group, Group]
) -> None:
    circle, harbor = groups
    make_participant(session, SAM, circle, harbor)

    answer = text_in(client, SAM, "N").get_data(as_text=True)

    assert "Circle Group today at 6:30 PM" in answer
    assert _answers(session) == {(circle.id, "20260303T1830", "no")}


def test_a_reminder_of_a_meeting_that_is_over_answers_the_next_one(
    client: FlaskClient, session: Session, groups: tuple[Group, Group]
) -> None:
    circle, harbor = groups
    sam = make_participant(session, SAM, circle, harbor)
    _reminded(session, sam, harbor, "20260225T1830", ago=timedelta(days=6))  # last week's

    text_in(client, SAM, "C")

    assert _answers(session) == {(circle.id, "20260303T1830", "yes")}


def test_a_reminder_from_a_group_they_left_is_not_answered(
    client: FlaskClient, session: Session, groups: tuple[Group, Group], clock: Clock
) -> None:
    circle, harbor = groups
    sam = make_participant(session, SAM, circle, harbor)
    _reminded(session, sam, harbor, "20260304T1830", ago=timedelta(hours=1))
    text_in(client, SAM, "LEAVE HARBOR")

    text_in(client, SAM, "C")

    assert _answers(session) == {(circle.id, "20260303T1830", "yes")}
