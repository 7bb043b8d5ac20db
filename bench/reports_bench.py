"""Reports benchmark: the API's outbox list, its filters, a deep page and group stats, at two sizes.

    .venv/bin/python bench/reports_bench.py                          # 10,000 and 1,000,000 sends
    .venv/bin/python bench/reports_bench.py --sends 10000,300000     # sizes of your choosing
    .venv/bin/python bench/reports_bench.py --drop                   # drop the databases after

One PostgreSQL database per size (Peerline's own migrations, then INSERT ... SELECT
generate_series), kept between runs: 20 groups, 3 of them a coordinator's, the rest another's;
the sends spread evenly over the 13 months before NOW, one in 53 failed, some expired or held
back, the rest delivered. Each request goes through Flask's test client with the coordinator's
API token, after two warm-up requests, round-robin, --rounds times; the baseline in the same
rounds is GET /api/v1/inbox/daily-text (sign-in check, one small read). The figure that matters is
each request's time at the larger size over its time at the smaller one (the issue asks for at
most 2x from 10,000 to 1,000,000 sends).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.app import create_app
from service.cli.database import upgrade_database
from service.config import Settings
from service.db import make_engine
from service.messages import counts
from service.models import Coordinator, Role
from service.people.accounts import issue_token
from service.web.api.auth import encode_cursor

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
GROUPS = 20
MINE = (1, 2, 3)  # the coordinator's groups
PAGE = 50

POPULATE = [
    """INSERT INTO coordinators (id, email, name, created_at, role) VALUES
       (1, 'coordinator1@example.org', 'One', :now, 'coordinator'),
       (2, 'coordinator2@example.org', 'Two', :now, 'coordinator')""",
    "SELECT setval('coordinators_id_seq', 2)",
    """INSERT INTO groups (id, coordinator_id, name, public_name, join_code, timezone, language,
                          created_at)
       SELECT g, CASE WHEN g <= 3 THEN 1 ELSE 2 END, 'Group ' || g, 'Group ' || g,
              'JOIN' || g, 'America/New_York', 'en', :now
       FROM generate_series(1, :groups) g""",
    "SELECT setval('groups_id_seq', :groups)",
    """INSERT INTO outbox_messages (send_key, kind, channel, group_id, to_phone, body, segments,
                                   state, attempts, due_at, created_at, updated_at, sent_at)
       SELECT 'bench:' || i, 'one_off', 'sms', i % :groups + 1, '+12025550199', 'See you.', 1,
              s.state, 1, d.due, d.due, d.due,
              CASE WHEN s.state IN ('delivered', 'failed') THEN d.due END
       FROM generate_series(1, :sends) i,
            LATERAL (SELECT :now - i * (interval '395 days' / :sends) AS due) d,
            LATERAL (SELECT CASE WHEN i % 53 = 7 THEN 'failed' WHEN i % 21 = 3 THEN 'expired'
                                 WHEN i % 31 = 4 THEN 'suppressed' ELSE 'delivered' END
                            AS state) s""",
    "ANALYZE",
]


def prepare(sends: int) -> str:
    """The URL of a database holding sends outbox rows, built unless it already does."""
    name = f"peerline_bench_reports_{sends}"
    admin = make_engine(POSTGRES).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).first():
            conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    url = POSTGRES.rsplit("/", 1)[0] + "/" + name
    upgrade_database(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        if conn.execute(text("SELECT count(*) FROM outbox_messages")).scalar() != sends:
            conn.execute(text("TRUNCATE outbox_messages, groups, coordinators CASCADE"))
            started = time.perf_counter()
            for statement in POPULATE:
                conn.execute(text(statement), {"now": NOW, "groups": GROUPS, "sends": sends})
            print(f"  built {sends:,} sends in {time.perf_counter() - started:.0f} s")
    # The day counts as a running service keeps them: its workers file the notes every minute.
    with Session(engine) as session:
        started = time.perf_counter()
        filed = counts.fold_all(session)
    if filed:
        print(f"  filed {filed:,} count notes by day in {time.perf_counter() - started:.1f} s")
    # As autovacuum leaves a running service's tables: counted, and visible to index-only scans.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(
            text("VACUUM ANALYZE outbox_messages, outbox_count_changes, outbox_day_counts")
        )
    engine.dispose()
    return url


def drop(sends: int) -> None:
    admin = make_engine(POSTGRES).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS peerline_bench_reports_{sends} WITH (FORCE)"))
    admin.dispose()


def requests(engine: Engine, token: str) -> list[tuple[str, str]]:
    """What a coordinator's program asks for: the baseline first."""
    mine = ", ".join(map(str, MINE))
    with engine.connect() as conn:
        total = conn.execute(
            text(f"SELECT count(*) FROM outbox_messages WHERE group_id IN ({mine})")
        ).scalar_one()
        middle = total // 2 // PAGE * PAGE
        deep = conn.execute(
            text(
                f"SELECT due_at, id FROM outbox_messages WHERE group_id IN ({mine}) "
                "ORDER BY due_at DESC, id DESC OFFSET :n LIMIT 1"
            ),
            {"n": middle - 1},
        ).one()
        deep_failed = conn.execute(
            text(
                f"SELECT due_at, id FROM outbox_messages WHERE group_id IN ({mine}) "
                "AND state = 'failed' ORDER BY due_at DESC, id DESC OFFSET :n LIMIT 1"
            ),
            {"n": total // 53 // 2},
        ).one()
    since = (NOW - timedelta(days=30)).isoformat().replace("+00:00", "Z")
    year = (NOW - timedelta(days=365)).isoformat().replace("+00:00", "Z")
    after, after_failed = encode_cursor(tuple(deep)), encode_cursor(tuple(deep_failed))
    return [
        ("baseline: GET /inbox/daily-text", "/api/v1/inbox/daily-text"),
        ("outbox, first page (counted)", f"/api/v1/outbox?page_size={PAGE}"),
        (
            "outbox, middle page by page=",
            f"/api/v1/outbox?page_size={PAGE}&page={middle // PAGE + 1}",
        ),
        ("outbox, middle page by after=", f"/api/v1/outbox?page_size={PAGE}&after={after}"),
        ("outbox, state=failed, first page", f"/api/v1/outbox?page_size={PAGE}&state=failed"),
        (
            "outbox, state=failed, by after=",
            f"/api/v1/outbox?page_size={PAGE}&state=failed&after={after_failed}",
        ),
        ("outbox, since 30 days, first page", f"/api/v1/outbox?page_size={PAGE}&since={since}"),
        ("group stats, 30 days", f"/api/v1/groups/{MINE[0]}/stats"),
        ("group stats per day, 30 days", f"/api/v1/groups/{MINE[0]}/stats/daily"),
        ("group stats, 365 days", f"/api/v1/groups/{MINE[0]}/stats?since={year}"),
        ("group stats per day, 365 days", f"/api/v1/groups/{MINE[0]}/stats/daily?since={year}"),
    ]


def measure(sends: int, rounds: int) -> dict[str, float]:
    url = prepare(sends)
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings.from_env(
            {
                "PEERLINE_DATABASE_URL": url,
                "PEERLINE_SECRET_KEY": "bench-secret-key-of-enough-length",
                "PEERLINE_INSTANCE_DIR": folder,
                "PEERLINE_LOG_LEVEL": "WARNING",
            },
            mode="production",
        )
        app = create_app(settings)
        app.extensions["peerline.clock"] = lambda: NOW
        engine = make_engine(url)
        with Session(engine) as session:
            coordinator = session.get(Coordinator, 1)
            if coordinator is None or coordinator.role is not Role.COORDINATOR:
                raise SystemExit("the bench database has no coordinator 1")
            _, token = issue_token(session, coordinator, f"bench {time.time()}", NOW)
            session.commit()
        asked = requests(engine, token)
        engine.dispose()
        client: FlaskClient = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        for _name, path in asked:
            for _ in range(3):
                answer = client.get(path, headers=headers)
                assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text}"
        times: dict[str, list[float]] = {name: [] for name, _ in asked}
        for _ in range(rounds):
            for name, path in asked:
                started = time.perf_counter()
                client.get(path, headers=headers)
                times[name].append(time.perf_counter() - started)
    return {name: statistics.median(found) for name, found in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sends", default="10000,1000000", help="Two sizes, small first.")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--drop", action="store_true", help="Drop the databases at the end.")
    args = parser.parse_args()
    small, large = (int(n) for n in args.sends.split(","))
    results = {}
    for sends in (small, large):
        print(f"{sends:,} sends")
        results[sends] = measure(sends, args.rounds)
    print(f"\n  {'request':40} {f'{small:,} ms':>12} {f'{large:,} ms':>12} {'ratio':>6}")
    for name, fast in results[small].items():
        slow = results[large][name]
        print(f"  {name:40} {fast * 1000:12.1f} {slow * 1000:12.1f} {slow / fast:6.2f}")
    print(
        f"\nmedians of {args.rounds} rounds after 3 warm-up requests each; in-process test client"
    )
    if args.drop:
        for sends in (small, large):
            drop(sends)


if __name__ == "__main__":
    main()
