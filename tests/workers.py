"""`peerline worker` processes for tests, and a quick way to fill the outbox with due texts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from types import TracebackType
from typing import Self

import requests
from sqlalchemy import Engine, create_engine, func, insert, select

from service.models import (
    Channel,
    ConsentState,
    Coordinator,
    Group,
    Membership,
    MembershipStatus,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Participant,
)
from service.phones import phone_hash
from tests.support import AUTH_TOKEN, PUBLIC_URL, new_sid, sign
from tests.twilio_fake import TwilioFakeServer

ACCOUNT_SID = "AC" + "a" * 32
IN_FLIGHT = (OutboxState.QUEUED, OutboxState.SENDING, OutboxState.UNKNOWN)


def worker_env(database_url: str, server: TwilioFakeServer, **overrides: str) -> dict[str, str]:
    """The environment of a worker that sends through the local Twilio."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PEERLINE_", "TWILIO_"))
    }
    env.update(
        PEERLINE_MODE="test",
        PEERLINE_DATABASE_URL=database_url,
        PEERLINE_PUBLIC_URL=PUBLIC_URL,
        PEERLINE_LOG_LEVEL="WARNING",
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_FROM_NUMBER="+15005550006",
        TWILIO_API_BASE_URL=server.base_url,
        TWILIO_TIMEOUT="1",
        PEERLINE_SEND_LEASE="5",
        PEERLINE_SEND_RATE="off",
    )
    env.update(overrides)
    return env


class Worker:
    """One `peerline worker` process; its output goes to a log file kept for a failed test."""

    def __init__(self, env: Mapping[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from scheduler.cli import main; main()", "worker"],
            env=dict(env),
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM, then wait for the worker to finish what it has in flight."""
        self.process.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        """kill -9: no chance to finish anything."""
        self.process.kill()
        self.wait(10)

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout)
        finally:
            self._out.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._out.close()


def seed_members(
    database_url: str,
    count: int,
    *,
    first_phone: int = 2_000_000,
    quiet: tuple[dt_time, dt_time] | None = None,
) -> list[tuple[int, str]]:
    """count consenting active members of one group, in bulk; their (id, phone) pairs.

    quiet: the group's quiet hours (a benchmark puts them away from the run's hours).
    """
    now = datetime.now(UTC)
    phones = [f"+1202{first_phone + n:07d}" for n in range(count)]
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            coordinator = conn.scalar(
                insert(Coordinator)
                .values(email="robin@example.org", name="Robin", created_at=now)
                .returning(Coordinator.id)
            )
            group = conn.scalar(
                insert(Group)
                .values(
                    coordinator_id=coordinator,
                    name="Tuesday circle",
                    public_name="Tuesday group",
                    join_code="CIRCLE",
                    timezone="America/New_York",
                    language="en",
                    created_at=now,
                    **({"quiet_start": quiet[0], "quiet_end": quiet[1]} if quiet else {}),
                )
                .returning(Group.id)
            )
            people = conn.scalars(
                insert(Participant).returning(Participant.id, sort_by_parameter_order=True),
                [
                    {
                        "phone": phone,
                        "phone_hash": phone_hash(phone, "insecure-test-key"),
                        "timezone": "America/New_York",
                        "consent": ConsentState.GRANTED,
                        "created_at": now,
                    }
                    for phone in phones
                ],
            ).all()
            conn.execute(
                insert(Membership),
                [
                    {
                        "participant_id": p,
                        "group_id": group,
                        "status": MembershipStatus.ACTIVE,
                        "language": "en",
                        "timezone": "America/New_York",
                        "channel": Channel.SMS,
                    }
                    for p in people
                ],
            )
    finally:
        engine.dispose()
    return list(zip(people, phones, strict=True))


def seed_due_texts(database_url: str, count: int, *, first_phone: int = 2_000_000) -> list[str]:
    """count consenting members of one group, each with one text due now; their phones."""
    members = seed_members(database_url, count, first_phone=first_phone)
    queue_texts(database_url, [participant for participant, _ in members], 1)
    return [phone for _, phone in members]


def queue_texts(database_url: str, participants: list[int], per_person: int) -> None:
    """Texts due now, per_person for each participant, straight into the outbox."""
    now = datetime.now(UTC)
    engine = create_engine(database_url)
    with engine.begin() as conn:
        group = conn.scalar(select(Group.id).where(Group.join_code == "CIRCLE"))
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


_ENGINES: dict[str, Engine] = {}


def outbox_states(database_url: str) -> dict[OutboxState, int]:
    # One engine per database for the whole run: the local Twilio serves from this same
    # process, and connecting anew on every poll would delay its answers (and timestamps).
    engine = _ENGINES.get(database_url) or _ENGINES.setdefault(
        database_url, create_engine(database_url, pool_size=1, max_overflow=0)
    )
    with engine.connect() as conn:
        found = conn.execute(
            select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
        ).all()
    return {OutboxState(state): n for state, n in found}


def drop_connections(database_url: str) -> None:
    """Close outbox_states' connections to a database, as one that was dropped must be."""
    engine = _ENGINES.pop(database_url, None)
    if engine is not None:
        engine.dispose()


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.25)


def all_settled(database_url: str) -> bool:
    states = outbox_states(database_url)
    return not any(states.get(state) for state in IN_FLIGHT)


def free_port() -> int:
    """A port where nothing listens (yet)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port: int = probe.getsockname()[1]
    probe.close()
    return port


class WebProcess:
    """`peerline web` (gunicorn) in its own process group, so a kill takes all of it."""

    def __init__(self, env: dict[str, str], log: Path, *, workers: int = 1) -> None:
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
                str(workers),
                "--threads",
                "2",
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self._up, 120, "peerline web to start")

    def _up(self) -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).ok
        except requests.RequestException:
            return False

    def get(self, path: str, headers: dict[str, str]) -> requests.Response:
        return requests.get(f"http://127.0.0.1:{self.port}{path}", headers=headers, timeout=15)

    def post_signed(self, path: str, form: dict[str, str]) -> requests.Response:
        """POST form to path, signed for the public URL as Twilio signs."""
        return requests.post(
            f"http://127.0.0.1:{self.port}{path}",
            data=form,
            headers={"X-Twilio-Signature": sign(PUBLIC_URL + path, form)},
            timeout=15,
        )

    def text(self, sender: str, body: str) -> requests.Response:
        form = {
            "MessageSid": new_sid(),
            "AccountSid": ACCOUNT_SID,
            "From": sender,
            "To": "+15005550006",
            "Body": body,
        }
        return self.post_signed("/twilio/sms", form)

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.log.close()
