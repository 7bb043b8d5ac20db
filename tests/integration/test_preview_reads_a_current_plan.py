"""A saved campaign's preview reads the live plan in place while that plan is current, and plans
afresh, privately, as soon as anything it was planned from has changed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from service.campaigns.planner import plan_changed
from service.campaigns.preview import preview_as, summary
from service.models import CampaignKind, Group
from tests.support import Clock, make_campaign, make_group, make_participant, make_schedule

NOW = datetime(2026, 3, 3, 17, 0, tzinfo=UTC)  # Tuesday noon in New York


@contextmanager
def planned_privately(session: Session) -> Iterator[list[str]]:
    """The temporary outboxes a preview makes meanwhile: one for each time it plans privately."""
    made: list[str] = []
    engine: Engine = session.get_bind().engine

    def note(_conn: object, _cursor: object, sql: str, *_: object) -> None:
        if "CREATE TEMPORARY TABLE" in sql.upper():
            made.append(sql)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield made
    finally:
        event.remove(engine, "before_cursor_execute", note)


@pytest.fixture
def group(session: Session, clock: Clock) -> Group:
    clock.now = NOW
    circle = make_group(session, "CIRCLE")
    make_schedule(session, circle)  # Tuesdays 18:30
    make_campaign(session, circle, CampaignKind.REMINDER, offsets=["2h", "30m"], created_at=NOW)
    for n in range(3):
        make_participant(session, f"+1202555010{n}", circle)
    return circle


def _tick(session: Session, at: datetime) -> None:
    session.commit()
    with session.get_bind().engine.connect() as connection:
        plan_changed(connection, at)


def test_a_current_plan_is_read_where_it_lies(session: Session, group: Group) -> None:
    _tick(session, NOW - timedelta(minutes=1))

    with planned_privately(session) as made:
        shown = preview_as(summary(), session, group, NOW, 7)

    assert made == []
    assert (shown.texts, shown.people) == (6, 3)  # tonight: two reminders for three people


def test_a_member_joining_since_the_last_tick_is_planned_privately(
    session: Session, group: Group
) -> None:
    _tick(session, NOW - timedelta(minutes=1))
    make_participant(session, "+12025550199", group)

    with planned_privately(session) as made:
        shown = preview_as(summary(), session, group, NOW, 7)

    assert len(made) == 1
    assert (shown.texts, shown.people) == (8, 4)  # the newcomer is in it before the next tick


def test_a_preview_past_the_last_plans_end_is_planned_privately(
    session: Session, group: Group
) -> None:
    _tick(session, NOW - timedelta(days=3))  # planned until 5 days from now

    with planned_privately(session) as made:
        shown = preview_as(summary(), session, group, NOW, 7)

    assert len(made) == 1
    assert (shown.texts, shown.people) == (6, 3)
