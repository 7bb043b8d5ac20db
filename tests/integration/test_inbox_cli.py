"""`peerline inbox`: what needs a human, urgent first; replies go through the outbox."""

from __future__ import annotations

from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.models import InboundMessage, OutboxKind, OutboxMessage
from tests.support import RecordingGateway, invoke, make_group, make_participant, text_in

SAM, ALEX = "+12025550142", "+12025550143"


def inbox_ids(session: Session) -> dict[str, int]:
    session.expire_all()
    return {m.body: m.id for m in session.scalars(select(InboundMessage))}


def test_the_inbox_lists_urgent_messages_first_and_hides_full_numbers(
    runner: FlaskCliRunner, client: FlaskClient, session: Session
) -> None:
    circle = make_group(session, "CIRCLE", on_call_phone="+12025550100")
    make_participant(session, SAM, circle, name="Sam Rivera")
    make_participant(session, ALEX, circle, name="Alex Kim")
    text_in(client, SAM, "can I bring a friend next week?")
    text_in(client, ALEX, "I want to die tonight")

    listing = invoke(runner, "inbox").output.splitlines()

    assert "I want to die tonight" in listing[1] and "URGENT" in listing[1]
    assert "can I bring a friend next week?" in listing[2]
    assert SAM not in "\n".join(listing) and "+1******0142" in listing[2]
    assert "Sam Rivera" in listing[2]


def test_a_reply_goes_by_text_and_marks_the_message_read(
    runner: FlaskCliRunner,
    client: FlaskClient,
    session: Session,
    gateway: RecordingGateway,
) -> None:
    make_participant(session, SAM, make_group(session, "CIRCLE"))
    text_in(client, SAM, "can I bring a friend next week?")
    message_id = inbox_ids(session)["can I bring a friend next week?"]

    result = invoke(runner, "inbox", "reply", str(message_id), "Of course, see you Tuesday")

    assert result.exit_code == 0, result.output
    assert gateway.to(SAM)[-1] == "Of course, see you Tuesday"
    assert "reply to message" in result.output and "sent" in result.output
    session.expire_all()
    assert session.get_one(InboundMessage, message_id).read
    assert invoke(runner, "inbox", "--unread").output.strip() == "nothing waiting"


def test_a_reply_to_someone_who_opted_out_is_refused_with_a_clear_message(
    runner: FlaskCliRunner,
    client: FlaskClient,
    session: Session,
    gateway: RecordingGateway,
) -> None:
    make_participant(session, SAM, make_group(session, "CIRCLE"))
    text_in(client, SAM, "can I bring a friend next week?")
    text_in(client, SAM, "STOP")
    message_id = inbox_ids(session)["can I bring a friend next week?"]
    sent_before = len(gateway.sent)

    result = invoke(runner, "inbox", "reply", str(message_id), "Of course!")

    assert result.exit_code != 0
    assert "not sent: this person opted out (STOP)" in result.output
    assert len(gateway.sent) == sent_before
    session.expire_all()
    assert (
        session.scalars(select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.ONE_OFF)).all()
        == []
    )


def test_marking_read_and_unknown_messages(
    runner: FlaskCliRunner, client: FlaskClient, session: Session
) -> None:
    make_participant(session, SAM, make_group(session, "CIRCLE"))
    text_in(client, SAM, "running late")
    message_id = inbox_ids(session)["running late"]

    assert invoke(runner, "inbox", "read", str(message_id)).exit_code == 0
    missing = invoke(runner, "inbox", "reply", "999", "hello")

    assert "nothing waiting" in invoke(runner, "inbox", "--unread").output
    assert missing.exit_code != 0 and "no message 999 in the inbox" in missing.output


def test_a_text_that_may_ask_to_stop_is_listed_after_the_urgent_ones_marked_and_explained(
    runner: FlaskCliRunner, client: FlaskClient, session: Session
) -> None:
    circle = make_group(session, "CIRCLE")
    make_participant(session, SAM, circle, name="Sam Rivera")
    make_participant(session, ALEX, circle, name="Alex Kim")
    text_in(client, SAM, "too many texts")
    text_in(client, SAM, "can I bring a friend next week?")
    text_in(client, ALEX, "I want to die tonight")

    listing = invoke(runner, "inbox").output.splitlines()

    assert listing[0].split("\t")[:2] == ["ID", "FLAGS"]
    assert "I want to die tonight" in listing[1] and "URGENT" in listing[1]
    assert "too many texts" in listing[2] and listing[2].split("\t")[1] == "MAYBE STOP"
    assert "can I bring a friend next week?" in listing[3] and listing[3].split("\t")[1] == ""
    assert "MAYBE STOP: the words may ask us to stop all texts and calls" in listing[-1]
    assert "nothing was stopped" in listing[-1]


def test_a_message_marked_handled_no_longer_waits(
    runner: FlaskCliRunner, client: FlaskClient, session: Session
) -> None:
    make_participant(session, SAM, make_group(session, "CIRCLE"))
    text_in(client, SAM, "can I bring a friend next week?")
    message_id = inbox_ids(session)["can I bring a friend next week?"]

    result = invoke(runner, "inbox", "handled", str(message_id))

    assert result.exit_code == 0, result.output
    assert "marked handled" in result.output
    assert invoke(runner, "inbox").output.strip() == "nothing waiting"
