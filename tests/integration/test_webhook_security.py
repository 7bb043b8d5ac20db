"""Webhook signatures, malformed input and privacy in logs."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from scheduler.dispatcher import dispatch_due
from service import logs
from service.config import Settings
from service.models import Base, InboundMessage, OutboxMessage
from tests.support import (
    PUBLIC_URL,
    Clock,
    invoke,
    make_group,
    make_participant,
    make_settings,
    new_sid,
    sign,
    text_in,
)

SAM = "+12025550142"
ON_CALL = "+12025550100"


def params(**overrides: str) -> dict[str, str]:
    return {
        "MessageSid": new_sid(),
        "AccountSid": "AC" + "a" * 32,
        "From": SAM,
        "To": "+15005550006",
        "Body": "STOP",
        **overrides,
    }


def row_counts(session: Session) -> dict[str, int]:
    session.expire_all()
    return {
        table.name: session.scalar(select(func.count()).select_from(table)) or 0
        for table in Base.metadata.sorted_tables
    }


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Twilio-Signature": ""},
        {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
        {"X-Twilio-Signature": sign(PUBLIC_URL + "/twilio/sms", params(), "wrong-token")},
    ],
    ids=["missing", "empty", "garbage", "other-token"],
)
def test_unsigned_or_forged_requests_get_403_and_store_nothing(
    client: FlaskClient, session: Session, headers: dict[str, str]
) -> None:
    make_participant(session, SAM, make_group(session))
    before = row_counts(session)

    response = client.post("/twilio/sms", data=params(), headers=headers)

    assert response.status_code == 403
    assert row_counts(session) == before


def test_a_signature_over_changed_parameters_is_refused(
    client: FlaskClient, session: Session
) -> None:
    make_participant(session, SAM, make_group(session))
    signed_for = params(Body="hello")
    tampered = {**signed_for, "Body": "STOP"}

    response = client.post(
        "/twilio/sms",
        data=tampered,
        headers={"X-Twilio-Signature": sign(PUBLIC_URL + "/twilio/sms", signed_for)},
    )

    assert response.status_code == 403
    assert session.scalar(select(func.count()).select_from(InboundMessage)) == 0


def test_behind_a_proxy_only_the_public_url_validates(
    client: FlaskClient, session: Session
) -> None:
    # The test client arrives at http://localhost/...; Twilio signed https://peerline.example.org.
    internal = params(Body="HELP")
    as_seen_inside = client.post(
        "/twilio/sms",
        data=internal,
        headers={"X-Twilio-Signature": sign("http://localhost/twilio/sms", internal)},
    )
    assert as_seen_inside.status_code == 403

    public = params(Body="HELP")
    as_twilio_signed = client.post(
        "/twilio/sms",
        data=public,
        headers={"X-Twilio-Signature": sign(PUBLIC_URL + "/twilio/sms", public)},
    )
    assert as_twilio_signed.status_code == 200


def test_without_a_public_url_the_request_url_is_what_is_checked(
    database_url: str, app_factory: Callable[[Settings], Flask]
) -> None:
    client = app_factory(make_settings(database_url, PEERLINE_PUBLIC_URL="")).test_client()
    form = params(Body="HELP")

    response = client.post(
        "/twilio/sms?x=1",
        data=form,
        headers={"X-Twilio-Signature": sign("http://localhost/twilio/sms?x=1", form)},
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"MessageSid": ""}, "MessageSid is missing"),
        ({"MessageSid": "SM123"}, "MessageSid is malformed"),
        ({"MessageSid": "XX" + "0" * 32}, "MessageSid is malformed"),
        ({"From": "not-a-phone"}, "From is not an E.164"),
        ({"From": "+1202555014"}, "From is not an E.164"),
        ({"From": "+1" + "2" * 40}, "From is too long"),
        ({"Body": "x" * 1601}, "Body is too long"),
        ({"FromCity": "y" * 5000}, "a field is too long"),
    ],
)
def test_garbage_fields_get_400_not_500_and_store_nothing(
    client: FlaskClient, session: Session, overrides: dict[str, str], problem: str
) -> None:
    make_participant(session, SAM, make_group(session))
    before = row_counts(session)
    form = params(**overrides)

    response = client.post(
        "/twilio/sms",
        data=form,
        headers={"X-Twilio-Signature": sign(PUBLIC_URL + "/twilio/sms", form)},
    )

    assert response.status_code == 400
    assert problem in response.json["message"]  # type: ignore[index]
    assert row_counts(session) == before


def test_a_huge_request_is_refused_before_it_is_read(client: FlaskClient) -> None:
    form = params(Body="x" * 100_000)
    response = client.post(
        "/twilio/sms",
        data=form,
        headers={"X-Twilio-Signature": sign(PUBLIC_URL + "/twilio/sms", form)},
    )
    assert response.status_code == 413


def test_an_accepted_unknown_parameter_is_fine(client: FlaskClient) -> None:
    # Twilio adds parameters without notice; they are signed like the rest and must not break us.
    response = text_in(client, SAM, "HELP", SomethingNew="42", ToCountry="US")
    assert response.status_code == 200


def test_no_full_phone_number_appears_in_any_log_line(
    app: Flask,
    client: FlaskClient,
    session: Session,
    runner: FlaskCliRunner,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    make_group(session, "CIRCLE", on_call_phone=ON_CALL)
    newcomer = "+12025550177"
    caplog.set_level(logging.DEBUG)

    for body in ["JOIN CIRCLE", "YES", "HELP", "hello there", "I want to die", "STOP", "START"]:
        assert text_in(client, newcomer, body).status_code == 200
    dispatch_due(app)
    invoke(runner, "participants", "add", "--phone", "(202) 555-0188", "--group", "CIRCLE")
    invoke(runner, "send", "--group", "CIRCLE", "See you Tuesday")
    invoke(runner, "participants", "list")

    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "+1******0177" in logged  # the masked form is there, so the check below means something
    digits = re.sub(r"\D", "", logged)
    for phone in (newcomer, ON_CALL, "+12025550188"):
        assert phone[1:] not in digits, f"{phone} leaked into the logs"


def test_a_database_error_mid_conversation_logs_its_traceback_without_the_number(
    client: FlaskClient, session: Session
) -> None:
    """What reaches the log is the formatted line, traceback included: the driver's error
    quotes the statement, and SQLAlchemy would quote its parameters (the number) with it."""
    make_group(session, "CIRCLE")
    newcomer = "+12025550177"
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text(
                "CREATE FUNCTION refuse_people() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'no new people today'; END $$"
            )
        )
        session.execute(
            text(
                "CREATE TRIGGER refuse_people BEFORE INSERT ON participants "
                "FOR EACH ROW EXECUTE FUNCTION refuse_people()"
            )
        )
    else:
        session.execute(
            text(
                "CREATE TRIGGER refuse_people BEFORE INSERT ON participants "
                "BEGIN SELECT RAISE(ABORT, 'no new people today'); END"
            )
        )
    session.commit()
    written = io.StringIO()
    capture = logs.handler(written)
    logging.getLogger().addHandler(capture)
    try:
        text_in(client, newcomer, "JOIN CIRCLE")
    finally:
        logging.getLogger().removeHandler(capture)
        session.rollback()
        if session.get_bind().dialect.name == "postgresql":  # the next test's database too
            session.execute(text("DROP TRIGGER refuse_people ON participants"))
            session.execute(text("DROP FUNCTION refuse_people()"))
            session.commit()

    logged = written.getvalue()
    assert "Traceback" in logged and "no new people today" in logged  # the error is all there
    digits = re.sub(r"\D", "", logged)
    assert newcomer[2:] not in digits, f"{newcomer} leaked into a traceback"


def test_health_and_readiness(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").json == {"status": "ok", "database": "ok"}


def test_readiness_fails_when_the_database_is_unreachable(
    app_factory: Callable[[Settings], Flask],
) -> None:
    settings = make_settings("postgresql+psycopg://nobody@127.0.0.1:1/none")
    client = app_factory(settings).test_client()

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "database": "unreachable"}


def test_an_unknown_route_answers_json_for_twilio_paths(client: FlaskClient) -> None:
    response = client.post("/twilio/nope")
    assert response.status_code == 404
    assert response.json["error"] == "Not Found"  # type: ignore[index]


def test_outbox_rows_are_untouched_by_forged_status_callbacks(
    client: FlaskClient, session: Session
) -> None:
    response = client.post(
        "/twilio/sms/status?outbox=1",
        data={"MessageSid": new_sid(), "MessageStatus": "delivered"},
    )
    assert response.status_code == 403
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
