"""The fake Twilio's list of Calls, read through twilio-python's own list(), stream(), paging.

Peerline reconciles a call whose outcome it lost by looking it up in Twilio's call list, as
it does for texts; these tests pin down what that lookup sees in the fake, and that Calls
and Messages keep to their own lists.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from twilio.base.exceptions import TwilioException
from twilio.rest import Client

from tests.support import Clock
from tests.twilio_fake import TwilioFakeServer

ACCOUNT_SID = "AC5f3c0e2a9b7d41e68c2f0a1b3d5e7f90"
AUTH_TOKEN = "fake-auth-token"
OTHER_ACCOUNT_SID = "AC" + "1" * 32
SENDER = "+14155550100"
OTHER_SENDER = "+14155550101"
PARTICIPANT = "+14155550123"
OTHER_PARTICIPANT = "+12025550143"
THIRD_PARTICIPANT = "+12025550144"
TWIML_URL = "https://peerline.example.org/twilio/voice/reminder"
NINE = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


def client_for(
    server: TwilioFakeServer, account: str = ACCOUNT_SID, token: str = AUTH_TOKEN
) -> Any:
    client = Client(account, token)
    client.api.base_url = server.base_url
    client.edge = client.region = None
    return client


def call(client: Any, to: str, sender: str = SENDER) -> str:
    return str(client.calls.create(to=to, from_=sender, url=TWIML_URL).sid)


def text(client: Any, to: str, sender: str = SENDER) -> str:
    return str(client.messages.create(to=to, from_=sender, body="Group meets at 7").sid)


def refusal(error: TwilioException) -> tuple[int, int]:
    """HTTP status and Twilio code of a failed list page (twilio-python's Page raises a plain
    TwilioException("Unable to fetch page", response) for any non-200 page)."""
    _, response = error.args
    return response.status_code, json.loads(response.text)["code"]


def test_list_filters_by_recipient_and_sender_newest_first(
    twilio_server: TwilioFakeServer,
) -> None:
    client = client_for(twilio_server)
    first = call(client, PARTICIPANT)
    call(client, PARTICIPANT, sender=OTHER_SENDER)
    call(client, OTHER_PARTICIPANT)
    second = call(client, PARTICIPANT)

    found = client.calls.list(to=PARTICIPANT, from_=SENDER, limit=20)

    assert [c.sid for c in found] == [second, first]
    # twilio-python's CallInstance keeps "from" as _from (MessageInstance calls it from_).
    assert {(c.to, c._from, c.status) for c in found} == {(PARTICIPANT, SENDER, "queued")}
    # A queued call has not been dialed: no start_time, end_time, duration or answered_by.
    assert {(c.start_time, c.end_time, c.duration, c.answered_by) for c in found} == {
        (None, None, None, None)
    }
    assert all(c.date_created is not None and c.date_created.tzinfo is not None for c in found)
    assert {(c.to_formatted, c.direction) for c in found} == {("(415) 555-0123", "outbound-api")}
    assert len(client.calls.list(to=PARTICIPANT)) == 3
    assert len(client.calls.list(from_=OTHER_SENDER)) == 1
    assert len(client.calls.list()) == 4
    # Every call here is a parent call placed through the API.
    assert client.calls.list(parent_call_sid=first) == []


def test_the_page_has_twilios_shape_and_each_call_the_create_answers_shape(
    twilio_server: TwilioFakeServer,
) -> None:
    created = requests.post(
        f"{twilio_server.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json",
        data={"To": PARTICIPANT, "From": SENDER, "Url": TWIML_URL},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=5,
    )
    assert created.status_code == 201
    calls_uri = f"{twilio_server.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"

    listed = requests.get(
        calls_uri, params={"To": PARTICIPANT}, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5
    )

    assert listed.status_code == 200
    page = listed.json()
    assert set(page) == {
        "calls",
        "end",
        "first_page_uri",
        "next_page_uri",
        "page",
        "page_size",
        "previous_page_uri",
        "start",
        "uri",
    }
    assert page["calls"] == [created.json()]
    assert (page["start"], page["end"], page["page"], page["page_size"]) == (0, 0, 0, 50)
    assert page["next_page_uri"] is page["previous_page_uri"] is None
    assert page["first_page_uri"].startswith(f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json?")

    def status_of(**params: str) -> tuple[int, int]:
        answer = requests.get(calls_uri, params=params, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5)
        return answer.status_code, answer.json()["code"]

    assert status_of(Status="answered") == (400, 400)
    assert status_of(StartTime="yesterday") == (400, 400)
    assert status_of(DateSent="2026-03-03") == (400, 20001)  # a Messages filter, misplaced
    assert requests.put(calls_uri, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5).status_code == 405


def test_set_call_status_shows_in_the_list_with_start_and_end_times() -> None:
    clock = Clock(NINE)
    with TwilioFakeServer(clock=clock) as server:
        client = client_for(server)
        answered = call(client, PARTICIPANT)
        busy = call(client, OTHER_PARTICIPANT)
        waiting = call(client, THIRD_PARTICIPANT)
        dropped = call(client, THIRD_PARTICIPANT)
        clock.now += timedelta(seconds=2)
        rang_at = clock.now
        server.set_call_status(answered, "ringing")
        server.set_call_status(busy, "ringing")
        server.set_call_status(dropped, "canceled")  # canceled before it was dialed
        clock.now += timedelta(seconds=5)
        server.set_call_status(answered, "in-progress", answered_by="human")
        server.set_call_status(busy, "busy")
        clock.now += timedelta(seconds=60)
        server.set_call_status(answered, "completed")

        by_sid = {c.sid: c for c in client.calls.list()}

        assert {sid: c.status for sid, c in by_sid.items()} == {
            answered: "completed",
            busy: "busy",
            waiting: "queued",
            dropped: "canceled",
        }
        done = by_sid[answered]
        assert (done.start_time, done.end_time, done.duration) == (rang_at, clock.now, "65")
        assert (done.answered_by, done.date_updated) == ("human", clock.now)
        assert by_sid[busy].start_time == rang_at
        assert (by_sid[busy].end_time, by_sid[busy].duration) == (None, None)
        assert by_sid[waiting].start_time is by_sid[dropped].start_time is None
        assert by_sid[waiting].date_updated == by_sid[waiting].date_created == NINE

        assert [c.sid for c in client.calls.list(status="completed")] == [answered]
        assert [c.sid for c in client.calls.list(status="queued")] == [waiting]
        assert client.calls.list(status="failed") == []
        assert [c.sid for c in client.calls.list(to=THIRD_PARTICIPANT, status="canceled")] == [
            dropped
        ]
        # Only a completed call has an end_time to filter on.
        assert [c.sid for c in client.calls.list(end_time_after=NINE)] == [answered]

        with pytest.raises(ValueError, match="not a Twilio call status"):
            server.set_call_status(waiting, "answered")
        with pytest.raises(ValueError, match="not a Twilio AnsweredBy value"):
            server.set_call_status(waiting, "in-progress", answered_by="robot")
        with pytest.raises(ValueError, match="no Call"):
            server.set_call_status("CA" + "0" * 32, "completed")


def test_start_time_after_leaves_out_older_calls() -> None:
    clock = Clock(NINE - timedelta(days=1))
    with TwilioFakeServer(clock=clock) as server:
        client = client_for(server)

        def started(at: datetime) -> str:
            clock.now = at
            sid = call(client, PARTICIPANT)
            server.set_call_status(sid, "in-progress")
            return sid

        yesterday = started(NINE - timedelta(days=1))
        at_nine = started(NINE.replace(microsecond=400_000))
        at_ten = started(NINE + timedelta(hours=1))
        never_dialed = call(client, PARTICIPANT)

        def sids(**filters: Any) -> list[str]:
            return [c.sid for c in client.calls.list(to=PARTICIPANT, **filters)]

        assert sids() == [never_dialed, at_ten, at_nine, yesterday]
        assert sids(start_time_after=NINE + timedelta(minutes=30)) == [at_ten]
        # The bound is inclusive, to the second start_time shows; a call still queued has no
        # start_time, so no StartTime filter finds it.
        assert sids(start_time_after=NINE) == [at_ten, at_nine]
        assert sids(start_time_before=NINE + timedelta(minutes=30)) == [at_nine, yesterday]
        # A bare date compares the day the call started.
        assert sids(start_time="2026-03-03") == [at_ten, at_nine]
        assert sids(start_time_after="2026-03-02") == [at_ten, at_nine, yesterday]
        assert sids(start_time_before="2026-03-02") == [yesterday]


def test_list_and_stream_follow_next_page_across_pages(twilio_server: TwilioFakeServer) -> None:
    client = client_for(twilio_server)
    placed = [call(client, PARTICIPANT) for _ in range(45)]
    call(client, OTHER_PARTICIPANT)
    before = twilio_server.requests_received

    found = client.calls.list(to=PARTICIPANT, page_size=20)

    assert [c.sid for c in found] == placed[::-1]
    assert twilio_server.requests_received - before == 3  # pages of 20, 20 and 5

    first_page = client.calls.page(to=PARTICIPANT, page_size=20)
    assert len(list(first_page)) == 20
    assert first_page.next_page_url is not None
    assert first_page.previous_page_url is None
    second_page = first_page.next_page()
    assert [c.sid for c in second_page] == placed[::-1][20:40]
    assert second_page.previous_page_url is not None
    assert [c.sid for c in second_page.previous_page()] == placed[::-1][:20]

    streamed = list(client.calls.stream(to=PARTICIPANT, limit=25, page_size=20))
    assert [c.sid for c in streamed] == placed[::-1][:25]


def test_fail_list_fails_the_calls_lookup_for_calls_or_for_both(
    twilio_server: TwilioFakeServer,
) -> None:
    client = client_for(twilio_server)
    placed = call(client, PARTICIPANT)
    sent = text(client, PARTICIPANT)

    twilio_server.fail_list(500, 20500, times=1, resource="Calls")
    assert [m.sid for m in client.messages.list()] == [sent]  # the Messages list is untouched
    with pytest.raises(TwilioException) as failed:
        client.calls.list(to=PARTICIPANT)
    assert refusal(failed.value) == (500, 20500)
    assert [c.sid for c in client.calls.list(to=PARTICIPANT)] == [placed]

    twilio_server.fail_list(503, 20503, times=1, resource="Messages")
    assert [c.sid for c in client.calls.list()] == [placed]
    with pytest.raises(TwilioException):
        client.messages.list()

    # Without a resource a rule meets either list; its count is shared between them.
    twilio_server.fail_list(500, 20500, times=1)
    with pytest.raises(TwilioException):
        client.calls.list()
    assert [m.sid for m in client.messages.list()] == [sent]

    twilio_server.fail_list(429, 20429)
    call(client, OTHER_PARTICIPANT)  # creates are untouched by list faults
    for lookup in (client.calls.list, client.messages.list):
        with pytest.raises(TwilioException) as throttled:
            lookup()
        assert refusal(throttled.value) == (429, 20429)

    twilio_server.clear_faults()
    assert len(client.calls.list()) == 2
    twilio_server.reset()
    assert client.calls.list() == []
    with pytest.raises(ValueError, match="resource must be one of"):
        twilio_server.fail_list(500, 20500, resource="Recordings")


def test_listing_calls_needs_the_accounts_credentials_and_shows_only_its_calls(
    twilio_server: TwilioFakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)  # Client falls back to it
    client = client_for(twilio_server)
    call(client, PARTICIPANT)

    with pytest.raises(TwilioException) as without_token:
        client_for(twilio_server, token="").calls.list()
    assert refusal(without_token.value) == (401, 20003)
    anonymous = requests.get(
        f"{twilio_server.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json", timeout=5
    )
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Basic realm="Twilio API"'
    # This account's credentials do not open another account's list.
    with pytest.raises(TwilioException) as other_account:
        client.api.v2010.accounts(OTHER_ACCOUNT_SID).calls.list()
    assert refusal(other_account.value) == (401, 20003)

    assert client_for(twilio_server, account=OTHER_ACCOUNT_SID).calls.list() == []
    assert len(client.calls.list()) == 1


def test_messages_and_calls_keep_to_their_own_lists(twilio_server: TwilioFakeServer) -> None:
    client = client_for(twilio_server)
    texts = [text(client, PARTICIPANT), text(client, OTHER_PARTICIPANT)]
    calls = [call(client, PARTICIPANT), call(client, OTHER_PARTICIPANT)]
    twilio_server.set_call_status(calls[0], "completed")
    twilio_server.set_message_status(texts[0], "delivered")

    assert [c.sid for c in client.calls.list()] == calls[::-1]
    assert [m.sid for m in client.messages.list()] == texts[::-1]
    assert [c.sid for c in client.calls.list(to=PARTICIPANT)] == [calls[0]]
    assert [m.sid for m in client.messages.list(to=PARTICIPANT)] == [texts[0]]
    assert [a.sid for a in twilio_server.calls] == calls
    assert [a.sid for a in twilio_server.messages] == texts
    with pytest.raises(ValueError, match="no Call"):
        twilio_server.set_call_status(texts[1], "completed")
    with pytest.raises(ValueError, match="no Message"):
        twilio_server.set_message_status(calls[1], "delivered")
