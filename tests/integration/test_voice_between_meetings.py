"""Between meetings, by phone: encouragement and broadcasts reach people who take calls as a
short call; an answering machine is told only that there is a message; a group may text them
instead to a phone that takes texts; and someone who texted JOIN can finish joining by calling.

Calls are placed by the dispatcher, and each step is posted as Twilio posts it (signed) to the
URL the call or the previous step named; the TwiML that comes back is read as a caller hears it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.dispatcher import dispatch_due
from service.campaigns.planner import plan
from service.campaigns.wording import default_pool
from service.models import (
    Campaign,
    CampaignKind,
    Channel,
    ConsentChange,
    ConsentSource,
    ConsentState,
    Group,
    Membership,
    MembershipStatus,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Participant,
)
from tests.support import (
    PUBLIC_URL,
    Clock,
    RecordingGateway,
    ledger,
    make_campaign,
    make_group,
    make_participant,
    new_sid,
    post_signed,
    reloaded,
    text_in,
)

SAM, LUCIA, NEW = "+12025550142", "+12025550145", "+12025550177"
ACCOUNT = "AC" + "a" * 32
CANCELLED = "Tuesday's group is cancelled. See you next week."
GREETING = "Hello, Sam. This is Peerline calling with a message from Circle Group."
OFFER = "Press 1 to hear this message again. Press 9 to stop all calls and texts."
GOODBYE = "Thank you for your time. Take care. Goodbye."
NEUTRAL = (
    "Hello, this is Peerline. There is a message for you. To hear the details, please call "
    "this number back. Goodbye."
)


@pytest.fixture
def app(lend_app: Callable[..., Flask]) -> Flask:
    """Calls placed as fast as the test asks: the call rate limit has tests of its own, and a
    busy machine could make a call here miss its slot."""
    return lend_app(PEERLINE_CALL_RATE="off")


@pytest.fixture
def circle(session: Session) -> Group:
    return make_group(session, "CIRCLE")


def caller(session: Session, group: Group, phone: str = SAM, **fields: object) -> Participant:
    """Someone the group reaches by phone call."""
    return make_participant(session, phone, group, channel=Channel.VOICE, **fields)  # type: ignore[arg-type]


def broadcast(session: Session, group: Group, at: datetime, **fields: object) -> Campaign:
    wording = {"en": CANCELLED, "es": "El grupo del martes se cancela. Nos vemos la otra semana."}
    return make_campaign(
        session, group, CampaignKind.BROADCAST, wording=wording, send_at=at, **fields
    )


def run(
    app: Flask, session: Session, clock: Clock, when: datetime, *, planning: bool = True
) -> None:
    clock.now = when
    if planning:
        plan(session, clock.now)
        session.commit()
    dispatch_due(app)


def rows(session: Session) -> list[OutboxMessage]:
    session.expire_all()
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind.in_([OutboxKind.BROADCAST, OutboxKind.ENCOURAGEMENT]))
            .order_by(OutboxMessage.due_at, OutboxMessage.id)
        )
    )


def post(client: FlaskClient, url: str, form: dict[str, str]) -> ET.Element:
    reply = post_signed(client, url.removeprefix(PUBLIC_URL), form)
    assert reply.status_code == 200 and reply.mimetype == "text/xml", reply.data
    return ET.fromstring(reply.data)  # noqa: S314 - our own TwiML


def answer(
    client: FlaskClient, gateway: RecordingGateway, row: OutboxMessage, answered_by: str = "human"
) -> ET.Element:
    """Pick up the last call placed, as Twilio fetches its TwiML once someone (or something)
    answers."""
    form = {
        "CallSid": row.provider_sid or "",
        "AccountSid": ACCOUNT,
        "From": "+15005550006",
        "To": SAM,
        "CallStatus": "in-progress",
        "AnsweredBy": answered_by,
    }
    return post(client, gateway.calls[-1].url, form)


def on_the_call(row: OutboxMessage) -> dict[str, str]:
    """What Twilio posts with every key pressed on the call row placed."""
    return {"CallSid": row.provider_sid or "", "AccountSid": ACCOUNT, "To": SAM}


def press(client: FlaskClient, twiml: ET.Element, call: dict[str, str], digits: str) -> ET.Element:
    """Press digits (none: silence) at twiml's menu, posted to its Gather's action."""
    gather = twiml.find("Gather")
    assert gather is not None, ET.tostring(twiml)
    form = dict(call)
    if digits:
        form["Digits"] = digits
    return post(client, gather.attrib["action"], form)


def said(twiml: ET.Element) -> str:
    return " ".join((say.text or "") for say in twiml.iter("Say"))


def call_status(client: FlaskClient, row: OutboxMessage, status: str) -> None:
    form = {"CallSid": row.provider_sid or "", "AccountSid": ACCOUNT, "CallStatus": status}
    assert post_signed(client, f"/twilio/voice/status?outbox={row.id}", form).status_code == 200


# -- a call, not a text ------------------------------------------------------------------------


def test_a_broadcast_reaches_a_caller_as_one_short_call_that_says_its_words(
    app: Flask,
    session: Session,
    clock: Clock,
    client: FlaskClient,
    gateway: RecordingGateway,
    circle: Group,
) -> None:
    caller(session, circle)
    make_participant(session, LUCIA, circle)  # by text, as most people
    broadcast(session, circle, clock.now)

    run(app, session, clock, clock.now)

    [_, row] = sorted(rows(session), key=lambda r: r.channel)  # Lucia's text, then the call
    assert gateway.to(LUCIA) == [CANCELLED] and gateway.to(SAM) == []
    assert [(c.to, c.url) for c in gateway.calls] == [
        (SAM, f"{PUBLIC_URL}/twilio/voice/message?outbox={row.id}")
    ]
    assert gateway.calls[0].status_callback == f"{PUBLIC_URL}/twilio/voice/status?outbox={row.id}"
    assert gateway.calls[0].machine_detection == "DetectMessageEnd"
    assert (row.channel, row.state, row.body) == (Channel.VOICE, OutboxState.SENT, CANCELLED)

    twiml = answer(client, gateway, row)

    assert said(twiml) == f"{GREETING} {CANCELLED} {OFFER} {GOODBYE}"
    assert circle.name not in said(twiml)  # the internal name never
    assert [child.tag for child in twiml] == ["Say", "Say", "Gather", "Say", "Hangup"]
    session.expire_all()
    assert row.answered_by == "human" and not row.voicemail_left
    call_status(client, row, "completed")
    session.expire_all()
    assert row.state is OutboxState.DELIVERED


def test_1_says_the_message_again_silence_says_goodbye_and_9_stops_everything(
    app: Flask,
    session: Session,
    clock: Clock,
    client: FlaskClient,
    gateway: RecordingGateway,
    circle: Group,
) -> None:
    sam = caller(session, circle)
    broadcast(session, circle, clock.now)
    run(app, session, clock, clock.now)
    [row] = rows(session)
    first = answer(client, gateway, row)

    again = press(client, first, on_the_call(row), "1")
    assert said(again) == f"{CANCELLED} {OFFER} {GOODBYE}"
    assert said(press(client, again, on_the_call(row), "")) == GOODBYE
    assert said(press(client, again, on_the_call(row), "5")) == GOODBYE
    stopped = press(client, again, on_the_call(row), "9")

    assert "You won't get any more calls or texts from Peerline." in said(stopped)
    assert reloaded(session, SAM).consent is ConsentState.REVOKED
    assert ledger(session, sam)[-1] == (ConsentChange.OPT_OUT, ConsentSource.KEYPAD)


def test_an_answering_machine_hears_neither_the_group_nor_the_words(
    app: Flask,
    session: Session,
    clock: Clock,
    client: FlaskClient,
    gateway: RecordingGateway,
    circle: Group,
) -> None:
    caller(session, circle)
    broadcast(session, circle, clock.now)
    run(app, session, clock, clock.now)
    [row] = rows(session)

    twiml = answer(client, gateway, row, answered_by="machine_end_beep")

    assert said(twiml) == NEUTRAL
    assert "Circle" not in said(twiml) and "cancelled" not in said(twiml)
    assert twiml.find("Gather") is None and twiml.find("Hangup") is not None
    session.expire_all()
    assert row.voicemail_left and row.answered_by == "machine_end_beep"


def calls_in(client: FlaskClient, phone: str = SAM) -> ET.Element:
    """Someone calls Peerline's number."""
    form = {"CallSid": new_sid("CA"), "AccountSid": ACCOUNT, "From": phone, "To": "+15005550006"}
    return post(client, "/twilio/voice", form)


def test_calling_back_after_a_voicemail_says_the_message_it_stood_for_and_only_to_them(
    app: Flask,
    session: Session,
    clock: Clock,
    client: FlaskClient,
    gateway: RecordingGateway,
    circle: Group,
) -> None:
    sam, lucia = caller(session, circle).id, caller(session, circle, LUCIA).id
    broadcast(session, circle, clock.now)
    run(app, session, clock, clock.now)
    by_person = {row.participant_id: row for row in rows(session)}
    url = {row.id: call.url for row in by_person.values() for call in gateway.calls
           if call.url.endswith(f"outbox={row.id}")}  # fmt: skip
    for person, answered_by in ((sam, "machine_end_beep"), (lucia, "human")):
        row = by_person[person]  # Sam's tape says "call back"; Lucia picked up and heard it
        form = on_the_call(row) | {"CallStatus": "in-progress", "AnsweredBy": answered_by}
        post(client, url[row.id], form)

    clock.now += timedelta(hours=2)
    heard = said(calls_in(client))
    assert heard.startswith("Hello, Sam. Thanks for calling Peerline.")
    assert f"We left you a message from Circle Group: {CANCELLED}" in heard
    assert "We left you a message" not in said(calls_in(client, LUCIA))

    clock.now += timedelta(days=4)  # long past: the menu alone
    assert "We left you a message" not in said(calls_in(client))


def test_a_group_that_allows_voicemail_details_leaves_its_name_and_the_words(
    app: Flask,
    session: Session,
    clock: Clock,
    client: FlaskClient,
    gateway: RecordingGateway,
    circle: Group,
) -> None:
    circle.voicemail_details = True
    session.commit()
    caller(session, circle)
    broadcast(session, circle, clock.now)
    run(app, session, clock, clock.now)
    [row] = rows(session)

    twiml = answer(client, gateway, row, answered_by="machine_end_silence")

    assert said(twiml) == (
        f"Hello, this is Peerline with a message from Circle Group. {CANCELLED} Goodbye."
    )


def test_encouragement_to_a_caller_is_a_call_in_the_spanish_their_group_speaks_to_them(
    app: Flask,
    session: Session,
    clock: Clock,
    client: FlaskClient,
    gateway: RecordingGateway,
    circle: Group,
) -> None:
    sam = caller(session, circle)  # English for Peerline; Spanish for this group
    membership = session.scalars(
        select(Membership).where(Membership.participant_id == sam.id)
    ).one()
    membership.language = "es"
    make_campaign(
        session,
        circle,
        CampaignKind.ENCOURAGEMENT,
        cadence="FREQ=DAILY",
        cadence_time=time(13, 0),
        created_at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    plan(session, clock.now)
    session.commit()

    run(app, session, clock, datetime(2026, 3, 3, 18, 0, tzinfo=UTC), planning=False)  # 13:00

    assert gateway.sent == [] and [c.to for c in gateway.calls] == [SAM]
    row = next(r for r in rows(session) if r.state is OutboxState.SENT)
    assert row.kind is OutboxKind.ENCOURAGEMENT and row.body in default_pool("es")
    twiml = answer(client, gateway, row)
    assert said(twiml).startswith(
        f"Hola, Sam. Le llama Peerline con un mensaje de Circle Group. {row.body} "
        "Oprima 1 para escuchar este mensaje otra vez."
    )
    assert said(twiml).endswith("Adiós.")
    assert {say.attrib["voice"] for say in twiml.iter("Say")} == {"Polly.Lupe"}
    machine = answer(client, gateway, row, answered_by="machine_start")
    assert said(machine) == (
        "Hola, le llama Peerline. Tiene un mensaje. Para escuchar los detalles, llame a este "
        "número, por favor. Adiós."
    )


# -- or a text, where the group allows it and the phone takes texts -----------------------------


def test_with_texts_between_meetings_a_mobile_caller_gets_a_text_and_a_landline_still_a_call(
    app: Flask,
    session: Session,
    clock: Clock,
    gateway: RecordingGateway,
    circle: Group,
) -> None:
    circle.texts_between_meetings_to_callers = True
    session.commit()
    caller(session, circle)
    landline = caller(session, circle, LUCIA, name="Lucia Gomez")
    landline.landline = True
    session.commit()
    broadcast(session, circle, clock.now)

    run(app, session, clock, clock.now)

    assert gateway.to(SAM) == [CANCELLED]
    assert [c.to for c in gateway.calls] == [LUCIA] and gateway.to(LUCIA) == []
    assert {(r.participant_id, r.channel, r.state) for r in rows(session)} == {
        (landline.id, Channel.VOICE, OutboxState.SENT),
        (reloaded(session, SAM).id, Channel.SMS, OutboxState.SENT),
    }


# -- the rules of reminder calls: retries, expiry, quiet hours ----------------------------------


def test_a_busy_caller_is_rung_again_after_the_spacing_within_the_broadcasts_window(
    app: Flask,
    session: Session,
    clock: Clock,
    client: FlaskClient,
    gateway: RecordingGateway,
    circle: Group,
) -> None:
    caller(session, circle)
    start = clock.now
    broadcast(session, circle, start)
    run(app, session, clock, start)
    [row] = rows(session)

    call_status(client, row, "busy")

    [row] = rows(session)
    assert (row.state, row.due_at) == (OutboxState.QUEUED, start + timedelta(minutes=30))
    run(app, session, clock, start + timedelta(minutes=29), planning=False)
    assert len(gateway.calls) == 1
    run(app, session, clock, start + timedelta(minutes=30), planning=False)
    assert [c.url for c in gateway.calls] == [gateway.calls[0].url] * 2
    [row] = rows(session)
    assert row.state is OutboxState.SENT


def test_a_busy_caller_is_not_rung_again_once_the_broadcasts_window_is_over(
    app: Flask,
    session: Session,
    clock: Clock,
    client: FlaskClient,
    gateway: RecordingGateway,
    circle: Group,
) -> None:
    caller(session, circle)
    broadcast(session, circle, clock.now, window_minutes=20)
    run(app, session, clock, clock.now)
    [row] = rows(session)

    call_status(client, row, "busy")

    [row] = rows(session)
    assert (row.state, row.state_reason) == (
        OutboxState.UNDELIVERED,
        "the line was busy, and it is too late to call again",
    )
    run(app, session, clock, clock.now + timedelta(hours=1), planning=False)
    assert len(gateway.calls) == 1


def test_a_call_again_that_falls_in_quiet_hours_waits_for_the_morning(
    app: Flask,
    session: Session,
    clock: Clock,
    client: FlaskClient,
    gateway: RecordingGateway,
    circle: Group,
) -> None:
    """Sent at 20:45 in New York, busy; the next try at 21:15 is in quiet hours (21:00 to
    08:00), so it rings at 08:00, still inside the broadcast's 12 hours."""
    caller(session, circle)
    evening = datetime(2026, 3, 4, 1, 45, tzinfo=UTC)  # 20:45 in New York
    broadcast(session, circle, evening)
    run(app, session, clock, evening)
    [row] = rows(session)
    call_status(client, row, "busy")

    run(app, session, clock, evening + timedelta(minutes=30), planning=False)  # 21:15: quiet

    assert len(gateway.calls) == 1
    [row] = rows(session)
    morning = datetime(2026, 3, 4, 13, 0, tzinfo=UTC)  # 08:00 in New York
    assert (row.state, row.due_at, row.state_reason) == (
        OutboxState.QUEUED,
        morning,
        "waiting out quiet hours",
    )
    run(app, session, clock, morning, planning=False)
    assert len(gateway.calls) == 2


# -- a pending text joiner finishes by phone ----------------------------------------------------


@pytest.mark.parametrize(
    ("language", "voice", "confirm", "joined"),
    [
        (
            "en",
            "Polly.Joanna",
            "You're joining Circle Group.",
            "You're in. We'll text you before each Circle Group meeting.",
        ),
        (
            "es",
            "Polly.Lupe",
            "Se está uniendo a Circle Group.",
            "Listo, ya es parte del grupo. Le enviaremos un mensaje de texto antes de cada "
            "reunión de Circle Group.",
        ),
    ],
)
def test_someone_who_texted_join_confirms_by_calling_and_pressing_1(
    session: Session,
    client: FlaskClient,
    language: str,
    voice: str,
    confirm: str,
    joined: str,
) -> None:
    group = make_group(session, "CIRCLE", language=language)
    assert text_in(client, NEW, "JOIN CIRCLE").status_code == 200
    person = reloaded(session, NEW)
    assert person.consent is ConsentState.UNKNOWN
    call = {"CallSid": new_sid("CA"), "AccountSid": ACCOUNT, "From": NEW, "To": "+15005550006"}

    asked = post(client, "/twilio/voice", {**call, "CallStatus": "ringing", "Direction": "inbound"})

    assert said(asked).startswith(confirm)
    assert {say.attrib["voice"] for say in asked.iter("Say")} == {voice}
    done = press(client, asked, {**call, "CallStatus": "in-progress"}, "1")
    assert said(done).startswith(joined)
    person = reloaded(session, NEW)
    assert person.consent is ConsentState.GRANTED
    assert ledger(session, person)[-1] == (ConsentChange.OPT_IN, ConsentSource.KEYPAD)
    membership = session.scalars(
        select(Membership).where(Membership.participant_id == person.id)
    ).one()
    assert (membership.group_id, membership.status) == (group.id, MembershipStatus.ACTIVE)
