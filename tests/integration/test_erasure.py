"""Erasing a participant: nothing of them is left to identify them, and the counts remain."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from scheduler.dispatcher import dispatch_due
from service.models import (
    Base,
    ConsentEvent,
    ConsentState,
    InboundMessage,
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
    text_in,
)

SAM, ALEX = "+12025550142", "+12025550143"


def every_value(session: Session) -> str:
    """Every value in every table, as one text to search."""
    found: list[str] = []
    for table in Base.metadata.sorted_tables:
        query = text(f'SELECT * FROM "{table.name}"')  # noqa: S608 - names from our metadata
        for row in session.execute(query):
            found.extend(str(value) for value in row)
    return "\n".join(found)


def test_erasing_leaves_no_phone_name_or_words_and_keeps_the_counts(
    app: Flask,
    runner: FlaskCliRunner,
    client: FlaskClient,
    session: Session,
    clock: Clock,
    gateway: RecordingGateway,
) -> None:
    circle = make_group(session, "CIRCLE")
    make_participant(session, SAM, circle, name="Samantha Quillfeather")
    make_participant(session, ALEX, circle, name="Alex Rivera")
    invoke(runner, "send", "--group", "CIRCLE", "Room 5 tonight")
    text_in(client, SAM, "running late, my sponsor Dana is driving")
    text_in(client, SAM, "STOP")
    dispatch_due(app)
    sent_before = session.scalar(
        select(func.count()).where(OutboxMessage.state == OutboxState.SENT)
    )

    result = invoke(runner, "participants", "erase", "--phone", SAM, "--yes")

    assert result.exit_code == 0, result.output
    assert SAM not in result.output and "+1******0142 erased" in result.output
    session.expire_all()
    everything = every_value(session)
    for trace in (SAM, "2025550142", "Samantha", "Quillfeather", "sponsor Dana", "STOP"):
        assert trace not in everything, trace
    assert "Alex Rivera" in everything and ALEX in everything  # only Sam is forgotten
    # The counts remain: the texts sent, the messages received, the consent history.
    assert (
        session.scalar(select(func.count()).where(OutboxMessage.state == OutboxState.SENT))
        == sent_before
    )
    assert session.scalar(select(func.count()).select_from(InboundMessage)) == 2
    [stop] = session.scalars(select(ConsentEvent)).all()  # the opt-out, as a keyed hash
    assert stop.participant_id is None and stop.words is None and stop.phone_hash


def test_an_erased_number_that_opted_out_stays_opted_out_when_imported_again(
    runner: FlaskCliRunner, client: FlaskClient, session: Session, tmp_path: Path
) -> None:
    make_participant(session, SAM, make_group(session, "CIRCLE"))
    text_in(client, SAM, "STOP")
    invoke(runner, "participants", "erase", "--phone", SAM, "--yes")
    roster = tmp_path / "roster.csv"
    roster.write_text(f"phone,name\n{SAM},Sam Again\n", encoding="utf-8")

    result = invoke(runner, "import", str(roster), "--group", "CIRCLE", "--apply")

    assert result.exit_code == 0, result.output
    session.expire_all()
    again = session.scalars(select(Participant).where(Participant.phone == SAM)).one()
    assert again.consent is ConsentState.REVOKED
    assert (
        session.scalars(select(OutboxMessage).where(OutboxMessage.participant_id == again.id)).all()
        == []
    )  # no welcome text to someone who said STOP


def test_erasing_an_unknown_number_is_a_clear_error(
    runner: FlaskCliRunner, session: Session
) -> None:
    result = invoke(runner, "participants", "erase", "--phone", "(202) 555-0199", "--yes")

    assert result.exit_code != 0
    assert "no participant has the number '(202) 555-0199'" in result.output
