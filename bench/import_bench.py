"""Roster import benchmark: parse, plan and apply against raw csv and a bare bulk INSERT, same run.

    .venv/bin/python bench/import_bench.py --database sqlite --rows 10000
    .venv/bin/python bench/import_bench.py --database postgresql --rows 10000 --consented

The file has --rows rows, one in 100 bad (of several kinds), all numbers new to the database.
Each good row becomes a participant and a pending membership with a queued invitation or, with
--consented, an active membership and an opt-in in the ledger. The baseline reads the same file
with the bare csv module and writes the same rows with one executemany per table, deciding
nothing and checking nothing; phonenumbers alone on the same numbers is timed beside it, as the
part of parsing no import can skip. Each round starts from empty tables; the figures are medians
of the rounds. Peak RSS is this process's own, read after the first import (before any
baseline ran) and at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import phonenumbers
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.cli.database import upgrade_database
from service.db import make_engine
from service.messages.wording import Wording
from service.models import ConsentEvent, Group, Membership, OutboxMessage, Participant
from service.people.roster import parse
from service.people.roster_import import apply_import, invitation_text, plan_import
from service.phones import phone_hash

NOW = datetime(2026, 3, 3, 17, 0, tzinfo=UTC)
KEY = "bench-key"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DATABASE = "peerline_bench_import"
BAD = ["555-0100,Short,,,", ",No phone,,,", "{phone},Mars,,Mars/Base,", "{phone},Fax,,,fax"]


def write_roster(path: Path, rows: int) -> int:
    """A roster like a coordinator's export; returns how many of its rows are bad."""
    bad = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("\ufeffPhone Number,Name,Language,Time Zone,Channel\r\n")
        for i in range(rows):
            phone = f"({201 + i // 10_000}) 300-{i % 10_000:04d}"
            if i % 100 == 50:
                out.write(BAD[bad % len(BAD)].format(phone=phone) + "\r\n")
                bad += 1
            else:
                lang = "es" if i % 3 == 0 else "en"
                out.write(f'{phone},"Person {i}, the {i}th",{lang},America/Denver,sms\r\n')
    return bad


def populate(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO coordinators (id, email, name, created_at) "
            "VALUES (1, 'bench@example.org', 'Robin Bench', :now)"), {"now": NOW})  # fmt: skip
        conn.execute(text(
            "INSERT INTO groups (id, coordinator_id, name, public_name, join_code, timezone, "
            "language, quiet_start, quiet_end, voice_fallback, voicemail_details, created_at) "
            "VALUES (1, 1, 'Bench', 'Bench', 'BENCH', 'America/Chicago', 'en', '21:00:00', "
            "'08:00:00', false, false, :now)"), {"now": NOW})  # fmt: skip


def empty(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in ("outbox_messages", "consent_events", "memberships", "participants"):
            conn.execute(text(f"DELETE FROM {table}"))
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))


def peerline(
    engine: Engine, path: Path, wording: Wording, note: str | None
) -> tuple[float, float, float, int]:
    """parse, plan_import and apply_import (with its commit), each timed."""
    with Session(engine) as session:
        group = session.get_one(Group, 1)
        started = time.perf_counter()
        with path.open(encoding="utf-8-sig", newline="") as lines:
            parsed = parse(
                lines,
                default_region="US",
                default_timezone=group.timezone,
                default_language=group.language,
            )
        parsed_at = time.perf_counter()
        plan = plan_import(session, group, parsed, consent_note=note, hash_key=KEY, now=NOW)
        planned_at = time.perf_counter()
        result = apply_import(session, plan, wording=wording, now=NOW)
        session.commit()
        applied_at = time.perf_counter()
    return parsed_at - started, planned_at - parsed_at, applied_at - planned_at, result.added


def baseline(
    engine: Engine, path: Path, wording: Wording, note: str | None
) -> tuple[float, float, float, int]:
    """The bare csv module, phonenumbers alone, then the same rows written by executemany."""
    started = time.perf_counter()
    with path.open(encoding="utf-8-sig", newline="") as lines:
        records = list(csv.reader(lines))[1:]
    read_at = time.perf_counter()
    for record in records:
        with contextlib.suppress(phonenumbers.NumberParseException):
            phonenumbers.is_valid_number(phonenumbers.parse(record[0], "US"))
    numbers_at = time.perf_counter()
    people = [
        {
            "phone": f"+1{''.join(c for c in phone if c.isdigit())}",
            "name": name,
            "language": lang,
            "timezone": zone,
            "channel": channel,
        }
        for phone, name, lang, zone, channel in records
        if phone and zone == "America/Denver" and channel == "sms" and lang in ("en", "es")
    ]
    with Session(engine) as session:
        group = session.get_one(Group, 1)
        bodies = {lang: invitation_text(wording, group, lang) for lang in ("en", "es")}
        for person in people:
            person["phone_hash"] = phone_hash(person["phone"], KEY)
        session.execute(
            insert(Participant),
            [{**p, "consent": "granted" if note else "unknown", "landline": False,
              "number_invalid": False, "created_at": NOW} for p in people],
        )  # fmt: skip
        ids = dict(session.execute(select(Participant.phone, Participant.id)).all())
        session.execute(
            insert(Membership),
            [{"participant_id": ids[p["phone"]], "group_id": 1,
              "status": "active" if note else "pending", "language": p["language"],
              "timezone": p["timezone"], "channel": p["channel"], "created_at": NOW,
              "updated_at": NOW}
             for p in people],
        )  # fmt: skip
        if note:
            session.execute(
                insert(ConsentEvent),
                [{"participant_id": ids[p["phone"]], "phone_hash": p["phone_hash"],
                  "change": "opt_in", "source": "import", "words": note, "created_at": NOW}
                 for p in people],
            )  # fmt: skip
        else:
            session.execute(
                insert(OutboxMessage),
                [{"send_key": f"invitation:1:{ids[p['phone']]}:{NOW:%Y%m%d}",
                  "kind": "invitation", "body": bodies[p["language"]],
                  "participant_id": ids[p["phone"]], "group_id": 1, "state": "queued",
                  "due_at": NOW, "expires_at": NOW + timedelta(days=1), "created_at": NOW,
                  "updated_at": NOW} for p in people],
            )  # fmt: skip
        session.commit()
    done = time.perf_counter()
    return read_at - started, numbers_at - read_at, done - numbers_at, len(people)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--consented", action="store_true", help="Record prior written consent, invite nobody."
    )
    args = parser.parse_args()
    if args.rows > 50_000:
        parser.error("an import takes at most 50,000 rows")

    wording = Wording(None, program="Peerline", contact="your group coordinator")
    with tempfile.TemporaryDirectory() as folder:
        roster = Path(folder) / "roster.csv"
        bad = write_roster(roster, args.rows)
        if args.database == "sqlite":
            url = f"sqlite:///{folder}/bench.sqlite3"
        else:
            admin = make_engine(POSTGRES).execution_options(isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
                conn.execute(text(f"CREATE DATABASE {DATABASE}"))
            url = POSTGRES.rsplit("/", 1)[0] + "/" + DATABASE
        try:
            upgrade_database(url)
            engine = make_engine(url)
            populate(engine)
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            note = "paper forms, cabinet 2" if args.consented else None
            ours: list[tuple[float, float, float, int]] = []
            theirs: list[tuple[float, float, float, int]] = []
            for _ in range(args.rounds):
                empty(engine)
                ours.append(peerline(engine, roster, wording, note))
                if len(ours) == 1:  # before the baseline's own lists can raise the peak
                    rss_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                empty(engine)
                theirs.append(baseline(engine, roster, wording, note))
            engine.dispose()
        finally:
            if args.database == "postgresql":
                with admin.connect() as conn:
                    conn.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
                admin.dispose()

    def median(values: list[float]) -> float:
        return statistics.median(values)

    parse_s, plan_s, apply_s = (median([r[i] for r in ours]) for i in range(3))
    read_s, numbers_s, write_s = (median([r[i] for r in theirs]) for i in range(3))
    total, floor = parse_s + plan_s + apply_s, read_s + write_s
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    mode = "consent recorded" if args.consented else "invited"
    print(f"{args.database}: {args.rows:,} rows, {bad:,} bad, {ours[0][3]:,} imported, {mode} "
          f"(baseline wrote {theirs[0][3]:,}); median of {args.rounds} rounds")  # fmt: skip
    print(f"  parse:              {parse_s:7.3f} s   (csv module alone: {read_s:.3f} s; "
          f"phonenumbers alone: {numbers_s:.3f} s)")  # fmt: skip
    print(f"  plan:               {plan_s:7.3f} s")
    print(f"  apply + commit:     {apply_s:7.3f} s   (bulk INSERTs alone: {write_s:.3f} s)")
    print(f"  import, all:        {total:7.3f} s   baseline {floor:.3f} s, "
          f"ratio {total / floor:.2f}x")  # fmt: skip
    print(f"  peak RSS:           {rss_import:7.0f} MB   after the first import "
          f"({rss_before:.0f} MB before it; {peak:.0f} MB at the end, baseline included)")  # fmt: skip


if __name__ == "__main__":
    main()
