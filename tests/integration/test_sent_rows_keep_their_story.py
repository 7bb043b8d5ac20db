"""A sent row keeps its sent_at, SID and attempt whichever comes first: Twilio's status
callback or the worker's record of its batch; `peerline status` and /metrics count it once."""

from __future__ import annotations

import re
import threading
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session

from scheduler.dispatcher import dispatch_due
from service.campaigns.planner import plan
from service.db import sessions
from service.models import CampaignKind, Channel, Group, OutboxKind, OutboxMessage, OutboxState
from service.sending.gateway import OutgoingCall, OutgoingText, Receipt
from tests.support import (
    METRICS_TOKEN,
    Clock,
    RecordingGateway,
    invoke,
    make_campaign,
    make_group,
    make_participant,
    make_schedule,
    post_signed,
)
from tests.workers import seed_members

SAM = "+12025550142"
SCRAPER = {"Authorization": f"Bearer {METRICS_TOKEN}"}


@dataclass
class CallbackGateway(RecordingGateway):
    """Accepts every text and has Twilio report on it through the status callback: at once,
    before the gateway call returns (so before the worker records it), or when told to."""

    client: FlaskClient | None = None
    status_of: Any = None  # row id -> the MessageStatus Twilio reports; None: no callback now
    sids: dict[int, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send_text(self, text: OutgoingText) -> Receipt:
        receipt = super().send_text(text)
        assert text.status_callback is not None
        row_id = int(text.status_callback.rsplit("=", 1)[1])
        with self._lock:
            self.sids[row_id] = receipt.sid
        status = self.status_of(row_id) if self.status_of else None
        if status is not None:
            # From another thread, as from Twilio: never inside the sending command's context.
            answered: list[int] = []
            twilio = threading.Thread(
                target=lambda: answered.append(report(self.client, row_id, receipt.sid, status))
            )
            twilio.start()
            twilio.join()
            assert answered == [200]
        return receipt

    def place_call(self, call: OutgoingCall) -> Receipt:
        receipt = super().place_call(call)
        assert call.status_callback is not None
        row_id = int(call.status_callback.rsplit("=", 1)[1])
        status = self.status_of(row_id) if self.status_of else None
        client = self.client
        if status is not None and client is not None:
            path = f"/twilio/voice/status?outbox={row_id}"
            form = {"CallSid": receipt.sid, "AccountSid": "AC" + "a" * 32, "CallStatus": status}
            answered: list[int] = []
            twilio = threading.Thread(
                target=lambda: answered.append(post_signed(client, path, form).status_code)
            )
            twilio.start()
            twilio.join()
            assert answered == [200]
        return receipt


def report(client: FlaskClient | None, row_id: int, sid: str, status: str) -> int:
    """Twilio's status callback for one row, signed as Twilio signs it."""
    assert client is not None
    path = f"/twilio/sms/status?outbox={row_id}"
    form = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC" + "a" * 32}
    return post_signed(client, path, form).status_code


@pytest.fixture
def gateway() -> CallbackGateway:
    return CallbackGateway()


def settled_total(client: FlaskClient, state: str) -> float:
    page = client.get("/metrics", headers=SCRAPER).text
    found = re.search(
        rf'^peerline_outbox_settled_total{{kind="one_off",state="{state}"}} (\S+)$', page, re.M
    )
    assert found is not None
    return float(found[1])


@pytest.mark.parametrize("reported", ["sent", "delivered"])
def test_a_status_callback_before_the_record_keeps_sent_at(
    runner: FlaskCliRunner,
    session: Session,
    client: FlaskClient,
    gateway: CallbackGateway,
    clock: Clock,
    reported: str,
) -> None:
    make_participant(session, SAM, make_group(session, "CIRCLE"))
    gateway.client = client
    gateway.status_of = lambda _row: reported

    invoke(runner, "send", "--group", "CIRCLE", "We're in room 5 tonight.")

    row = session.scalars(select(OutboxMessage)).one()
    assert row.state is OutboxState(reported)  # the callback's news is kept
    assert row.sent_at == clock.now
    assert row.provider_sid == gateway.sids[row.id]
    assert row.attempts == 1
    assert "sent in the last 15 min: 1," in invoke(runner, "status").output
    assert settled_total(client, "sent") == 1  # counted once, though the callback came first
    assert settled_total(client, "delivered") == (1 if reported == "delivered" else 0)


@pytest.mark.slow
def test_callbacks_before_during_and_after_the_record_all_keep_the_story(
    app: Flask,
    database_url: str,
    runner: FlaskCliRunner,
    client: FlaskClient,
    gateway: CallbackGateway,
    clock: Clock,
) -> None:
    """1,000 texts, a third each reported before the worker records its batch (inside the
    gateway call), during the record (released from inside its open transaction, on other
    threads) and after it; every tenth is reported 'sent', the rest 'delivered'."""
    total = 1_000
    people = [person for person, _ in seed_members(database_url, total)]
    with sessions(app)() as session:
        circle = session.scalars(select(Group.id)).one()
        session.execute(
            insert(OutboxMessage),
            [
                {
                    "send_key": f"story:{person}",
                    "kind": OutboxKind.ONE_OFF,
                    "participant_id": person,
                    "group_id": circle,
                    "body": f"Tuesday group at 7 tonight ({n})",
                    "state": OutboxState.QUEUED,
                    "due_at": clock.now,
                    "expires_at": clock.now + timedelta(hours=4),
                    "created_at": clock.now,
                    "updated_at": clock.now,
                }
                for n, person in enumerate(people)
            ],
        )
        session.commit()
        ids = sorted(session.scalars(select(OutboxMessage.id)))

    def when(row_id: int) -> str:
        return ("before", "during", "after")[row_id % 3]

    def status(row_id: int) -> str:
        return "sent" if row_id % 10 == 0 else "delivered"

    gateway.client = client
    gateway.status_of = lambda row_id: status(row_id) if when(row_id) == "before" else None
    reporters = ThreadPoolExecutor(4, thread_name_prefix="twilio-callback")
    released: list[Future[int]] = []
    batches: Counter[str] = Counter()

    def release_during(
        _conn: Any, _cursor: Any, statement: str, _p: Any, _c: Any, many: bool
    ) -> None:
        # The worker's record has just written its batch and not yet committed: the callbacks
        # for the "during" third of the batch go now, on their own threads.
        if not (many and statement.startswith("UPDATE outbox_messages") and "sent_at" in statement):
            return
        batches["recorded"] += 1
        with gateway._lock:
            pending = [
                (row_id, sid)
                for row_id, sid in gateway.sids.items()
                if when(row_id) == "during" and row_id not in seen
            ]
            seen.update(row_id for row_id, _ in pending)
        for row_id, sid in pending:
            released.append(reporters.submit(report, client, row_id, sid, status(row_id)))

    seen: set[int] = set()
    engine = sessions(app).kw["bind"]
    event.listen(engine, "after_cursor_execute", release_during)
    try:
        while dispatch_due(app):
            pass
    finally:
        event.remove(engine, "after_cursor_execute", release_during)
        reporters.shutdown(wait=True)
    assert [f.result() for f in released] == [200] * len(released)
    after = [row_id for row_id in ids if when(row_id) == "after"]
    for row_id in after:
        assert report(client, row_id, gateway.sids[row_id], status(row_id)) == 200

    with sessions(app)() as session:
        rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    arrivals = Counter(when(row.id) for row in rows)
    assert len(rows) == total and min(arrivals.values()) == 333
    # Every "during" callback was released from inside a record, one record per batch.
    assert len(released) == arrivals["during"] and batches["recorded"] >= total // 200
    assert len(gateway.sent) == total  # each text went once
    missing = [row.id for row in rows if row.sent_at is None]
    assert missing == []
    assert [row.id for row in rows if row.provider_sid != gateway.sids[row.id]] == []
    assert Counter(row.attempts for row in rows) == {1: total}
    assert Counter(row.state for row in rows) == {
        OutboxState.SENT: sum(1 for i in ids if status(i) == "sent"),
        OutboxState.DELIVERED: sum(1 for i in ids if status(i) == "delivered"),
    }

    output = invoke(runner, "status").output
    assert f"sent in the last 15 min: {total}," in output
    assert settled_total(client, "sent") == total


@pytest.mark.slow
def test_a_busy_line_reported_before_the_record_still_counts_the_call(
    app: Flask,
    session: Session,
    client: FlaskClient,
    gateway: CallbackGateway,
    clock: Clock,
) -> None:
    """Each call's 'busy' arrives before its worker writes it down: still three calls in all
    (the first and two more, 30 minutes apart), then it gives up."""
    circle = make_group(session, "CIRCLE")
    make_schedule(session, circle)  # Tuesdays 18:30 in New York: 23:30 UTC tonight
    make_campaign(session, circle, CampaignKind.REMINDER, offsets=["2h"])
    make_participant(session, SAM, circle, channel=Channel.VOICE)
    gateway.client = client
    gateway.status_of = lambda _row: "busy"
    first = datetime(2026, 3, 3, 21, 30, tzinfo=UTC)

    for minutes in (0, 30, 60, 90):
        clock.now = first + timedelta(minutes=minutes)
        plan(session, clock.now)
        session.commit()
        dispatch_due(app)

    assert len(gateway.calls) == 3
    session.expire_all()
    row = session.scalars(
        select(OutboxMessage).where(OutboxMessage.occurrence_key == "20260303T1830")
    ).one()
    assert (row.state, row.state_reason) == (OutboxState.UNDELIVERED, "the line was busy")
    assert row.attempts == 3
    assert row.sent_at == first + timedelta(minutes=60)
