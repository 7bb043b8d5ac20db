"""End-to-end tests of TwilioGateway: the real twilio-python client against a local fake Twilio."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from service.config import Settings
from service.sending.gateway import GatewayError, OutgoingText, Receipt, TwilioGateway
from tests.twilio_fake import OPENAPI_SPEC, TwilioFakeServer

ACCOUNT_SID = "AC5f3c0e2a9b7d41e68c2f0a1b3d5e7f90"
AUTH_TOKEN = "fake-auth-token"
FROM_NUMBER = "+14155550100"
SERVICE_SID = "MG0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f"
PARTICIPANT = "+14155550123"
OTHER_PARTICIPANT = "+12025550143"
CALLBACK = "https://peerline.example.org/webhooks/twilio/status"
OTHER_ACCOUNT_SID = "AC" + "1" * 32
VALID_TEXT = {"To": PARTICIPANT, "From": FROM_NUMBER, "Body": "Hello"}
VALID_CALL = {"To": PARTICIPANT, "From": FROM_NUMBER, "Twiml": "<Response/>"}

REMINDER = OutgoingText(
    to=PARTICIPANT,
    body="Peerline: your group meets tonight at 7. Reply STOP to opt out.",
    status_callback=CALLBACK,
    validity_period=3600,
)


def make_gateway(
    base_url: str, *, sender: dict[str, str] | None = None, timeout: float = 10.0
) -> TwilioGateway:
    env = {
        "PEERLINE_DATABASE_URL": "sqlite://",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_BASE_URL": base_url,
        "TWILIO_TIMEOUT": str(timeout),
        **(sender or {"TWILIO_FROM_NUMBER": FROM_NUMBER}),
    }
    return TwilioGateway(Settings.from_env(env, mode="test"))


def raw_client(server: TwilioFakeServer) -> Client:
    client = Client(ACCOUNT_SID, AUTH_TOKEN)
    client.api.base_url = server.base_url
    return client


def post(
    server: TwilioFakeServer,
    resource: str,
    data: Mapping[str, str | list[str]],
    *,
    account: str = ACCOUNT_SID,
    auth: tuple[str, str] | None = (ACCOUNT_SID, AUTH_TOKEN),
) -> requests.Response:
    url = f"{server.base_url}/2010-04-01/Accounts/{account}/{resource}.json"
    return requests.post(url, data=data, auth=auth, timeout=5)


def facts(error: GatewayError) -> tuple[int | None, int | None, bool, bool]:
    """What the outbox acts on: Twilio's code, the HTTP status, retry now, or reconcile first."""
    return error.code, error.status, error.retryable, error.may_have_sent


def documented_response(name: str) -> dict[str, Any]:
    document = json.loads(OPENAPI_SPEC.read_text(encoding="utf-8"))
    schema: dict[str, Any] = document["components"]["schemas"][f"api.v2010.account.{name}"]
    return schema


@pytest.mark.parametrize(
    ("sender_env", "sender_param"),
    [
        ({"TWILIO_FROM_NUMBER": FROM_NUMBER}, {"From": FROM_NUMBER}),
        ({"TWILIO_MESSAGING_SERVICE_SID": SERVICE_SID}, {"MessagingServiceSid": SERVICE_SID}),
    ],
    ids=["from-number", "messaging-service"],
)
def test_a_text_reaches_twilio_once_as_sent(
    twilio_server: TwilioFakeServer, sender_env: dict[str, str], sender_param: dict[str, str]
) -> None:
    receipt = make_gateway(twilio_server.base_url, sender=sender_env).send_text(REMINDER)

    (message,) = twilio_server.messages
    assert twilio_server.requests_received == 1
    assert message.account_sid == ACCOUNT_SID
    assert dict(message.params) == {
        "To": PARTICIPANT,
        "Body": REMINDER.body,
        "StatusCallback": CALLBACK,
        "ValidityPeriod": "3600",
        **sender_param,
    }
    assert receipt == Receipt(sid=message.sid, status="queued")


@pytest.mark.parametrize(("asked", "sent"), [(0, "1"), (86_400, "36000")])
def test_a_validity_period_outside_twilios_range_is_clamped_so_twilio_takes_it(
    twilio_server: TwilioFakeServer, asked: int, sent: str
) -> None:
    make_gateway(twilio_server.base_url).send_text(replace(REMINDER, validity_period=asked))

    (message,) = twilio_server.messages
    assert message.params["ValidityPeriod"] == sent


def test_an_unsubscribed_recipient_is_refused_for_good(twilio_server: TwilioFakeServer) -> None:
    twilio_server.fail(400, 21610, to=PARTICIPANT)
    gateway = make_gateway(twilio_server.base_url)

    with pytest.raises(GatewayError) as refused:
        gateway.send_text(REMINDER)
    gateway.send_text(replace(REMINDER, to=OTHER_PARTICIPANT))

    assert facts(refused.value) == (21610, 400, False, False)
    assert [message.params["To"] for message in twilio_server.messages] == [OTHER_PARTICIPANT]
    assert twilio_server.requests_received == 2


def test_an_invalid_number_is_refused_for_good(twilio_server: TwilioFakeServer) -> None:
    with pytest.raises(GatewayError) as refused:
        make_gateway(twilio_server.base_url).send_text(replace(REMINDER, to="+1415555"))

    assert facts(refused.value) == (21211, 400, False, False)
    assert twilio_server.messages == []
    assert twilio_server.requests_received == 1


def test_rate_limiting_is_retryable_and_the_retry_is_sent_once(
    twilio_server: TwilioFakeServer,
) -> None:
    twilio_server.fail(429, 20429, times=1)
    gateway = make_gateway(twilio_server.base_url)

    with pytest.raises(GatewayError) as limited:
        gateway.send_text(REMINDER)
    assert facts(limited.value) == (20429, 429, True, False)
    assert twilio_server.messages == []

    receipt = gateway.send_text(REMINDER)
    (message,) = twilio_server.messages
    assert receipt.sid == message.sid
    assert twilio_server.requests_received == 2


@pytest.mark.parametrize("created", [False, True], ids=["not-created", "created"])
def test_a_server_error_may_have_sent_so_it_is_not_retried(
    twilio_server: TwilioFakeServer, created: bool
) -> None:
    # Twilio may have created the message before failing; the caller cannot tell which.
    twilio_server.fail(500, 20500, times=1, after_recording=created)

    with pytest.raises(GatewayError) as failed:
        make_gateway(twilio_server.base_url).send_text(REMINDER)

    assert facts(failed.value) == (20500, 500, False, True)
    assert len(twilio_server.messages) == int(created)


def test_an_answer_slower_than_the_timeout_may_have_sent(twilio_server: TwilioFakeServer) -> None:
    # The answer would come after a minute (or when the server stops, after the test): a
    # gateway that waited for it would get a 201 and raise nothing, so the error alone shows
    # that it gave up at its own timeout, without holding a loaded machine to a clock.
    twilio_server.delay(60.0, times=1)
    gateway = make_gateway(twilio_server.base_url, timeout=0.5)

    with pytest.raises(GatewayError) as timed_out:
        gateway.send_text(REMINDER)

    assert facts(timed_out.value) == (None, None, False, True)
    (message,) = twilio_server.messages
    assert message.params["To"] == PARTICIPANT


@pytest.mark.parametrize("recorded", [True, False], ids=["after-recording", "before-recording"])
def test_a_dropped_connection_may_have_sent(
    twilio_server: TwilioFakeServer, recorded: bool
) -> None:
    twilio_server.drop(times=1, after_recording=recorded)

    with pytest.raises(GatewayError) as dropped:
        make_gateway(twilio_server.base_url).send_text(REMINDER)

    assert facts(dropped.value) == (None, None, False, True)
    assert len(twilio_server.messages) == int(recorded)
    assert twilio_server.requests_received == 1


def test_a_refused_connection_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe is closed

    with pytest.raises(GatewayError) as refused:
        make_gateway(f"http://127.0.0.1:{port}").send_text(REMINDER)

    assert facts(refused.value) == (None, None, True, False)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"body": "Hello", "validity_period": 0}, 21624),
        ({"body": "Hello", "validity_period": 36_001}, 21624),
        ({}, 21619),
        ({"body": "x" * 1601}, 21617),
        ({"body": "Hello", "status_callback": "/webhooks/twilio/status"}, 21609),
        ({"body": "Hello", "status_callback": "https://bad_host.example.org/status"}, 21609),
    ],
    ids=[
        "validity-0",
        "validity-36001",
        "no-body",
        "body-1601",
        "relative-callback",
        "underscore-host",
    ],
)
def test_the_server_refuses_a_bad_message_as_twilio_does(
    twilio_server: TwilioFakeServer, fields: dict[str, Any], code: int
) -> None:
    with pytest.raises(TwilioRestException) as refused:
        raw_client(twilio_server).messages.create(to=PARTICIPANT, from_=FROM_NUMBER, **fields)

    assert (refused.value.status, refused.value.code) == (400, code)
    assert twilio_server.messages == []


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({}, 21205),
        ({"twiml": "<Response>" + " " * 3980 + "</Response>"}, 32018),
        ({"url": "https://peerline.example.org/voice", "machine_detection": "Yes"}, 21234),
        ({"url": "voice.xml"}, 21205),
    ],
    ids=["no-instructions", "twiml-4001", "machine-detection", "relative-url"],
)
def test_the_server_refuses_a_bad_call_as_twilio_does(
    twilio_server: TwilioFakeServer, fields: dict[str, Any], code: int
) -> None:
    with pytest.raises(TwilioRestException) as refused:
        raw_client(twilio_server).calls.create(to=PARTICIPANT, from_=FROM_NUMBER, **fields)

    assert (refused.value.status, refused.value.code) == (400, code)
    assert twilio_server.calls == []


@pytest.mark.parametrize(
    ("resource", "data", "request_as", "status", "code"),
    [
        pytest.param(
            "Messages", {**VALID_TEXT, "Bodyy": "typo"}, {}, 400, 20001, id="misspelt-parameter"
        ),
        pytest.param(
            "Messages", {**VALID_TEXT, "Body": ["one", "two"]}, {}, 400, 400, id="repeated"
        ),
        pytest.param("Messages", {"From": FROM_NUMBER, "Body": "Hi"}, {}, 400, 21604, id="no-to"),
        pytest.param("Messages", {"To": PARTICIPANT, "Body": "Hi"}, {}, 400, 21603, id="no-sender"),
        pytest.param(
            "Messages", {**VALID_TEXT, "From": "+1415555"}, {}, 400, 21212, id="invalid-from"
        ),
        pytest.param(
            "Messages",
            {"To": PARTICIPANT, "MessagingServiceSid": "MG123", "Body": "Hi"},
            {},
            400,
            21705,
            id="invalid-messaging-service",
        ),
        pytest.param(
            "Messages", {**VALID_TEXT, "ValidityPeriod": "1h"}, {}, 400, 21624, id="validity-text"
        ),
        pytest.param(
            "Messages", {**VALID_TEXT, "SmartEncoded": "yes"}, {}, 400, 400, id="not-a-boolean"
        ),
        pytest.param(
            "Messages", {**VALID_TEXT, "ContentRetention": "keep"}, {}, 400, 400, id="not-in-enum"
        ),
        pytest.param("Calls", {**VALID_CALL, "From": ""}, {}, 400, 21213, id="call-without-from"),
        pytest.param(
            "Calls", {**VALID_CALL, "Timeout": "soon"}, {}, 400, 400, id="call-not-an-integer"
        ),
        pytest.param(
            "Calls", {**VALID_CALL, "Method": "PUT"}, {}, 400, 400, id="call-method-not-in-enum"
        ),
        pytest.param("Messages", VALID_TEXT, {"auth": None}, 401, 20003, id="no-credentials"),
        pytest.param(
            "Messages",
            VALID_TEXT,
            {"auth": (OTHER_ACCOUNT_SID, AUTH_TOKEN)},
            401,
            20003,
            id="another-account",
        ),
        pytest.param(
            "Messages", VALID_TEXT, {"auth": (ACCOUNT_SID, "")}, 401, 20003, id="no-password"
        ),
        pytest.param(
            "Messages",
            VALID_TEXT,
            {"account": "AC123", "auth": ("AC123", AUTH_TOKEN)},
            401,
            20003,
            id="malformed-account-sid",
        ),
    ],
)
def test_the_server_answers_twilios_error_shape(
    twilio_server: TwilioFakeServer,
    resource: str,
    data: Mapping[str, str | list[str]],
    request_as: dict[str, Any],
    status: int,
    code: int,
) -> None:
    response = post(twilio_server, resource, data, **request_as)

    assert response.status_code == status
    body = response.json()
    assert set(body) == {"code", "message", "more_info", "status"}
    assert (body["code"], body["status"]) == (code, status)
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert body["message"]
    assert twilio_server.messages == twilio_server.calls == []
    assert twilio_server.requests_received == 1


def test_a_created_message_has_the_documented_shape(twilio_server: TwilioFakeServer) -> None:
    schema = documented_response("message")

    response = post(twilio_server, "Messages", VALID_TEXT)

    assert response.status_code == 201
    body = response.json()
    assert set(body) == set(schema["properties"])
    assert re.fullmatch(schema["properties"]["sid"]["pattern"], body["sid"])
    assert body["sid"].startswith("SM")
    (message,) = twilio_server.messages
    assert body["sid"] == message.sid
    assert (body["to"], body["from"], body["body"]) == (PARTICIPANT, FROM_NUMBER, "Hello")
    assert (body["status"], body["api_version"], body["num_segments"]) == (
        "queued",
        "2010-04-01",
        "1",
    )
    assert body["account_sid"] == ACCOUNT_SID
    assert body["uri"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{message.sid}.json"
    assert body["messaging_service_sid"] is None
    created = parsedate_to_datetime(body["date_created"])
    assert abs(created - datetime.now(UTC)) < timedelta(minutes=1)
    assert body["date_created"].endswith(" +0000")


def test_each_message_gets_its_own_sid(twilio_server: TwilioFakeServer) -> None:
    client = raw_client(twilio_server)

    first = client.messages.create(to=PARTICIPANT, from_=FROM_NUMBER, body="one")
    second = client.messages.create(to=PARTICIPANT, from_=FROM_NUMBER, body="two")

    assert first.sid != second.sid
    assert [message.sid for message in twilio_server.messages] == [first.sid, second.sid]


def test_a_created_call_has_the_documented_shape(twilio_server: TwilioFakeServer) -> None:
    schema = documented_response("call")
    twiml = "<Response><Say>Your group meets tonight at 7.</Say></Response>"

    call = raw_client(twilio_server).calls.create(
        to=PARTICIPANT, from_=FROM_NUMBER, twiml=twiml, machine_detection="Enable"
    )

    (recorded,) = twilio_server.calls
    assert call.sid == recorded.sid
    assert re.fullmatch(schema["properties"]["sid"]["pattern"], call.sid)
    assert call.status == "queued"
    assert (call.to, call.to_formatted) == (PARTICIPANT, "(415) 555-0123")
    assert dict(recorded.params) == {
        "To": PARTICIPANT,
        "From": FROM_NUMBER,
        "Twiml": twiml,
        "MachineDetection": "Enable",
    }
    body = post(
        twilio_server, "Calls", {"To": PARTICIPANT, "From": FROM_NUMBER, "Twiml": twiml}
    ).json()
    assert set(body) == set(schema["properties"])
    assert set(body["subresource_uris"]) >= {"notifications", "recordings"}


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        pytest.param("x" * 160, "1", id="gsm-160"),
        pytest.param("x" * 161, "2", id="gsm-161"),
        pytest.param("x" * 307, "3", id="gsm-307"),  # 153 a segment once split
        pytest.param("{" * 80, "1", id="escaped-160"),  # extension characters count twice
        pytest.param("{" * 81, "2", id="escaped-162"),
        pytest.param("ł" * 70, "1", id="ucs2-70"),  # outside GSM-7: the whole text is UCS-2
        pytest.param("ł" * 135, "3", id="ucs2-135"),  # 67 a segment once split
    ],
)
def test_the_server_counts_segments_as_twilio_bills_them(
    twilio_server: TwilioFakeServer, body: str, segments: str
) -> None:
    message = raw_client(twilio_server).messages.create(
        to=PARTICIPANT, from_=FROM_NUMBER, body=body
    )

    assert message.num_segments == segments


def test_faults_target_a_number_and_are_used_up(twilio_server: TwilioFakeServer) -> None:
    twilio_server.fail(429, 20429, times=1)
    twilio_server.fail(400, 21610, to=PARTICIPANT)
    client = raw_client(twilio_server)

    codes: list[int | None] = []
    for to in (PARTICIPANT, PARTICIPANT, OTHER_PARTICIPANT):
        try:
            client.messages.create(to=to, from_=FROM_NUMBER, body="Hello")
            codes.append(None)
        except TwilioRestException as error:
            codes.append(error.code)

    assert codes == [20429, 21610, None]
    twilio_server.reset()
    client.messages.create(to=PARTICIPANT, from_=FROM_NUMBER, body="Hello")
    assert len(twilio_server.messages) == 1
    assert twilio_server.requests_received == 1


def test_a_stopped_server_no_longer_listens() -> None:
    with TwilioFakeServer() as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        bound = server.base_url
    with pytest.raises(RuntimeError):
        _ = server.base_url
    with pytest.raises(requests.ConnectionError):
        requests.post(bound, timeout=5)
