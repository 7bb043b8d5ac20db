"""One-off sends from the command line, and Twilio's status callbacks."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from scheduler.dispatcher import dispatch_due
from service.models import (
    ConsentChange,
    ConsentEvent,
    ConsentSource,
    ConsentState,
    MembershipStatus,
    OutboxMessage,
    OutboxState,
    Participant,
)
from service.sending.gateway import GatewayError
from tests.support import (
    METRICS_TOKEN,
    PUBLIC_URL,
    Clock,
    RecordingGateway,
    invoke,
    make_group,
    make_participant,
    new_sid,
    post_signed,
    text_in,
)

SAM, ALEX, JORDAN, LUCIA = "+12025550142", "+12025550143", "+12025550144", "+12025550145"


def rows(session: Session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def status(
    client: FlaskClient, row: OutboxMessage | None, sid: str, state: str, **extra: str
) -> int:
    query = f"?outbox={row.id}" if row else ""
    form = {"MessageSid": sid, "MessageStatus": state, "AccountSid": "AC" + "a" * 32, **extra}
    return post_signed(client, "/twilio/sms/status" + query, form).status_code


def queue_for_retry(
    session: Session, runner: FlaskCliRunner, gateway: RecordingGateway, text: str
) -> None:
    """Send text to a group of one whose first attempt Twilio rate-limited: it waits to retry."""
    make_participant(session, SAM, make_group(session, "CIRCLE"))
    gateway.failures[SAM] = GatewayError("rate limited", code=20429, retryable=True)
    invoke(runner, "send", "--group", "CIRCLE", text)
    del gateway.failures[SAM]
    assert rows(session)[0].state is OutboxState.QUEUED


def test_send_reaches_every_consenting_member_and_nobody_else(
    runner: FlaskCliRunner, session: Session, gateway: RecordingGateway
) -> None:
    circle, other = make_group(session, "CIRCLE"), make_group(session, "OTHER")
    make_participant(session, SAM, circle)
    make_participant(session, ALEX, circle)
    make_participant(session, JORDAN, circle, consent=ConsentState.REVOKED)
    make_participant(session, LUCIA, circle, status=MembershipStatus.PENDING)
    make_participant(session, "+12025550146", other)

    result = invoke(runner, "send", "--group", "circle", "Meeting moved to room 5 tonight")

    assert result.exit_code == 0, result.output
    assert "CIRCLE: 2 sent" in result.output
    assert sorted(t.to for t in gateway.sent) == [SAM, ALEX]
    sent = [r for r in rows(session) if r.state is OutboxState.SENT]
    assert all(r.provider_sid and r.sent_at for r in sent)
    callback = gateway.sent[0].status_callback
    assert callback == f"{PUBLIC_URL}/twilio/sms/status?outbox={sent[0].id}"
    assert gateway.sent[0].validity_period == 4 * 3600


def test_consent_is_checked_when_the_text_goes_not_when_it_was_planned(
    app: Flask,
    clock: Clock,
    runner: FlaskCliRunner,
    session: Session,
    gateway: RecordingGateway,
) -> None:
    circle = make_group(session, "CIRCLE")
    make_participant(session, SAM, circle)
    gateway.failures[SAM] = GatewayError("rate limited", code=20429, retryable=True)
    invoke(runner, "send", "--group", "CIRCLE", "hello")
    assert rows(session)[0].state is OutboxState.QUEUED
    del gateway.failures[SAM]
    # Consent changes after planning, by a path that does not touch the outbox.
    session.execute(update(Participant).values(consent=ConsentState.REVOKED))
    session.commit()

    clock.now += timedelta(minutes=5)
    dispatch_due(app)

    assert gateway.to(SAM) == []
    row = rows(session)[0]
    assert (row.state, row.state_reason) == (OutboxState.SUPPRESSED, "opted out")


def test_a_stop_cancels_what_is_already_queued(
    app: Flask,
    clock: Clock,
    runner: FlaskCliRunner,
    session: Session,
    client: FlaskClient,
    gateway: RecordingGateway,
) -> None:
    queue_for_retry(session, runner, gateway, "hello")

    text_in(client, SAM, "STOP")
    clock.now += timedelta(minutes=5)
    dispatch_due(app)

    assert gateway.to(SAM) == []
    assert rows(session)[0].state is OutboxState.SUPPRESSED


def test_a_retried_send_goes_out_once_when_it_is_due(
    app: Flask,
    clock: Clock,
    runner: FlaskCliRunner,
    session: Session,
    gateway: RecordingGateway,
) -> None:
    queue_for_retry(session, runner, gateway, "hello")

    assert dispatch_due(app) == 0  # backing off: not due yet
    clock.now += timedelta(seconds=10)
    assert dispatch_due(app) == 1
    assert dispatch_due(app) == 0

    assert gateway.to(SAM) == ["hello"]
    assert rows(session)[0].attempts == 2


def test_a_queued_text_past_its_window_expires_instead_of_going_late(
    app: Flask,
    clock: Clock,
    runner: FlaskCliRunner,
    session: Session,
    gateway: RecordingGateway,
) -> None:
    queue_for_retry(session, runner, gateway, "tonight at 6")

    clock.now += timedelta(hours=5)
    dispatch_due(app)

    assert gateway.to(SAM) == []
    assert rows(session)[0].state is OutboxState.EXPIRED


def test_the_same_key_never_sends_twice(
    runner: FlaskCliRunner, session: Session, gateway: RecordingGateway
) -> None:
    make_participant(session, SAM, make_group(session, "CIRCLE"))

    first = invoke(runner, "send", "--group", "CIRCLE", "--key", "tuesday", "See you")
    second = invoke(runner, "send", "--group", "CIRCLE", "--key", "tuesday", "See you")

    assert first.exit_code == 0 and second.exit_code == 0
    assert "nothing to send" in second.output
    assert gateway.to(SAM) == ["See you"]


def test_provider_refusals_end_in_the_right_state(
    runner: FlaskCliRunner, session: Session, gateway: RecordingGateway
) -> None:
    circle = make_group(session, "CIRCLE")
    for phone in (SAM, ALEX, JORDAN, LUCIA):
        make_participant(session, phone, circle)
    gateway.failures[SAM] = GatewayError("unsubscribed", code=21610, status=400)
    gateway.failures[ALEX] = GatewayError("busy", code=20429, status=429, retryable=True)
    gateway.failures[JORDAN] = GatewayError("timeout", may_have_sent=True)
    gateway.failures[LUCIA] = GatewayError("not mobile", code=21614, status=400)

    result = invoke(runner, "send", "--group", "CIRCLE", "hello")

    assert result.exit_code == 1  # a failed or unknown send is not a quiet success
    state = {
        session.get(Participant, r.participant_id).phone: r.state  # type: ignore[union-attr]
        for r in rows(session)
    }
    assert state == {
        SAM: OutboxState.FAILED,
        ALEX: OutboxState.QUEUED,  # retried later by the dispatcher
        JORDAN: OutboxState.UNKNOWN,  # never resent blindly
        LUCIA: OutboxState.FAILED,
    }
    sam = session.scalar(select(Participant).where(Participant.phone == SAM))
    lucia = session.scalar(select(Participant).where(Participant.phone == LUCIA))
    assert sam is not None and lucia is not None
    assert sam.consent is ConsentState.REVOKED
    assert lucia.landline and lucia.consent is ConsentState.GRANTED
    event = session.scalars(select(ConsentEvent).where(ConsentEvent.participant_id == sam.id)).one()
    assert (event.change, event.source) == (ConsentChange.OPT_OUT, ConsentSource.PROVIDER_ERROR)


def test_status_callbacks_move_rows_forward_only(
    runner: FlaskCliRunner, session: Session, client: FlaskClient
) -> None:
    make_participant(session, SAM, make_group(session, "CIRCLE"))
    invoke(runner, "send", "--group", "CIRCLE", "hello")
    row = rows(session)[0]
    assert row.provider_sid is not None
    sid = row.provider_sid

    assert status(client, row, sid, "sent") == 200
    assert rows(session)[0].state is OutboxState.SENT
    assert status(client, row, sid, "delivered") == 200
    assert rows(session)[0].state is OutboxState.DELIVERED
    # Callbacks can arrive out of order; delivered never goes back to sent.
    assert status(client, row, sid, "sent") == 200
    assert status(client, row, sid, "queued") == 200
    assert rows(session)[0].state is OutboxState.DELIVERED


def test_a_callback_settles_a_row_whose_send_outcome_was_unknown(
    runner: FlaskCliRunner, session: Session, client: FlaskClient, gateway: RecordingGateway
) -> None:
    make_participant(session, SAM, make_group(session, "CIRCLE"))
    gateway.failures[SAM] = GatewayError("read timeout", may_have_sent=True)
    invoke(runner, "send", "--group", "CIRCLE", "hello")
    row = rows(session)[0]
    assert row.state is OutboxState.UNKNOWN and row.provider_sid is None

    sid = new_sid()
    assert status(client, row, sid, "delivered") == 200

    settled = rows(session)[0]
    assert settled.state is OutboxState.DELIVERED
    assert settled.provider_sid == sid


@pytest.mark.parametrize(
    ("code", "opted_out", "landline"),
    [
        ("21610", True, False),
        ("30006", False, True),
        ("21614", False, True),
        ("30003", False, False),
    ],
)
def test_error_codes_in_callbacks_teach_us_about_the_number(
    runner: FlaskCliRunner,
    session: Session,
    client: FlaskClient,
    code: str,
    opted_out: bool,
    landline: bool,
) -> None:
    make_participant(session, SAM, make_group(session, "CIRCLE"))
    invoke(runner, "send", "--group", "CIRCLE", "hello")
    row = rows(session)[0]

    assert status(client, row, row.provider_sid or "", "undelivered", ErrorCode=code) == 200

    session.expire_all()
    sam = session.scalar(select(Participant).where(Participant.phone == SAM))
    assert sam is not None
    assert (sam.consent is ConsentState.REVOKED) is opted_out
    assert sam.landline is landline
    assert rows(session)[0].state is OutboxState.UNDELIVERED
    assert rows(session)[0].error_code == int(code)


def test_a_callback_for_an_unknown_message_is_accepted_and_ignored(
    client: FlaskClient, session: Session
) -> None:
    assert status(client, None, new_sid(), "delivered") == 200
    assert rows(session) == []


def test_a_callback_naming_another_row_does_not_touch_it(
    runner: FlaskCliRunner, session: Session, client: FlaskClient
) -> None:
    make_participant(session, SAM, make_group(session, "CIRCLE"))
    invoke(runner, "send", "--group", "CIRCLE", "hello")
    row = rows(session)[0]

    assert status(client, row, new_sid(), "failed", ErrorCode="21610") == 200

    assert rows(session)[0].state is OutboxState.SENT
    sam = session.scalar(select(Participant).where(Participant.phone == SAM))
    assert sam is not None and sam.consent is ConsentState.GRANTED


@pytest.mark.parametrize(
    "form",
    [
        {"MessageSid": "nope", "MessageStatus": "delivered"},
        {"MessageSid": "SM" + "0" * 32, "MessageStatus": ""},
        {"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered", "ErrorCode": "abc"},
    ],
)
def test_malformed_callbacks_get_400(client: FlaskClient, form: dict[str, str]) -> None:
    assert post_signed(client, "/twilio/sms/status", form).status_code == 400


def test_metrics_and_status_report_the_outbox(
    runner: FlaskCliRunner,
    session: Session,
    client: FlaskClient,
    gateway: RecordingGateway,
    clock: Clock,
) -> None:
    circle = make_group(session, "CIRCLE")
    make_participant(session, SAM, circle)
    make_participant(session, ALEX, circle)
    make_participant(session, JORDAN, circle)
    gateway.failures[ALEX] = GatewayError("rate limited", code=20429, retryable=True)
    gateway.failures[JORDAN] = GatewayError("timeout", may_have_sent=True)
    invoke(runner, "send", "--group", "CIRCLE", "hello")
    clock.now += timedelta(minutes=1)  # Alex's retry (5 s, jittered by 20%) is 54-56 s overdue
    scraper = {"Authorization": f"Bearer {METRICS_TOKEN}"}

    page = client.get("/metrics/outbox", headers=scraper)

    assert page.status_code == 200
    assert page.mimetype == "text/plain"
    text = page.text
    assert 'peerline_outbox_messages{kind="one_off",state="queued"} 1.0' in text
    assert 'peerline_outbox_messages{kind="one_off",state="unknown"} 1.0' in text
    assert 'peerline_outbox_messages{kind="one_off",state="sending"} 0.0' in text
    assert "peerline_outbox_due 1.0" in text
    lateness = re.search(r"^peerline_outbox_lateness_seconds (\S+)$", text, re.M)
    assert lateness is not None and 54 <= float(lateness[1]) <= 56
    # Jordan's unknown row waits for its status callback before Twilio's records are read.
    assert "peerline_outbox_lookups_due 0.0" in text

    # This process's own counts: what its dispatcher did, how late the hand-overs were, and
    # the rows it moved past the queue.
    text = client.get("/metrics", headers=scraper).text
    for outcome in ("sent", "retry", "unknown"):
        assert f'peerline_dispatch_outcomes_total{{outcome="{outcome}"}} 1.0' in text
    assert "peerline_dispatch_lateness_seconds_count 2.0" in text  # Sam's and Jordan's
    assert 'peerline_outbox_settled_total{kind="one_off",state="sent"} 1.0' in text

    status = invoke(runner, "status").output
    assert "sent\tone_off\t1" in status and "unknown\tone_off\t1" in status
    assert re.search(r"due now: 1 \(most overdue by 5[456] s\)", status)
    assert "sent in the last 15 min: 2, due to handed over p50 0.0 s, p99 0.0 s" in status
