"""The backup drill of docs/deploy.md on PostgreSQL: pg_dump, drop the database, pg_restore,
and the restored service carries on.

After the restore the consent ledger and the outbox are as they were, the schema needs no
migration, a worker started on it plans the broadcast already sent without sending it again,
sends the new texts once each, and never texts the person who said STOP before the backup.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Row, create_engine, select, text
from sqlalchemy.engine import make_url

from service.app import create_app
from service.cli.database import schema_behind, upgrade_database
from service.db import sessions
from service.models import ConsentEvent, OutboxMessage, OutboxState
from tests.support import RecordingGateway, invoke, make_settings, text_in
from tests.twilio_fake import TwilioFakeServer
from tests.workers import (
    Worker,
    all_settled,
    drop_connections,
    outbox_states,
    queue_texts,
    seed_members,
    wait_for,
    worker_env,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

MEMBERS = 10


def libpq(url: str) -> str:
    """The SQLAlchemy URL as pg_dump and pg_restore take it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def rows(url: str, *columns: Any) -> list[Row[Any]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = list(conn.execute(select(*columns).order_by(columns[0])).all())
    engine.dispose()
    return found


def send_until(url: str, server: TwilioFakeServer, log: Path, texts: int) -> None:
    """One worker, until Twilio has had texts in all and nothing is left to send; then a clean
    stop (a few more seconds, so that a text sent twice would show)."""
    with Worker(worker_env(url, server), log) as worker:
        wait_for(lambda: len(server.messages) >= texts and all_settled(url), 90, "the texts")
        time.sleep(3)
        assert worker.terminate() == 0


def test_a_dump_restored_over_a_dropped_database_carries_on_without_sending_twice(
    empty_postgres: str, twilio_server: TwilioFakeServer, tmp_path: Path
) -> None:
    for tool in ("pg_dump", "pg_restore"):
        assert shutil.which(tool), f"{tool} is needed (apt-get install postgresql-client)"
    url = empty_postgres
    upgrade_database(url)
    local = datetime.now(ZoneInfo("America/New_York"))  # quiet hours far from now: texts go now
    quiet = ((local + timedelta(hours=6)).time(), (local + timedelta(hours=7)).time())
    members = seed_members(url, MEMBERS, quiet=quiet)
    stopped = members[0][1]

    app = create_app(make_settings(url), gateway=RecordingGateway())
    app.config["TESTING"] = True
    try:
        assert text_in(app.test_client(), stopped, "STOP").status_code == 200
        created = invoke(
            app.test_cli_runner(),
            "campaigns", "create", "--group", "CIRCLE", "--kind", "broadcast",
            "--name", "Room change", "--at", "now",
            "--wording-en", "Hi {{ first_name }}, we're in room 7 from now on.",
        )  # fmt: skip
        assert created.exit_code == 0, created.output
    finally:
        sessions(app).kw["bind"].dispose()
    send_until(url, twilio_server, tmp_path / "before.log", MEMBERS - 1)
    sent_before = len(twilio_server.messages)
    assert sent_before == MEMBERS - 1  # everyone but the person who said STOP
    ledger = rows(url, ConsentEvent.id, ConsentEvent.participant_id, ConsentEvent.change)
    outbox = rows(url, OutboxMessage.id, OutboxMessage.send_key, OutboxMessage.state)
    assert ledger, "the STOP is in the ledger"
    sent_rows = outbox_states(url)[OutboxState.SENT]  # the texts, and the answer to STOP

    dump = tmp_path / "peerline.dump"
    subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", libpq(url)], check=True)
    drop_connections(url)
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = make_url(url).database
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    assert schema_behind(url) is not None  # gone: an empty database
    subprocess.run(
        ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={libpq(url)}", str(dump)],
        check=True,
    )

    assert schema_behind(url) is None  # restored at the schema's own revision
    assert rows(url, ConsentEvent.id, ConsentEvent.participant_id, ConsentEvent.change) == ledger
    assert rows(url, OutboxMessage.id, OutboxMessage.send_key, OutboxMessage.state) == outbox

    # The restored service carries on: its planner sees the broadcast already sent, the new
    # texts go once each (new ids follow the restored ones), and the STOP still holds.
    queue_texts(url, [p for p, _ in members], per_person=1)
    send_until(url, twilio_server, tmp_path / "after.log", 2 * (MEMBERS - 1))
    counts = Counter(str(m.params["To"]) for m in twilio_server.messages)
    assert stopped not in counts
    assert counts == Counter({phone: 2 for _, phone in members[1:]})
    states = outbox_states(url)
    assert states[OutboxState.SENT] == sent_rows + MEMBERS - 1
    assert OutboxState.SENDING not in states
