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
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from service.models import OutboxState
from tests.twilio_fake import TwilioFakeServer
from tests.workers import (
    free_port,
    outbox_states,
    queue_texts,
    seed_members,
    wait_for,
    worker_env,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PROCFILE = ROOT / "Procfile"
MEMBERS = 20


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
    """honcho with this Procfile. After a SIGTERM honcho waits 5 s before it kills (its
    KILL_WAIT); a platform waits 30 s (compose.yaml's stop_grace_period for workers), and so
    does this run, so that a loaded machine's slow exit is not taken for a hung one."""
    start = "import honcho.command, honcho.manager; honcho.manager.KILL_WAIT = 30; "
    return [
        sys.executable,
        "-c",
        start + "honcho.command.main()",
        "--no-colour",
        "-f",
        str(PROCFILE),
        *args,
    ]


def quiet_hours_far_from_now() -> tuple[datetime, datetime]:
    """Quiet hours six hours away in the members' zone, so the broadcast goes now."""
    local = datetime.now(ZoneInfo("America/New_York"))
    return local + timedelta(hours=6), local + timedelta(hours=7)


def health_check(port: int, metrics_port: int) -> int:
    """The Dockerfile's HEALTHCHECK command, run here with the ports a container would have."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    found = re.search(r"^HEALTHCHECK .*\\\n\s+CMD (\[.*\])$", dockerfile, re.MULTILINE)
    assert found, "the Dockerfile has a HEALTHCHECK in JSON form"
    command = json.loads(found.group(1))
    env = {**os.environ, "PORT": str(port), "PEERLINE_METRICS_PORT": str(metrics_port)}
    return subprocess.run(command, env=env, check=False, timeout=30).returncode


def test_the_procfile_migrates_serves_plans_sends_and_stops_cleanly(
    empty_postgres: str, twilio_server: TwilioFakeServer, tmp_path: Path
) -> None:
    env = honcho_env(empty_postgres, twilio_server)

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
    members = seed_members(empty_postgres, MEMBERS, quiet=(start.time(), end.time()))
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
                lambda: outbox_states(empty_postgres) == {OutboxState.SENT: MEMBERS},
                120,
                "every broadcast row to be recorded as sent",
            )
            counts = Counter(str(m.params["To"]) for m in twilio_server.messages)
            assert counts == Counter({phone: 1 for _, phone in members})

            # A backlog with every send in flight for a fifth of a second, then a deploy's stop.
            twilio_server.delay(0.2)
            queue_texts(empty_postgres, [p for p, _ in members], per_person=20)
            wait_for(lambda: len(twilio_server.messages) >= MEMBERS + 20, 60, "the backlog")
            running.send_signal(signal.SIGTERM)
            running.wait(45)
        finally:
            if running.poll() is None:
                os.killpg(running.pid, signal.SIGKILL)
                running.wait(10)

    output = log.read_text(errors="replace")
    states = outbox_states(empty_postgres)
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
