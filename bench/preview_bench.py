"""Preview benchmark: a 7-day reminder campaign's preview, against a bare count of the same
members, in the same run.

    .venv/bin/python bench/preview_bench.py sqlite --participants 100000
    .venv/bin/python bench/preview_bench.py postgresql --participants 100000
    .venv/bin/python bench/preview_bench.py sqlite --participants 10000 --every-line

One group meeting Tuesdays at 18:30 in New York, a two-offset campaign (2h, 30m), N consenting
members, and the live planner's 8-day plan already in the outbox, made by the scheduler's tick
(plan_changed), as a running service has it. The clock is Tuesday noon in New York, so a 7-day
preview holds tonight's two reminders for everyone: 2 x N sends. Each round measures, in turn:
the baseline (`SELECT count(*)` of the group's consenting members, the least any preview must
read), the planner itself planning the same 7 days over the real outbox and rolled back; the
saved campaign's summary (counts and a sample of ten) and first page of 50 lines, which read the
tick's plan in place while it is current; the same summary for a draft of the campaign with its
changes not yet saved (here, a new name), which the planner plans privately; and with --every-line the
old full listing, which words every send. Medians of the rounds are reported, with each one's
ratio to the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from plan_bench import NOW, populate  # the same group, meeting, campaign and members

from service.campaigns.campaigns import CampaignChanges
from service.campaigns.planner import plan, plan_changed
from service.campaigns.preview import (
    LinePage,
    PreviewSummary,
    Reader,
    every_line,
    page_of_lines,
    preview_as,
    preview_draft_as,
    summary,
)
from service.cli.database import upgrade_database
from service.db import make_engine
from service.models import Group

DAYS = 7
RENAMED = CampaignChanges(name="Bench, renamed")  # a draft's change that plans nothing new
MEMBERS = (
    "SELECT count(*) FROM memberships m JOIN participants p ON p.id = m.participant_id "
    "WHERE m.group_id = 1 AND m.status = 'active' AND p.consent = 'granted'"
)


def timed(run: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    answer = run()
    return time.perf_counter() - started, answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("database", choices=["sqlite", "postgresql"])
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--every-line", action="store_true", help="also the old full listing")
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
                conn.execute(text("DROP DATABASE IF EXISTS peerline_preview_bench"))
                conn.execute(text("CREATE DATABASE peerline_preview_bench"))
            admin.dispose()
            url = args.postgres_url.rsplit("/", 1)[0] + "/peerline_preview_bench"
        upgrade_database(url)
        engine = make_engine(url)
        populate(engine, args.participants)
        with engine.connect() as connection:  # the live plan, as a running service has it
            report = plan_changed(connection, NOW)
            assert report is not None
            planned = report.written
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        results = measure(engine, args.rounds, args.every_line)
        engine.dispose()
        if args.database == "postgresql":
            drop(args.postgres_url)

    print(f"{args.database}: {args.participants:,} participants, {planned:,} sends in the live "
          f"plan, a {DAYS}-day preview; medians of {args.rounds} rounds")  # fmt: skip
    base = statistics.median(results["baseline"][0])
    for name, (times, answer) in results.items():
        took = statistics.median(times)
        print(f"  {name:<22} {took * 1000:9.1f} ms  {took / base:8.1f}x baseline  {answer}")


def measure(engine: Engine, rounds: int, every: bool) -> dict[str, tuple[list[float], object]]:
    def baseline() -> object:
        with engine.connect() as conn:
            return f"{conn.execute(text(MEMBERS)).scalar_one():,} members"

    def replan() -> object:
        with Session(engine) as session:
            written = plan(session, NOW, timedelta(days=DAYS), group_id=1).written
            session.rollback()
            return f"{written:,} rows written"

    def read(reader: Reader[Any]) -> Any:
        with Session(engine) as session:
            group = session.get_one(Group, 1)
            return preview_as(reader, session, group, NOW, DAYS, campaign_id=1)

    def summarised(counted: PreviewSummary) -> str:
        return (
            f"{counted.texts:,} texts to {counted.people:,} people, "
            f"{len(counted.hours)} hours, {len(counted.sample)} sample lines"
        )

    def saved() -> str:
        return summarised(read(summary()))

    def draft() -> str:
        with Session(engine) as session:
            group = session.get_one(Group, 1)
            return summarised(
                preview_draft_as(
                    summary(), session, group, NOW, DAYS, campaign_id=1, changes=RENAMED
                )
            )

    def first_page() -> str:
        page: LinePage = read(page_of_lines(0, 50))
        return f"{page.total:,} sends, {len(page.lines)} lines"

    def listed() -> str:
        return f"{len(read(every_line)):,} lines"

    runs: dict[str, Callable[[], object]] = {
        "baseline": baseline,
        "planner, same horizon": replan,
        "summary": saved,
        "first page of 50": first_page,
        "summary of a draft": draft,
    }
    if every:
        runs["every line (old)"] = listed
    results: dict[str, tuple[list[float], object]] = {name: ([], None) for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            took, answer = timed(run)
            results[name] = ([*results[name][0], took], answer)
    return results


def drop(admin_url: str) -> None:
    admin = make_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS peerline_preview_bench"))
    admin.dispose()


if __name__ == "__main__":
    main()
