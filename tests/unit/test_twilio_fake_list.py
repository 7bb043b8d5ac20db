"""The fake Twilio's list of Messages, read through twilio-python's own list(), stream(), paging.

Peerline reconciles a send whose outcome it lost (a timeout, a 5xx) by looking the message
up in Twilio's message list; these tests pin down what that lookup sees in the fake.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from tests.twilio_fake import TwilioFakeServer

ACCOUNT_SID = "AC5f3c0e2a9b7d41e68c2f0a1b3d5e7f90"
AUTH_TOKEN = "fake-auth-token"
OTHER_ACCOUNT_SID = "AC" + "1" * 32
SENDER = "+14155550100"
OTHER_SENDER = "+14155550101"
PARTICIPANT = "+14155550123"
OTHER_PARTICIPANT = "+12025550143"
THIRD_PARTICIPANT = "+12025550144"


class Clock:
    """The fake's clock, which a test moves to place messages in time."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def client_for(
    server: TwilioFakeServer, account: str = ACCOUNT_SID, token: str = AUTH_TOKEN
) -> Any:
    client = Client(account, token)
    client.api.base_url = server.base_url
    client.edge = client.region = None
    return client


def send(client: Any, to: str, body: str = "Group meets at 7", sender: str = SENDER) -> str:
    return str(client.messages.create(to=to, from_=sender, body=body).sid)


def refusal(error: TwilioException) -> tuple[int, int]:
    """HTTP status and Twilio code of a failed list page.

    twilio-python's Page raises a plain TwilioException("Unable to fetch page", response)
    for any non-200 page, not a TwilioRestException, so the facts live on the response.
    """
    _, response = error.args
    return response.status_code, json.loads(response.text)["code"]


def test_list_filters_by_recipient_and_sender_newest_first(
    twilio_server: TwilioFakeServer,
) -> None:
    client = client_for(twilio_server)
    first = send(client, PARTICIPANT, "first")
    send(client, PARTICIPANT, "from the other number", sender=OTHER_SENDER)
    send(client, OTHER_PARTICIPANT, "someone else")
    second = send(client, PARTICIPANT, "second")

    found = client.messages.list(to=PARTICIPANT, from_=SENDER, limit=20)

    assert [m.sid for m in found] == [second, first]
    assert [m.body for m in found] == ["second", "first"]
    assert {(m.to, m.from_, m.status) for m in found} == {(PARTICIPANT, SENDER, "queued")}
    assert all(m.date_sent is not None and m.date_sent.tzinfo is not None for m in found)
    assert len(client.messages.list(to=PARTICIPANT)) == 3
    assert len(client.messages.list(from_=OTHER_SENDER)) == 1
    assert len(client.messages.list()) == 4


def test_date_sent_after_leaves_out_older_messages() -> None:
    clock = Clock(datetime(2026, 3, 3, 9, 0, tzinfo=UTC))
    with TwilioFakeServer(clock=clock) as server:
        client = client_for(server)
        yesterday = clock.now - timedelta(days=1)
        clock.now = yesterday
        send(client, PARTICIPANT, "yesterday")
        clock.now = datetime(2026, 3, 3, 9, 0, 0, 400_000, tzinfo=UTC)
        send(client, PARTICIPANT, "at nine")
        clock.now = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
        send(client, PARTICIPANT, "at ten")

        def bodies(**filters: Any) -> list[str]:
            return [m.body for m in client.messages.list(to=PARTICIPANT, **filters)]

        assert bodies(date_sent_after=datetime(2026, 3, 3, 9, 30, tzinfo=UTC)) == ["at ten"]
        # The bound is inclusive, to the second date_sent shows: a retry started at the
        # second of the lost attempt still finds it.
        assert bodies(date_sent_after=datetime(2026, 3, 3, 9, 0, tzinfo=UTC)) == [
            "at ten",
            "at nine",
        ]
        assert bodies(date_sent_before=datetime(2026, 3, 3, 9, 30, tzinfo=UTC)) == [
            "at nine",
            "yesterday",
        ]
        # A bare date compares the day the message was sent.
        assert bodies(date_sent="2026-03-03") == ["at ten", "at nine"]
        assert bodies(date_sent_after="2026-03-02") == ["at ten", "at nine", "yesterday"]
        assert bodies(date_sent_before="2026-03-02") == ["yesterday"]


def test_list_and_stream_follow_next_page_across_pages(twilio_server: TwilioFakeServer) -> None:
    client = client_for(twilio_server)
    sent = [send(client, PARTICIPANT, f"reminder {n}") for n in range(45)]
    send(client, OTHER_PARTICIPANT, "not this one")
    before = twilio_server.requests_received

    found = client.messages.list(to=PARTICIPANT, page_size=20)

    assert [m.sid for m in found] == sent[::-1]
    assert twilio_server.requests_received - before == 3  # pages of 20, 20 and 5

    first_page = client.messages.page(to=PARTICIPANT, page_size=20)
    assert len(list(first_page)) == 20
    assert first_page.next_page_url is not None
    assert first_page.previous_page_url is None
    second_page = first_page.next_page()
    assert [m.sid for m in second_page] == sent[::-1][20:40]
    assert second_page.previous_page_url is not None

    streamed = list(client.messages.stream(to=PARTICIPANT, limit=25, page_size=20))
    assert [m.sid for m in streamed] == sent[::-1][:25]


def test_list_shows_what_was_recorded_before_a_fault_and_not_what_was_refused(
    twilio_server: TwilioFakeServer,
) -> None:
    client = client_for(twilio_server)
    twilio_server.fail(500, 20500, times=1, after_recording=True)
    with pytest.raises(TwilioRestException):
        send(client, PARTICIPANT, "created, then a 500")
    twilio_server.drop(times=1, after_recording=True)
    with pytest.raises(requests.ConnectionError):
        send(client, PARTICIPANT, "created, then hung up")
    twilio_server.fail(400, 21610, times=1)
    with pytest.raises(TwilioRestException):
        send(client, PARTICIPANT, "refused: unsubscribed")
    twilio_server.drop(times=1, after_recording=False)
    with pytest.raises(requests.ConnectionError):
        send(client, PARTICIPANT, "hung up before creating")
    with pytest.raises(TwilioRestException):
        send(client, "+1415555", "refused: not a number")
    client.calls.create(to=PARTICIPANT, from_=SENDER, twiml="<Response/>")

    listed = client.messages.list()

    assert [m.body for m in listed] == ["created, then hung up", "created, then a 500"]
    assert {m.sid for m in listed} == {a.sid for a in twilio_server.messages}


def test_a_status_set_by_the_test_shows_in_the_list() -> None:
    clock = Clock(datetime(2026, 3, 3, 17, 0, tzinfo=UTC))
    with TwilioFakeServer(clock=clock) as server:
        client = client_for(server)
        delivered = send(client, PARTICIPANT)
        failed = send(client, OTHER_PARTICIPANT)
        waiting = send(client, THIRD_PARTICIPANT)
        clock.now += timedelta(minutes=2)
        server.set_message_status(delivered, "delivered")
        server.set_message_status(failed, "failed")

        by_sid = {m.sid: m for m in client.messages.list()}

        assert {sid: m.status for sid, m in by_sid.items()} == {
            delivered: "delivered",
            failed: "failed",
            waiting: "queued",
        }
        assert by_sid[delivered].date_updated == clock.now
        assert by_sid[waiting].date_updated == by_sid[waiting].date_sent
        with pytest.raises(ValueError, match="not a Twilio message status"):
            server.set_message_status(waiting, "lost")
        with pytest.raises(ValueError, match="no Message"):
            server.set_message_status("SM" + "0" * 32, "delivered")


def test_fail_list_makes_the_lookup_fail_but_not_sending(twilio_server: TwilioFakeServer) -> None:
    client = client_for(twilio_server)
    sid = send(client, PARTICIPANT)
    twilio_server.fail_list(500, 20500, times=1)

    with pytest.raises(TwilioException) as failed:
        client.messages.list(to=PARTICIPANT)

    assert refusal(failed.value) == (500, 20500)
    assert [m.sid for m in client.messages.list(to=PARTICIPANT)] == [sid]

    twilio_server.fail_list(429, 20429)
    send(client, OTHER_PARTICIPANT)  # creates are untouched by list faults
    for _ in range(2):
        with pytest.raises(TwilioException) as throttled:
            client.messages.list()
        assert refusal(throttled.value) == (429, 20429)

    twilio_server.reset()
    assert client.messages.list() == []


def test_listing_needs_the_accounts_credentials_and_shows_only_its_messages(
    twilio_server: TwilioFakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)  # Client falls back to it
    client = client_for(twilio_server)
    send(client, PARTICIPANT)

    with pytest.raises(TwilioException) as without_token:
        client_for(twilio_server, token="").messages.list()
    assert refusal(without_token.value) == (401, 20003)
    # This account's credentials do not open another account's list.
    with pytest.raises(TwilioException) as other_account:
        client.api.v2010.accounts(OTHER_ACCOUNT_SID).messages.list()
    assert refusal(other_account.value) == (401, 20003)

    assert client_for(twilio_server, account=OTHER_ACCOUNT_SID).messages.list() == []
    assert len(client.messages.list()) == 1
