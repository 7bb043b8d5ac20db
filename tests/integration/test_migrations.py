"""Every migration goes down and up again, on SQLite and PostgreSQL, keeping the data it can."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.cli.database import alembic_config
from service.messages import counts
from service.models import Base, OutboxState


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    from tests.conftest import POSTGRES_ADMIN_URL

    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"peerline_migrations_{secrets.token_hex(4)}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # the postgres_url fixture fails under CI for the same reason
        request.getfixturevalue("postgres_url")
        pytest.skip(f"PostgreSQL is not reachable: {error}")
    yield str(admin.url.set(database=name).render_as_string(hide_password=False))
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _robin(conn: Connection) -> None:
    """The coordinator every scenario's groups belong to (id 1)."""
    conn.execute(
        text(
            "INSERT INTO coordinators (email, name, created_at) "
            "VALUES ('robin@example.org', 'Robin', CURRENT_TIMESTAMP)"
        )
    )


def _group(
    conn: Connection, code: str, *, zone: str = "America/New_York", keypad: str | None = None
) -> None:
    """A group of Robin's, with only the columns every schema since the first has; a keypad
    code, when given, needs the migration that added it."""
    conn.execute(
        text(
            "INSERT INTO groups (coordinator_id, name, public_name, join_code, timezone, "
            "language, quiet_start, quiet_end, created_at) VALUES (1, :code, :code, :code, "
            ":zone, 'en', '21:00:00', '08:00:00', CURRENT_TIMESTAMP)"
        ),
        {"code": code, "zone": zone},
    )
    if keypad is not None:
        conn.execute(
            text("UPDATE groups SET keypad_code = :keypad WHERE join_code = :code"),
            {"code": code, "keypad": keypad},
        )


@pytest.mark.slow  # 1.3 s alone on PostgreSQL, 1.6 s on SQLite: every migration, down and up
def test_migrations_go_down_to_nothing_and_up_again(empty_database: str) -> None:
    config = alembic_config(empty_database)
    command.upgrade(config, "0002")
    engine = create_engine(empty_database)
    with engine.begin() as conn:  # a group, a member and a meeting from before calls existed
        _robin(conn)
        _group(conn, "CIRCLE")
        conn.execute(
            text(
                "INSERT INTO participants (phone, phone_hash, language, timezone, channel, "
                "landline, consent, created_at) VALUES ('+12025550142', 'h', 'en', "
                "'America/New_York', 'sms', false, 'granted', CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO memberships (participant_id, group_id, status, created_at, "
                "updated_at) VALUES (1, 1, 'active', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )

    # Upgrading rebuilds tables on SQLite (batch mode); nothing that refers to them may go.
    command.upgrade(config, "head")
    with engine.connect() as conn:
        code = conn.scalar(text("SELECT keypad_code FROM groups"))
        members = conn.scalar(text("SELECT count(*) FROM memberships"))
        people = conn.scalar(text("SELECT count(*) FROM participants"))
    assert code is not None and code.isdigit() and len(code) == 6
    assert (members, people) == (1, 1)

    command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    command.upgrade(config, "head")
    assert set(inspect(engine).get_table_names()) >= set(Base.metadata.tables)
    engine.dispose()


def test_each_group_reaches_a_person_as_they_were_reached_before(empty_database: str) -> None:
    """0008 gives every membership the person's language, zone and channel: nothing changes
    for anyone on upgrade, and the new columns refuse what the old ones refused."""
    config = alembic_config(empty_database)
    command.upgrade(config, "0007")
    engine = create_engine(empty_database)
    with engine.begin() as conn:
        _robin(conn)
        for code in ("CIRCLE", "MARTES"):
            _group(conn, code, keypad="1111" if code == "CIRCLE" else "2222")
        people = [
            ("+12025550142", "es", "America/Chicago", "voice"),
            ("+12025550143", "en", "Europe/London", "sms"),
        ]
        for number, (phone, language, zone, channel) in enumerate(people, start=1):
            conn.execute(
                text(
                    "INSERT INTO participants (phone, phone_hash, language, timezone, channel, "
                    "landline, number_invalid, consent, created_at) VALUES (:phone, :phone, "
                    ":language, :zone, :channel, false, false, 'granted', CURRENT_TIMESTAMP)"
                ),
                {"phone": phone, "language": language, "zone": zone, "channel": channel},
            )
            for group in (1, 2):
                conn.execute(
                    text(
                        "INSERT INTO memberships (participant_id, group_id, status, created_at, "
                        "updated_at) VALUES (:p, :g, 'active', CURRENT_TIMESTAMP, "
                        "CURRENT_TIMESTAMP)"
                    ),
                    {"p": number, "g": group},
                )

    command.upgrade(config, "0008")
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT participant_id, group_id, language, timezone, channel FROM memberships "
                "ORDER BY participant_id, group_id"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        (1, 1, "es", "America/Chicago", "voice"),
        (1, 2, "es", "America/Chicago", "voice"),
        (2, 1, "en", "Europe/London", "sms"),
        (2, 2, "en", "Europe/London", "sms"),
    ]
    for column, value in (("language", "fr"), ("channel", "fax")):
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text(f"UPDATE memberships SET {column} = '{value}'"))  # noqa: S608
    engine.dispose()


def test_the_day_counts_begin_with_the_history_before_them(empty_database: str) -> None:
    """Migration 0018 counts the texts already sent: the stats read the same after it."""
    config = alembic_config(empty_database)
    command.upgrade(config, "0017")
    engine = create_engine(empty_database)
    with engine.begin() as conn:
        _robin(conn)
        _group(conn, "CIRCLE", zone="Asia/Kolkata")
        # Sent at 20:00 UTC on 1 and 2 December: 01:30 the next day in Kolkata. One reply and
        # one still queued, which no stat counts.
        for n, (kind, state, sent) in enumerate(
            [
                ("reminder", "delivered", "2026-12-01 20:00:00+00:00"),
                ("broadcast", "failed", "2026-12-02 20:00:00+00:00"),
                ("reply", "delivered", "2026-12-02 20:00:00+00:00"),
                ("reminder", "queued", None),
            ]
        ):
            conn.execute(
                text(
                    "INSERT INTO outbox_messages (send_key, kind, channel, group_id, body, "
                    "segments, state, attempts, due_at, created_at, updated_at, sent_at, "
                    "voicemail_left) VALUES (:key, :kind, 'sms', 1, 'See you', 1, :state, 0, "
                    ":due, :due, :due, :sent, false)"
                ),
                {
                    "key": f"old:{n}",
                    "kind": kind,
                    "state": state,
                    "due": "2026-12-01 19:00:00+00:00",
                    "sent": sent,
                },
            )
    command.upgrade(config, "head")
    period = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    expected = {
        date(2026, 12, 2): Counter({OutboxState.DELIVERED: 1}),
        date(2026, 12, 3): Counter({OutboxState.FAILED: 1}),
    }
    with Session(engine) as session:
        assert counts.by_day(session, {1: "Asia/Kolkata"}, *period)[1] == expected
        while counts.fold(session):
            session.commit()
        session.commit()
        assert counts.by_day(session, {1: "Asia/Kolkata"}, *period)[1] == expected
    engine.dispose()
