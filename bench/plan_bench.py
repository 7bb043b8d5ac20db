"""Planning benchmark: the planner against a raw INSERT ... SELECT of the same rows, same run.

    .venv/bin/python bench/plan_bench.py sqlite --participants 100000
    .venv/bin/python bench/plan_bench.py postgresql --participants 250000   # 1,000,000 sends

Each participant gets (meetings in the horizon) x (offsets) reminders: two weekly meetings and
two offsets here, so sends = 4 x participants. Reports wall time of each, their ratio, and this
process's peak RSS (the planner's memory; the database server's is its own).

Then the planning tick (plan_changed, as scheduler.clock.plan_tick runs it): its first run, which
plans the campaign afresh and records what it planned from; a run at the same moment with nothing
changed (skipped); a run a minute later (the horizon moved on: only new moments planned); and a
run after one member joined (the campaign planned afresh).

While the full re-plan ("planner again") and the re-plan after a join run, a dispatcher's claim
(SELECT ... FOR UPDATE SKIP LOCKED LIMIT 100 of the rows due by tonight's first reminder) is
asked every 50 ms on another connection: how often it came back empty because the plan held
the due rows' locks, and how long it took.

While the first plan (every send written) and the full re-plan run on PostgreSQL, a real
dispatcher (the app's dispatch_due, a tick a second as the worker runs it, sending to a
recording gateway) sends one-off texts that fall due at a steady rate (--lateness-rate a second,
from the moment the plan starts); their lateness is sent_at - due_at, read back afterwards for
the texts due while the plan ran. The dispatcher's clock is the benchmark's NOW moving with the
real time, so tonight's planned reminders are hours away and only those texts are due.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scheduler.dispatcher import dispatch_due
from service.app import create_app
from service.campaigns.planner import PlanReport, plan, plan_changed
from service.cli.database import upgrade_database
from service.db import make_engine
from tests.support import RecordingGateway, make_settings

T = TypeVar("T")
NOW = datetime(2026, 3, 3, 17, 0, tzinfo=UTC)  # a Tuesday; the group meets Tuesdays 18:30
HORIZON = timedelta(days=8)


def populate(engine: Engine, participants: int) -> None:
    """One group, one weekly meeting, one two-offset campaign, and N consenting members."""
    numbers = (
        "SELECT generate_series(1, :n) AS i"
        if engine.dialect.name == "postgresql"
        else "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < :n) "
        "SELECT i FROM s"
    )
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO coordinators (id, email, name, created_at) "
            "VALUES (1, 'bench@example.org', 'Bench', :now)"), {"now": NOW})  # fmt: skip
        conn.execute(text(
            "INSERT INTO groups (id, coordinator_id, name, public_name, join_code, timezone, "
            "language, quiet_start, quiet_end, created_at) VALUES (1, 1, 'Bench', 'Bench', "
            "'BENCH', 'America/New_York', 'en', '21:00:00', '08:00:00', :now)"), {"now": NOW})  # fmt: skip
        conn.execute(text(
            "INSERT INTO meeting_schedules (id, group_id, rrule, first_start, duration_minutes, "
            "updated_at) VALUES (1, 1, 'FREQ=WEEKLY;BYDAY=TU', '2026-03-03 18:30:00', 90, :now)"),
            {"now": NOW})  # fmt: skip
        conn.execute(text(
            "INSERT INTO campaigns (id, group_id, kind, name, status, offsets, rsvp, wording, "
            "stages, window_minutes, created_at, updated_at) VALUES (1, 1, 'reminder', 'Bench', "
            "'active', '[\"2h\", \"30m\"]', false, '{}', '[]', 720, :now, :now)"), {"now": NOW})  # fmt: skip
        conn.execute(text(
            f"INSERT INTO participants (id, phone, phone_hash, language, timezone, channel, "
            f"landline, consent, created_at) SELECT i, '+1202' || CAST(1000000 + i AS TEXT), "
            f"'h' || CAST(i AS TEXT), 'en', 'America/New_York', 'sms', false, 'granted', :now "
            f"FROM ({numbers}) AS numbers"), {"n": participants, "now": NOW})  # fmt: skip
        conn.execute(text(
            "INSERT INTO memberships (participant_id, group_id, status, language, timezone, "
            "channel, created_at, updated_at) SELECT id, 1, 'active', language, timezone, "
            "channel, :now, :now FROM participants"), {"now": NOW})  # fmt: skip


def baseline(engine: Engine) -> float:
    """The same rows, written by hand-made SQL with nothing to decide: the floor."""
    started = time.perf_counter()
    with engine.begin() as conn:
        for meeting in ("20260303T1830", "20260310T1830"):
            for index in (0, 1):
                conn.execute(text(
                    "INSERT INTO outbox_messages (send_key, kind, channel, participant_id, "
                    "group_id, campaign_id, occurrence_key, segments, state, attempts, due_at, "
                    "expires_at, created_at, updated_at) SELECT 'x' || CAST(p.id AS TEXT) || "
                    ":suffix, 'reminder', p.channel, p.id, 1, 1, :meeting, 1, 'queued', 0, :due, "
                    ":due, :now, :now FROM participants p JOIN memberships m ON "
                    "m.participant_id = p.id WHERE m.group_id = 1 AND m.status = 'active' AND "
                    "p.consent = 'granted' ON CONFLICT (send_key) DO NOTHING"),
                    {"suffix": f":{meeting}:{index}", "meeting": meeting, "due": NOW, "now": NOW},
                )  # fmt: skip
    return time.perf_counter() - started


def planner(engine: Engine) -> tuple[float, int]:
    started = time.perf_counter()
    with Session(engine) as session:
        report = plan(session, NOW, HORIZON)
        session.commit()
    return time.perf_counter() - started, report.written


FIRST_DUE = datetime(2026, 3, 3, 21, 30, tzinfo=UTC)  # tonight's "2h" reminders: 18:30 EST - 2 h
CLAIM = text(
    "SELECT id FROM outbox_messages WHERE state = 'queued' AND due_at <= :at "
    "AND campaign_id IS NOT NULL "
    "ORDER BY due_at LIMIT 100 FOR UPDATE SKIP LOCKED"
)


class Claims(threading.Thread):
    """A dispatcher's claim of due rows, asked every 50 ms until stopped; each one rolled back."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(daemon=True)
        self.engine, self.stopped = engine, threading.Event()
        self.samples: list[tuple[float, int]] = []  # (seconds, rows claimed)

    def run(self) -> None:
        with self.engine.connect() as conn:
            while not self.stopped.is_set():
                started = time.perf_counter()
                got = len(conn.execute(CLAIM, {"at": FIRST_DUE}).all())
                conn.rollback()
                self.samples.append((time.perf_counter() - started, got))
                self.stopped.wait(0.05)

    def summary(self) -> str:
        if not self.samples:
            return "no claims asked (SQLite)"
        took = sorted(seconds for seconds, _ in self.samples)
        empty = sum(1 for _, got in self.samples if got == 0)
        p99 = took[min(len(took) - 1, int(len(took) * 0.99))]
        median = statistics.median(took)
        return (f"claims during it: {len(took)}, {empty} came back empty; "
                f"claim p50 {median * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")  # fmt: skip


class Dispatching(threading.Thread):
    """The worker's dispatch tick, once a second, over one-off texts falling due at a rate."""

    def __init__(self, url: str, engine: Engine, rate: float, label: str) -> None:
        super().__init__(daemon=True)
        self.engine, self.rate, self.label = engine, rate, label
        self.stopped = threading.Event()
        self.started_at = time.monotonic()
        self.app = create_app(make_settings(url, PEERLINE_LOG_LEVEL="WARNING"))
        self.app.extensions["peerline.gateway"] = RecordingGateway()
        self.app.extensions["peerline.clock"] = self.now
        self.plan_window: tuple[datetime, datetime] | None = None

    def now(self) -> datetime:
        return NOW + timedelta(seconds=time.monotonic() - self.started_at)

    def queue(self, seconds: float) -> None:
        """Texts due from now on, rate a second for seconds, to the group's first members."""
        start = self.now()
        with self.engine.connect() as conn:
            people = conn.execute(text("SELECT count(*) FROM participants")).scalar_one()
        rows = [
            {
                "key": f"{self.label}:{i}",
                "p": i % people + 1,
                "due": start + timedelta(seconds=i / self.rate),
            }
            for i in range(int(seconds * self.rate))
        ]
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO outbox_messages (send_key, kind, channel, participant_id, "
                    "group_id, body, segments, state, attempts, due_at, created_at, updated_at) "
                    "VALUES (:key, 'one_off', 'sms', :p, 1, 'Room 5 tonight.', 1, 'queued', 0, "
                    ":due, :due, :due)"
                ),
                rows,
            )

    def run(self) -> None:
        while not self.stopped.wait(1.0 - (time.monotonic() - self.started_at) % 1.0):
            dispatch_due(self.app)

    def lateness(self) -> str:
        assert self.plan_window is not None
        with self.engine.connect() as conn:
            found = conn.execute(
                text(
                    "SELECT due_at, sent_at FROM outbox_messages WHERE send_key LIKE :label "
                    "AND due_at >= :start AND due_at < :end"
                ),
                {
                    "label": f"{self.label}:%",
                    "start": self.plan_window[0],
                    "end": self.plan_window[1],
                },
            ).all()
        late = sorted(
            (sent - due).total_seconds() if sent is not None else float("inf")
            for due, sent in found
        )
        if not late:
            return "no text fell due while it ran"
        p99 = late[min(len(late) - 1, int(len(late) * 0.99))]
        unsent = sum(1 for x in late if x == float("inf"))
        return (f"texts due while it ran: {len(late)}, {unsent} unsent; lateness p50 "
                f"{statistics.median(late):.2f} s, p99 {p99:.2f} s, max {late[-1]:.2f} s")  # fmt: skip


def dispatched(
    url: str, engine: Engine, rate: float, label: str, work: Callable[[], T]
) -> tuple[T, Dispatching | None]:
    """work's answer, with the lateness of texts a ticking dispatcher sent while it ran."""
    if engine.dialect.name != "postgresql":
        return work(), None  # SQLite: one writer at a time, the planner's or the dispatcher's
    dispatching = Dispatching(url, engine, rate, label)
    dispatching.queue(180)  # more than any plan here takes; the rest is deleted afterwards
    dispatching.start()
    time.sleep(2.5)  # its first ticks (a new app: imports, connections) before the plan starts
    try:
        start = dispatching.now()
        answer = work()
        dispatching.plan_window = (start, dispatching.now())
        time.sleep(3)  # the texts due at the plan's end get their tick
        return answer, dispatching
    finally:
        dispatching.stopped.set()
        dispatching.join()
        summary = dispatching.lateness() if dispatching.plan_window else ""
        dispatching.summary = summary  # type: ignore[attr-defined]
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM outbox_messages WHERE send_key LIKE :l"),
                         {"l": f"{label}:%"})  # fmt: skip


def probed(engine: Engine, work: Callable[[], T]) -> tuple[T, Claims]:
    claims = Claims(engine)
    if engine.dialect.name != "postgresql":
        return work(), claims  # SQLite has no row locks: one writer, and readers never wait
    claims.start()
    time.sleep(0.2)  # a few claims before the plan starts
    try:
        return work(), claims
    finally:
        claims.stopped.set()
        claims.join()


def tick(engine: Engine, now: datetime) -> tuple[float, PlanReport]:
    started = time.perf_counter()
    with engine.connect() as connection:
        report = plan_changed(connection, now, HORIZON)
    assert report is not None
    return time.perf_counter() - started, report


def join_one(engine: Engine, participants: int) -> None:
    """One more consenting member: a change the next tick must plan."""
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO participants (id, phone, phone_hash, language, timezone, channel, "
            "landline, consent, created_at) VALUES (:i, '+12029999999', 'new', 'en', "
            "'America/New_York', 'sms', false, 'granted', :now)"), {"i": participants + 1, "now": NOW})  # fmt: skip
        conn.execute(text(
            "INSERT INTO memberships (participant_id, group_id, status, language, timezone, "
            "channel, created_at, updated_at) VALUES (:i, 1, 'active', 'en', 'America/New_York', "
            "'sms', :now, :now)"), {"i": participants + 1, "now": NOW})  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("database", choices=["sqlite", "postgresql"])
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--lateness-rate", type=float, default=50.0, help="texts due a second")
    parser.add_argument(
        "--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1/postgres"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        if args.database == "sqlite":
            url = f"sqlite:///{folder}/bench.sqlite3"
        else:
            admin = make_engine(args.postgres_url).execution_options(isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text("DROP DATABASE IF EXISTS peerline_bench"))
                conn.execute(text("CREATE DATABASE peerline_bench"))
            admin.dispose()
            url = args.postgres_url.rsplit("/", 1)[0] + "/peerline_bench"
        upgrade_database(url)
        engine = make_engine(url)
        populate(engine, args.participants)

        raw = baseline(engine)
        with engine.begin() as conn:
            rows = conn.execute(text("SELECT count(*) FROM outbox_messages")).scalar_one()
            # TRUNCATE, not DELETE: after a DELETE of every row, ANALYZE records a table of
            # 20,000 pages holding no row, and PostgreSQL then plans the dispatcher's claim (an
            # UPDATE ... WHERE id IN a locking LIMIT) as a nested loop over every row of the
            # table while the plan writes 1,000,000: a state a real outbox, which is never
            # emptied, does not reach (VACUUM would give the pages back).
            conn.execute(text("TRUNCATE outbox_messages"))
            if engine.dialect.name == "postgresql":
                conn.execute(text("ANALYZE"))
        (took, written), first_sends = dispatched(
            url, engine, args.lateness_rate, "first", lambda: planner(engine)
        )
        ((again, rewritten), again_claims), again_sends = dispatched(
            url, engine, args.lateness_rate, "again",
            lambda: probed(engine, lambda: planner(engine)),
        )  # fmt: skip
        first, first_report = tick(engine, NOW)
        same, same_report = tick(engine, NOW)
        minute, minute_report = tick(engine, NOW + timedelta(minutes=1))
        join_one(engine, args.participants)
        (joined, joined_report), joined_claims = probed(
            engine, lambda: tick(engine, NOW + timedelta(minutes=1))
        )
        engine.dispose()

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.database}: {args.participants:,} participants, {written:,} sends planned "
          f"(baseline wrote {rows:,})")  # fmt: skip
    print(f"  baseline INSERT ... SELECT: {raw:8.2f} s")
    print(f"  planner:                    {took:8.2f} s   ratio {took / raw:.2f}x")
    if first_sends is not None:
        print(f"    {first_sends.summary}")  # type: ignore[attr-defined]
    print(f"  planner again (no change):  {again:8.2f} s   rows written {rewritten}")
    print(f"    {again_claims.summary()}")
    if again_sends is not None:
        print(f"    {again_sends.summary}")  # type: ignore[attr-defined]
    print("  the planning tick (plan_changed):")
    for label, seconds, report in (
        ("first run (plans afresh)", first, first_report),
        ("again, nothing changed", same, same_report),
        ("a minute later", minute, minute_report),
        ("after one member joined", joined, joined_report),
    ):
        print(f"    {label + ':':27s}{seconds:8.3f} s   rows written {report.written:,}, "
              f"campaigns planned {report.planned}, extended {report.extended}, "
              f"skipped {report.skipped}")  # fmt: skip
    print(f"      {joined_claims.summary()}")
    print(f"  peak RSS of this process:   {peak:8.0f} MB")


if __name__ == "__main__":
    main()
