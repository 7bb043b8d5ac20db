"""Coordinators' texts through the real twilio-python client to a local Twilio-compatible server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.app import create_app
from service.db import sessions
from service.models import (
    ConsentChange,
    ConsentEvent,
    ConsentSource,
    ConsentState,
    OutboxMessage,
    OutboxState,
    Participant,
)
from service.sending.gateway import TwilioGateway
from tests.support import PUBLIC_URL, Clock, invoke, make_group, make_participant, make_settings
from tests.twilio_fake import TwilioFakeServer

SAM, ALEX, JORDAN = "+12025550142", "+12025550143", "+12025550144"


@pytest.fixture
def twilio_app(database_url: str, twilio_server: TwilioFakeServer) -> Iterator[Flask]:
    """The app as configured in production, with Twilio's API at the local server."""
    app = create_app(make_settings(database_url, TWILIO_API_BASE_URL=twilio_server.base_url))
    assert isinstance(app.extensions["peerline.gateway"], TwilioGateway)
    # The tests' afternoon, not the machine's hour: at night a group's quiet hours hold texts.
    app.extensions["peerline.clock"] = Clock()
    yield app
    sessions(app).kw["bind"].dispose()


@pytest.fixture
def db(twilio_app: Flask) -> Iterator[Session]:
    with sessions(twilio_app)() as session:
        yield session


def test_send_reaches_each_consenting_member_once_and_no_one_else(
    twilio_app: Flask, db: Session, twilio_server: TwilioFakeServer
) -> None:
    circle = make_group(db, "CIRCLE")
    make_participant(db, SAM, circle)
    make_participant(db, ALEX, circle)
    make_participant(db, JORDAN, circle, consent=ConsentState.REVOKED)

    result = invoke(twilio_app.test_cli_runner(), "send", "--group", "CIRCLE", "Room 5 tonight")

    assert result.exit_code == 0, result.output
    received = sorted(twilio_server.messages, key=lambda m: m.params["To"])
    assert [m.params["To"] for m in received] == [SAM, ALEX]
    assert all(m.params["Body"] == "Room 5 tonight" for m in received)
    assert all(m.params["From"] == "+15005550006" for m in received)
    rows = {r.provider_sid: r for r in db.scalars(select(OutboxMessage))}
    for message in received:
        row = rows[message.sid]
        assert row.state is OutboxState.SENT
        assert message.params["StatusCallback"] == f"{PUBLIC_URL}/twilio/sms/status?outbox={row.id}"
        assert 0 < int(str(message.params["ValidityPeriod"])) <= 4 * 3600


def test_error_21610_from_twilio_records_an_opt_out_and_nothing_more_goes(
    twilio_app: Flask, db: Session, twilio_server: TwilioFakeServer
) -> None:
    circle = make_group(db, "CIRCLE")
    make_participant(db, SAM, circle)
    make_participant(db, ALEX, circle)
    twilio_server.fail(400, 21610, to=SAM)
    runner = twilio_app.test_cli_runner()

    first = invoke(runner, "send", "--group", "CIRCLE", "See you Tuesday")

    assert first.exit_code == 1  # a failure is reported, not hidden
    assert "1 sent" in first.output and "1 failed" in first.output
    db.expire_all()
    sam = db.scalar(select(Participant).where(Participant.phone == SAM))
    assert sam is not None and sam.consent is ConsentState.REVOKED
    event = db.scalars(select(ConsentEvent).where(ConsentEvent.participant_id == sam.id)).one()
    assert (event.change, event.source) == (ConsentChange.OPT_OUT, ConsentSource.PROVIDER_ERROR)
    failed = db.scalars(select(OutboxMessage).where(OutboxMessage.participant_id == sam.id)).one()
    assert (failed.state, failed.error_code) == (OutboxState.FAILED, 21610)

    requests_before = twilio_server.requests_received
    second = invoke(runner, "send", "--group", "CIRCLE", "Room 5 tonight")

    assert second.exit_code == 0
    assert twilio_server.requests_received == requests_before + 1  # Alex only; Sam not even tried
    assert [m.params["To"] for m in twilio_server.messages] == [ALEX, ALEX]
