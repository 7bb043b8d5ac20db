"""The inbound text conversation, through the signed webhook, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from scheduler.dispatcher import dispatch_due
from service.conversation.keywords import (
    OPT_OUT_KEYWORDS,
    OPT_OUT_KEYWORDS_EN,
    OPT_OUT_KEYWORDS_ES,
)
from service.conversation.replies import Conversation, IncomingText, answer_without_database
from service.conversation.revocation import RULES, Kind
from service.models import (
    ConsentChange,
    ConsentEvent,
    ConsentSource,
    ConsentState,
    InboundMessage,
    Membership,
    MembershipStatus,
    OutboxKind,
    OutboxMessage,
    Participant,
)
from tests.support import (
    PUBLIC_URL,
    Clock,
    RecordingGateway,
    invoke,
    ledger,
    make_group,
    make_participant,
    new_sid,
    reloaded,
    text_in,
)

SAM = "+12025550142"
NEW = "+12025550177"
ON_CALL = "+12025550100"


def replies(response: TestResponse) -> list[str]:
    assert response.status_code == 200, response.text
    assert response.mimetype == "application/xml"
    root = ET.fromstring(response.text)  # noqa: S314 - our own TwiML
    assert root.tag == "Response"
    return ["".join(m.itertext()) for m in root.iter("Message")]


def variants(word: str) -> list[str]:
    return [word.lower(), f"  {word.upper()}!! ", f"'{word.title()}.'"]


# Every keyword, and every request to stop the grammar documents with an example.
REQUESTS = [e for rule in RULES if rule.kind in (Kind.REVOKE, Kind.ALONE) for e in rule.examples]
OPT_OUTS = [v for w in (*OPT_OUT_KEYWORDS, *REQUESTS) for v in variants(w)]
# Each of them is tried by a person of its own, several people to an app: a test of its own
# for each wording would build the same two groups and send the same two group texts hundreds
# of times. The people of a batch share nothing but the groups and those two sends, and each
# wording is asserted on its own (a subtest names it).
BATCH = 24
STARTS = range(0, len(OPT_OUTS), BATCH)
# What a wording reads as is settled before the database is asked anything (read_message, and
# tests/unit/test_keywords*.py); from there every opt-out takes the same statements. So every
# wording is tried on SQLite, and PostgreSQL has those statements from one batch: the first
# keyword of each language and the first example of each kind of request in each language.
FIRSTS = [
    OPT_OUT_KEYWORDS_EN[0],
    OPT_OUT_KEYWORDS_ES[0],
    *{
        (rule.kind, rule.language): rule.examples[0]
        for rule in reversed(RULES)
        if rule.kind in (Kind.REVOKE, Kind.ALONE) and rule.examples
    }.values(),
]
BATCHES = [
    pytest.param("sqlite", OPT_OUTS[n : n + BATCH], id=f"sqlite-{n + 1}-{n + BATCH}")
    for n in STARTS
] + [
    pytest.param(database, FIRSTS, id=f"{database}-firsts", marks=marks)
    for database, marks in (("sqlite", ()), ("postgresql", pytest.mark.postgres))
]


def test_postgresql_has_a_keyword_and_each_kind_of_request_in_each_language() -> None:
    kinds = {
        (rule.kind, rule.language): rule.examples[0]
        for rule in RULES
        if rule.kind in (Kind.REVOKE, Kind.ALONE) and rule.examples
    }
    assert set(kinds) == {(k, lang) for k in (Kind.REVOKE, Kind.ALONE) for lang in ("en", "es")}
    assert {w.lower() for w in FIRSTS} <= {w.lower() for w in OPT_OUTS}


@pytest.mark.parametrize(("database_url", "batch"), BATCHES, indirect=["database_url"])
def test_every_opt_out_word_stops_everything_with_one_confirmation(
    client: FlaskClient,
    session: Session,
    runner: FlaskCliRunner,
    gateway: RecordingGateway,
    subtests: pytest.Subtests,
    batch: list[str],
) -> None:
    circle, tuesday = make_group(session, "CIRCLE"), make_group(session, "TUESDAY")
    make_participant(session, SAM, circle, tuesday)  # stays, and hears both group texts
    phones = [f"+1202555{2000 + n:04d}" for n in range(len(batch))]
    for phone in phones:
        make_participant(session, phone, circle, tuesday)

    for words, phone in zip(batch, phones, strict=True):
        with subtests.test(words=words):
            answer = replies(text_in(client, phone, words))

            assert len(answer) == 1, f"{words!r}: {answer}"
            assert "no more messages" in answer[0], f"{words!r}: {answer}"
            person = reloaded(session, phone)
            assert person.consent is ConsentState.REVOKED, words
            assert ledger(session, person)[-1] == (ConsentChange.OPT_OUT, ConsentSource.KEYWORD)
            # A second STOP gets no second confirmation.
            assert replies(text_in(client, phone, "STOP")) == [], words

    # And no group text reaches any of them afterwards; it still reaches Sam.
    assert invoke(runner, "send", "--group", "CIRCLE", "See you Tuesday").exit_code == 0
    assert invoke(runner, "send", "--group", "TUESDAY", "Room 5 tonight").exit_code == 0
    assert gateway.to(SAM) == ["See you Tuesday", "Room 5 tonight"]
    assert {w: gateway.to(phone) for w, phone in zip(batch, phones, strict=True)} == {
        w: [] for w in batch
    }


@pytest.mark.parametrize(
    "words",
    [
        "I can't stop thinking about last week",
        "Is there a bus stop near the hall?",
        "I want to quit drinking",
        "Did the meeting end late?",
        "Don't stop texting me, these help",
    ],
)
def test_stop_inside_an_ordinary_sentence_is_not_an_opt_out(
    client: FlaskClient, session: Session, words: str
) -> None:
    make_participant(session, SAM, make_group(session))

    answer = replies(text_in(client, SAM, words))

    assert reloaded(session, SAM).consent is ConsentState.GRANTED
    assert answer == [
        "Peerline: Thanks, we got your message and passed it to your facilitator. "
        "Reply HELP for help, STOP to cancel."
    ]
    inbox = session.scalars(select(InboundMessage)).one()
    assert inbox.needs_reply and inbox.body == words


def test_start_restores_every_membership_held_before_the_stop(
    client: FlaskClient, session: Session, runner: FlaskCliRunner, gateway: RecordingGateway
) -> None:
    circle, tuesday = make_group(session, "CIRCLE"), make_group(session, "TUESDAY")
    make_participant(session, SAM, circle, tuesday)
    text_in(client, SAM, "STOP")

    answer = replies(text_in(client, SAM, "start"))

    assert len(answer) == 1
    assert "Welcome back" in answer[0] and "Circle Group, Tuesday Group" in answer[0]
    assert "STOP to cancel" in answer[0]
    sam = reloaded(session, SAM)
    assert sam.consent is ConsentState.GRANTED
    assert [e[0] for e in ledger(session, sam)] == [ConsentChange.OPT_OUT, ConsentChange.OPT_IN]
    invoke(runner, "send", "--group", "CIRCLE", "See you Tuesday")
    invoke(runner, "send", "--group", "TUESDAY", "Room 5 tonight")
    assert gateway.to(SAM) == ["See you Tuesday", "Room 5 tonight"]


def test_yes_with_nothing_pending_opts_back_in(client: FlaskClient, session: Session) -> None:
    make_participant(session, SAM, make_group(session), consent=ConsentState.REVOKED)

    answer = replies(text_in(client, SAM, "Yes"))

    assert "Welcome back" in answer[0]
    assert reloaded(session, SAM).consent is ConsentState.GRANTED


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("HELP", "Msg&data rates may apply. Reply STOP to cancel."),
        ("info", "Msg&data rates may apply. Reply STOP to cancel."),
        ("Ayuda", "Responda PARAR para cancelar."),
    ],
)
def test_help_names_the_programme_contact_frequency_rates_and_stop(
    client: FlaskClient, session: Session, words: str, expected: str
) -> None:
    answer = replies(text_in(client, NEW, words))

    assert len(answer) == 1
    assert answer[0].startswith("Peerline: ")
    assert "coordinator" in answer[0] or "coordina su grupo" in answer[0]  # who to contact
    assert "8 msjs/sem" in answer[0] or "8 msgs/wk" in answer[0]
    assert answer[0].endswith(expected)
    assert session.scalar(select(func.count()).select_from(Participant)) == 0


def test_join_then_yes_is_a_double_opt_in(
    client: FlaskClient, session: Session, runner: FlaskCliRunner, gateway: RecordingGateway
) -> None:
    make_group(session, "CIRCLE")

    first = replies(text_in(client, NEW, "join circle"))

    assert first == [
        "Peerline: To get reminders for Circle Group, reply YES. Msg&data rates may apply. "
        "Reply STOP to cancel."
    ]
    newcomer = reloaded(session, NEW)
    assert newcomer.consent is ConsentState.UNKNOWN
    assert newcomer.memberships[0].status is MembershipStatus.PENDING
    invoke(runner, "send", "--group", "CIRCLE", "Not yet for you")
    assert gateway.to(NEW) == []

    second = replies(text_in(client, NEW, "YES"))

    assert "You're in" in second[0] and "Circle Group" in second[0]
    assert "STOP to cancel" in second[0]
    newcomer = reloaded(session, NEW)
    assert newcomer.consent is ConsentState.GRANTED
    assert newcomer.memberships[0].status is MembershipStatus.ACTIVE
    assert ledger(session, newcomer) == [(ConsentChange.OPT_IN, ConsentSource.KEYWORD)]
    invoke(runner, "send", "--group", "CIRCLE", "Welcome!")
    assert gateway.to(NEW) == ["Welcome!"]


def test_a_code_alone_joins_and_spanish_groups_answer_in_spanish(
    client: FlaskClient, session: Session
) -> None:
    make_group(session, "MARTES", language="es")

    answer = replies(text_in(client, NEW, "martes"))

    assert answer[0].startswith("Peerline: Para recibir recordatorios de Martes Group, responda SI")
    assert "Listo" in replies(text_in(client, NEW, "sí"))[0]


def test_join_with_a_spanish_groups_code_is_answered_in_spanish(
    client: FlaskClient, session: Session
) -> None:
    """JOIN is the word on every poster; the group's language answers it."""
    make_group(session, "MARTES", language="es")

    answer = replies(text_in(client, NEW, "JOIN MARTES"))

    assert answer[0].startswith("Peerline: Para recibir recordatorios de Martes Group, responda SI")
    person = session.scalars(select(Participant).where(Participant.phone == NEW)).one()
    assert (person.language, person.memberships[0].language) == ("es", "es")


def test_help_in_spanish_names_the_coordinator_in_spanish(
    client: FlaskClient, session: Session
) -> None:
    make_participant(session, SAM, make_group(session, "MARTES", language="es"), language="es")

    [answer] = replies(text_in(client, SAM, "AYUDA"))

    assert "contacte a la persona que coordina su grupo" in answer and "your" not in answer


def test_an_unknown_code_gets_a_kind_reply_and_enrols_nobody(
    client: FlaskClient, session: Session
) -> None:
    make_group(session, "CIRCLE")

    answer = replies(text_in(client, NEW, "JOIN CIRCEL"))

    assert "couldn't find a group with the code CIRCEL" in answer[0]
    assert session.scalar(select(func.count()).select_from(Participant)) == 0


def test_a_stranger_saying_anything_else_gets_help_and_is_not_enrolled(
    client: FlaskClient, session: Session
) -> None:
    answer = replies(text_in(client, NEW, "who is this?"))

    assert "Reply STOP to cancel" in answer[0] and "Msg&data rates may apply" in answer[0]
    assert session.scalar(select(func.count()).select_from(Participant)) == 0


def test_a_stranger_who_stops_stays_stopped_when_they_later_join(
    client: FlaskClient, session: Session, runner: FlaskCliRunner, gateway: RecordingGateway
) -> None:
    make_group(session, "CIRCLE")
    assert "no more messages" in replies(text_in(client, NEW, "STOP"))[0]

    text_in(client, NEW, "JOIN CIRCLE")
    invoke(runner, "send", "--group", "CIRCLE", "hello")
    assert reloaded(session, NEW).consent is ConsentState.REVOKED
    assert gateway.to(NEW) == []

    replies(text_in(client, NEW, "YES"))
    assert reloaded(session, NEW).consent is ConsentState.GRANTED


def test_leave_leaves_one_group_and_the_others_continue(
    client: FlaskClient, session: Session, runner: FlaskCliRunner, gateway: RecordingGateway
) -> None:
    circle, tuesday = make_group(session, "CIRCLE"), make_group(session, "TUESDAY")
    make_participant(session, SAM, circle, tuesday)

    bare = replies(text_in(client, SAM, "LEAVE"))
    assert "Which group" in bare[0] and "CIRCLE" in bare[0] and "TUESDAY" in bare[0]

    answer = replies(text_in(client, SAM, "leave circle"))

    assert "won't get more reminders for Circle Group" in answer[0]
    assert "other groups continue" in answer[0]
    invoke(runner, "send", "--group", "CIRCLE", "circle news")
    invoke(runner, "send", "--group", "TUESDAY", "tuesday news")
    assert gateway.to(SAM) == ["tuesday news"]
    assert reloaded(session, SAM).consent is ConsentState.GRANTED


@pytest.mark.parametrize(
    ("opt_out_type", "body", "consent"),
    [
        ("STOP", "STOP", ConsentState.REVOKED),
        ("START", "START", ConsentState.GRANTED),
        ("HELP", "HELP", ConsentState.GRANTED),
    ],
)
def test_advanced_opt_out_is_recorded_without_a_second_reply(
    client: FlaskClient,
    session: Session,
    opt_out_type: str,
    body: str,
    consent: ConsentState,
) -> None:
    start = ConsentState.REVOKED if opt_out_type == "START" else ConsentState.GRANTED
    make_participant(session, SAM, make_group(session), consent=start)

    answer = replies(text_in(client, SAM, body, OptOutType=opt_out_type))

    assert answer == []
    assert reloaded(session, SAM).consent is consent


def test_crisis_words_get_resources_an_urgent_flag_and_alert_the_coordinator(
    app: Flask, clock: Clock, client: FlaskClient, session: Session, gateway: RecordingGateway
) -> None:
    make_participant(session, SAM, make_group(session, on_call_phone=ON_CALL), name="Sam Rivera")

    answer = replies(text_in(client, SAM, "I just want to die tonight"))

    assert len(answer) == 1 and "988" in answer[0]
    message = session.scalars(select(InboundMessage)).one()
    assert message.urgent and message.needs_reply
    assert dispatch_due(app) == 1
    alert = gateway.to(ON_CALL)
    assert len(alert) == 1
    assert "urgent message from Sam in Circle Group" in alert[0]
    assert f"Open it: {PUBLIC_URL}/inbox/{message.id}" in alert[0]
    # Neither the person's words nor any of their number go out on a lock screen.
    assert "die" not in alert[0] and "0142" not in alert[0]
    assert "recovery" not in alert[0]  # the group's internal name never goes out by text
    assert reloaded(session, SAM).consent is ConsentState.GRANTED


def test_crisis_and_stop_in_one_message_does_both(
    app: Flask, clock: Clock, client: FlaskClient, session: Session, gateway: RecordingGateway
) -> None:
    make_participant(session, SAM, make_group(session, on_call_phone=ON_CALL))

    answer = replies(text_in(client, SAM, "stop texting me, I want to kill myself"))

    assert len(answer) == 2
    assert "988" in answer[0] and "no more messages" in answer[1]
    assert reloaded(session, SAM).consent is ConsentState.REVOKED
    dispatch_due(app)
    assert len(gateway.to(ON_CALL)) == 1
    # The alert says "check the inbox": the message is there, urgent.
    message = session.scalars(select(InboundMessage)).one()
    assert (message.intent, message.urgent, message.needs_reply) == ("opt_out", True, True)


def test_a_strangers_crisis_text_reaches_an_admins_inbox(
    client: FlaskClient, session: Session
) -> None:
    assert "988" in replies(text_in(client, NEW, "I want to die"))[0]
    message = session.scalars(select(InboundMessage)).one()
    assert (message.urgent, message.needs_reply, message.group_id) == (True, True, None)


def test_other_messages_reach_the_inbox_with_one_acknowledgement_a_day(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    make_participant(session, SAM, make_group(session))

    first = replies(text_in(client, SAM, "Running late tonight"))
    second = replies(text_in(client, SAM, "Actually I'll be 20 min late"))
    clock.now += timedelta(days=1)
    next_day = replies(text_in(client, SAM, "Thanks for last night"))

    assert len(first) == 1 and "passed it to your facilitator" in first[0]
    assert second == []
    assert len(next_day) == 1
    inbox = session.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()
    assert [m.body for m in inbox] == [
        "Running late tonight",
        "Actually I'll be 20 min late",
        "Thanks for last night",
    ]
    assert all(m.needs_reply and not m.urgent and not m.read for m in inbox)
    assert [m.auto_acknowledged for m in inbox] == [True, False, True]


def test_a_replayed_message_sid_changes_nothing(
    app: Flask, clock: Clock, client: FlaskClient, session: Session, gateway: RecordingGateway
) -> None:
    make_participant(session, SAM, make_group(session, on_call_phone=ON_CALL))
    sid = new_sid()
    assert len(replies(text_in(client, SAM, "I overdosed last night", sid=sid))) == 1
    before = (
        session.scalar(select(func.count()).select_from(InboundMessage)),
        session.scalar(select(func.count()).select_from(OutboxMessage)),
        session.scalar(select(func.count()).select_from(ConsentEvent)),
    )

    assert replies(text_in(client, SAM, "I overdosed last night", sid=sid)) == []
    assert replies(text_in(client, SAM, "STOP", sid=sid)) == []

    after = (
        session.scalar(select(func.count()).select_from(InboundMessage)),
        session.scalar(select(func.count()).select_from(OutboxMessage)),
        session.scalar(select(func.count()).select_from(ConsentEvent)),
    )
    assert after == before
    dispatch_due(app)
    assert len(gateway.to(ON_CALL)) == 1
    assert reloaded(session, SAM).consent is ConsentState.GRANTED


def test_every_reply_is_kept_in_the_outbox_as_sent(client: FlaskClient, session: Session) -> None:
    make_group(session, "CIRCLE")
    text_in(client, NEW, "JOIN CIRCLE")
    text_in(client, NEW, "YES")

    rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [(r.kind, r.state.value) for r in rows] == [(OutboxKind.REPLY, "sent")] * 2
    member = session.scalars(select(Membership)).one()
    assert all(r.participant_id == member.participant_id for r in rows)


def test_the_same_text_arriving_twice_at_once_is_handled_once(app: Flask, session: Session) -> None:
    make_group(session, "CIRCLE")
    sid = new_sid()
    start = threading.Barrier(6)
    answers: list[list[str]] = []

    def deliver() -> None:
        client = app.test_client()
        start.wait()
        answers.append(replies(text_in(client, NEW, "JOIN CIRCLE", sid=sid)))

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(len(a) for a in answers) == [0, 0, 0, 0, 0, 1]
    assert session.scalar(select(func.count()).select_from(InboundMessage)) == 1
    assert session.scalar(select(func.count()).select_from(Participant)) == 1


def test_two_different_texts_from_a_new_number_at_once_enrol_it_once(
    app: Flask, session: Session
) -> None:
    make_group(session, "CIRCLE")
    start = threading.Barrier(4)
    answers: list[list[str]] = []

    def deliver() -> None:
        client = app.test_client()
        start.wait()
        answers.append(replies(text_in(client, NEW, "JOIN CIRCLE")))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(answers) == 4 and all(len(a) == 1 for a in answers)
    assert session.scalar(select(func.count()).select_from(InboundMessage)) == 4
    assert session.scalar(select(func.count()).select_from(Participant)) == 1


def test_leave_from_someone_in_no_group_says_so(client: FlaskClient, session: Session) -> None:
    make_participant(session, SAM)
    assert replies(text_in(client, SAM, "LEAVE")) == [
        "Peerline: You aren't getting reminders for any group. Reply HELP for help."
    ]
    assert replies(text_in(client, SAM, "salir circle")) == [
        "Peerline: You aren't getting reminders for a group with the code CIRCLE. "
        "Reply HELP for help."
    ]


def test_a_spanish_speaker_is_told_the_word_that_lifts_twilios_block_too(
    client: FlaskClient, session: Session
) -> None:
    # Twilio lifts its own block (after an English STOP) only on START, YES or UNSTOP, so the
    # Spanish way back names START beside INICIAR; both opt back in here.
    make_participant(session, SAM, make_group(session), language="es")

    answer = replies(text_in(client, SAM, "PARAR"))

    assert answer == [
        "Peerline: Se ha dado de baja y no recibira mas mensajes ni llamadas. Responda START o "
        "INICIAR para volver."
    ]
    for word in ("START", "INICIAR"):
        replies(text_in(client, SAM, word))
        assert reloaded(session, SAM).consent is ConsentState.GRANTED
        replies(text_in(client, SAM, "PARAR"))


MAYBE_EN = (
    "Peerline: Thanks, a person will read your message. If you want no more texts or calls "
    "from us at all, reply STOP."
)
MAYBE_ES = (
    "Peerline: Gracias, una persona va a leer su mensaje. Si no quiere mas mensajes ni llamadas "
    "nuestras, responda PARAR."
)


@pytest.mark.parametrize(
    ("words", "language", "answer"),
    [
        ("too many texts", "en", MAYBE_EN),
        ("Please don't text me so early", "en", MAYBE_EN),
        ("take me off", "en", MAYBE_EN),
        ("STOP. Who is this?", "en", MAYBE_EN),
        ("Ya no quiero", "es", MAYBE_ES),
    ],
)
def test_a_text_that_may_ask_to_stop_reaches_a_person_marked_and_is_answered_honestly(
    client: FlaskClient,
    session: Session,
    runner: FlaskCliRunner,
    gateway: RecordingGateway,
    words: str,
    language: str,
    answer: str,
) -> None:
    make_participant(session, SAM, make_group(session, "CIRCLE"), language=language)

    first = replies(text_in(client, SAM, words))
    again = replies(text_in(client, SAM, words))

    # Told every time how to stop for sure, never "we got your message" as if that were all.
    assert first == again == [answer]
    sam = reloaded(session, SAM)
    assert sam.consent is ConsentState.GRANTED
    assert ledger(session, sam) == []
    inbox = session.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()
    assert [(m.intent, m.needs_reply, m.auto_acknowledged) for m in inbox] == [
        ("maybe_opt_out", True, False)
    ] * 2
    # An ordinary message the same day still gets its one acknowledgement.
    assert len(replies(text_in(client, SAM, "see you Tuesday"))) == 1
    session.expire_all()
    acknowledged = select(InboundMessage.auto_acknowledged).order_by(InboundMessage.id)
    assert session.scalars(acknowledged).all() == [False, False, True]
    # Nothing stopped: until a person decides, the group's texts still reach them.
    assert invoke(runner, "send", "--group", "CIRCLE", "Room 5 tonight").exit_code == 0
    assert gateway.to(SAM) == ["Room 5 tonight"]


@pytest.mark.parametrize(
    "words",
    [
        "I no longer want these texts",
        "I withdraw my consent",
        "please take me off your list",
        "ya no quiero recibir recordatorios",
        "Paren",
    ],
)
def test_a_plain_language_revocation_stops_everything_and_is_confirmed(
    client: FlaskClient,
    session: Session,
    runner: FlaskCliRunner,
    gateway: RecordingGateway,
    words: str,
) -> None:
    make_participant(session, SAM, make_group(session, "CIRCLE"))

    answer = replies(text_in(client, SAM, words))

    assert len(answer) == 1 and "no more messages" in answer[0]
    assert reloaded(session, SAM).consent is ConsentState.REVOKED
    invoke(runner, "send", "--group", "CIRCLE", "Room 5 tonight")
    assert gateway.to(SAM) == []


@pytest.mark.parametrize(
    "words",
    [
        "Take me off the waitlist for the Monday group, I got into Thursday",
        "Stop by the church at 6?",
        "Please don't ever stop sending me these",
    ],
)
def test_a_group_change_a_negated_request_or_an_unrelated_stop_is_an_ordinary_message(
    client: FlaskClient, session: Session, words: str
) -> None:
    make_participant(session, SAM, make_group(session))

    answer = replies(text_in(client, SAM, words))

    assert reloaded(session, SAM).consent is ConsentState.GRANTED
    assert len(answer) == 1 and "passed it to your facilitator" in answer[0]
    message = session.scalars(select(InboundMessage)).one()
    assert message.intent == "message" and message.needs_reply


def test_a_stranger_whose_text_may_ask_to_stop_is_answered_honestly_and_seen_by_an_admin(
    client: FlaskClient, session: Session
) -> None:
    assert replies(text_in(client, NEW, "too many texts")) == [MAYBE_EN]
    message = session.scalars(select(InboundMessage)).one()
    assert (message.intent, message.needs_reply, message.group_id) == ("maybe_opt_out", True, None)
    assert session.scalar(select(func.count()).select_from(Participant)) == 0


def test_a_text_that_may_ask_to_stop_kept_while_the_database_was_away_is_replayed_marked(
    app: Flask, session: Session, clock: Clock
) -> None:
    make_participant(session, SAM, make_group(session), language="es")
    wording = app.extensions["peerline.wording"]
    # What the webhook answered from the words alone while the database was away...
    answered = answer_without_database("Ya no quiero", wording)
    assert answered == [MAYBE_ES]
    # ...and the same text replayed once the database is back.
    with app.app_context():
        conversation = Conversation(session, wording, "insecure-test-key", clock.now)
        outcome = conversation.handle(
            IncomingText(new_sid(), SAM, "Ya no quiero", answered=tuple(answered))
        )
        session.commit()

    assert outcome.replies == [MAYBE_ES]
    message = session.scalars(select(InboundMessage)).one()
    assert (message.intent, message.needs_reply, message.auto_acknowledged) == (
        "maybe_opt_out",
        True,
        False,
    )
    assert session.scalars(
        select(OutboxMessage.body).where(OutboxMessage.kind == OutboxKind.REPLY)
    ).all() == [MAYBE_ES]
    assert reloaded(session, SAM).consent is ConsentState.GRANTED
