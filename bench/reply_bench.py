"""A text's cost in one process: signed /twilio/sms posts through Flask's test client, with the
statements each kind of text makes, and optionally a cProfile of them.

    PYTHONPATH=. .venv/bin/python bench/reply_bench.py postgresql
    PYTHONPATH=. .venv/bin/python bench/reply_bench.py sqlite --texts 2800 --profile 40

No gunicorn, no wrk, no network: what is left is the app's own work for each text and the
database's answers (see bench/webhook_bench.py for the served figures). One group meeting
Tuesdays at 18:30 in New York with a C/N reminder campaign, 500 members and 500 strangers; the
clock is Tuesday 3 pm. The mix, in turn: a member's C, N, HELP, a free text, STOP and START,
and a stranger's HELP. The first 70 texts warm the process up and are not counted.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import pstats
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.app import create_app
from service.cli.database import upgrade_database
from service.db import make_engine, sessions
from service.models import CampaignKind
from tests.support import (
    PUBLIC_URL,
    Clock,
    RecordingGateway,
    make_campaign,
    make_group,
    make_participant,
    make_schedule,
    make_settings,
    new_sid,
    sign,
)

KINDS = ["C", "N", "HELP", "How do I get there?", "STOP", "START", "a stranger's HELP"]
WARM_UP = 70
DATABASE = "peerline_reply_bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("database", choices=["sqlite", "postgresql"])
    parser.add_argument("--texts", type=int, default=1470)
    parser.add_argument("--profile", type=int, default=0, help="print this many cProfile rows")
    parser.add_argument(
        "--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1/postgres"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.sqlite3"
        if args.database == "postgresql":
            _database(args.postgres_url, "CREATE")
            url = args.postgres_url.rsplit("/", 1)[0] + "/" + DATABASE
        try:
            run(url, args.texts, args.profile, args.database)
        finally:
            if args.database == "postgresql":
                _database(args.postgres_url, "DROP")


def run(url: str, texts: int, profile: int, name: str) -> None:
    upgrade_database(url)
    app = create_app(make_settings(url, PEERLINE_LOG_LEVEL="WARNING"))
    app.extensions["peerline.gateway"] = RecordingGateway()
    app.extensions["peerline.clock"] = Clock(datetime(2026, 3, 3, 20, 0, tzinfo=UTC))
    engine = make_engine(url)
    with Session(engine) as session:
        group = make_group(session, "CIRCLE")
        make_schedule(session, group)
        make_campaign(session, group, CampaignKind.REMINDER, offsets=["2h"], rsvp=True)
        phones = [f"+1202555{i:04d}" for i in range(1000)]
        for phone in phones[:500]:
            make_participant(session, phone, group)
    engine.dispose()

    posts = []
    for i in range(texts):
        kind = KINDS[i % len(KINDS)]
        stranger = kind == KINDS[-1]
        sender = phones[500 + i % 500] if stranger else phones[(i // len(KINDS)) % 500]
        form = {
            "MessageSid": new_sid(),
            "AccountSid": "AC" + "a" * 32,
            "From": sender,
            "To": "+12025559999",
            "Body": "HELP" if stranger else kind,
            "NumMedia": "0",
        }
        posts.append((kind, form, sign(PUBLIC_URL + "/twilio/sms", form)))

    statements: collections.Counter[str] = collections.Counter()
    current = [""]

    def count(*_: Any) -> None:
        statements[current[0]] += 1

    event.listen(Engine, "before_cursor_execute", count)
    client = app.test_client()

    def post(batch: list[tuple[str, dict[str, str], str]]) -> None:
        for kind, form, signature in batch:
            current[0] = kind
            answer = client.post(
                "/twilio/sms", data=form, headers={"X-Twilio-Signature": signature}
            )
            assert answer.status_code == 200, answer.status_code

    post(posts[:WARM_UP])
    statements.clear()
    profiler = cProfile.Profile()
    started = time.perf_counter()
    if profile:
        profiler.enable()
    post(posts[WARM_UP:])
    profiler.disable()
    took = time.perf_counter() - started
    counted = collections.Counter(kind for kind, _, _ in posts[WARM_UP:])
    print(f"{name}: {len(posts) - WARM_UP} texts in {took:.2f} s, "
          f"{1000 * took / (len(posts) - WARM_UP):.2f} ms a text")  # fmt: skip
    for kind in KINDS:
        print(f"  {kind!r:24} {statements[kind] / counted[kind]:4.1f} statements a text")
    if profile:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(profile)
    sessions(app).kw["bind"].dispose()  # the app's connections, before its database is dropped


def _database(admin_url: str, verb: str) -> None:
    admin = make_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {DATABASE}"))
        if verb == "CREATE":
            conn.execute(text(f"CREATE DATABASE {DATABASE}"))
    admin.dispose()


if __name__ == "__main__":
    main()
