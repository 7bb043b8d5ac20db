"""What one incoming text costs the database: each kind of text, its answer and its statements.

A reply waits on its database round trips; under a burst of answers to a broadcast they are
most of its time (bench/webhook_bench.py). These bounds hold the work a text needs and no
more: the person with their memberships and groups in one query, the text and its reply
written once each, no savepoint for a reply whose key is the text's own unique MessageSid,
no question whether a MessageSid was seen before unless writing it clashed, and for a C or
an N the groups' schedules and their changes in that same query and the answer in one upsert.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from service.db import sessions
from service.models import (
    CampaignKind,
    ConsentState,
    InboundMessage,
    OutboxKind,
    OutboxMessage,
    Rsvp,
)
from tests.integration.test_metrics import statements_run
from tests.support import (
    Clock,
    make_campaign,
    make_group,
    make_participant,
    make_schedule,
    new_sid,
    reloaded,
    text_in,
)

SAM, STRANGER = "+12025550142", "+12025550177"

# (what Sam texts, words its answer holds, the most statements it may take)
TEXTS = [
    ("C", "down as coming to Circle Group today at 6:30 PM", 4),
    ("N", "Thanks for letting us know", 4),
    ("HELP", "Reply STOP", 3),
    ("How do I get there?", "got your message", 4),
    ("STOP", "You are unsubscribed", 6),
]


@pytest.fixture
def member(clock: Clock, session: Session) -> None:
    clock.now = datetime(2026, 3, 3, 20, 0, tzinfo=UTC)  # Tuesday 3 pm in New York
    group = make_group(session, "CIRCLE")
    make_schedule(session, group)  # Tuesdays 18:30
    make_campaign(session, group, CampaignKind.REMINDER, offsets=["2h"], rsvp=True)
    make_participant(session, SAM, group)


def _engine(app: Flask) -> Engine:
    engine: Engine = sessions(app).kw["bind"]
    return engine


@pytest.mark.usefixtures("member")
@pytest.mark.parametrize(("body", "answer", "most"), TEXTS, ids=[t[0] for t in TEXTS])
def test_a_members_text_is_answered_in_few_statements(
    app: Flask, client: FlaskClient, body: str, answer: str, most: int
) -> None:
    with statements_run(_engine(app)) as ran:
        response = text_in(client, SAM, body)
    assert response.status_code == 200
    assert answer in response.get_data(as_text=True)
    assert len(ran) <= most, [s.sql[:80] for s in ran]
    assert not any("SAVEPOINT" in s.sql for s in ran)


@pytest.mark.usefixtures("member")
def test_a_strangers_help_costs_three_statements(app: Flask, client: FlaskClient) -> None:
    with statements_run(_engine(app)) as ran:
        response = text_in(client, STRANGER, "HELP")
    assert "Reply STOP" in response.get_data(as_text=True)
    assert len(ran) <= 3, [s.sql[:80] for s in ran]


@pytest.mark.usefixtures("member")
def test_a_c_is_recorded_and_a_second_answer_replaces_it(
    client: FlaskClient, session: Session
) -> None:
    text_in(client, SAM, "C")
    text_in(client, SAM, "N")
    answers = session.scalars(select(Rsvp)).all()
    assert [(a.answer.value, a.occurrence_key) for a in answers] == [("no", "20260303T1830")]
    texts = session.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()
    assert [t.group_id for t in texts] == [answers[0].group_id] * 2  # filed under their group


@pytest.mark.usefixtures("member")
def test_twilios_retry_of_a_handled_text_is_answered_with_nothing_and_changes_nothing(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    sid = new_sid()
    assert "You are unsubscribed" in text_in(client, SAM, "STOP", sid=sid).get_data(as_text=True)
    counts = (
        session.scalar(select(func.count()).select_from(InboundMessage)),
        session.scalar(select(func.count()).select_from(OutboxMessage)),
    )

    with statements_run(_engine(app)) as ran:
        retry = text_in(client, SAM, "START", sid=sid)  # the same MessageSid, other words

    assert retry.status_code == 200
    assert "<Message>" not in retry.get_data(as_text=True)
    assert reloaded(session, SAM).consent is ConsentState.REVOKED
    assert counts == (
        session.scalar(select(func.count()).select_from(InboundMessage)),
        session.scalar(select(func.count()).select_from(OutboxMessage)),
    )
    # The first try clashed on the MessageSid and was rolled back; the second asked.
    assert sum("FROM inbound_messages WHERE" in " ".join(s.sql.split()) for s in ran) == 1
    replies = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.REPLY))
    assert len(replies.all()) == 1
