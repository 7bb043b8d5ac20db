"""The Procfile, run by honcho as a platform runs it, on a new PostgreSQL database.

`release` migrates the empty database; then `web` answers /readyz and two `worker` processes
plan a broadcast and send it through the local Twilio, each person once; a SIGTERM to them all
(what a platform sends on a deploy) leaves no row `sending`. The Dockerfile's health check is
asked of the running web, and of ports where nothing answers.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from service.models import OutboxKind, OutboxMessage, OutboxState
from tests.twilio_fake import TwilioFakeServer
from tests.workers import free_port, outbox_states, seed_members, wait_for, worker_env

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
PROCFILE = ROOT / "Procfile"
HONCHO = Path(sys.executable).parent / "honcho"
ADMIN_URL = os.environ.get(
    "PEERLINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
MEMBERS = 20


@pytest.fixture
def empty_database() -> Iterator[str]:
    """A database of this test's own with nothing in it, not even the schema."""
    admin = make_url(ADMIN_URL)
    name = f"peerline_procfile_{os.getpid()}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL is not reachable: {error}")
        pytest.skip(f"PostgreSQL is not reachable: {error}")
    yield admin.set(database=name).render_as_string(hide_password=False)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def honcho_env(database_url: str, server: TwilioFakeServer) -> dict[str, str]:
    env = worker_env(
        database_url, server, PEERLINE_LOG_LEVEL="INFO", WEB_CONCURRENCY="1", WEB_THREADS="2"
    )
    for name in ("PORT", "GUNICORN_CMD_ARGS"):
        env.pop(name, None)
    # `peerline` from this environment, running this checkout's code.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)
    return env


def honcho(*args: str) -> list[str]:
    return [str(HONCHO), "--no-colour", "-f", str(PROCFILE), *args]


def quiet_hours_far_from_now() -> tuple[datetime, datetime]:
    """Quiet hours six hours away in the members' zone, so the broadcast goes now."""
    local = datetime.now(ZoneInfo("America/New_York"))
    return local + timedelta(hours=6), local + timedelta(hours=7)


def queue_texts(database_url: str, participants: list[int], per_person: int) -> None:
    """Texts due now, per_person for each participant, straight into the outbox."""
    now = datetime.now(UTC)
    engine = create_engine(database_url)
    with engine.begin() as conn:
        group = conn.scalar(text("SELECT id FROM groups WHERE join_code = 'CIRCLE'"))
        conn.execute(
            insert(OutboxMessage),
            [
                {
                    "send_key": f"load:{p}:{n}",
                    "kind": OutboxKind.ONE_OFF,
                    "participant_id": p,
                    "group_id": group,
                    "body": f"Tuesday group at 7 tonight ({n})",
                    "state": OutboxState.QUEUED,
                    "due_at": now,
                    "expires_at": now + timedelta(hours=4),
                    "created_at": now,
                    "updated_at": now,
                }
                for p in participants
                for n in range(per_person)
            ],
        )
    engine.dispose()


def health_check(port: int, metrics_port: int) -> int:
    """The Dockerfile's HEALTHCHECK command, run here with the ports a container would have."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    found = re.search(r"^HEALTHCHECK .*\\\n\s+CMD (\[.*\])$", dockerfile, re.MULTILINE)
    assert found, "the Dockerfile has a HEALTHCHECK in JSON form"
    command = json.loads(found.group(1))
    env = {**os.environ, "PORT": str(port), "PEERLINE_METRICS_PORT": str(metrics_port)}
    return subprocess.run(command, env=env, check=False, timeout=30).returncode


def test_the_procfile_migrates_serves_plans_sends_and_stops_cleanly(
    empty_database: str, twilio_server: TwilioFakeServer, tmp_path: Path
) -> None:
    assert HONCHO.exists(), "honcho is a development dependency (pyproject.toml, dev)"
    env = honcho_env(empty_database, twilio_server)

    release = subprocess.run(
        honcho("start", "release"),
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert release.returncode == 0, release.stdout

    start, end = quiet_hours_far_from_now()
    members = seed_members(empty_database, MEMBERS, quiet=(start.time(), end.time()))
    broadcast = subprocess.run(
        honcho(
            "run",
            "peerline",
            "campaigns",
            "create",
            "--group",
            "CIRCLE",
            "--kind",
            "broadcast",
            "--name",
            "Room change",
            "--at",
            "now",
            "--wording-en",
            "Hi {{ first_name }}, we're in room 7 from now on.",
        ),
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert broadcast.returncode == 0, broadcast.stdout + broadcast.stderr

    port = free_port()
    log = tmp_path / "honcho.log"
    with log.open("wb") as out:
        running = subprocess.Popen(
            honcho("start", "-p", str(port), "-c", "worker=2", "web", "worker"),
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for(lambda: _ready(port), 60, "the web process to answer /readyz")
            assert health_check(port, free_port()) == 0
            assert health_check(free_port(), free_port()) == 1

            # The workers planned the broadcast and sent it: each member once.
            wait_for(lambda: len(twilio_server.messages) >= MEMBERS, 90, "the broadcast")
            wait_for(
                lambda: outbox_states(empty_database) == {OutboxState.SENT: MEMBERS},
                30,
                "every broadcast row to be recorded as sent",
            )
            counts = Counter(str(m.params["To"]) for m in twilio_server.messages)
            assert counts == Counter({phone: 1 for _, phone in members})

            # A backlog with every send in flight for a fifth of a second, then a deploy's stop.
            twilio_server.delay(0.2)
            queue_texts(empty_database, [p for p, _ in members], per_person=20)
            wait_for(lambda: len(twilio_server.messages) >= MEMBERS + 20, 60, "the backlog")
            running.send_signal(signal.SIGTERM)
            running.wait(60)
        finally:
            if running.poll() is None:
                os.killpg(running.pid, signal.SIGKILL)
                running.wait(10)

    output = log.read_text(errors="replace")
    states = outbox_states(empty_database)
    assert OutboxState.SENDING not in states, output
    assert states.get(OutboxState.QUEUED, 0) > 0  # it stopped rather than sending everything
    assert states[OutboxState.SENT] == len(twilio_server.messages)  # what left is recorded
    assert "SIGKILL" not in output  # each process stopped on its own, in time
    assert output.count("scheduler stopped") == 2, output


def _ready(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        time.sleep(0.5)
        return False
