"""One rule for a coordinator's words at every door: `send`, campaigns, inbox replies, the API."""

from __future__ import annotations

from datetime import UTC, datetime

from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.cli.main import cli
from service.models import Campaign, InboundMessage, Membership, OutboxMessage
from tests.api import get, post, two_coordinators
from tests.support import (
    Clock,
    RecordingGateway,
    invoke,
    make_group,
    make_participant,
    text_in,
)

SAM, ALEX, KIM = "+12025550142", "+12025550143", "+12025550144"
PLAIN = "{{ first_name }}, {{ group }}"
TOO_LONG = "This message is 2000 characters long; a text holds at most 1600."


def outbox_rows(session: Session) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


def inbox_id(session: Session, body: str) -> int:
    session.expire_all()
    return session.scalars(select(InboundMessage.id).where(InboundMessage.body == body)).one()


# -- peerline send -------------------------------------------------------------------------------


def test_send_fills_in_each_members_name_as_their_group_knows_them(
    runner: FlaskCliRunner, session: Session, gateway: RecordingGateway
) -> None:
    circle = make_group(session, "CIRCLE")
    make_participant(session, SAM, circle, name="Sam Rivera")
    make_participant(session, ALEX, circle, name=None)
    kim = make_participant(session, KIM, circle, name="Kimberly Ortiz")
    session.scalars(
        select(Membership).where(Membership.participant_id == kim.id)
    ).one().name = "Kim O."  # the group's own name for her
    session.commit()

    result = invoke(runner, "send", "--group", "CIRCLE", "Hi {{ first_name }}, room 5 tonight.")

    assert result.exit_code == 0, result.output
    assert gateway.to(SAM) == ["Hi Sam, room 5 tonight."]
    assert gateway.to(ALEX) == ["Hi there, room 5 tonight."]
    assert gateway.to(KIM) == ["Hi Kim, room 5 tonight."]
    assert (
        "CIRCLE: 25 characters, 1 segment, GSM-7." in result.output
    )  # "Hi there": the longest copy


def test_send_refuses_a_misspelt_variable_and_queues_nothing(
    runner: FlaskCliRunner, session: Session, gateway: RecordingGateway
) -> None:
    make_participant(session, SAM, make_group(session, "CIRCLE"))

    result = invoke(runner, "send", "--group", "CIRCLE", "Hi {{ nme }}")

    assert result.exit_code != 0
    assert f"not sent: Unknown variable {{{{ nme }}}}; use one of {PLAIN}." in result.output
    assert gateway.sent == [] and outbox_rows(session) == 0


def test_send_refuses_two_thousand_characters_and_queues_nothing(
    runner: FlaskCliRunner, session: Session, gateway: RecordingGateway
) -> None:
    make_participant(session, SAM, make_group(session, "CIRCLE"))

    result = invoke(runner, "send", "--group", "CIRCLE", "a" * 2000)

    assert result.exit_code != 0
    assert f"not sent: {TOO_LONG}" in result.output
    assert gateway.sent == [] and outbox_rows(session) == 0


def test_send_shows_the_character_that_makes_it_ucs2_before_it_goes(
    runner: FlaskCliRunner, session: Session, gateway: RecordingGateway
) -> None:
    make_participant(session, SAM, make_group(session, "CIRCLE"))
    text = "We\u2019re in room 5 tonight. " + "a" * 150

    result = invoke(runner, "send", "--group", "CIRCLE", text)

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        "CIRCLE: 175 characters, 3 segments; \u2019 (U+2019) makes this UCS-2: "
        "3 segments instead of 2."
    )
    assert "1 sent" in lines[1]
    assert gateway.to(SAM) == [text]


def test_at_night_the_cost_is_shown_before_the_question_and_no_queues_nothing(
    runner: FlaskCliRunner, session: Session, clock: Clock, gateway: RecordingGateway
) -> None:
    make_participant(session, SAM, make_group(session, "CIRCLE"))
    clock.now = datetime(2026, 3, 4, 4, 0, tzinfo=UTC)  # 23:00 in New York

    declined = runner.invoke(
        cli, ["send", "--group", "CIRCLE", "--at-night", "Hi {{ first_name }}"], input="n\n"
    )

    assert declined.exit_code != 0
    cost = declined.output.index("CIRCLE: 6 characters, 1 segment, GSM-7.")
    assert cost < declined.output.index("It is night for 1 member(s) of CIRCLE")
    assert gateway.sent == [] and outbox_rows(session) == 0


# -- campaigns -----------------------------------------------------------------------------------


def test_campaigns_create_refuses_two_thousand_characters(
    runner: FlaskCliRunner, session: Session
) -> None:
    make_participant(session, SAM, make_group(session, "CIRCLE"))

    result = invoke(
        runner, "campaigns", "create", "--group", "CIRCLE", "--kind", "broadcast",
        "--name", "Long", "--at", "now", "--wording-en", "a" * 2000,
    )  # fmt: skip

    assert result.exit_code != 0
    assert f"--wording-en: {TOO_LONG}" in result.output
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_campaigns_create_shows_what_each_text_costs(
    runner: FlaskCliRunner, session: Session
) -> None:
    make_participant(session, SAM, make_group(session, "CIRCLE"))

    result = invoke(
        runner, "campaigns", "create", "--group", "CIRCLE", "--kind", "broadcast",
        "--name", "Room", "--at", "now", "--wording-en", "Hi {{ first_name }}, room 7 now.",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "--wording-en: 25 characters, 1 segment, GSM-7." in result.output


# -- inbox replies -------------------------------------------------------------------------------


def test_an_inbox_reply_has_the_same_rule_and_limit_as_every_text(
    runner: FlaskCliRunner, client: FlaskClient, session: Session, gateway: RecordingGateway
) -> None:
    make_participant(session, SAM, make_group(session, "CIRCLE"), name="Sam Rivera")
    text_in(client, SAM, "can I bring a friend?")
    message = inbox_id(session, "can I bring a friend?")
    long_answer = "Of course, {{ first_name }}! " + "a" * 900  # past the old 640

    refused = invoke(runner, "inbox", "reply", str(message), "Hi {{ nme }}")
    too_long = invoke(runner, "inbox", "reply", str(message), "a" * 2000)
    before = outbox_rows(session)
    answered = invoke(runner, "inbox", "reply", str(message), long_answer)

    assert refused.exit_code != 0 and too_long.exit_code != 0
    assert f"not sent: Unknown variable {{{{ nme }}}}; use one of {PLAIN}." in refused.output
    assert f"not sent: {TOO_LONG}" in too_long.output
    assert before == 1  # only the automatic acknowledgement
    assert answered.exit_code == 0, answered.output
    assert "916 characters, 6 segments, GSM-7." in answered.output
    assert gateway.to(SAM)[-1] == "Of course, Sam! " + "a" * 900


# -- the API -------------------------------------------------------------------------------------


def test_the_api_refuses_the_same_words_with_the_same_sentences(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)
    text_in(client, SAM, "can I bring a friend?")
    message = inbox_id(session, "can I bring a friend?")
    broadcast = {"group_id": mine.id, "kind": "broadcast", "name": "Room"}
    before = outbox_rows(session)

    for words, sentence in (
        ("Hi {{ nme }}", f"Unknown variable {{{{ nme }}}}; use one of {PLAIN}."),
        ("a" * 2000, TOO_LONG),
    ):
        status, problem = post(
            client, "/api/v1/campaigns", robin, {**broadcast, "wording": {"en": words}}
        )
        assert (status, problem["details"]["json"]) == (422, {"wording.en": [sentence]})
        status, problem = post(client, f"/api/v1/inbox/{message}/reply", robin, {"text": words})
        assert (status, problem["details"]["json"]) == (422, {"text": [sentence]})

    assert get(client, "/api/v1/campaigns", robin)[1] == []
    assert outbox_rows(session) == before


def test_the_api_returns_what_a_text_costs_where_it_is_created(
    client: FlaskClient, session: Session, clock: Clock, gateway: RecordingGateway
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)
    text_in(client, SAM, "can I bring a friend?")
    message = inbox_id(session, "can I bring a friend?")

    status, campaign = post(
        client, "/api/v1/campaigns", robin,
        {"group_id": mine.id, "kind": "broadcast", "name": "Room",
         "wording": {"en": "Hi {{ first_name }}, room 7 now.",
                     "es": "Hola {{ first_name }}, ahora en la sala 7 \u2013 " + "a" * 30}},
    )  # fmt: skip
    status_reply, reply = post(
        client, f"/api/v1/inbox/{message}/reply", robin, {"text": "Yes, {{ first_name }}!"}
    )

    assert status == 201
    assert campaign["words"]["en"] == {
        "characters": 25,
        "segments": 1,
        "encoding": "GSM-7",
        "ucs2_character": None,
        "summary": "25 characters, 1 segment, GSM-7.",
    }
    assert campaign["words"]["es"]["ucs2_character"] == "\u2013"
    assert campaign["words"]["es"]["summary"].endswith(
        "\u2013 (U+2013) makes this UCS-2: still 1 segment."
    )
    assert status_reply == 202
    assert reply["words"]["summary"] == "9 characters, 1 segment, GSM-7."  # "Yes, Sam!"
