"""What a Prometheus scrape costs and says: it reads what is live, never the outbox's history,
and its numbers still add up as rows are sent and delivered."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import Engine, create_engine, event, insert, select
from sqlalchemy.orm import Session
from werkzeug.test import Client

from scheduler.dispatcher import dispatch_due
from service.db import sessions
from service.metrics import metrics_app
from service.models import OutboxKind, OutboxMessage, OutboxState
from service.sending.gateway import GatewayError
from tests.support import (
    METRICS_TOKEN,
    Clock,
    RecordingGateway,
    invoke,
    make_group,
    make_participant,
    new_sid,
    post_signed,
)
from tests.twilio_fake import TwilioFakeServer
from tests.workers import ACCOUNT_SID, WebProcess, worker_env

SAM, ALEX = "+12025550142", "+12025550143"
HISTORY = 5000  # delivered rows from months gone by
SCRAPER = {"Authorization": f"Bearer {METRICS_TOKEN}"}


@dataclass(frozen=True)
class Statement:
    sql: str
    parameters: Any


@contextmanager
def statements_run(engine: Engine) -> Iterator[list[Statement]]:
    """Every statement the engine sends to the database meanwhile, as the driver received it."""
    seen: list[Statement] = []

    def record(_conn: Any, _cursor: Any, sql: str, parameters: Any, *_: Any) -> None:
        seen.append(Statement(sql, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def outbox_rows_read(engine: Engine, statement: Statement) -> int | None:
    """How many outbox rows the database touches to run statement (PostgreSQL, from its own
    EXPLAIN ANALYZE); on SQLite, None when the plan goes only through a partial index of live
    rows or an index searched by state, else the whole table's size."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            found = conn.exec_driver_sql(
                "EXPLAIN (ANALYZE, FORMAT JSON) " + statement.sql, statement.parameters
            ).scalar()
            plan = found if isinstance(found, list) else json.loads(str(found))
            return sum(_rows_touched(node) for node in _nodes(plan[0]["Plan"]))
        details = [
            row[3]
            for row in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + statement.sql, statement.parameters
            )
            if "outbox_messages" in row[3]
        ]
        # A partial index of live rows, or an index searched by state: the statements ask for
        # live states only, so either reads those rows and no history.
        through_live_index = all(
            "ix_outbox_messages_due" in d
            or "ix_outbox_messages_in_flight" in d
            or (d.startswith("SEARCH") and "(state=?" in d)
            for d in details
        )
        return None if through_live_index else _table_size(conn)


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def _rows_touched(node: dict[str, Any]) -> int:
    if node.get("Relation Name") != "outbox_messages":
        return 0
    kept = node["Actual Rows"]
    dropped = node.get("Rows Removed by Filter", 0) + node.get("Rows Removed by Index Recheck", 0)
    return int((kept + dropped) * node["Actual Loops"])


def _table_size(conn: Any) -> int:
    return int(conn.exec_driver_sql("SELECT count(*) FROM outbox_messages").scalar())


def add_history(session: Session, n: int, clock: Clock) -> None:
    """n texts delivered long ago, written in bulk as a busy service's months would leave them."""
    long_ago = clock.now - timedelta(days=90)
    session.execute(
        insert(OutboxMessage),
        [
            {
                "send_key": f"history:{i}",
                "kind": OutboxKind.REMINDER if i % 3 else OutboxKind.ONE_OFF,
                "body": "See you Tuesday",
                "state": OutboxState.DELIVERED,
                "due_at": long_ago,
                "sent_at": long_ago,
                "created_at": long_ago,
                "updated_at": long_ago,
            }
            for i in range(n)
        ],
    )
    session.commit()


def scrape(client: FlaskClient, path: str) -> str:
    page = client.get(path, headers=SCRAPER)
    assert page.status_code == 200, page.text
    assert page.mimetype == "text/plain"
    return page.text


def value(text: str, series: str) -> float:
    """The value of one exact series in a scrape; 0 when it is not there."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def sam_sent_alex_waiting(
    runner: FlaskCliRunner, session: Session, gateway: RecordingGateway
) -> None:
    """A group text: Sam's goes; Alex's is rate limited and waits to be tried again."""
    circle = make_group(session, "CIRCLE")
    make_participant(session, SAM, circle)
    make_participant(session, ALEX, circle)
    gateway.failures[ALEX] = GatewayError("rate limited", code=20429, retryable=True)
    invoke(runner, "send", "--group", "CIRCLE", "hello")


def test_a_scrape_reads_only_live_rows_however_long_the_history(
    app: Flask,
    runner: FlaskCliRunner,
    session: Session,
    client: FlaskClient,
    gateway: RecordingGateway,
    clock: Clock,
) -> None:
    sam_sent_alex_waiting(runner, session, gateway)
    add_history(session, HISTORY, clock)
    engine: Engine = sessions(app).kw["bind"]

    with statements_run(engine) as ran:
        own = scrape(client, "/metrics")
        outbox = scrape(client, "/metrics/outbox")

    assert len(ran) <= 2, [s.sql for s in ran]
    live = 1  # Alex's queued retry
    for statement in ran:
        read = outbox_rows_read(engine, statement)
        assert read is None or read <= live, (statement.sql, read)
    # The process's own page holds its counters only; the database's gauges are on one page.
    assert "peerline_outbox_due" not in own
    assert value(outbox, 'peerline_outbox_messages{kind="one_off",state="queued"}') == 1
    assert value(outbox, 'peerline_outbox_messages{kind="reminder",state="queued"}') == 0
    assert "quantile=" not in own + outbox  # a label Prometheus keeps for summaries


def test_counts_follow_a_send_from_queue_to_delivered(
    app: Flask,
    runner: FlaskCliRunner,
    session: Session,
    client: FlaskClient,
    gateway: RecordingGateway,
    clock: Clock,
) -> None:
    sam_sent_alex_waiting(runner, session, gateway)
    add_history(session, 50, clock)
    sent = 'peerline_outbox_settled_total{kind="one_off",state="sent"}'
    delivered = 'peerline_outbox_settled_total{kind="one_off",state="delivered"}'
    queued = 'peerline_outbox_messages{kind="one_off",state="queued"}'

    before = scrape(client, "/metrics")
    assert value(before, sent) == 1 and value(before, delivered) == 0
    assert value(scrape(client, "/metrics/outbox"), queued) == 1

    # Sam's text is delivered; Alex's retry goes a minute later.
    sams = session.scalars(
        select(OutboxMessage).where(OutboxMessage.state == OutboxState.SENT)
    ).one()
    report = {"MessageSid": sams.provider_sid or "", "MessageStatus": "delivered"}
    answer = post_signed(client, f"/twilio/sms/status?outbox={sams.id}", report)
    assert answer.status_code == 200
    post_signed(client, f"/twilio/sms/status?outbox={sams.id}", report)  # Twilio says it twice
    del gateway.failures[ALEX]
    clock.now += timedelta(minutes=1)
    dispatch_due(app)

    after = scrape(client, "/metrics")
    assert value(after, delivered) == 1  # once, not per report, and not the history's 50
    assert value(after, sent) == 2
    outbox = scrape(client, "/metrics/outbox")
    assert value(outbox, queued) == 0
    assert value(outbox, "peerline_outbox_due") == 0


def test_a_rolled_back_change_is_not_counted(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    row = OutboxMessage(send_key="k", kind=OutboxKind.ONE_OFF, body="hi")
    session.add(row)
    session.commit()

    row.state = OutboxState.FAILED
    session.flush()
    session.rollback()
    row.state = OutboxState.CANCELED
    session.commit()

    own = scrape(client, "/metrics")
    assert value(own, 'peerline_outbox_settled_total{kind="one_off",state="failed"}') == 0
    assert value(own, 'peerline_outbox_settled_total{kind="one_off",state="canceled"}') == 1


def test_a_workers_port_serves_its_counters_and_the_outbox_on_its_own_path(app: Flask) -> None:
    served = Client(
        metrics_app(app.extensions["peerline.registry"], app.extensions["peerline.outbox_registry"])
    )

    own = served.get("/metrics")
    outbox = served.get("/metrics/outbox")

    assert own.status_code == outbox.status_code == 200
    assert "peerline_dispatch_outcomes" in own.text and "peerline_outbox_due" not in own.text
    assert "peerline_outbox_due 0.0" in outbox.text
    assert "peerline_dispatch_outcomes" not in outbox.text


def test_a_workers_port_answers_the_health_check(app: Flask) -> None:
    served = Client(
        metrics_app(app.extensions["peerline.registry"], app.extensions["peerline.outbox_registry"])
    )

    health = served.get("/healthz")

    assert health.status_code == 200
    assert health.json == {"status": "ok"}


def test_requests_are_counted_and_timed_by_route_never_by_the_path_asked_for(
    client: FlaskClient,
) -> None:
    client.get("/healthz")
    client.get("/healthz")
    client.get("/inbox/48213")  # not signed in: sent to sign in
    client.get("/wp-admin/+12025550142")  # no such page

    scrape = client.get("/metrics", headers=SCRAPER).text

    health = '{method="GET",route="/healthz",status="200"}'
    assert value(scrape, f"peerline_http_requests_total{health}") == 2
    inbox = '{method="GET",route="/inbox/<int:message_id>",status="302"}'
    assert value(scrape, f"peerline_http_requests_total{inbox}") == 1
    assert value(scrape, f"peerline_http_request_duration_seconds_count{inbox}") == 1
    assert value(scrape, f"peerline_http_request_duration_seconds_sum{inbox}") > 0
    unmatched = '{method="GET",route="(no route)",status="404"}'
    assert value(scrape, f"peerline_http_requests_total{unmatched}") == 1
    labels = " ".join(re.findall(r"\{[^}]*\}", scrape))  # values are numbers and may hold 555
    assert "48213" not in labels and "wp-admin" not in labels and "555" not in labels


@pytest.mark.slow
@pytest.mark.postgres
def test_under_gunicorn_a_scrape_counts_every_workers_deliveries(
    pg_url: str, twilio_server: TwilioFakeServer, tmp_path: Path, clock: Clock
) -> None:
    engine = create_engine(pg_url)
    with Session(engine) as setup:
        circle = make_group(setup, "CIRCLE")
        rows = [
            OutboxMessage(
                send_key=f"sent:{n}",
                kind=OutboxKind.ONE_OFF,
                participant_id=make_participant(setup, f"+120255501{n:02d}", circle).id,
                body="hello",
                state=OutboxState.SENT,
                provider_sid=new_sid(),
                sent_at=clock.now,
            )
            for n in range(16)
        ]
        setup.add_all(rows)
        setup.commit()
        reports = [(row.id, row.provider_sid or "") for row in rows]
    env = worker_env(
        pg_url,
        twilio_server,
        PEERLINE_INSTANCE_DIR=str(tmp_path / "instance"),
        PEERLINE_METRICS_TOKEN=METRICS_TOKEN,
    )
    web = WebProcess(env, tmp_path / "web.log", workers=2)
    try:
        for row_id, sid in reports:  # each lands on whichever worker takes it
            form = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": ACCOUNT_SID}
            assert web.post_signed(f"/twilio/sms/status?outbox={row_id}", form).ok
        scrapes = [web.get("/metrics", SCRAPER).text for _ in range(6)]
    finally:
        web.kill()
    engine.dispose()

    delivered = 'peerline_outbox_settled_total{kind="one_off",state="delivered"}'
    assert [value(text, delivered) for text in scrapes] == [len(reports)] * len(scrapes)
    callbacks = (
        'peerline_http_requests_total{method="POST",route="/twilio/sms/status",status="200"}'
    )
    assert value(scrapes[-1], callbacks) == len(reports)  # every worker's requests, summed
