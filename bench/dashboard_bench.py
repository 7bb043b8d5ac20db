"""Dashboard benchmark: Today, People and Sends on a large PostgreSQL database, same-run baseline.

    .venv/bin/python bench/dashboard_bench.py                # builds the data once, then reuses it
    .venv/bin/python bench/dashboard_bench.py --rebuild      # builds it again
    .venv/bin/python bench/dashboard_bench.py --drop         # and drops the database at the end

The database (PEERLINE's own migrations, then bulk INSERT ... SELECT generate_series): 20 groups
under 5 coordinators and an admin, each with a weekly meeting and three campaigns; 10,000
participants with 11,428 memberships, consent and its ledger; 1,000,000 outbox rows over
the 13 months before NOW in every state, and the next 24 hours' queued ones; about 53,000 texts in,
some waiting for a human; about 80,000 meeting answers. It is kept between runs (its shape is
checked) and migrated to this code's head on each run.

Each page is asked for through Flask's test client, in this process, by a coordinator of 3 of
the groups and by an admin (all 20), after a warm-up, round-robin, --rounds times. Server time
is the test client's round trip: the whole WSGI app (sign-in check, queries, templates), no
network and no browser. The baseline, in the same rounds: a route on the same app that runs
`SELECT 1` through the request's session and renders a one-line template. Statements are counted
per request with a SQLAlchemy `before_cursor_execute` listener.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, render_template
from flask.testing import FlaskClient
from jinja2 import ChoiceLoader, DictLoader
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.app import create_app
from service.cli.database import upgrade_database
from service.config import Settings
from service.db import get_session, make_engine, sessions
from service.messages import counts
from service.models import Role
from service.people.accounts import create_coordinator

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DATABASE = "peerline_bench_dashboard"
NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # a Wednesday, mid-morning in the groups' zones
PASSWORD = "a long enough password"  # noqa: S105 - the bench's own accounts
PUBLIC_URL = "https://peerline.example.org"

GROUPS = 20
PARTICIPANTS = 10_000
SENDS = 1_000_000
QUEUED = 5_000  # of SENDS, due in the next 24 hours; the rest spread over the 13 months before
INBOUND = 60_000
HISTORY_DAYS = 395
ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")
# Groups 1-3 are coordinator 1's: the coordinator the benchmark signs in as.
OWNER = "CASE WHEN g <= 3 THEN 1 WHEN g <= 7 THEN 2 WHEN g <= 11 THEN 3 WHEN g <= 15 THEN 4 ELSE 5 END"  # fmt: skip


# -- the data ----------------------------------------------------------------------------------


def populate(engine: Engine) -> None:
    """The whole shape, in one transaction, set-based: a minute or so on PostgreSQL."""
    with Session(engine) as session:
        for number in range(1, 6):
            create_coordinator(
                session, email=f"coordinator{number}@example.org", name=f"Coordinator {number}",
                password=PASSWORD, now=NOW,
            )  # fmt: skip
        create_coordinator(
            session, email="admin@example.org", name="Admin", role=Role.ADMIN, password=PASSWORD,
            now=NOW,
        )  # fmt: skip
        session.commit()
    zones = "ARRAY[" + ", ".join(f"'{z}'" for z in ZONES) + "]"
    statements = [
        # Groups, each with a weekly meeting on its own day (g % 7: 0 Monday) at 18:30.
        f"""INSERT INTO groups (id, coordinator_id, name, public_name, join_code, timezone,
            language, on_call_phone, keypad_code, voice_fallback, voicemail_details,
            texts_between_meetings_to_callers, topic_words, quiet_start, quiet_end, created_at)
        SELECT g, {OWNER}, 'Internal name ' || g, 'Group ' || lpad(g::text, 2, '0'),
            'GRP' || g, ({zones})[1 + g % 4], CASE WHEN g % 5 = 0 THEN 'es' ELSE 'en' END,
            CASE WHEN g % 4 = 0 THEN NULL ELSE '+1202700' || lpad(g::text, 4, '0') END,
            (300000 + g)::text, false, false, false, '[]', '21:00:00', '08:00:00',
            :now - interval '14 months'
        FROM generate_series(1, {GROUPS}) AS g""",
        f"""INSERT INTO meeting_schedules (id, group_id, rrule, first_start, duration_minutes,
            location, updated_at)
        SELECT g, g, 'FREQ=WEEKLY;BYDAY=' || (ARRAY['MO','TU','WE','TH','FR','SA','SU'])[1 + g % 7],
            timestamp '2025-10-06 18:30' + (g % 7) * interval '1 day', 90,
            'Room ' || g, :now - interval '14 months'
        FROM generate_series(1, {GROUPS}) AS g""",
        # Three campaigns a group: reminders (3g - 2), encouragement (3g - 1), a broadcast (3g).
        f"""INSERT INTO campaigns (id, group_id, kind, name, status, offsets, rsvp, wording,
            cadence, cadence_time, stages, window_minutes, send_at, created_at, updated_at)
        SELECT 3 * g - 3 + k, g, (ARRAY['reminder','encouragement','broadcast'])[k],
            (ARRAY['Meeting reminders','Midweek encouragement','Holiday hours'])[k] || ' ' || g,
            'active', (CASE WHEN k = 1 THEN '["1d@18:00", "2h"]' ELSE '[]' END)::json, k = 1,
            '{{"en": "Your group meets soon. Reply YES or NO."}}',
            CASE WHEN k = 2 THEN 'FREQ=WEEKLY;BYDAY=FR' END,
            CASE WHEN k = 2 THEN time '10:00' END, '[]', 720,
            CASE WHEN k = 3 THEN :now - interval '20 days' END,
            :now - interval '13 months', :now - interval '13 months'
        FROM generate_series(1, {GROUPS}) AS g, generate_series(1, 3) AS k""",
        # People: 88% said yes, 5% not yet, 7% opted out; joined over the 13 months.
        f"""INSERT INTO participants (id, phone, phone_hash, name, language, timezone, channel,
            landline, number_invalid, consent, created_at)
        SELECT i, '+1202' || lpad((5000000 + i * 37)::text, 7, '0'), md5('bench' || i), NULL,
            CASE WHEN i % 6 = 0 THEN 'es' ELSE 'en' END, ({zones})[1 + i % 4],
            CASE WHEN i % 25 = 0 THEN 'voice' ELSE 'sms' END, false, false,
            CASE WHEN i % 100 < 88 THEN 'granted' WHEN i % 100 < 93 THEN 'unknown'
                 ELSE 'revoked' END,
            :now - interval '{HISTORY_DAYS} days' * ((i * 7919) % {PARTICIPANTS})::float
                / {PARTICIPANTS}
        FROM generate_series(1, {PARTICIPANTS}) AS i""",
        # A membership each, and a second group for one in seven; one in ten has no name.
        f"""INSERT INTO memberships (participant_id, group_id, status, name, language, timezone,
            channel, created_at, updated_at)
        SELECT p.id, 1 + (p.id - 1 + second * 7) % {GROUPS},
            CASE WHEN p.consent = 'unknown' THEN 'pending'
                 WHEN p.id % 50 = 0 THEN 'left' ELSE 'active' END,
            CASE WHEN p.id % 10 = 0 THEN NULL ELSE
                (ARRAY['Alex','Sam','Jordan','Maria','Chris','Pat','Lee','Dana','Robin','Jamie',
                       'Ana','Luis','Kim','Taylor','Morgan','Casey','Rosa','Tom','Eva','Noor'])
                [1 + p.id % 20] || ' ' || chr(65 + (p.id / 20) % 26) || '.' END,
            p.language, p.timezone, p.channel, p.created_at + second * interval '30 days',
            p.created_at + second * interval '30 days'
        FROM participants p, generate_series(0, 1) AS second
        WHERE second = 0 OR p.id % 7 = 0""",
        # The ledger: a YES when they joined; an opt-out later for those who left.
        """INSERT INTO consent_events (participant_id, phone_hash, group_id, change, source,
            words, created_at)
        SELECT p.id, p.phone_hash, 1 + (p.id - 1) % 20, 'opt_in', 'keyword', 'YES', p.created_at
        FROM participants p WHERE p.consent <> 'unknown'
        UNION ALL
        SELECT p.id, p.phone_hash, NULL, 'opt_out', 'keyword', 'STOP',
            p.created_at + (:now - p.created_at) * ((p.id % 10 + 1) / 11.0)
        FROM participants p WHERE p.consent = 'revoked'""",
        """CREATE TEMP TABLE numbered ON COMMIT DROP AS
        SELECT row_number() OVER (ORDER BY m.id) AS n, m.participant_id, m.group_id,
            m.channel, g.id % 7 AS weekday
        FROM memberships m JOIN groups g ON g.id = m.group_id""",
        "CREATE UNIQUE INDEX ON numbered (n)",
        # The outbox: 1,000,000 rows, the newest QUEUED due in the next 24 hours, the rest spread
        # evenly over the 13 months before NOW; states and kinds mixed as a busy service's are.
        f"""INSERT INTO outbox_messages (send_key, kind, channel, participant_id, group_id,
            campaign_id, occurrence_key, body, segments, state, state_reason, attempts,
            provider_sid, error_code, due_at, expires_at, created_at, updated_at, sent_at,
            voicemail_left)
        SELECT 'bench:' || i, r.kind, m.channel, m.participant_id, m.group_id,
            CASE r.kind WHEN 'reminder' THEN 3 * m.group_id - 2
                WHEN 'encouragement' THEN 3 * m.group_id - 1
                WHEN 'broadcast' THEN 3 * m.group_id END,
            CASE WHEN r.kind = 'reminder' THEN to_char(r.due_at, 'YYYYMMDD') || 'T1830' END,
            CASE WHEN r.state = 'queued' AND r.kind IN ('reminder', 'encouragement', 'broadcast')
                 THEN NULL
                 ELSE 'Hi, a reminder: your group meets tomorrow at 6:30 PM. Reply YES or NO.'
                 END,
            1, r.state,
            CASE r.state WHEN 'suppressed' THEN 'opted out'
                WHEN 'expired' THEN 'too late to be useful'
                WHEN 'canceled' THEN 'campaign paused' END,
            CASE WHEN r.state IN ('queued', 'suppressed', 'expired', 'canceled') THEN 0 ELSE 1 END,
            CASE WHEN r.state IN ('sent', 'delivered', 'undelivered', 'failed')
                 THEN 'SM' || md5('out' || i) END,
            CASE r.state WHEN 'failed' THEN 30003 WHEN 'undelivered' THEN 30005 END,
            r.due_at, r.due_at + interval '4 hours', r.due_at - interval '2 days',
            r.due_at + interval '1 minute',
            CASE WHEN r.state IN ('sent', 'delivered', 'undelivered', 'failed')
                 THEN r.due_at + interval '2 seconds' END,
            false
        FROM (
            SELECT i,
                CASE WHEN i > {SENDS - QUEUED}
                     THEN :now + interval '24 hours' * (i - {SENDS - QUEUED}) / {QUEUED + 1}
                     ELSE :now - interval '{HISTORY_DAYS} days' * ({SENDS - QUEUED} - i)
                          / {SENDS - QUEUED} - interval '1 hour' END AS due_at,
                CASE WHEN i > {SENDS - QUEUED} THEN 'queued'
                     WHEN (i * 31) % 100 < 80 THEN 'delivered'
                     WHEN (i * 31) % 100 < 85 THEN 'sent'
                     WHEN (i * 31) % 100 < 88 THEN 'failed'
                     WHEN (i * 31) % 100 < 89 THEN 'undelivered'
                     WHEN (i * 31) % 100 < 93 THEN 'suppressed'
                     WHEN (i * 31) % 100 < 96 THEN 'expired'
                     WHEN (i * 31) % 100 < 97 THEN 'canceled'
                     ELSE 'delivered' END AS state,
                CASE WHEN (i * 17) % 20 < 12 THEN 'reminder'
                     WHEN (i * 17) % 20 < 17 THEN 'encouragement'
                     WHEN (i * 17) % 20 < 18 THEN 'broadcast'
                     WHEN (i * 17) % 20 < 19 THEN 'invitation'
                     ELSE 'one_off' END AS kind,
                1 + (i::bigint * 7919) % (SELECT count(*) FROM numbered) AS n
            FROM generate_series(1, {SENDS}) AS i
        ) AS r JOIN numbered m ON m.n = r.n""",
        # Texts in over the 13 months: one in ten for a human, those of the last 30 days not yet
        # handled, half of them read, one in twenty of them urgent. People with id % 9 = 0 never
        # text or answer: they are the ones who have gone quiet.
        f"""INSERT INTO inbound_messages (message_sid, participant_id, group_id, from_phone, body,
            intent, needs_reply, urgent, read, auto_acknowledged, received_at, handled_at)
        SELECT 'SM' || md5('in' || i), m.participant_id, m.group_id, p.phone,
            CASE WHEN i % 10 = 0 THEN 'Can someone call me? Rough week.' ELSE 'YES' END,
            CASE WHEN i % 10 = 0 THEN 'message' ELSE 'confirm' END, i % 10 = 0,
            i % 200 = 0, i % 20 <> 0, i % 10 = 0, r.received_at,
            CASE WHEN i % 10 = 0 AND r.received_at < :now - interval '30 days'
                 THEN r.received_at + interval '1 day' END
        FROM (
            SELECT i, :now - interval '{HISTORY_DAYS} days' * ({INBOUND} - i) / {INBOUND}
                    AS received_at,
                1 + (i::bigint * 104729) % (SELECT count(*) FROM numbered) AS n
            FROM generate_series(1, {INBOUND}) AS i
        ) AS r JOIN numbered m ON m.n = r.n JOIN participants p ON p.id = m.participant_id
        WHERE m.participant_id % 9 <> 0""",
        # Answers: three in ten active members answer each weekly meeting, the next one included.
        """INSERT INTO rsvps (participant_id, group_id, occurrence_key, answer, answered_at)
        SELECT m.participant_id, m.group_id,
            to_char(s.first_start + k * interval '7 days', 'YYYYMMDD"T"HH24MI'),
            CASE WHEN (m.participant_id + k) % 5 = 0 THEN 'no' ELSE 'yes' END,
            (s.first_start + k * interval '7 days' - interval '1 day') AT TIME ZONE 'UTC'
        FROM memberships m JOIN meeting_schedules s ON s.group_id = m.group_id,
            generate_series(0, 70) AS k
        WHERE m.status = 'active' AND m.participant_id % 9 <> 0
            AND (m.participant_id * 13 + k * 7) % 10 < 3
            AND s.first_start + k * interval '7 days' < :now + interval '7 days'
            AND s.first_start + k * interval '7 days' > m.created_at AT TIME ZONE 'UTC'""",
    ]
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL statement_timeout = 0"))  # the app's 30 s is for pages
        for statement in statements:
            conn.execute(text(statement), {"now": NOW})
        for table in ("groups", "meeting_schedules", "campaigns", "participants", "memberships",
                      "consent_events", "outbox_messages", "inbound_messages", "rsvps"):  # fmt: skip
            conn.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"))  # fmt: skip
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


SHAPE = (
    "coordinators",
    "groups",
    "participants",
    "memberships",
    "outbox_messages",
    "inbound_messages",
    "rsvps",
)


def shape(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table: int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
            for table in SHAPE
        }


def prepare(rebuild: bool) -> tuple[str, dict[str, int], float | None]:
    """The database's URL and shape, and how long building it took (None: reused)."""
    admin = make_engine(POSTGRES).execution_options(isolation_level="AUTOCOMMIT")
    url = POSTGRES.rsplit("/", 1)[0] + "/" + DATABASE
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": DATABASE}
        ).first()
        if exists and rebuild:
            conn.execute(text(f"DROP DATABASE {DATABASE} WITH (FORCE)"))
            exists = None
        if not exists:
            conn.execute(text(f"CREATE DATABASE {DATABASE}"))
    admin.dispose()
    upgrade_database(url)  # a database built by an older checkout gets this one's indexes
    engine = make_engine(url)
    try:
        found = shape(engine)
        built = None
        if found["participants"] != PARTICIPANTS or found["outbox_messages"] != SENDS:
            if any(found.values()):
                engine.dispose()
                return prepare(rebuild=True)
            started = time.perf_counter()
            populate(engine)
            built = time.perf_counter() - started
            found = shape(engine)
        # The stats' day counts as a running service keeps them: its workers file the notes
        # by day every minute (a database built before migration 0018 has all its history
        # noted once by it).
        with Session(engine) as session:
            if counts.fold_all(session):
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("VACUUM ANALYZE outbox_count_changes, outbox_day_counts"))
    finally:
        engine.dispose()
    return url, found, built


def drop() -> None:
    admin = make_engine(POSTGRES).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
    admin.dispose()


# -- the measurements --------------------------------------------------------------------------


@dataclass
class Counter:
    statements: int = 0

    def __call__(self, *_args: Any) -> None:
        self.statements += 1


def build_app(url: str, folder: str) -> Flask:
    settings = Settings.from_env(
        {
            "PEERLINE_DATABASE_URL": url,
            "PEERLINE_SECRET_KEY": "bench-secret-key-of-enough-length",
            "PEERLINE_PUBLIC_URL": PUBLIC_URL,
            "PEERLINE_INSTANCE_DIR": folder,
            "PEERLINE_LOG_LEVEL": "WARNING",
        },
        mode="production",
    )
    app = create_app(settings)
    app.extensions["peerline.clock"] = lambda: NOW
    # The baseline: a route of the same app, one trivial query, one trivial template.
    app.jinja_loader = ChoiceLoader(
        [DictLoader({"bench/baseline.html": "<p>{{ one }}</p>"}), app.jinja_loader]  # type: ignore[list-item]
    )

    def baseline() -> str:
        one = get_session().execute(text("SELECT 1")).scalar_one()
        return render_template("bench/baseline.html", one=one)

    app.add_url_rule("/bench/baseline", "bench_baseline", baseline)
    return app


def signed_in(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    page = client.get("/sign-in", base_url=PUBLIC_URL)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    assert token is not None, "no CSRF token on the sign-in page"
    answer = client.post(
        "/sign-in",
        base_url=PUBLIC_URL,
        data={"csrf_token": token.group(1), "email": email, "password": PASSWORD},
        headers={"Referer": f"{PUBLIC_URL}/sign-in"},  # Flask-WTF checks it over https
    )
    assert answer.status_code == 302, f"sign-in of {email} answered {answer.status_code}"
    return client


def pages(group: int) -> list[tuple[str, str]]:
    return [
        ("baseline (SELECT 1, tiny template)", "/bench/baseline"),
        ("Today", "/"),
        ("People", "/people"),
        ("People, search by last digits", "/people?q=0417"),
        ("People, page 20", "/people?page=20"),
        ("Sends", "/sends"),
        ("Sends, failed", "/sends?state=failed"),
        ("Sends, one group, 30 days", f"/sends?group={group}&since=2026-11-02&until=2026-12-01"),
    ]


@dataclass
class Result:
    name: str
    times: list[float]
    statements: int
    size: int

    def p(self, q: float) -> float:
        ordered = sorted(self.times)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(
    app: Flask, client: FlaskClient, counted: Counter, asked: list[tuple[str, str]], rounds: int
) -> list[Result]:
    def get(path: str) -> Any:
        return client.get(path, base_url=PUBLIC_URL)

    results = []
    for name, path in asked:
        counted.statements = 0
        answer = get(path)
        assert answer.status_code == 200, f"{path} answered {answer.status_code}"
        results.append(Result(name, [], counted.statements, len(answer.data)))
        for _ in range(2):
            get(path)  # warm-up: templates compiled, caches and the pool filled
    for _ in range(rounds):
        for result, (_name, path) in zip(results, asked, strict=True):
            started = time.perf_counter()
            get(path)
            result.times.append(time.perf_counter() - started)
    return results


def report(who: str, results: list[Result]) -> None:
    base = statistics.median(results[0].times)
    print(f"\n{who}")
    print(f"  {'page':40} {'p50 ms':>8} {'p95 ms':>8} {'x base':>7} {'SQL':>4} {'KB':>5}")
    for r in results:
        p50 = statistics.median(r.times)
        print(f"  {r.name:40} {p50 * 1000:8.1f} {r.p(0.95) * 1000:8.1f} {p50 / base:7.1f} "
              f"{r.statements:4d} {r.size / 1024:5.0f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--rebuild", action="store_true", help="Build the data again.")
    parser.add_argument("--drop", action="store_true", help="Drop the database at the end.")
    args = parser.parse_args()

    url, found, built = prepare(args.rebuild)
    print(f"PostgreSQL database {DATABASE}: " + ", ".join(f"{n:,} {t}" for t, n in found.items())
          + (f"; built in {built:.0f} s" if built is not None else "; reused"))  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        app = build_app(url, folder)
        counted = Counter()
        engine: Engine = sessions(app).kw["bind"]
        event.listen(engine, "before_cursor_execute", counted)
        for who, email in (
            ("coordinator of 3 groups (groups 1-3)", "coordinator1@example.org"),
            (f"admin (all {found['groups']} groups)", "admin@example.org"),
        ):
            client = signed_in(app, email)
            report(who, measure(app, client, counted, pages(group=2), args.rounds))
        engine.dispose()
    print(f"\n{args.rounds} rounds after 3 warm-up requests a page; server time = the test "
          "client's in-process round trip; SQL = statements in one request; KB = the page's size")  # fmt: skip
    if args.drop:
        drop()


if __name__ == "__main__":
    main()
