"""Reminder calls: who is called, what they hear, what each key does, and how calls end.

TwiML is parsed as XML; what matters is what the person hears and what changes for them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.dispatcher import dispatch_due
from service.app import create_app
from service.campaigns.planner import plan
from service.db import sessions
from service.models import (
    Attendance,
    CampaignKind,
    Channel,
    ConsentEvent,
    ConsentSource,
    ConsentState,
    Group,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Participant,
    Rsvp,
)
from service.people.participants import choose
from service.sending.dispatch import dispatcher
from tests.support import (
    PUBLIC_URL,
    Clock,
    RecordingGateway,
    make_campaign,
    make_group,
    make_participant,
    make_schedule,
    make_settings,
    new_sid,
    post_signed,
)
from tests.twilio_fake import TwilioFakeServer

SAM, LUCIA = "+12025550142", "+12025550145"
ON_CALL = "+12025550199"
# The test clock starts Tuesday 2026-03-03 at 12:00 in New York; the group meets at 18:30.
TONIGHT_UTC = datetime(2026, 3, 3, 23, 30, tzinfo=UTC)
TWO_HOURS_BEFORE = TONIGHT_UTC - timedelta(hours=2)
TONIGHT = "20260303T1830"  # the occurrence key of tonight's meeting


@pytest.fixture
def app(lend_app: Callable[..., Flask]) -> Flask:
    """Calls placed as fast as the test asks: pacing has tests of its own (test_rate_limit),
    and on a loaded machine a call here could miss its one-second slot and be given back."""
    return lend_app(PEERLINE_CALL_RATE="off")


@pytest.fixture
def circle(session: Session) -> Group:
    group = make_group(session, "CIRCLE", on_call_phone=ON_CALL)
    make_schedule(session, group, location="St Mark's basement")
    make_campaign(session, group, CampaignKind.REMINDER, offsets=["2h"], rsvp=True)
    return group


def caller(session: Session, group: Group, phone: str = SAM, **fields: object) -> Participant:
    return make_participant(session, phone, group, channel=Channel.VOICE, **fields)  # type: ignore[arg-type]


def ring(app: Flask, session: Session, clock: Clock, when: datetime = TWO_HOURS_BEFORE) -> None:
    clock.now = when
    plan(session, clock.now)
    session.commit()
    dispatch_due(app)


def tonight_call(
    app: Flask, session: Session, clock: Clock, group: Group, language: str = "en"
) -> OutboxMessage:
    """A participant who takes calls, rung for tonight's meeting two hours before it."""
    caller(session, group, language=language)
    ring(app, session, clock)
    [row] = call_rows(session)
    return row


def call_rows(session: Session) -> list[OutboxMessage]:
    """Tonight's reminder calls (next week's are planned too, and wait)."""
    session.expire_all()
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.channel == Channel.VOICE, OutboxMessage.occurrence_key == TONIGHT)
            .order_by(OutboxMessage.id)
        )
    )


def answer(
    client: FlaskClient, row: OutboxMessage, answered_by: str = "human", **extra: str
) -> ET.Element:
    form = {
        "CallSid": row.provider_sid or new_sid("CA"),
        "AccountSid": "AC" + "a" * 32,
        "From": "+15005550006",
        "To": SAM,
        "CallStatus": "in-progress",
        "AnsweredBy": answered_by,
        **extra,
    }
    reply = post_signed(client, f"/twilio/voice/reminder?outbox={row.id}", form)
    assert reply.status_code == 200 and reply.mimetype == "text/xml"
    return ET.fromstring(reply.data)  # noqa: S314 - our own TwiML


def press(client: FlaskClient, action: str, row: OutboxMessage, digits: str | None) -> ET.Element:
    form = {"CallSid": row.provider_sid or "", "AccountSid": "AC" + "a" * 32, "To": SAM}
    if digits is not None:
        form["Digits"] = digits
    path = action.removeprefix(PUBLIC_URL)
    reply = post_signed(client, path, form)
    assert reply.status_code == 200, reply.data
    return ET.fromstring(reply.data)  # noqa: S314 - our own TwiML


def said(twiml: ET.Element) -> str:
    return " ".join((say.text or "") for say in twiml.iter("Say"))


def gather_action(twiml: ET.Element) -> str:
    gather = twiml.find("Gather")
    assert gather is not None, ET.tostring(twiml)
    return gather.attrib["action"]


def call_status(client: FlaskClient, row: OutboxMessage, status: str, **extra: str) -> int:
    form = {
        "CallSid": row.provider_sid or "",
        "AccountSid": "AC" + "a" * 32,
        "CallStatus": status,
        **extra,
    }
    return post_signed(client, f"/twilio/voice/status?outbox={row.id}", form).status_code


def test_a_voice_participant_gets_a_call_not_a_text(
    app: Flask, session: Session, clock: Clock, gateway: RecordingGateway, circle: Group
) -> None:
    caller(session, circle)
    make_participant(session, LUCIA, circle)  # by text, as most people

    ring(app, session, clock)

    assert [c.to for c in gateway.calls] == [SAM]
    assert gateway.to(SAM) == [] and len(gateway.to(LUCIA)) == 1
    [row] = call_rows(session)
    assert gateway.calls[0].url == f"{PUBLIC_URL}/twilio/voice/reminder?outbox={row.id}"
    assert gateway.calls[0].status_callback == f"{PUBLIC_URL}/twilio/voice/status?outbox={row.id}"
    assert gateway.calls[0].machine_detection == "DetectMessageEnd"
    assert row.state is OutboxState.SENT and row.provider_sid
    assert row.body == "Circle Group meets today at 6:30 PM at St Mark's basement."


@pytest.mark.parametrize(
    ("language", "voice", "greeting", "meeting"),
    [
        ("en", "Polly.Joanna", "Circle Group", "Circle Group meets today at 6:30 PM"),
        ("es", "Polly.Lupe", "Circle Group", "Circle Group se reúne hoy a las 18:30"),
    ],
)
def test_the_person_who_answers_hears_the_group_the_time_and_the_keys(
    app: Flask,
    session: Session,
    clock: Clock,
    client: FlaskClient,
    circle: Group,
    language: str,
    voice: str,
    greeting: str,
    meeting: str,
) -> None:
    row = tonight_call(app, session, clock, circle, language=language)

    twiml = answer(client, row)

    assert greeting in said(twiml) and meeting in said(twiml) and "Sam" in said(twiml)
    assert circle.name not in said(twiml)  # the internal name never
    assert {say.attrib["voice"] for say in twiml.iter("Say")} >= {voice}
    gather = twiml.find("Gather")
    assert gather is not None
    assert (gather.attrib["input"], gather.attrib["numDigits"]) == ("dtmf", "1")
    action = f"/twilio/voice/reminder/key?outbox={row.id}&try=1&lang={language}"
    assert gather_action(twiml) == action
    redirect = twiml.find("Redirect")
    assert redirect is not None and redirect.text == gather_action(twiml)
    session.expire_all()
    assert row.answered_by == "human" and not row.voicemail_left


def test_keys_1_and_2_answer_for_that_meeting_and_3_repeats(
    app: Flask, session: Session, clock: Clock, client: FlaskClient, circle: Group
) -> None:
    person = caller(session, circle)
    ring(app, session, clock)
    [row] = call_rows(session)
    action = gather_action(answer(client, row))

    again = press(client, action, row, "3")
    assert "Circle Group meets today at 6:30 PM" in said(again)
    assert again.find("Gather") is not None

    thanks = press(client, action, row, "1")
    assert "today at 6:30 PM" in said(thanks) and thanks.find("Hangup") is not None
    rsvp = session.scalars(select(Rsvp)).one()
    assert (rsvp.participant_id, rsvp.answer) == (person.id, Attendance.YES)

    declined = press(client, action, row, "2")
    assert declined.find("Hangup") is not None
    session.expire_all()
    assert session.scalars(select(Rsvp)).one().answer is Attendance.NO  # the latest answer


def test_key_9_stops_every_later_call_and_text(
    app: Flask,
    session: Session,
    clock: Clock,
    client: FlaskClient,
    gateway: RecordingGateway,
    circle: Group,
) -> None:
    person = caller(session, circle)
    ring(app, session, clock)
    [row] = call_rows(session)

    stopped = press(client, gather_action(answer(client, row)), row, "9")

    assert "won't get any more calls or texts" in said(stopped)
    session.expire_all()
    assert person.consent is ConsentState.REVOKED
    event = session.scalars(select(ConsentEvent).order_by(ConsentEvent.id.desc())).first()
    assert event is not None and event.source is ConsentSource.KEYPAD
    # Next week's reminder, and a switch back to texts, reach nobody.
    choose(person, channel=Channel.SMS)
    session.commit()
    calls_before = len(gateway.calls)
    ring(app, session, clock, TWO_HOURS_BEFORE + timedelta(days=7))
    assert len(gateway.calls) == calls_before and gateway.to(SAM) == []


def test_silence_repeats_once_then_goodbye_and_a_wrong_key_says_so(
    app: Flask, session: Session, clock: Clock, client: FlaskClient, circle: Group
) -> None:
    row = tonight_call(app, session, clock, circle)
    first = gather_action(answer(client, row))

    quiet = press(client, first, row, None)
    assert "didn't hear" in said(quiet) and quiet.find("Gather") is not None
    bye = press(client, gather_action(quiet), row, None)
    assert bye.find("Gather") is None and bye.find("Hangup") is not None

    wrong = press(client, first, row, "7")
    assert "isn't one of the choices" in said(wrong) and wrong.find("Gather") is not None
    wrong = press(client, gather_action(wrong), row, "#")
    wrong = press(client, gather_action(wrong), row, "12")
    assert wrong.find("Hangup") is not None
    assert session.scalars(select(Rsvp)).all() == []


def test_an_answering_machine_gets_a_voicemail_without_topic_or_place(
    app: Flask, session: Session, clock: Clock, client: FlaskClient, circle: Group
) -> None:
    row = tonight_call(app, session, clock, circle)

    twiml = answer(client, row, answered_by="machine_end_beep")

    words = said(twiml)
    assert "Circle" not in words and "St Mark" not in words and circle.name not in words
    assert "today at 6:30 PM" in words and "call this number back" in words
    assert twiml.find("Gather") is None and twiml.find("Hangup") is not None
    session.expire_all()
    assert row.voicemail_left and row.answered_by == "machine_end_beep"


def test_a_group_may_allow_its_name_and_place_in_voicemail(
    app: Flask, session: Session, clock: Clock, client: FlaskClient, circle: Group
) -> None:
    circle.voicemail_details = True
    session.commit()
    row = tonight_call(app, session, clock, circle)

    words = said(answer(client, row, answered_by="machine_end_silence"))

    assert "Circle Group" in words and "St Mark's basement" in words


def test_busy_and_no_answer_ring_again_after_the_spacing_then_give_up(
    app: Flask,
    session: Session,
    clock: Clock,
    client: FlaskClient,
    gateway: RecordingGateway,
    circle: Group,
) -> None:
    """Two more tries, 30 minutes apart; the meeting is two hours away, so there is time."""
    row = tonight_call(app, session, clock, circle)

    assert call_status(client, row, "ringing") == 200
    assert call_status(client, row, "busy") == 200
    session.expire_all()
    assert row.state is OutboxState.QUEUED
    assert row.due_at == TWO_HOURS_BEFORE + timedelta(minutes=30)

    ring(app, session, clock, TWO_HOURS_BEFORE + timedelta(minutes=29))
    assert len(gateway.calls) == 1  # not before the spacing
    ring(app, session, clock, TWO_HOURS_BEFORE + timedelta(minutes=30))
    assert len(gateway.calls) == 2
    session.expire_all()
    call_status(client, row, "no-answer")
    ring(app, session, clock, TWO_HOURS_BEFORE + timedelta(minutes=60))
    assert len(gateway.calls) == 3
    session.expire_all()
    call_status(client, row, "no-answer")

    session.expire_all()
    assert (row.state, row.state_reason) == (OutboxState.UNDELIVERED, "nobody answered")
    ring(app, session, clock, TWO_HOURS_BEFORE + timedelta(minutes=95))
    assert len(gateway.calls) == 3


def test_a_retry_never_rings_after_the_meeting_began(
    app: Flask,
    session: Session,
    clock: Clock,
    client: FlaskClient,
    gateway: RecordingGateway,
    circle: Group,
) -> None:
    caller(session, circle)
    plan(session, clock.now)  # planned at noon; then an outage until 20 minutes before
    session.commit()
    ring(app, session, clock, TONIGHT_UTC - timedelta(minutes=20))
    [row] = call_rows(session)

    call_status(client, row, "busy")

    session.expire_all()
    assert row.state is OutboxState.UNDELIVERED
    assert row.state_reason == "the line was busy, and it is too late to call again"


def test_a_retry_that_falls_in_quiet_hours_waits_or_expires(
    app: Flask,
    session: Session,
    clock: Clock,
    client: FlaskClient,
    gateway: RecordingGateway,
    circle: Group,
) -> None:
    """Quiet from 17:30 in New York: the third try, due at 17:50, may not ring; nothing
    allowed is left before the 18:30 meeting, so it expires rather than ring at night."""
    circle.quiet_start = circle.quiet_start.replace(hour=17, minute=30)
    session.commit()
    caller(session, circle)
    plan(session, clock.now)  # planned at noon; the first call goes late, at 16:50
    session.commit()
    ring(app, session, clock, TONIGHT_UTC - timedelta(minutes=100))
    [row] = call_rows(session)
    call_status(client, row, "no-answer")
    ring(app, session, clock, TONIGHT_UTC - timedelta(minutes=70))  # 17:20: allowed
    assert len(gateway.calls) == 2
    session.expire_all()
    call_status(client, row, "no-answer")

    ring(app, session, clock, TONIGHT_UTC - timedelta(minutes=40))  # 17:50: quiet

    assert len(gateway.calls) == 2
    session.expire_all()
    assert (row.state, row.state_reason) == (OutboxState.EXPIRED, "only quiet hours were left")


def test_hanging_up_mid_menu_ends_the_call_quietly(
    app: Flask, session: Session, clock: Clock, client: FlaskClient, circle: Group
) -> None:
    """Twilio never posts the Gather's action after a hang-up; only the status arrives."""
    row = tonight_call(app, session, clock, circle)
    answer(client, row)

    assert call_status(client, row, "completed", CallDuration="7", AnsweredBy="human") == 200

    session.expire_all()
    assert row.state is OutboxState.DELIVERED and row.answered_by == "human"
    assert session.scalars(select(Rsvp)).all() == []


def test_a_status_for_an_earlier_call_does_not_undo_the_current_one(
    app: Flask, session: Session, clock: Clock, client: FlaskClient, circle: Group
) -> None:
    row = tonight_call(app, session, clock, circle)
    old_sid = row.provider_sid
    call_status(client, row, "completed")
    session.expire_all()
    assert row.state is OutboxState.DELIVERED

    form = {"CallSid": new_sid("CA"), "AccountSid": "AC" + "a" * 32, "CallStatus": "busy"}
    post_signed(client, f"/twilio/voice/status?outbox={row.id}", form)

    session.expire_all()
    assert (row.state, row.provider_sid) == (OutboxState.DELIVERED, old_sid)


def test_voice_routes_refuse_forged_requests_and_never_error_on_odd_ones(
    app: Flask, session: Session, clock: Clock, client: FlaskClient, circle: Group
) -> None:
    row = tonight_call(app, session, clock, circle)
    for path in (
        f"/twilio/voice/reminder?outbox={row.id}",
        f"/twilio/voice/reminder/key?outbox={row.id}&try=1",
        f"/twilio/voice/status?outbox={row.id}",
    ):
        forged = client.post(path, data={"CallSid": row.provider_sid or ""},
                             headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"})  # fmt: skip
        assert forged.status_code == 403

    for path in ("/twilio/voice/reminder", "/twilio/voice/reminder/key?outbox=999&try=x"):
        reply = post_signed(client, path, {"CallSid": new_sid("CA"), "Digits": "1"})
        assert reply.status_code == 200
        assert "Sorry" in said(ET.fromstring(reply.data))  # noqa: S314 - our own TwiML
    session.expire_all()
    assert session.scalars(select(Rsvp)).all() == []


@pytest.fixture
def fallback_group(session: Session) -> Group:
    group = make_group(session, "CIRCLE", on_call_phone=ON_CALL)
    make_schedule(session, group)
    make_campaign(session, group, CampaignKind.REMINDER, offsets=["2h"])
    return group


@pytest.mark.parametrize("allowed", [True, False])
def test_a_landline_that_fails_by_text_is_called_if_the_group_allows_and_the_coordinator_is_told(
    app: Flask,
    session: Session,
    clock: Clock,
    client: FlaskClient,
    gateway: RecordingGateway,
    fallback_group: Group,
    allowed: bool,
) -> None:
    fallback_group.voice_fallback = allowed
    session.commit()
    person = make_participant(session, SAM, fallback_group)
    ring(app, session, clock)
    [text] = [
        r
        for r in call_rows_all(session)
        if r.kind is OutboxKind.REMINDER and r.occurrence_key == TONIGHT
    ]
    assert gateway.to(SAM) and not gateway.calls

    form = {
        "MessageSid": text.provider_sid or "",
        "MessageStatus": "undelivered",
        "ErrorCode": "30006",
        "AccountSid": "AC" + "a" * 32,
    }
    post_signed(client, f"/twilio/sms/status?outbox={text.id}", form)
    dispatch_due(app)

    session.expire_all()
    assert person.landline
    assert [c.to for c in gateway.calls] == ([SAM] if allowed else [])
    assert person.channel is (Channel.VOICE if allowed else Channel.SMS)
    notice = gateway.to(ON_CALL)
    assert len(notice) == 1 and "landline" in notice[0] and "0142" in notice[0]
    assert SAM not in notice[0]  # only the last digits
    assert ("phone calls" in notice[0]) is allowed


def call_rows_all(session: Session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


@pytest.fixture
def twilio_app(database_url: str, twilio_server: TwilioFakeServer, clock: Clock) -> Iterator[Flask]:
    settings = make_settings(database_url, TWILIO_API_BASE_URL=twilio_server.base_url)
    app = create_app(settings)
    app.extensions["peerline.clock"] = clock
    yield app
    dispatcher(app).close()
    sessions(app).kw["bind"].dispose()


@pytest.mark.slow
def test_a_reminder_call_through_twilio_python_to_the_local_twilio(
    twilio_app: Flask, session: Session, clock: Clock, twilio_server: TwilioFakeServer
) -> None:
    """Calls.json as Twilio's OpenAPI document describes it: Url, StatusCallback, its events,
    MachineDetection; the fake refuses anything the document does not allow."""
    group = make_group(session, "CIRCLE")
    make_schedule(session, group)
    make_campaign(session, group, CampaignKind.REMINDER, offsets=["2h"])
    caller(session, group)

    ring(twilio_app, session, clock)

    [call] = twilio_server.calls
    [row] = call_rows(session)
    params = call.params
    assert (params["To"], params["From"]) == (SAM, "+15005550006")
    assert params["Url"] == f"{PUBLIC_URL}/twilio/voice/reminder?outbox={row.id}"
    assert params["StatusCallback"] == f"{PUBLIC_URL}/twilio/voice/status?outbox={row.id}"
    assert params["StatusCallbackEvent"] == ("initiated", "ringing", "answered", "completed")
    assert params["MachineDetection"] == "DetectMessageEnd"
    assert (row.state, row.provider_sid) == (OutboxState.SENT, call.sid)
    assert twilio_server.messages == []


def test_key_9_on_a_call_means_nothing_more_reaches_twilio(
    twilio_app: Flask,
    session: Session,
    clock: Clock,
    twilio_server: TwilioFakeServer,
) -> None:
    group = make_group(session, "CIRCLE")
    make_schedule(session, group)
    make_campaign(session, group, CampaignKind.REMINDER, offsets=["2h"])
    make_campaign(session, group, CampaignKind.REMINDER, offsets=["1d@18:00"])
    caller(session, group)
    ring(twilio_app, session, clock)
    [row] = [r for r in call_rows(session) if r.state is OutboxState.SENT]
    client = twilio_app.test_client()

    press(client, gather_action(answer(client, row)), row, "9")
    twilio_server.reset()
    for day in range(1, 9):  # a week and more of reminders, by call and (switched) by text
        ring(twilio_app, session, clock, TWO_HOURS_BEFORE + timedelta(days=day))

    assert twilio_server.requests_received == 0


def test_call_settings_default_to_one_call_a_second_and_two_retries(
    database_url: str, session: Session
) -> None:
    """One call a second by default, whatever the text limit is."""
    settings = make_settings(database_url, PEERLINE_SEND_RATE="off", PEERLINE_CALL_RATE=None)
    assert settings.call_rate == 1.0 and settings.send_rate is None
    assert make_settings(database_url, PEERLINE_CALL_RATE="off").call_rate is None
    assert make_settings(database_url, PEERLINE_CALL_RETRIES="0").call_retries == 0
    assert make_settings(database_url, PEERLINE_CALL_RETRY_MINUTES="10").call_retry_spacing == 600
