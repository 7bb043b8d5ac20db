"""A group's texts counted by local day: exact whatever writes the outbox, folded or not.

Every check compares the counts with the outbox itself, counted here row by row in Python (the
oracle), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import Engine, create_engine, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from scheduler.clock import count_tick
from service.campaigns.stats import daily_stats, group_stats
from service.db import sessions
from service.messages import counts
from service.models import (
    Group,
    OutboxCountChange,
    OutboxDayCount,
    OutboxKind,
    OutboxMessage,
    OutboxState,
)
from tests.integration.test_metrics import outbox_rows_read, statements_run
from tests.support import make_group, make_settings

# New York's clocks go back on 2026-11-01; Kolkata is 5:30 ahead of UTC, Kathmandu 5:45.
NEAR = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
ZONES = ("America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Europe/London")
KINDS = list(OutboxKind)
STATES = list(OutboxState)


def oracle(
    session: Session, zones: dict[int, str], since: datetime, until: datetime
) -> dict[int, dict[date, Counter[OutboxState]]]:
    """The counts by_day must give, from every outbox row, one by one."""
    found: dict[int, dict[date, Counter[OutboxState]]] = {group_id: {} for group_id in zones}
    for group_id, kind, state, sent_at, due_at in session.execute(
        select(
            OutboxMessage.group_id,
            OutboxMessage.kind,
            OutboxMessage.state,
            OutboxMessage.sent_at,
            OutboxMessage.due_at,
        )
    ):
        if group_id not in zones or kind not in counts.TO_MEMBERS:
            continue
        at = due_at if state in counts.HELD else sent_at if state in counts.HANDED_OVER else None
        if at is None or not since <= at < until:
            continue
        day = at.astimezone(ZoneInfo(zones[group_id])).date()
        found[group_id].setdefault(day, Counter())[state] += 1
    return found


def counted(session: Session, zones: dict[int, str], since: datetime, until: datetime) -> Any:
    found = counts.by_day(session, zones, since, until)
    # A day whose texts were folded and then moved on keeps zeros; the oracle has no such day.
    return {
        group_id: {
            day: Counter({state: n for state, n in tally.items() if n})
            for day, tally in days.items()
            if any(tally.values())
        }
        for group_id, days in found.items()
    }


def _random_row(rng: random.Random, groups: list[Group], n: int) -> dict[str, Any]:
    state = rng.choice(STATES)
    due = NEAR + timedelta(minutes=rng.randrange(-6 * 24 * 60, 6 * 24 * 60))
    sent = due + timedelta(minutes=rng.randrange(0, 600)) if rng.random() < 0.8 else None
    return {
        "send_key": f"random:{n}",
        "kind": rng.choice(KINDS),
        "group_id": rng.choice(groups).id,
        "body": "See you Tuesday",
        "state": state,
        "due_at": due,
        "sent_at": sent,
        "created_at": due,
        "updated_at": due,
    }


def _periods(rng: random.Random, zones: dict[int, str]) -> list[tuple[datetime, datetime]]:
    """A few periods: arbitrary ones, whole local days of one group, and one with no whole day."""
    some_zone = ZoneInfo(rng.choice(list(zones.values())))
    first = (NEAR - timedelta(days=rng.randrange(1, 6))).astimezone(some_zone).date()
    whole = (
        counts.day_start(first, some_zone),
        counts.day_start(first + timedelta(days=rng.randrange(1, 9)), some_zone),
    )
    since = NEAR + timedelta(minutes=rng.randrange(-7 * 24 * 60, 0))
    return [
        whole,
        (since, since + timedelta(minutes=rng.randrange(1, 14 * 24 * 60))),
        (since, since + timedelta(hours=rng.randrange(1, 20))),
        (NEAR - timedelta(days=30), NEAR + timedelta(days=30)),
    ]


def test_counts_stay_exact_through_every_kind_of_write_fold_and_new_zone(
    session: Session,
) -> None:
    rng = random.Random(20261202)
    groups = [
        make_group(session, "NEWYORK", timezone="America/New_York"),
        make_group(session, "KOLKATA", timezone="Asia/Kolkata"),
        make_group(session, "LONDON", timezone="Europe/London", coordinator_email="kim@x.org"),
    ]
    session.execute(insert(OutboxMessage), [_random_row(rng, groups, n) for n in range(120)])
    session.commit()
    made, folds, moves = 120, 0, 0
    for step in range(60):
        ids = session.scalars(select(OutboxMessage.id)).all()
        action = rng.choice(["orm", "bulk", "insert", "delete", "fold", "fold", "zone"])
        if action == "orm":  # the unit of work, as the dispatcher and the callbacks write
            for row in session.scalars(
                select(OutboxMessage).where(OutboxMessage.id.in_(rng.sample(ids, 8)))
            ):
                row.state = rng.choice(STATES)
                if rng.random() < 0.5:
                    row.sent_at = NEAR + timedelta(minutes=rng.randrange(-9000, 9000))
                if rng.random() < 0.3:
                    row.due_at = NEAR + timedelta(minutes=rng.randrange(-9000, 9000))
        elif action == "bulk":  # one UPDATE of many rows, as expiry and the planner write
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(rng.sample(ids, 15)))
                .values(state=rng.choice(STATES))
            )
        elif action == "insert":
            session.execute(
                insert(OutboxMessage),
                [_random_row(rng, groups, made + n) for n in range(10)],
            )
            made += 10
        elif action == "delete":
            session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(rng.sample(ids, 3))))
        elif action == "fold":
            folds += 1
            assert counts.fold(session, batch=rng.choice([5, 40, 10_000])) is not None
        else:
            moves += 1
            group = rng.choice(groups)
            group.timezone = rng.choice([z for z in ZONES if z != group.timezone])
        session.commit()
        zones = {group.id: group.timezone for group in groups}
        for since, until in _periods(rng, zones):
            assert counted(session, zones, since, until) == oracle(session, zones, since, until), (
                step,
                action,
                since,
                until,
            )
    assert folds > 5 and moves > 3  # the walk went through both
    # Folded to the end, nothing is left waiting, and the day rows alone hold the counts.
    while counts.fold(session, batch=7) == 7:
        session.commit()
    session.commit()
    assert session.scalar(select(func.count()).select_from(OutboxCountChange)) == 0
    zones = {group.id: group.timezone for group in groups}
    everything = oracle(session, zones, NEAR - timedelta(days=60), NEAR + timedelta(days=60))
    filed: dict[int, dict[date, Counter[OutboxState]]] = {group_id: {} for group_id in zones}
    for day_row in session.scalars(select(OutboxDayCount).where(OutboxDayCount.n != 0)):
        filed[day_row.group_id].setdefault(day_row.day, Counter())[day_row.state] = day_row.n
    assert filed == everything


def _history(group: Group, start: datetime, days: int, per_day: int) -> list[dict[str, Any]]:
    return [
        {
            "send_key": f"history:{group.id}:{n}",
            "kind": OutboxKind.REMINDER,
            "group_id": group.id,
            "body": "See you Tuesday",
            "state": OutboxState.FAILED if n % 9 == 0 else OutboxState.DELIVERED,
            "due_at": start + timedelta(days=days) * n / (days * per_day),
            "sent_at": start + timedelta(days=days) * n / (days * per_day),
            "created_at": start,
            "updated_at": start,
        }
        for n in range(days * per_day)
    ]


def test_a_groups_stats_read_its_days_not_its_texts(session: Session) -> None:
    """Folded, a month's stats read the day rows and only the texts of the period's two ends."""
    group = make_group(session, timezone="America/New_York")
    start = NEAR - timedelta(days=40)
    session.execute(insert(OutboxMessage), _history(group, start, 40, 100))
    session.commit()
    while counts.fold(session):
        session.commit()
    session.commit()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE"))
        session.commit()
    until = NEAR - timedelta(hours=5)  # mid-day in New York: both ends are part days
    since = until - timedelta(days=30)
    engine = session.get_bind()
    assert isinstance(engine, Engine)

    with statements_run(engine) as seen:
        stats = group_stats(session, group, since, until)
        days = daily_stats(session, group, since, until)

    expected = oracle(session, {group.id: group.timezone}, since, until)[group.id]
    total = sum(expected.values(), Counter())
    assert (stats.sent, stats.delivered, stats.failed) == (
        total.total(),
        total[OutboxState.DELIVERED],
        total[OutboxState.FAILED],
    )
    assert stats.sent == 3000
    assert len(days) == 31 and sum(day.sent for day in days) == 3000
    assert [day.delivered + day.failed for day in days] == [day.sent for day in days]
    reading = [s for s in seen if "outbox_messages" in s.sql]
    assert len(reading) == 2, reading  # one statement each
    if engine.dialect.name == "postgresql":
        read = outbox_rows_read(engine, reading[0])
        # The two part days hold at most 200 texts; the period holds 3,000.
        assert read is not None and read <= 200, read


def test_the_tick_files_every_note_in_batches(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = make_group(session, timezone="Asia/Kolkata")
    session.execute(insert(OutboxMessage), _history(group, NEAR - timedelta(days=3), 3, 10))
    session.commit()
    monkeypatch.setattr(counts, "FOLD_BATCH", 7)

    count_tick(app)

    assert session.scalar(select(func.count()).select_from(OutboxCountChange)) == 0
    filed = session.scalar(select(func.sum(OutboxDayCount.n)))
    assert filed == 30
    zones = {group.id: group.timezone}
    assert counted(session, zones, NEAR - timedelta(days=5), NEAR) == oracle(
        session, zones, NEAR - timedelta(days=5), NEAR
    )


@pytest.mark.postgres
def test_a_new_zone_waits_for_a_fold_in_progress_and_counts_again_after_it(
    pg_url: str, app_factory: Callable[..., Flask]
) -> None:
    app = app_factory(make_settings(pg_url))
    Session_ = sessions(app)
    with Session_() as setup:
        group = make_group(setup, timezone="America/New_York")
        setup.execute(insert(OutboxMessage), _history(group, NEAR - timedelta(days=3), 3, 20))
        setup.commit()
        group_id = group.id
    folding = Session_()
    moved = threading.Event()

    def move() -> None:
        with Session_() as other:
            other.execute(
                update(Group).where(Group.id == group_id).values(timezone="Asia/Kathmandu")
            )
            other.commit()
        moved.set()

    mover = threading.Thread(target=move)
    watcher = create_engine(pg_url)
    try:
        assert counts.fold(folding) == 60  # holds the lock; its day rows are not committed yet
        mover.start()
        waiting = 0
        with watcher.connect() as conn:  # the mover's statement waits on the fold's lock
            for _ in range(600):
                waiting = conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND query LIKE 'UPDATE groups%'"
                    )
                ).scalar_one()
                conn.rollback()  # the server keeps one view of its activity per transaction
                if waiting:
                    break
                threading.Event().wait(0.05)
        assert waiting == 1
        assert not moved.is_set()
        folding.commit()
    finally:
        folding.close()  # a failure above gives the lock back, or the mover would wait on
        if mover.ident is not None:  # started
            mover.join(60)
        watcher.dispose()
    assert moved.is_set()
    with Session_() as check:
        zones = {group_id: "Asia/Kathmandu"}
        period = (NEAR - timedelta(days=5), NEAR)
        assert counted(check, zones, *period) == oracle(check, zones, *period)
        assert sum(day.total() for day in counted(check, zones, *period)[group_id].values()) == 60
        while counts.fold(check):
            check.commit()
        check.commit()
        assert counted(check, zones, *period) == oracle(check, zones, *period)


@pytest.mark.postgres
def test_writers_and_folds_side_by_side_lose_no_count(
    pg_url: str, app_factory: Callable[..., Flask]
) -> None:
    """Sends settle in many short transactions while another process folds: nothing is counted
    twice or lost, however their commits fall."""
    app = app_factory(make_settings(pg_url))
    Session_ = sessions(app)
    with Session_() as setup:
        group = make_group(setup, timezone="Asia/Kolkata")
        rows = _history(group, NEAR - timedelta(days=2), 2, 100)
        for row in rows:
            row["state"], row["sent_at"] = OutboxState.QUEUED, None
        setup.execute(insert(OutboxMessage), rows)
        setup.commit()
        ids = setup.scalars(select(OutboxMessage.id)).all()
        group_id = group.id
    done = threading.Event()
    errors: list[BaseException] = []

    def settle() -> None:
        rng = random.Random(7)
        try:
            with Session_() as writer:
                for chunk in range(0, len(ids), 5):
                    for row_id in ids[chunk : chunk + 5]:
                        writer.execute(
                            update(OutboxMessage)
                            .where(OutboxMessage.id == row_id)
                            .values(
                                state=OutboxState.SENT,
                                sent_at=NEAR - timedelta(minutes=rng.randrange(2880)),
                            )
                        )
                    writer.commit()
                    for row_id in ids[chunk : chunk + 5 : 2]:
                        writer.execute(
                            update(OutboxMessage)
                            .where(OutboxMessage.id == row_id)
                            .values(state=OutboxState.DELIVERED)
                        )
                    writer.commit()
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            done.set()

    writer = threading.Thread(target=settle)
    writer.start()
    folds = 0
    with Session_() as folder:
        while not done.is_set():
            folds += 1
            counts.fold(folder, batch=13)
            folder.commit()
        writer.join()
        while counts.fold(folder):
            folder.commit()
        folder.commit()
    assert not errors
    assert folds > 1
    with Session_() as check:
        zones = {group_id: "Asia/Kolkata"}
        period = (NEAR - timedelta(days=3), NEAR + timedelta(days=1))
        found = counted(check, zones, *period)
        assert found == oracle(check, zones, *period)
        total: Counter[OutboxState] = sum(found[group_id].values(), Counter())
        # Three of every five were delivered, the other two are still only sent.
        assert total == Counter({OutboxState.SENT: 80, OutboxState.DELIVERED: 120})
        assert check.scalar(select(func.count()).select_from(OutboxCountChange)) == 0


def test_a_period_at_the_ends_of_the_calendar_is_counted_from_the_outbox(session: Session) -> None:
    """Days whose neighbours fall outside the years 1 to 9999 are still counted."""
    group = make_group(session, timezone="America/New_York")
    zones = {group.id: group.timezone}
    edges = [datetime(9999, 12, 31, 15, tzinfo=UTC), datetime(1, 1, 2, tzinfo=UTC)]
    session.execute(
        insert(OutboxMessage),
        [
            {
                "send_key": f"edge:{n}",
                "kind": OutboxKind.REMINDER,
                "group_id": group.id,
                "body": "See you Tuesday",
                "state": OutboxState.DELIVERED,
                "due_at": at,
                "sent_at": at,
                "created_at": at,
                "updated_at": at,
            }
            for n, at in enumerate(edges)
        ],
    )
    session.commit()
    for since, until in (
        (datetime(9999, 12, 31, 12, tzinfo=UTC), datetime(9999, 12, 31, 23, tzinfo=UTC)),
        (datetime(9999, 12, 30, 12, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, tzinfo=UTC)),
        (datetime(1, 1, 1, 6, tzinfo=UTC), datetime(1, 1, 3, tzinfo=UTC)),
    ):
        found = counted(session, zones, since, until)
        assert found == oracle(session, zones, since, until)
        assert sum(day.total() for day in found[group.id].values()) == 1
