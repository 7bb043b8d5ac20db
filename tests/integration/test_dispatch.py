"""The dispatcher against a local Twilio, through the real twilio-python client.

Faults are injected at the server; every test ends by asking the server what it received,
because that, not the outbox, is what a participant's phone would show.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from scheduler.dispatcher import dispatch_due
from service.app import create_app
from service.config import ConfigError, Settings
from service.db import make_engine, sessions
from service.messages.outbox import enqueue
from service.models import (
    ConsentState,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Participant,
    SendBudget,
)
from service.sending.dispatch import FRESH_LOOK, dispatcher
from service.sending.gateway import TwilioGateway
from service.sending.rate_limit import RateLimiter
from service.sending.steps import Outcome, claim, due_rows, prepare
from tests.support import (
    Clock,
    make_group,
    make_participant,
    make_settings,
    post_signed,
    text_in,
)
from tests.twilio_fake import TwilioFakeServer

SAM, ALEX, JORDAN, LUCIA = "+12025550142", "+12025550143", "+12025550144", "+12025550145"
TERMINAL = {
    OutboxState.SENT,
    OutboxState.DELIVERED,
    OutboxState.UNDELIVERED,
    OutboxState.FAILED,
    OutboxState.SUPPRESSED,
    OutboxState.EXPIRED,
    OutboxState.CANCELED,
    OutboxState.RECONCILED,
}


@pytest.fixture
def build(
    database_url: str, twilio_server: TwilioFakeServer, clock: Clock
) -> Iterator[Callable[..., Flask]]:
    """Apps whose gateway is TwilioGateway, talking HTTP to the local Twilio."""
    built: list[Flask] = []

    def make(**env: str) -> Flask:
        settings = make_settings(
            database_url,
            TWILIO_API_BASE_URL=twilio_server.base_url,
            TWILIO_TIMEOUT="0.5",
            PEERLINE_SEND_LEASE="60",
            **env,
        )
        app = create_app(settings)
        app.extensions["peerline.clock"] = clock
        app.config["TESTING"] = True
        built.append(app)
        return app

    yield make
    for app in built:
        dispatcher(app).close()
        sessions(app).kw["bind"].dispose()


@pytest.fixture
def app(lend_app: Callable[..., Flask], twilio_server: TwilioFakeServer) -> Flask:
    """The process's app with build()'s settings (lend_app), talking HTTP to this test's Twilio."""
    app = lend_app(TWILIO_TIMEOUT="0.5", PEERLINE_SEND_LEASE="60")
    settings: Settings = app.extensions["peerline.settings"]
    app.extensions["peerline.gateway"] = TwilioGateway(
        dataclasses.replace(settings, twilio_api_base_url=twilio_server.base_url)
    )
    return app


def queue_texts(session: Session, clock: Clock, *phones: str, body: str = "Circle at 7") -> None:
    """One due text to each phone, members of one group."""
    group = make_group(session, "CIRCLE")
    for phone in phones:
        person = make_participant(session, phone, group)
        enqueue(
            session,
            send_key=f"test:{phone}",
            kind=OutboxKind.ONE_OFF,
            body=f"{body} ({phone[-4:]})",
            participant=person,
            group_id=group.id,
            now=clock.now,
            expires_at=clock.now + timedelta(hours=4),
        )
    session.commit()


def states(session: Session) -> dict[str, OutboxState]:
    session.expire_all()
    found = session.execute(
        select(Participant.phone, OutboxMessage.state)
        .join(Participant, Participant.id == OutboxMessage.participant_id)
        .where(OutboxMessage.kind == OutboxKind.ONE_OFF)  # not the webhook's TwiML replies
    ).all()
    return {phone: state for phone, state in found}


def received(server: TwilioFakeServer) -> list[str]:
    return sorted(str(m.params["To"]) for m in server.messages)


def test_each_due_text_reaches_twilio_once_with_its_callback_and_window(
    app: Flask, session: Session, clock: Clock, twilio_server: TwilioFakeServer
) -> None:
    queue_texts(session, clock, SAM, ALEX, JORDAN)

    assert dispatch_due(app) == 3
    assert dispatch_due(app) == 0

    assert received(twilio_server) == sorted([SAM, ALEX, JORDAN])
    rows = {r.id: r for r in session.scalars(select(OutboxMessage))}
    for message in twilio_server.messages:
        row_id = int(str(message.params["StatusCallback"]).rsplit("=", 1)[1])
        assert rows[row_id].provider_sid == message.sid
        assert message.params["ValidityPeriod"] == str(4 * 3600)
    assert set(states(session).values()) == {OutboxState.SENT}


def test_a_stop_after_planning_suppresses_the_queued_text(
    app: Flask,
    session: Session,
    clock: Clock,
    client: FlaskClient,
    twilio_server: TwilioFakeServer,
) -> None:
    queue_texts(session, clock, SAM, ALEX)

    text_in(client, SAM, "STOP")
    dispatch_due(app)

    assert received(twilio_server) == [ALEX]
    assert states(session)[SAM] is OutboxState.SUPPRESSED


def test_a_stop_while_the_text_waits_for_its_rate_slot_is_honoured(
    build: Callable[..., Flask],
    session: Session,
    clock: Clock,
    twilio_server: TwilioFakeServer,
) -> None:
    """The row is already claimed and worded; the last look before the call still sees it."""
    app = build(PEERLINE_SEND_RATE="1", PEERLINE_SEND_THREADS="1")
    queue_texts(session, clock, SAM)
    work = dispatcher(app)
    wall = [1000.0]
    waits: list[float] = []

    def wait_and_meanwhile_stop(seconds: float) -> None:
        waits.append(seconds)
        text_in(app.test_client(), SAM, "STOP")
        wall[0] += seconds

    work.limiter = RateLimiter(
        sessions(app), 1, wall_clock=lambda: wall[0], sleep=wait_and_meanwhile_stop
    )
    # The sender's next slot is half a second away when the text is ready, so it waits.
    session.add(SendBudget(sender=work.gateway.sender, next_at=1000.5))
    session.commit()

    dispatch_due(app)

    assert waits == [0.5]
    assert twilio_server.messages == []
    session.expire_all()
    row = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.ONE_OFF))
    assert [(r.state, r.state_reason) for r in row] == [(OutboxState.SUPPRESSED, "opted out")]


def test_a_stop_while_a_long_batch_sends_stops_its_later_texts_in_few_consent_reads(
    build: Callable[..., Flask],
    session: Session,
    clock: Clock,
    twilio_server: TwilioFakeServer,
) -> None:
    """A batch that takes 1.2 s reads consent again only when its look is FRESH_LOOK old, for
    all its waiting rows at once: a STOP in the middle stops the rows after the next read, and
    the reads number at most one per FRESH_LOOK the batch lasts (plus the first), not one per
    row."""
    app = build(PEERLINE_SEND_THREADS="1")
    phones = [f"+1202555{n:04d}" for n in range(2000, 2012)]
    queue_texts(session, clock, *phones)
    work = dispatcher(app)
    wall = [1000.0]
    work.limiter = RateLimiter(sessions(app), None, wall_clock=lambda: wall[0])
    engine = sessions(app).kw["bind"]
    reads: list[str] = []
    counting = [True]

    def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if counting[0] and "LEFT OUTER JOIN memberships" in statement:
            reads.append(statement)

    real_send = work.gateway.send_text
    calls = [0]

    def slow_send(text):  # type: ignore[no-untyped-def]
        calls[0] += 1
        if calls[0] == 4:  # the ninth person texts STOP while the fourth text is in flight
            counting[0] = False
            text_in(app.test_client(), phones[8], "STOP")
            counting[0] = True
        wall[0] += 0.1
        return real_send(text)

    work.gateway.send_text = slow_send  # type: ignore[method-assign]
    event.listen(engine, "before_cursor_execute", count)
    try:
        dispatch_due(app)
    finally:
        event.remove(engine, "before_cursor_execute", count)

    lasted = wall[0] - 1000.0
    assert received(twilio_server) == sorted(phones[:8] + phones[9:])
    final = states(session)
    assert final[phones[8]] is OutboxState.SUPPRESSED
    assert 2 <= len(reads) <= math.ceil(lasted / FRESH_LOOK) + 1 < len(phones)


def test_a_burst_of_429_is_retried_with_backoff_and_sent_once(
    app: Flask, session: Session, clock: Clock, twilio_server: TwilioFakeServer
) -> None:
    queue_texts(session, clock, SAM, ALEX)
    twilio_server.fail(429, 20429, times=3)

    dispatch_due(app)
    dispatch_due(app)  # backing off: nothing is due yet
    assert twilio_server.messages == []
    assert set(states(session).values()) == {OutboxState.QUEUED}
    for _ in range(4):
        clock.now += timedelta(seconds=30)
        dispatch_due(app)

    assert received(twilio_server) == sorted([SAM, ALEX])
    assert set(states(session).values()) == {OutboxState.SENT}


@pytest.mark.slow
def test_a_500_is_never_resent_and_is_settled_from_the_message_list(
    app: Flask, session: Session, clock: Clock, twilio_server: TwilioFakeServer
) -> None:
    queue_texts(session, clock, SAM, ALEX)
    twilio_server.fail(500, 20500, to=SAM, times=1, after_recording=True)
    twilio_server.fail(500, 20500, to=ALEX, times=1)  # refused before recording

    dispatch_due(app)
    assert states(session) == {SAM: OutboxState.UNKNOWN, ALEX: OutboxState.UNKNOWN}
    dispatch_due(app)  # an unknown row waits for its callback before anyone looks it up
    assert len(twilio_server.messages) == 1

    clock.now += timedelta(seconds=61)
    dispatch_due(app)

    assert received(twilio_server) == sorted([SAM, ALEX])  # Sam's once, Alex's sent again
    final = states(session)
    assert final[SAM] is OutboxState.RECONCILED
    assert final[ALEX] is OutboxState.SENT
    sam = session.scalars(select(OutboxMessage).where(OutboxMessage.state_reason.is_not(None)))
    assert any(r.provider_sid == twilio_server.messages[0].sid for r in sam)


def test_timeouts_and_dropped_connections_after_the_server_recorded_send_nothing_twice(
    app: Flask, session: Session, clock: Clock, twilio_server: TwilioFakeServer
) -> None:
    queue_texts(session, clock, SAM, ALEX, JORDAN)
    twilio_server.delay(2.0, to=SAM, times=1)  # longer than the client's 0.5 s timeout
    twilio_server.drop(to=ALEX, times=1, after_recording=True)
    twilio_server.drop(to=JORDAN, times=1, after_recording=False)

    dispatch_due(app)
    assert set(states(session).values()) == {OutboxState.UNKNOWN}
    clock.now += timedelta(seconds=61)
    dispatch_due(app)

    assert received(twilio_server) == sorted([SAM, ALEX, JORDAN])
    assert states(session) == {
        SAM: OutboxState.RECONCILED,
        ALEX: OutboxState.RECONCILED,
        JORDAN: OutboxState.SENT,  # proven never received, so sent again
    }


def test_a_status_callback_settles_an_unknown_row_before_any_lookup(
    app: Flask,
    session: Session,
    clock: Clock,
    client: FlaskClient,
    twilio_server: TwilioFakeServer,
) -> None:
    queue_texts(session, clock, SAM)
    twilio_server.fail(502, 20500, times=1, after_recording=True)
    dispatch_due(app)
    row = session.scalars(select(OutboxMessage)).one()
    assert row.state is OutboxState.UNKNOWN
    sid = twilio_server.messages[0].sid

    form = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": "AC" + "a" * 32}
    post_signed(client, f"/twilio/sms/status?outbox={row.id}", form)
    requests_before = twilio_server.requests_received
    clock.now += timedelta(seconds=61)
    dispatch_due(app)

    session.expire_all()
    assert (row.state, row.provider_sid) == (OutboxState.DELIVERED, sid)
    assert twilio_server.requests_received == requests_before  # no lookup was needed
    assert len(twilio_server.messages) == 1


def test_an_unreadable_message_list_leaves_the_row_unknown_until_it_can_be_read(
    app: Flask, session: Session, clock: Clock, twilio_server: TwilioFakeServer
) -> None:
    queue_texts(session, clock, SAM)
    twilio_server.fail(503, 20503, times=1)  # refused before recording: never received
    dispatch_due(app)
    twilio_server.fail_list(500, 20500, times=1)

    clock.now += timedelta(seconds=61)
    dispatch_due(app)
    assert states(session)[SAM] is OutboxState.UNKNOWN  # unproven: not resent
    assert twilio_server.messages == []

    clock.now += timedelta(seconds=61)
    dispatch_due(app)
    assert states(session)[SAM] is OutboxState.SENT
    assert received(twilio_server) == [SAM]


def test_21610_records_the_opt_out_and_cancels_that_persons_other_texts(
    app: Flask, session: Session, clock: Clock, twilio_server: TwilioFakeServer
) -> None:
    queue_texts(session, clock, SAM, ALEX)
    sam = session.scalars(select(Participant).where(Participant.phone == SAM)).one()
    later = enqueue(
        session,
        send_key="test:later",
        kind=OutboxKind.ONE_OFF,
        body="Tomorrow too",
        participant=sam,
        group_id=None,
        now=clock.now + timedelta(hours=1),
    )
    session.commit()
    twilio_server.fail(400, 21610, to=SAM)

    dispatch_due(app)

    session.expire_all()
    assert sam.consent is ConsentState.REVOKED
    assert later is not None and later.state is not OutboxState.QUEUED
    assert received(twilio_server) == [ALEX]
    clock.now += timedelta(hours=2)
    dispatch_due(app)
    assert received(twilio_server) == [ALEX]


def test_21211_and_21614_mark_the_number_and_later_texts_are_held_back(
    app: Flask, session: Session, clock: Clock, twilio_server: TwilioFakeServer
) -> None:
    queue_texts(session, clock, SAM, ALEX)
    twilio_server.fail(400, 21211, to=SAM)
    twilio_server.fail(400, 21614, to=ALEX)

    dispatch_due(app)

    session.expire_all()
    people = {p.phone: p for p in session.scalars(select(Participant))}
    assert people[SAM].number_invalid and people[ALEX].landline
    assert set(states(session).values()) == {OutboxState.FAILED}
    twilio_server.reset()
    queue_more = [
        enqueue(
            session,
            send_key=f"again:{phone}",
            kind=OutboxKind.ONE_OFF,
            body="Again",
            participant=people[phone],
            now=clock.now,
        )
        for phone in (SAM, ALEX)
    ]
    session.commit()
    dispatch_due(app)
    assert twilio_server.requests_received == 0
    session.expire_all()
    assert {row.state for row in queue_more if row} == {OutboxState.SUPPRESSED}


def test_rows_of_a_worker_that_died_mid_batch_are_looked_up_not_resent(
    app: Flask, session: Session, clock: Clock, twilio_server: TwilioFakeServer
) -> None:
    """A dead worker's claim: two rows it had handed over, one it had not, one not worded."""
    queue_texts(session, clock, SAM, ALEX, JORDAN, LUCIA)
    work = dispatcher(app)
    dead = "dead-worker-claim"
    ids = claim(session, clock.now, dead, work.lease, limit=10)
    session.commit()
    ready, _ = prepare(session, ids[:3], dead, clock.now)
    session.commit()
    for row in ready[:2]:  # what it sent before it died
        work.send(row)
    assert len(twilio_server.messages) == 2

    dispatch_due(app)  # the lease still holds: nobody touches the rows
    assert len(twilio_server.messages) == 2
    assert set(states(session).values()) == {OutboxState.SENDING}

    clock.now += work.lease + timedelta(seconds=1)
    dispatch_due(app)

    assert received(twilio_server) == sorted([SAM, ALEX, JORDAN, LUCIA])
    final = states(session)
    assert final[SAM] is final[ALEX] is OutboxState.RECONCILED
    assert final[JORDAN] is final[LUCIA] is OutboxState.SENT


def test_stopping_mid_batch_gives_unsent_rows_back_and_leaves_none_sending(
    build: Callable[..., Flask],
    session: Session,
    clock: Clock,
    twilio_server: TwilioFakeServer,
) -> None:
    app = build(PEERLINE_SEND_THREADS="1")
    queue_texts(session, clock, SAM, ALEX, JORDAN, LUCIA)
    work = dispatcher(app)
    real_send = work.gateway.send_text

    def send_then_stop(text):  # type: ignore[no-untyped-def]
        receipt = real_send(text)
        work.stopping.set()  # SIGTERM arrives while the first text is in flight
        return receipt

    work.gateway.send_text = send_then_stop  # type: ignore[method-assign]

    tally = work.run_batch()

    assert tally[Outcome.SENT] == 1 and tally[Outcome.RELEASED] == 3
    final = states(session)
    assert OutboxState.SENDING not in final.values()
    assert sorted(final.values()) == sorted([OutboxState.SENT] + [OutboxState.QUEUED] * 3)
    assert len(twilio_server.messages) == 1


@pytest.mark.slow
def test_everything_ends_terminal_under_mixed_faults(
    build: Callable[..., Flask],
    session: Session,
    clock: Clock,
    twilio_server: TwilioFakeServer,
) -> None:
    app = build(PEERLINE_SEND_THREADS="4")
    phones = [f"+1202555{n:04d}" for n in range(1000, 1060)]
    queue_texts(session, clock, *phones)
    twilio_server.fail(429, 20429, times=10)
    twilio_server.fail(500, 20500, times=5, after_recording=True)
    twilio_server.fail(500, 20500, times=5)
    twilio_server.drop(times=5, after_recording=True)
    twilio_server.drop(times=5, after_recording=False)
    twilio_server.delay(1.0, times=3)
    twilio_server.fail(400, 21610, to=phones[-1])

    for _ in range(12):
        dispatch_due(app)
        clock.now += timedelta(seconds=61)

    final = states(session)
    assert set(final.values()) <= TERMINAL, final
    tos = received(twilio_server)
    assert len(tos) == len(set(tos)) == len(phones) - 1  # once each; the unsubscribed never
    assert final[phones[-1]] is OutboxState.FAILED


def test_two_threads_share_one_rate_limit_for_a_sender(database_url: str) -> None:
    """Reservations from several threads (as from several workers) never crowd a second."""
    engine = make_engine(database_url)
    limiter = RateLimiter(sessionmaker(engine), 5)
    slots: list[float] = []
    lock = threading.Lock()

    def reserve_many() -> None:
        for _ in range(5):
            slot = limiter.reserve("+15005550006", 1)
            if slot is not None:
                with lock:
                    slots.append(slot)

    threads = [threading.Thread(target=reserve_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()

    slots.sort()
    assert len(slots) >= 8  # about two seconds' worth, then the horizon is full
    assert all(later - earlier >= 0.2 for earlier, later in itertools.pairwise(slots))
    assert all(slots[i + 5] - slots[i] > 1.0 for i in range(len(slots) - 5))


def test_a_multi_segment_text_uses_as_many_slots(database_url: str) -> None:
    engine = make_engine(database_url)
    now = [100.0]
    limiter = RateLimiter(sessionmaker(engine), 1, wall_clock=lambda: now[0])
    first = limiter.reserve("MG" + "0" * 32, 3)
    second = limiter.reserve("MG" + "0" * 32, 1)
    engine.dispose()

    assert first == 100.0
    assert second is None or second >= 103.0  # three segments at one a second come first


def test_the_sender_settings_are_checked(database_url: str) -> None:
    for name, value in (
        ("PEERLINE_SEND_RATE", "fast"),
        ("PEERLINE_SEND_RATE", "0"),
        ("PEERLINE_SEND_THREADS", "0"),
        ("PEERLINE_SEND_LEASE", "-5"),
        ("TWILIO_TIMEOUT", "nan"),
        ("PEERLINE_METRICS_PORT", "99999"),
    ):
        with pytest.raises(ConfigError) as problem:
            make_settings(database_url, **{name: value})
        assert problem.value.setting == name
    assert make_settings(database_url, PEERLINE_SEND_RATE="off").send_rate is None
    assert Settings.from_env({"PEERLINE_MODE": "test"}).send_rate == 1.0


@pytest.mark.slow
def test_claiming_reads_the_due_index_however_much_history_the_outbox_holds(
    database_url: str, session: Session, clock: Clock
) -> None:
    """Sent rows pile up for years and the planner queues weeks ahead; the claim must look only
    at the few rows due now, not at history nor at everything queued."""
    queue_texts(session, clock, SAM, ALEX)
    sent = [
        {
            "send_key": f"old:{n}",
            "kind": OutboxKind.ONE_OFF,
            "body": "Long ago",
            "state": OutboxState.DELIVERED,
            "due_at": clock.now - timedelta(days=1 + n % 300),
            "created_at": clock.now,
            "updated_at": clock.now,
        }
        for n in range(20_000)
    ]
    planned = [
        {
            "send_key": f"ahead:{n}",
            "kind": OutboxKind.ONE_OFF,
            "body": "Next week",
            "state": OutboxState.QUEUED,
            "due_at": clock.now + timedelta(days=1, minutes=n % 10_000),
            "created_at": clock.now,
            "updated_at": clock.now,
        }
        for n in range(20_000)
    ]
    session.execute(insert(OutboxMessage), sent + planned)
    session.commit()
    postgres = session.get_bind().dialect.name == "postgresql"
    session.execute(text("ANALYZE"))
    query = due_rows(session, clock.now, limit=200).compile(
        session.get_bind(), compile_kwargs={"literal_binds": True}
    )

    explain = "EXPLAIN" if postgres else "EXPLAIN QUERY PLAN"
    plan = "\n".join(str(line[-1]) for line in session.execute(text(f"{explain} {query}")))

    assert "ix_outbox_messages_due" in plan, plan
    assert "Seq Scan" not in plan and "SCAN outbox_messages\n" not in plan + "\n", plan


class HeldLookups:
    """A gateway whose lookups answer late: Twilio's answer as it was when asked, given only
    once let go (a slow network)."""

    def __init__(self, gateway: object) -> None:
        self.gateway, self.asked, self.go = gateway, threading.Event(), threading.Event()

    def __getattr__(self, name: str) -> object:
        return getattr(self.gateway, name)

    def lookup(self, *args: object) -> object:
        found = self.gateway.lookup(*args)  # type: ignore[attr-defined]
        self.asked.set()
        self.go.wait(30)
        return found


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_a_lookup_that_outlasts_its_lease_is_not_undone_by_another_worker(
    build: Callable[..., Flask],
    session: Session,
    clock: Clock,
    twilio_server: TwilioFakeServer,
) -> None:
    """A dead worker's worded row, never sent: one worker's lookup (nothing found) answers
    after its lease ran out, while another worker reconciles and sends what it may; the row is
    settled by one of them, and the text goes once."""
    first, second = build(), build()
    queue_texts(session, clock, SAM)
    dead = "dead-worker-claim"
    ids = claim(session, clock.now, dead, dispatcher(first).lease, limit=10)
    session.commit()
    prepare(session, ids, dead, clock.now)  # worded, then the worker died before its call
    session.commit()
    clock.now += dispatcher(first).lease + timedelta(seconds=1)
    slow = HeldLookups(dispatcher(first).gateway)
    dispatcher(first).gateway = slow  # type: ignore[assignment]

    looking = threading.Thread(target=dispatcher(first).reconcile)
    looking.start()
    assert slow.asked.wait(30)
    clock.now += dispatcher(first).lease + timedelta(seconds=1)  # its lease runs out meanwhile
    dispatch_due(second)  # the other worker reconciles and sends what it may
    slow.go.set()
    looking.join()
    dispatch_due(first)
    dispatch_due(second)

    assert received(twilio_server) == [SAM]
    assert states(session) == {SAM: OutboxState.SENT}
