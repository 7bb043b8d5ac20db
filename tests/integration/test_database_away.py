"""When the database is away (refusing connections, or taking them and never answering), every
door answers at once and says so, instead of hanging a web thread or answering 500."""

from __future__ import annotations

import html
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from flask import Flask
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from service.config import Settings
from service.db import sessions
from service.models import (
    Attendance,
    Channel,
    ConsentChange,
    ConsentEvent,
    ConsentSource,
    ConsentState,
    InboundMessage,
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
    sign,
    text_in,
)
from tests.twilio_fake import TwilioFakeServer
from tests.workers import Worker, all_settled, wait_for, worker_env

# Twilio gives up on a webhook after 15 seconds: the one time bound the tests hold anything to.
TWILIO_PATIENCE = 15.0


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that takes connections and never says a word, like a database host gone wrong."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
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

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def free_port() -> int:
    """A port where nothing listens (yet)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port: int = probe.getsockname()[1]
    probe.close()
    return port


@pytest.fixture
def refused_port() -> int:
    """A port where nothing listens: connections are refused."""
    return free_port()


def away_app(app_factory: Callable[[Settings], Flask], port: int) -> Flask:
    return app_factory(make_settings(f"postgresql+psycopg://peerline@127.0.0.1:{port}/peerline"))


@pytest.mark.parametrize("away", ["silent_server", "refused_port"])
def test_readiness_says_unavailable_without_hanging(
    app_factory: Callable[[Settings], Flask], request: pytest.FixtureRequest, away: str
) -> None:
    client = away_app(app_factory, request.getfixturevalue(away)).test_client()

    started = time.monotonic()
    response = client.get("/readyz")

    assert time.monotonic() - started < TWILIO_PATIENCE
    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "database": "unreachable"}


@pytest.mark.parametrize("away", ["silent_server", "refused_port"])
def test_the_api_answers_503_with_a_time_to_try_again(
    app_factory: Callable[[Settings], Flask], request: pytest.FixtureRequest, away: str
) -> None:
    client = away_app(app_factory, request.getfixturevalue(away)).test_client()

    started = time.monotonic()
    token = TOKEN_PREFIX + "a" * 40  # well formed: only the database can say whose it is
    response = client.get("/api/v1/groups", headers={"Authorization": f"Bearer {token}"})

    assert time.monotonic() - started < TWILIO_PATIENCE
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
        started = time.monotonic()
        response = text_in(client, phone, words)
        assert time.monotonic() - started < TWILIO_PATIENCE, words
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


class WebProcess:
    """`peerline web` (gunicorn) in its own process group, so a kill takes all of it."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from scheduler.cli import main; main()",
                "web",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "1",
                "--threads",
                "2",
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self._up, 30, "peerline web to start")

    def _up(self) -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).ok
        except requests.RequestException:
            return False

    def text(self, sender: str, body: str) -> requests.Response:
        form = {
            "MessageSid": new_sid(),
            "AccountSid": "AC" + "a" * 32,
            "From": sender,
            "To": "+15005550006",
            "Body": body,
        }
        return requests.post(
            f"http://127.0.0.1:{self.port}/twilio/sms",
            data=form,
            headers={"X-Twilio-Signature": sign(PUBLIC_URL + "/twilio/sms", form)},
            timeout=TWILIO_PATIENCE,
        )

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.log.close()


@pytest.mark.postgres
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
        wait_for(lambda: not list(journal.glob("*.jsonl")), 30, "the journal to be replayed")
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
        wait_for(lambda: all_settled(pg_url), 30, "the worker to send")
        worker.terminate()
    assert [str(m.params["To"]) for m in twilio_server.messages] == [ALEX]
    engine.dispose()


@pytest.mark.postgres
def test_a_stop_pressed_on_a_call_while_the_database_is_away_is_heard_kept_and_replayed(
    pg_url: str,
    proxy: DatabaseProxy,
    app_factory: Callable[[Settings], Flask],
    clock: Clock,
) -> None:
    app = app_factory(make_settings(through(pg_url, proxy)))
    client = app.test_client()
    with sessions(app)() as setup:
        circle = make_group(setup, "CIRCLE")
        person = make_participant(setup, SAM, circle, language="es")
        call = OutboxMessage(
            send_key="call:1", kind=OutboxKind.REMINDER, channel=Channel.VOICE,
            participant_id=person.id, group_id=circle.id, body="Circle, tonight",
            state=OutboxState.SENT, due_at=clock.now, sent_at=clock.now,
        )  # fmt: skip
        setup.add(call)
        setup.commit()
        key = f"/twilio/voice/reminder/key?outbox={call.id}&try=1&lang=es"
    proxy.away("refuse")

    toggled = post_signed(client, key, {"CallSid": new_sid("CA"), "Digits": "8"})
    stopped = post_signed(client, key, {"CallSid": new_sid("CA"), "Digits": "9"})

    assert toggled.status_code == stopped.status_code == 200
    wording = app.extensions["peerline.wording"]
    assert html.escape(wording.render("voice/stopped", "es"), quote=False) in stopped.text
    assert html.escape(wording.render("voice/error", "es"), quote=False) in toggled.text
    journal: Journal = app.extensions["peerline.journal"]
    proxy.back()
    assert journal.replay(app) == 1  # the STOP; a toggle is not kept (twice would undo it)

    with sessions(app)() as session:
        assert events(session, SAM) == [ConsentChange.OPT_OUT]
        sources = session.scalars(select(ConsentEvent.source)).all()
        assert sources == [ConsentSource.KEYPAD]
