"""The dashboard's Inbox: what waits in my groups, one message with its thread, replying with
the consent check and the live cost, marking handled."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.clock import daily_text_tick
from scheduler.dispatcher import dispatch_due
from service.conversation.inbox import daily_texts, mark_handled
from service.models import Coordinator, InboundMessage, OutboxKind, OutboxMessage
from service.people.accounts import set_daily_text
from tests.api import token_for
from tests.dashboard import csrf_token, sign_in, with_password
from tests.support import (
    PUBLIC_URL,
    Clock,
    RecordingGateway,
    invoke,
    make_group,
    make_participant,
    text_in,
)

SAM, ALEX, VERA = "+12025550142", "+12025550143", "+12025550122"


def _inbox(client: FlaskClient, session: Session, clock: Clock) -> dict[str, int]:
    """Robin's Circle with Sam's question and Alex's crisis; Kim's Harbor with Vera's note."""
    circle = make_group(session, "CIRCLE", timezone="America/Chicago")
    harbor = make_group(session, "HARBOR", coordinator_email="kim@example.org")
    make_participant(session, SAM, circle, name="Sam Rivera")
    make_participant(session, ALEX, circle, name="Alex Kim")
    make_participant(session, VERA, harbor, name="Vera Harbor")
    text_in(client, SAM, "can I bring a friend next week?")
    text_in(client, ALEX, "I want to die tonight")
    text_in(client, VERA, "Harbor question")
    with_password(session, "robin@example.org", clock)
    with_password(session, "kim@example.org", clock)
    session.expire_all()
    return {m.body: m.id for m in session.scalars(select(InboundMessage))}


def test_the_inbox_lists_my_groups_replies_urgent_first_with_masked_numbers_and_local_times(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _inbox(client, session, clock)
    sign_in(client, "robin@example.org")

    page = client.get("/inbox").text

    assert page.index("I want to die tonight") < page.index("can I bring a friend")
    assert "Sam Rivera +1******0142" in page and SAM not in page
    assert "(America/Chicago)" in page
    assert "Harbor question" not in page and "Vera" not in page


def test_the_inbox_filters_by_state_and_by_group_and_refuses_another_coordinators_group(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    ids = _inbox(client, session, clock)
    sign_in(client, "robin@example.org")
    client.get(f"/inbox/{ids['can I bring a friend next week?']}")  # now read

    urgent = client.get("/inbox?state=urgent").text
    unread = client.get("/inbox?state=unread").text
    read = client.get("/inbox?state=read").text
    harbor = session.scalar(
        select(InboundMessage.group_id).where(InboundMessage.body == "Harbor question")
    )

    assert "I want to die" in urgent and "bring a friend" not in urgent
    assert "I want to die" in unread and "bring a friend" not in unread
    assert "bring a friend" in read and "I want to die" not in read
    assert client.get(f"/inbox?group={harbor}").status_code == 404


def test_opening_a_message_marks_it_read_and_shows_the_thread_with_this_group_only(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    ids = _inbox(client, session, clock)
    sign_in(client, "robin@example.org")
    message_id = ids["can I bring a friend next week?"]

    page = client.get(f"/inbox/{message_id}")

    assert page.status_code == 200
    assert "Message from Sam Rivera +1******0142" in page.text
    assert "They wrote" in page.text and "We sent" in page.text  # the acknowledgement
    session.expire_all()
    assert session.get_one(InboundMessage, message_id).read
    group = session.get_one(InboundMessage, message_id).group_id
    person = session.get_one(InboundMessage, message_id).participant_id
    assert f'href="/groups/{group}/people/{person}"' in page.text


def test_a_reply_goes_by_text_once_even_if_the_form_is_posted_twice(
    app: Flask, client: FlaskClient, session: Session, clock: Clock, gateway: RecordingGateway
) -> None:
    ids = _inbox(client, session, clock)
    sign_in(client, "robin@example.org")
    message_id = ids["can I bring a friend next week?"]
    token = csrf_token(client, f"/inbox/{message_id}")
    form = {"csrf_token": token, "text": "Of course, {{ first_name }}!", "answered": "0"}

    first = client.post(f"/inbox/{message_id}/reply", data=form)
    shown = client.get(first.headers["Location"]).text
    second = client.post(f"/inbox/{message_id}/reply", data=form)

    assert first.status_code == 302
    assert "Your reply is on its way: 15 characters, 1 segment, GSM-7." in shown
    assert second.status_code == 409 and "already sent" in second.text
    dispatch_due(app)
    assert gateway.to(SAM)[-1] == "Of course, Sam!"
    assert client.get("/inbox?state=replied").text.count("bring a friend") == 1


def test_a_reply_to_someone_who_opted_out_is_refused_in_plain_words(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    ids = _inbox(client, session, clock)
    text_in(client, SAM, "STOP")
    sign_in(client, "robin@example.org")
    message_id = ids["can I bring a friend next week?"]
    token = csrf_token(client, f"/inbox/{message_id}")

    answer = client.post(
        f"/inbox/{message_id}/reply", data={"csrf_token": token, "text": "Hi", "answered": "0"}
    )

    assert answer.status_code == 409
    assert "Not sent: this person opted out (STOP)" in answer.text
    assert (
        session.scalars(select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.ONE_OFF)).all()
        == []
    )


def test_bad_words_are_refused_beside_the_field_and_the_counter_names_the_cost(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    ids = _inbox(client, session, clock)
    sign_in(client, "robin@example.org")
    message_id = ids["can I bring a friend next week?"]
    token = csrf_token(client, f"/inbox/{message_id}")

    wrong = client.post(
        f"/inbox/{message_id}/reply",
        data={"csrf_token": token, "text": "See you {{ meeting_time }}", "answered": "0"},
    )
    empty = client.post(f"/inbox/{message_id}/reply", data={"csrf_token": token, "text": ""})
    cost = client.post(
        f"/inbox/{message_id}/count", data={"text": "Hi 😊"}, headers={"X-CSRFToken": token}
    )
    bad_cost = client.post(
        f"/inbox/{message_id}/count", data={"text": "{{ nope }}"}, headers={"X-CSRFToken": token}
    )

    assert wrong.status_code == 422 and 'id="text-error"' in wrong.text
    assert "meeting_time" in wrong.text
    assert empty.status_code == 422 and 'id="text-error"' in empty.text
    assert cost.status_code == 200 and "1 segment" in cost.text and "UCS-2" in cost.text
    assert bad_cost.status_code == 200 and "nope" in bad_cost.text
    assert (
        session.scalars(select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.ONE_OFF)).all()
        == []
    )


def test_a_message_marked_handled_leaves_the_waiting_list_and_shows_under_handled(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    ids = _inbox(client, session, clock)
    sign_in(client, "robin@example.org")
    message_id = ids["can I bring a friend next week?"]
    token = csrf_token(client, f"/inbox/{message_id}")

    done = client.post(f"/inbox/{message_id}/handled", data={"csrf_token": token})
    again = client.post(f"/inbox/{message_id}/handled", data={"csrf_token": token})

    assert done.status_code == 302 and again.status_code == 302
    assert "bring a friend" not in client.get("/inbox").text
    assert "bring a friend" in client.get("/inbox?state=handled").text
    assert "This message is handled." in client.get(f"/inbox/{message_id}").text


def test_a_coordinator_turns_on_the_daily_text_and_a_bad_phone_is_refused_beside_the_field(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _inbox(client, session, clock)
    sign_in(client, "robin@example.org")
    token = csrf_token(client, "/inbox")

    refused = client.post(
        "/inbox/daily-text", data={"csrf_token": token, "on": "y", "phone": "not a phone"}
    )
    saved = client.post(
        "/inbox/daily-text", data={"csrf_token": token, "on": "y", "phone": "(202) 555-0100"}
    )

    assert refused.status_code == 422 and 'id="phone-error"' in refused.text
    assert "is not a phone number" in refused.text
    assert saved.status_code == 302
    page = client.get("/inbox").text
    assert "You will get a daily text" in page and "It is on, to +1******0100." in page


def test_the_daily_text_says_only_how_many_replies_wait_once_a_day_in_the_morning(
    app: Flask, client: FlaskClient, session: Session, clock: Clock, gateway: RecordingGateway
) -> None:
    ids = _inbox(client, session, clock)
    robin = session.scalars(
        select(Coordinator).where(Coordinator.email == "robin@example.org")
    ).one()
    set_daily_text(robin, on=True, phone="+12025550100")
    session.commit()
    chicago = ZoneInfo("America/Chicago")
    night = datetime(2026, 3, 4, 3, 0, tzinfo=chicago)
    morning = datetime(2026, 3, 4, 9, 5, tzinfo=chicago)

    at_night = daily_texts(session, night, PUBLIC_URL)
    first = daily_texts(session, morning, PUBLIC_URL)
    again = daily_texts(session, morning + timedelta(hours=3), PUBLIC_URL)
    session.commit()
    clock.now = morning + timedelta(hours=3)
    dispatch_due(app)

    assert (at_night, first, again) == (0, 1, 0)
    [text] = gateway.to("+12025550100")
    assert text == f"2 replies are waiting in Peerline: {PUBLIC_URL}/inbox"
    assert "friend" not in text and "0142" not in text
    # Nothing waiting the next morning: no text.
    for message_id in ids.values():
        mark_handled(session.get_one(InboundMessage, message_id), morning)
    assert daily_texts(session, morning + timedelta(days=1), PUBLIC_URL) == 0


def test_the_daily_text_is_set_by_api_and_cli_alike(
    runner: FlaskCliRunner, client: FlaskClient, session: Session, clock: Clock
) -> None:
    token = token_for(session, clock, "robin@example.org")
    headers = {"Authorization": f"Bearer {token}"}

    no_phone = client.put("/api/v1/inbox/daily-text", json={"on": True}, headers=headers)
    on = client.put(
        "/api/v1/inbox/daily-text", json={"on": True, "phone": "+12025550100"}, headers=headers
    )
    off = invoke(runner, "inbox", "daily-text", "robin@example.org", "--off")

    assert no_phone.status_code == 422 and "needs your phone" in no_phone.get_json()["message"]
    assert on.get_json() == {"on": True, "phone": "+1******0100"}
    assert off.exit_code == 0 and "off to +1******0100" in off.output
    assert client.get("/api/v1/inbox/daily-text", headers=headers).get_json()["on"] is False


def test_the_schedulers_daily_tick_queues_the_text_with_the_dashboards_address(
    app: Flask, client: FlaskClient, session: Session, clock: Clock
) -> None:
    _inbox(client, session, clock)
    robin = session.scalars(
        select(Coordinator).where(Coordinator.email == "robin@example.org")
    ).one()
    set_daily_text(robin, on=True, phone="+12025550100")
    session.commit()
    clock.now = datetime(2026, 3, 4, 10, 0, tzinfo=ZoneInfo("America/Chicago"))

    daily_text_tick(app)
    daily_text_tick(app)

    session.expire_all()
    [row] = session.scalars(select(OutboxMessage).where(OutboxMessage.to_phone == "+12025550100"))
    assert row.body == f"2 replies are waiting in Peerline: {PUBLIC_URL}/inbox"
