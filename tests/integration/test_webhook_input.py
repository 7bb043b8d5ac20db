"""Signed requests carrying what no real Twilio request would: each gets a considered answer.

One test for each request an independent probe answered with a 500 (or read wrongly), then a
property test that throws signed random requests at every Twilio route.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.models import (
    Base,
    Channel,
    ConsentState,
    Group,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Participant,
    Role,
)
from tests.api import token_for
from tests.support import (
    Clock,
    make_group,
    make_participant,
    new_sid,
    post_signed,
    reloaded,
    text_in,
)

SAM = "+12025550142"
NOW = datetime(2026, 3, 3, 17, 0, tzinfo=UTC)


def row_counts(session: Session) -> dict[str, int]:
    session.expire_all()
    return {
        table.name: session.scalar(select(func.count()).select_from(table)) or 0
        for table in Base.metadata.sorted_tables
    }


def sent_row(
    session: Session,
    person: Participant,
    group: Group,
    *,
    sid: str | None,
    channel: Channel = Channel.SMS,
    key: str = "one",
) -> OutboxMessage:
    row = OutboxMessage(
        send_key=key,
        kind=OutboxKind.ONE_OFF if channel is Channel.SMS else OutboxKind.REMINDER,
        channel=channel,
        participant_id=person.id,
        group_id=group.id,
        body="See you Tuesday",
        state=OutboxState.SENT,
        provider_sid=sid,
        due_at=NOW,
        created_at=NOW,
        updated_at=NOW,
        sent_at=NOW,
    )
    session.add(row)
    session.commit()
    return row


def message_status(sid: str, status: str = "delivered", **extra: str) -> dict[str, str]:
    return {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC" + "a" * 32, **extra}


def call_status(sid: str, status: str = "completed", **extra: str) -> dict[str, str]:
    return {"CallSid": sid, "CallStatus": status, "AccountSid": "AC" + "a" * 32, **extra}


# -- the reproducers ----------------------------------------------------------------------------


@pytest.mark.parametrize("outbox", ["2147483648", "99999999999999999999", "%C2%B2", "-1", "0"])
@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/twilio/sms/status", message_status(new_sid())),
        ("/twilio/voice/status", call_status(new_sid("CA"))),
    ],
    ids=["sms", "voice"],
)
def test_a_row_id_that_cannot_be_ours_is_an_unknown_row(
    client: FlaskClient, session: Session, outbox: str, path: str, form: dict[str, str]
) -> None:
    before = row_counts(session)

    response = post_signed(client, f"{path}?outbox={outbox}", form)

    assert response.status_code == 200  # "not ours": Twilio need not try again
    assert row_counts(session) == before


def test_a_stop_with_a_nul_in_it_still_stops(client: FlaskClient, session: Session) -> None:
    make_participant(session, SAM, make_group(session))

    response = text_in(client, SAM, "STOP\x00")

    assert response.status_code == 200
    assert reloaded(session, SAM).consent is ConsentState.REVOKED


@pytest.mark.parametrize("answered_by", ["human\x00", "machine_start\x01"])
def test_a_control_character_in_answered_by_is_refused_on_a_status_callback(
    client: FlaskClient, session: Session, answered_by: str
) -> None:
    group = make_group(session)
    row = sent_row(session, make_participant(session, SAM, group), group, sid=None)
    row.channel = Channel.VOICE
    session.commit()
    before = row_counts(session)

    response = post_signed(
        client,
        f"/twilio/voice/status?outbox={row.id}",
        call_status(new_sid("CA"), AnsweredBy=answered_by),
    )

    assert response.status_code == 400
    assert row_counts(session) == before
    session.refresh(row)
    assert row.provider_sid is None and row.answered_by is None


@pytest.mark.parametrize("call_sid", ["CA" + "0" * 31 + "\x00", "CA123", "SM" + "0" * 32])
def test_a_malformed_call_sid_is_refused(
    client: FlaskClient, session: Session, call_sid: str
) -> None:
    before = row_counts(session)

    response = post_signed(client, "/twilio/voice/status", call_status(call_sid))

    assert response.status_code == 400
    assert "CallSid" in response.json["message"]  # type: ignore[index]
    assert row_counts(session) == before


def test_a_malformed_call_sid_on_a_reminder_call_is_an_apology_not_a_crash(
    client: FlaskClient, session: Session
) -> None:
    group = make_group(session)
    row = sent_row(
        session, make_participant(session, SAM, group), group, sid=None, channel=Channel.VOICE
    )

    response = post_signed(
        client,
        f"/twilio/voice/reminder?outbox={row.id}",
        {"CallSid": "CA\x00", "AnsweredBy": "human", "From": "+15005550006", "To": SAM},
    )

    assert response.status_code == 200
    assert "<Say" in response.text and "<Hangup" in response.text
    session.refresh(row)
    assert row.provider_sid is None


@pytest.mark.parametrize("code", ["²", "٢١٦١٠", "21610x", "1e5", "99999999999"])
def test_an_error_code_that_is_not_ascii_digits_is_refused_and_opts_nobody_out(
    client: FlaskClient, session: Session, code: str
) -> None:
    group = make_group(session)
    sid = new_sid()
    sent_row(session, make_participant(session, SAM, group), group, sid=sid)
    before = row_counts(session)

    response = post_signed(
        client, "/twilio/sms/status", message_status(sid, "failed", ErrorCode=code)
    )

    assert response.status_code == 400
    assert row_counts(session) == before
    assert reloaded(session, SAM).consent is ConsentState.GRANTED


def test_a_status_whose_sid_is_on_another_row_is_not_about_this_one(
    client: FlaskClient, session: Session
) -> None:
    group = make_group(session)
    sam = make_participant(session, SAM, group)
    taken = new_sid()
    first = sent_row(session, sam, group, sid=taken, key="first")
    second = sent_row(session, sam, group, sid=None, key="second")

    response = post_signed(
        client, f"/twilio/sms/status?outbox={second.id}", message_status(taken, "delivered")
    )

    assert response.status_code == 200
    session.refresh(first)
    session.refresh(second)
    assert second.provider_sid is None and second.state is OutboxState.SENT
    assert first.state is OutboxState.DELIVERED  # the report is about the row that has its SID


def test_a_call_status_whose_sid_is_on_another_row_is_not_about_this_one(
    client: FlaskClient, session: Session
) -> None:
    group = make_group(session)
    sam = make_participant(session, SAM, group)
    taken = new_sid("CA")
    first = sent_row(session, sam, group, sid=taken, channel=Channel.VOICE, key="first")
    second = sent_row(session, sam, group, sid=None, channel=Channel.VOICE, key="second")

    response = post_signed(
        client, f"/twilio/voice/status?outbox={second.id}", call_status(taken, "completed")
    )

    assert response.status_code == 200
    session.refresh(first)
    session.refresh(second)
    assert second.provider_sid is None and second.state is OutboxState.SENT
    assert first.state is OutboxState.DELIVERED


@pytest.mark.parametrize("depth", [400, 5000])
def test_a_json_body_nested_too_deep_is_refused_with_422(
    client: FlaskClient, session: Session, clock: Clock, depth: int
) -> None:
    token = token_for(session, clock, "admin@example.org", Role.ADMIN)
    before = row_counts(session)
    nested = '{"group_id": 1, "phone": "' + SAM + '", "name": ' + "[" * depth + "]" * depth + "}"

    response = client.post(
        "/api/v1/participants",
        data=nested,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code in (400, 422)
    assert "nested" in json.dumps(response.json) or response.status_code == 400
    assert row_counts(session) == before


# -- signed random requests at every route -------------------------------------------------------

# Values near the edges: every kind of digit, control characters, ids past the range, real
# shapes, and whatever hypothesis thinks of.
ODD = st.sampled_from(
    [
        "",
        "\x00",
        "STOP\x00",
        "²",
        "٢١٦١٠",
        "21610",
        "30006",
        "2147483648",
        "-1",
        SAM,
        "+1202555014",
        "CA" + "a" * 32,
        "SM" + "a" * 32,
        "machine_start",
        "human",
        "delivered",
        "failed",
        "busy",
        "no-answer",
        "1",
        "2",
        "9",
        "#",
        "STOP",
        "YES",
        "JOIN CIRCLE",
    ]
)
VALUES = st.one_of(ODD, st.text(max_size=40))
NAMES = [
    "MessageSid",
    "CallSid",
    "From",
    "To",
    "Body",
    "MessageStatus",
    "CallStatus",
    "ErrorCode",
    "AnsweredBy",
    "Digits",
    "OptOutType",
]


def valid_requests(session: Session) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """For each Twilio route, a request it would take as it is: form and query."""
    group = make_group(session)
    group.keypad_code = "246810"
    sam = make_participant(session, SAM, group)
    text = sent_row(session, sam, group, sid=new_sid(), key="text")
    call = sent_row(session, sam, group, sid=None, channel=Channel.VOICE, key="call")
    asking = sent_row(session, sam, group, sid=None, channel=Channel.VOICE, key="call-back")
    asking.kind = OutboxKind.INVITATION
    session.commit()
    caller = {"CallSid": new_sid("CA"), "From": SAM, "To": "+15005550006"}
    stranger = {**caller, "From": "+12025550199"}
    assert text.provider_sid is not None
    return {
        "/twilio/sms": (
            {"MessageSid": new_sid(), "From": SAM, "To": "+15005550006", "Body": "HELP"},
            {},
        ),
        "/twilio/sms/status": (
            {"MessageSid": text.provider_sid, "MessageStatus": "failed", "ErrorCode": "30003"},
            {"outbox": str(text.id)},
        ),
        "/twilio/voice/status": (
            {"CallSid": new_sid("CA"), "CallStatus": "completed", "AnsweredBy": "human"},
            {"outbox": str(call.id)},
        ),
        "/twilio/voice": (caller, {}),
        "/twilio/voice/reminder": (
            {**caller, "AnsweredBy": "human"},
            {"outbox": str(call.id)},
        ),
        "/twilio/voice/reminder/key": (
            {**caller, "Digits": "1"},
            {"outbox": str(call.id), "try": "1"},
        ),
        "/twilio/voice/menu": (
            {**caller, "Digits": "1"},
            {"lang": "en", "try": "1", "channel": "sms"},
        ),
        "/twilio/voice/call-back": (
            {**caller, "AnsweredBy": "human"},
            {"outbox": str(asking.id)},
        ),
        "/twilio/voice/call-back/key": (
            {**caller, "Digits": "1"},
            {"outbox": str(asking.id), "try": "1", "lang": "es"},
        ),
        "/twilio/voice/join": ({**stranger, "Digits": "246810"}, {"lang": "en", "try": "1"}),
        "/twilio/voice/join/confirm": (
            {**stranger, "Digits": "1"},
            {"group": str(group.id), "lang": "es", "try": "1"},
        ),
    }


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@pytest.mark.slow
@given(data=st.data())
def test_no_signed_request_gets_a_server_error_and_a_refused_one_changes_nothing(
    client: FlaskClient, session: Session, caplog: pytest.LogCaptureFixture, data: st.DataObject
) -> None:
    """Each example takes a request a route would accept and changes a few of its parameters
    to odd values: every answer is considered (no 5xx, and no error hidden behind a caller's
    apology), and a refusal writes nothing."""
    if session.scalar(select(func.count()).select_from(Group)) == 0:
        session.info["valid"] = valid_requests(session)
    route = data.draw(st.sampled_from(sorted(session.info["valid"])), label="route")
    form, query = session.info["valid"][route]
    form = {**form, **data.draw(st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=3))}
    query = {
        **query,
        **data.draw(
            st.dictionaries(
                st.sampled_from(["outbox", "lang", "try", "group", "channel"]), VALUES, max_size=2
            )
        ),
    }
    before = row_counts(session)
    caplog.clear()

    response = post_signed(client, f"{route}?{urlencode(query)}" if query else route, form)

    assert response.status_code < 500, response.text
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    if response.status_code >= 400:
        assert row_counts(session) == before
