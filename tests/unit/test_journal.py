"""The journal keeps signed requests durably and gives them back in order, each once."""

from __future__ import annotations

import fcntl
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask, request
from werkzeug.datastructures import MultiDict

from service.web.journal import REPLAY, Journal, JournalFull

T0 = datetime(2026, 3, 3, 17, 0, tzinfo=UTC)
URL = "https://peerline.example.org/twilio/sms"


def receiver(answers: list[int]) -> tuple[Flask, list[tuple[str, str]]]:
    """An app whose /twilio/sms notes each replayed Body and answers the next status given."""
    app = Flask(__name__)
    seen: list[tuple[str, str]] = []

    @app.post("/twilio/sms")
    def sms() -> tuple[str, int]:
        status = answers.pop(0) if answers else 200
        if status == 200:
            seen.append((request.form["Body"], request.environ[REPLAY]))
        return "", status

    return app, seen


def keep(journal: Journal, body: str, at: datetime) -> str:
    entry = journal.append(URL, MultiDict({"Body": body}), "sig", answered=[], now=at)
    return entry.id


def test_two_processes_files_are_replayed_in_arrival_order_then_removed(tmp_path: Path) -> None:
    first, second = Journal(tmp_path), Journal(tmp_path)
    keep(first, "STOP", T0)
    keep(second, "START", T0 + timedelta(seconds=1))
    keep(first, "C", T0 + timedelta(seconds=2))
    app, seen = receiver([])

    assert first.replay(app) == 3

    assert [body for body, _ in seen] == ["STOP", "START", "C"]
    assert not first.waiting() and list(tmp_path.glob("*.jsonl")) == []


def test_a_replay_the_database_cannot_take_stops_and_the_next_goes_on(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    ids = [keep(journal, body, T0 + timedelta(seconds=n)) for n, body in enumerate("ABC")]
    app, seen = receiver([200, 503])

    assert journal.replay(app) == 1
    assert journal.waiting()
    assert journal.replay(app) == 2

    assert seen == [("A", ids[0]), ("B", ids[1]), ("C", ids[2])]  # each once, in order


def test_a_full_journal_refuses_and_writes_nothing_partial(tmp_path: Path) -> None:
    journal = Journal(tmp_path, max_bytes=400)
    keep(journal, "first", T0)
    size = journal.path.stat().st_size

    with pytest.raises(JournalFull):
        keep(journal, "x" * 400, T0)

    assert journal.path.stat().st_size == size


def test_an_append_never_waits_for_a_replay_holding_the_file(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    keep(journal, "first", T0)
    held = os.open(journal.path, os.O_RDWR)
    fcntl.flock(held, fcntl.LOCK_EX)  # a replayer in another process, mid-replay
    try:
        keep(journal, "second", T0 + timedelta(seconds=1))
    finally:
        os.close(held)

    assert len(list(tmp_path.glob("*.jsonl"))) == 2
    app, seen = receiver([])
    assert journal.replay(app) == 2
    assert [body for body, _ in seen] == ["first", "second"]


def test_the_files_are_the_owners_alone(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal")
    keep(journal, "STOP", T0)

    assert journal.path.stat().st_mode & 0o777 == 0o600
    assert journal.folder.stat().st_mode & 0o777 == 0o700
