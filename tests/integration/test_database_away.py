"""When the database is away (refusing connections, or taking them and never answering), every
door answers at once and says so, instead of hanging a web thread or answering 500."""

from __future__ import annotations

import html
import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from scheduler.dispatcher import dispatch_due
from service.config import Settings
from service.db import CONNECT_TIMEOUT, sessions
from service.models import (
    Attendance,
    Channel,
    ConsentChange,
    ConsentEvent,
    ConsentSource,
    ConsentState,
    InboundMessage,
    MembershipStatus,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Participant,
    Rsvp,
)
from service.people.accounts import TOKEN_PREFIX
from service.web.journal import Journal
from tests.dbproxy import Away, DatabaseProxy, proxy_to
from tests.support import (
    PUBLIC_URL,
    Clock,
    RecordingGateway,
    invoke,
    ledger,
    make_group,
    make_participant,
    make_schedule,
    make_settings,
    new_sid,
    post_signed,
    text_in,
)
from tests.twilio_fake import TwilioFakeServer
from tests.workers import WebProcess, Worker, all_settled, free_port, wait_for, worker_env

# Twilio gives up on a webhook after 15 seconds: the one time bound the tests hold anything to,
# through the connections the app waited on, each at most its connect timeout (service.db).
TWILIO_PATIENCE = 15.0


@dataclass
class AwayHost:
    """Where the app's database has gone: its port, and the connections it took and held."""

    port: int
    taken: int = 0


@pytest.fixture
def silent_server() -> Iterator[AwayHost]:
    """A port that takes connections and never says a word, like a database host gone wrong."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    host = AwayHost(listener.getsockname()[1])
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            held.append(conn)
            host.taken += 1

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield host
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


@pytest.fixture
def refused_port() -> AwayHost:
    """A port where nothing listens: connections are refused at once, none is held."""
    return AwayHost(free_port())


def within_twilio_patience(connections_held: int) -> bool:
    """Whether an answer that waited on so many silent connections still beats Twilio's timeout.

    Each silent connection costs the app at most its CONNECT_TIMEOUT; a refused one costs
    nothing. Counted rather than timed, so that a loaded machine cannot break it.
    """
    return connections_held * CONNECT_TIMEOUT < TWILIO_PATIENCE


def away_app(app_factory: Callable[[Settings], Flask], host: AwayHost) -> Flask:
    url = f"postgresql+psycopg://peerline@127.0.0.1:{host.port}/peerline"
    return app_factory(make_settings(url))


@pytest.mark.slow
@pytest.mark.parametrize("away", ["silent_server", "refused_port"])
def test_readiness_says_unavailable_without_hanging(
    app_factory: Callable[[Settings], Flask], request: pytest.FixtureRequest, away: str
) -> None:
    host: AwayHost = request.getfixturevalue(away)
    client = away_app(app_factory, host).test_client()

    response = client.get("/readyz")

    assert within_twilio_patience(host.taken)
    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "database": "unreachable"}


@pytest.mark.slow
@pytest.mark.parametrize("away", ["silent_server", "refused_port"])
def test_the_api_answers_503_with_a_time_to_try_again(
    app_factory: Callable[[Settings], Flask], request: pytest.FixtureRequest, away: str
) -> None:
    host: AwayHost = request.getfixturevalue(away)
    client = away_app(app_factory, host).test_client()

    token = TOKEN_PREFIX + "a" * 40  # well formed: only the database can say whose it is
    response = client.get("/api/v1/groups", headers={"Authorization": f"Bearer {token}"})

    assert within_twilio_patience(host.taken)
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert response.json["error"] == "Service Unavailable"  # type: ignore[index]
    assert "database" in response.json["message"]  # type: ignore[index]


# -- texts that arrive while the database is away ------------------------------------------------

SAM, ALEX, JORDAN, LUCIA = "+12025550142", "+12025550143", "+12025550144", "+12025550145"
ROBIN = "+12025550146"


@pytest.fixture
def proxy(pg_url: str) -> Iterator[DatabaseProxy]:
    url = make_url(pg_url)
    with proxy_to((url.host or "127.0.0.1", url.port or 5432)) as running:
        yield running


def through(pg_url: str, proxy: DatabaseProxy) -> str:
    url = make_url(pg_url).set(host="127.0.0.1", port=proxy.port)
    return url.render_as_string(hide_password=False)


def events(session: Session, phone: str) -> list[ConsentChange]:
    session.expire_all()
    person = session.scalars(select(Participant).where(Participant.phone == phone)).one()
    return [change for change, _ in ledger(session, person)]


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("how", ["refuse", "silent"])
def test_texts_that_arrive_while_the_database_is_away_are_answered_kept_and_replayed_once(
    pg_url: str,
    proxy: DatabaseProxy,
    app_factory: Callable[[Settings], Flask],
    gateway: RecordingGateway,
    clock: Clock,
    how: Away,
) -> None:
    app = app_factory(make_settings(through(pg_url, proxy)))
    client = app.test_client()
    with sessions(app)() as setup:
        circle = make_group(setup, "CIRCLE")
        make_schedule(setup, circle)
        make_participant(setup, SAM, circle)
        make_participant(setup, ALEX, circle, consent=ConsentState.REVOKED)
        make_participant(setup, JORDAN, circle)
        make_participant(setup, LUCIA, circle, language="es")
        make_participant(setup, ROBIN, circle)
    proxy.away(how)

    answers = {}
    for phone, words in [
        (SAM, "STOP"),
        (ALEX, "START"),
        (JORDAN, "C"),
        (LUCIA, "ya no quiero mensajes"),
        (ROBIN, "too many texts"),
    ]:
        tried = proxy.connections
        response = text_in(client, phone, words)
        # A refused connection costs nothing; counted as a silent one, the bound only tightens.
        assert within_twilio_patience(proxy.connections - tried), words
        assert response.status_code == 200, response.text
        answers[phone] = response.text
    assert proxy.connections > 0  # the app really did try the database, and found it away

    assert "unsubscribed" in answers[SAM]
    assert "Welcome back" in answers[ALEX]
    assert "we got your message" in answers[JORDAN]
    assert "Se ha dado de baja" in answers[LUCIA]
    assert "reply STOP" in answers[ROBIN] and "a person will read" in answers[ROBIN]
    journal: Journal = app.extensions["peerline.journal"]
    assert journal.waiting()

    proxy.back()
    kept = {path: path.read_bytes() for path in journal.folder.glob("*.jsonl")}
    assert journal.replay(app) == 5
    assert not journal.waiting()
    # A replayer killed after the database took the texts, before it marked them done: the
    # same requests come again, and change nothing.
    for path, content in kept.items():
        path.write_bytes(content)
    assert journal.replay(app) == 5

    with sessions(app)() as session:
        assert events(session, SAM) == [ConsentChange.OPT_OUT]
        assert events(session, ALEX) == [ConsentChange.OPT_IN]
        assert events(session, LUCIA) == [ConsentChange.OPT_OUT]
        assert events(session, ROBIN) == []
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 5
        maybe = session.scalars(
            select(InboundMessage).where(InboundMessage.intent == "maybe_opt_out")
        ).one()
        assert (maybe.body, maybe.needs_reply, maybe.auto_acknowledged) == (
            "too many texts",
            True,
            False,
        )
        assert session.scalars(select(Rsvp.answer)).all() == [Attendance.YES]
        replies = session.scalars(
            select(OutboxMessage.body).where(OutboxMessage.kind == OutboxKind.REPLY)
        ).all()
        assert sorted(
            r or "" for r in replies
        ) == sorted(  # what they were told, as they were told it
            html.unescape(answer.split("<Message>")[1].split("</Message>")[0])
            for answer in answers.values()
        )

    invoke(app.test_cli_runner(), "send", "--group", "CIRCLE", "Room 5 tonight")
    assert sorted(t.to for t in gateway.sent) == [ALEX, JORDAN, ROBIN]


@pytest.mark.postgres
@pytest.mark.slow
def test_a_web_process_killed_after_it_journals_loses_nothing_and_doubles_nothing(
    pg_url: str, proxy: DatabaseProxy, twilio_server: TwilioFakeServer, tmp_path: Path
) -> None:
    engine = create_engine(pg_url)
    with Session(engine) as setup:
        circle = make_group(setup, "CIRCLE")
        make_participant(setup, SAM, circle)
        make_participant(setup, ALEX, circle)
    env = worker_env(
        through(pg_url, proxy), twilio_server, PEERLINE_INSTANCE_DIR=str(tmp_path / "instance")
    )
    journal = tmp_path / "instance" / "journal"

    proxy.away("refuse")
    first = WebProcess(env, tmp_path / "web-1.log")
    answer = first.text(SAM, "STOP")
    assert answer.status_code == 200 and "unsubscribed" in answer.text
    assert any(path.stat().st_size for path in journal.glob("*.jsonl"))
    first.kill()  # right after it journaled: its replayer never had the database back

    proxy.back()
    second = WebProcess(env, tmp_path / "web-2.log")
    try:
        wait_for(lambda: not list(journal.glob("*.jsonl")), 120, "the journal to be replayed")
    finally:
        second.kill()

    with Session(engine) as session:
        assert events(session, SAM) == [ConsentChange.OPT_OUT]
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 1
    # What goes out after the outage reaches Alex, and never Sam.
    with Session(engine) as session:
        for phone in (SAM, ALEX):
            person = session.scalars(select(Participant).where(Participant.phone == phone)).one()
            session.add(
                OutboxMessage(
                    send_key=f"after:{phone}",
                    kind=OutboxKind.ONE_OFF,
                    participant_id=person.id,
                    group_id=person.memberships[0].group_id,
                    body="See you Tuesday",
                    state=OutboxState.QUEUED,
                    due_at=datetime.now(UTC),
                )
            )
        session.commit()
    with Worker(env, tmp_path / "worker.log") as worker:
        wait_for(lambda: all_settled(pg_url), 120, "the worker to send")
        worker.terminate()
    assert [str(m.params["To"]) for m in twilio_server.messages] == [ALEX]
    engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("page", "kind"), [("reminder", OutboxKind.REMINDER), ("message", OutboxKind.BROADCAST)]
)
def test_a_stop_pressed_on_a_call_while_the_database_is_away_is_heard_kept_and_replayed(
    pg_url: str,
    proxy: DatabaseProxy,
    app_factory: Callable[[Settings], Flask],
    clock: Clock,
    page: str,
    kind: OutboxKind,
) -> None:
    app = app_factory(make_settings(through(pg_url, proxy)))
    client = app.test_client()
    with sessions(app)() as setup:
        circle = make_group(setup, "CIRCLE")
        person = make_participant(setup, SAM, circle, language="es")
        call = OutboxMessage(
            send_key="call:1", kind=kind, channel=Channel.VOICE,
            participant_id=person.id, group_id=circle.id, body="Circle, tonight",
            state=OutboxState.SENT, due_at=clock.now, sent_at=clock.now,
        )  # fmt: skip
        setup.add(call)
        setup.commit()
        key = f"/twilio/voice/{page}/key?outbox={call.id}&try=1&lang=es"
    proxy.away("refuse")

    off_menu = post_signed(client, key, {"CallSid": new_sid("CA"), "Digits": "8"})
    stopped = post_signed(client, key, {"CallSid": new_sid("CA"), "Digits": "9"})

    assert off_menu.status_code == stopped.status_code == 200
    assert said(app, "voice/stopped", "es") in stopped.text
    assert said(app, "voice/error", "es") in off_menu.text
    journal: Journal = app.extensions["peerline.journal"]
    proxy.back()
    assert journal.replay(app) == 1  # the STOP; a key the call's menu does not offer is not

    with sessions(app)() as session:
        assert events(session, SAM) == [ConsentChange.OPT_OUT]
        sources = session.scalars(select(ConsentEvent.source)).all()
        assert sources == [ConsentSource.KEYPAD]


def said(app: Flask, name: str, language: str, **variables: str) -> str:
    """Words from the wording files, as they appear in TwiML."""
    wording = app.extensions["peerline.wording"]
    return html.escape(wording.render(name, language, **variables), quote=False)


def caller(phone: str, digits: str | None = None, call: str | None = None) -> dict[str, str]:
    """A call to Peerline's number as Twilio posts each of its steps."""
    form = {"CallSid": call or new_sid("CA"), "AccountSid": "AC" + "a" * 32, "From": phone}
    return form | ({"Digits": digits} if digits is not None else {})


def next_step(twiml: str) -> str:
    """Where the caller's next key goes."""
    gather = ET.fromstring(twiml).find("Gather")  # noqa: S314 - our own TwiML
    assert gather is not None, twiml
    return gather.get("action") or ""


def replayed_twice(app: Flask, waiting: int) -> None:
    """Replay the journal; then again, as after a replayer killed before it marked them done."""
    journal: Journal = app.extensions["peerline.journal"]
    kept = {path: path.read_bytes() for path in journal.folder.glob("*.jsonl")}
    assert journal.replay(app) == waiting
    assert not journal.waiting()
    for path, content in kept.items():
        path.write_bytes(content)
    assert journal.replay(app) == waiting


@pytest.mark.postgres
def test_a_channel_or_language_chosen_on_a_call_while_the_database_is_away_holds_once(
    pg_url: str, proxy: DatabaseProxy, app_factory: Callable[[Settings], Flask]
) -> None:
    app = app_factory(make_settings(through(pg_url, proxy)))
    client = app.test_client()
    with sessions(app)() as setup:
        make_participant(setup, SAM, make_group(setup, "CIRCLE"))  # English, by text
    call = new_sid("CA")
    menu = next_step(post_signed(client, "/twilio/voice", caller(SAM, call=call)).text)
    proxy.away("refuse")  # while Sam listens to the menu

    to_calls = post_signed(client, menu, caller(SAM, "8", call))
    to_spanish = post_signed(client, menu, caller(SAM, "4", call))

    assert to_calls.status_code == to_spanish.status_code == 200
    assert said(app, "voice/switched", "en", channel="voice") in to_calls.text
    assert said(app, "voice/language_switched", "es") in to_spanish.text  # in the one chosen
    assert proxy.connections > 0
    proxy.back()
    replayed_twice(app, 2)

    with sessions(app)() as session:
        sam = session.scalars(select(Participant).where(Participant.phone == SAM)).one()
        assert (sam.channel, sam.language) == (Channel.VOICE, "es")  # not switched back
    # Sam's next call is in Spanish, and offers texts back.
    heard = post_signed(client, "/twilio/voice", caller(SAM)).text
    assert said(app, "voice/channel_option", "es", new_channel="sms") in heard


@pytest.mark.postgres
def test_a_code_typed_while_the_database_is_away_is_kept_and_joins_only_when_confirmed(
    pg_url: str,
    proxy: DatabaseProxy,
    app_factory: Callable[[Settings], Flask],
    gateway: RecordingGateway,
) -> None:
    app = app_factory(make_settings(through(pg_url, proxy)))
    client = app.test_client()
    with sessions(app)() as setup:
        circle = make_group(setup, "CIRCLE")
        code, group_name = circle.keypad_code or "", circle.public_name
    call = new_sid("CA")
    prompt = next_step(post_signed(client, "/twilio/voice?lang=es", caller(LUCIA, call=call)).text)
    proxy.away("refuse")  # while Lucia types her group's code

    kept = post_signed(client, prompt, caller(LUCIA, code, call))

    assert kept.status_code == 200
    assert said(app, "voice/code_kept", "es") in kept.text
    proxy.back()
    replayed_twice(app, 1)

    with sessions(app)() as session:
        lucia = session.scalars(select(Participant).where(Participant.phone == LUCIA)).one()
        assert (lucia.consent, lucia.language, lucia.channel) == (
            ConsentState.UNKNOWN,
            "es",
            Channel.VOICE,
        )
        assert [m.status for m in lucia.memberships] == [MembershipStatus.PENDING]
        assert events(session, LUCIA) == []  # no consent from a code alone
        (ask,) = session.scalars(select(OutboxMessage)).all()  # one call back, once
        assert (ask.kind, ask.channel, ask.state) == (
            OutboxKind.INVITATION,
            Channel.VOICE,
            OutboxState.QUEUED,
        )

    # The call back rings her phone (a landline can take it) and asks, in Spanish.
    dispatch_due(app)
    (ringing,) = gateway.calls
    assert ringing.to == LUCIA
    assert ringing.url == f"{PUBLIC_URL}/twilio/voice/call-back?outbox={ask.id}"
    with sessions(app)() as session:
        answered_sid = session.get_one(OutboxMessage, ask.id).provider_sid or ""
    outbound = {"CallSid": answered_sid, "AccountSid": "AC" + "a" * 32, "To": LUCIA}
    question = post_signed(client, ringing.url.removeprefix(PUBLIC_URL), outbound).text
    assert said(app, "voice/call_back", "es", group=group_name) in question
    assert said(app, "voice/join_options", "es") in question

    joined = post_signed(client, next_step(question), outbound | {"Digits": "1"})

    assert said(app, "voice/joined", "es", group=group_name, channel="voice") in joined.text
    with sessions(app)() as session:
        lucia = session.scalars(select(Participant).where(Participant.phone == LUCIA)).one()
        assert lucia.consent is ConsentState.GRANTED
        assert [m.status for m in lucia.memberships] == [MembershipStatus.ACTIVE]
        assert ledger(session, lucia) == [(ConsentChange.OPT_IN, ConsentSource.KEYPAD)]
