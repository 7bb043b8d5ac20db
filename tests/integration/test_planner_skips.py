"""The planning tick: one planner at a time, a commit per campaign, and campaigns whose inputs did
not change skipped; on SQLite and PostgreSQL.

A skip that misses a change would silently lose a reminder, so every kind of change is made here
after a plan and a skip, and the next tick must plan the campaign again and leave the outbox
exactly as a full plan (service.campaigns.planner.plan, which skips nothing) would.
"""

from __future__ import annotations

import logging
import threading
import time as clock_time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, delete, select, text
from sqlalchemy.orm import Session

from service import logs
from service.campaigns import planner
from service.campaigns.campaigns import CampaignChanges, set_campaign_status, update_campaign
from service.campaigns.meetings import cancel_meeting, move_meeting, schedule_meetings
from service.campaigns.planner import PLANNER_LOCK, PlanReport, plan, plan_changed
from service.db import make_engine, sessions
from service.messages.outbox import withdraw
from service.models import (
    Campaign,
    CampaignKind,
    CampaignStatus,
    ConsentState,
    Group,
    MeetingChange,
    MeetingSchedule,
    Membership,
    MembershipStatus,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Participant,
    PlanChange,
)
from tests.support import (
    Clock,
    make_campaign,
    make_group,
    make_participant,
    make_schedule,
    text_in,
)

SAM, LUCIA, ADA = "+12025550142", "+12025550145", "+12025550147"
# The test clock starts Tuesday 2026-03-03 at 12:00 in New York (17:00 UTC); the group meets
# Tuesdays at 18:30 there. With the 8-day horizon the plan reaches Wednesday 11 March, noon.
NEXT_WEEK = "20260310T1830"

Row = tuple[str, OutboxState, datetime, datetime | None, str | None]


def engine_of(app: Flask) -> Engine:
    engine: Engine = sessions(app).kw["bind"]
    return engine


def tick(app: Flask, now: datetime) -> PlanReport:
    """One planning tick, as scheduler.clock.plan_tick runs it."""
    with engine_of(app).connect() as connection:
        report = plan_changed(connection, now)
    assert report is not None
    return report


def outbox(session: Session) -> list[Row]:
    session.expire_all()
    return [
        (r.send_key, r.state, r.due_at, r.expires_at, r.occurrence_key)
        for r in session.scalars(select(OutboxMessage).order_by(OutboxMessage.send_key))
    ]


def as_a_full_plan_leaves_it(session: Session, now: datetime) -> list[Row]:
    """The outbox as it is, checked against what planning everything afresh would make of it."""
    held = outbox(session)
    plan(session, now)
    session.flush()
    afresh = outbox(session)
    session.rollback()
    assert held == afresh
    return held


@dataclass
class World:
    app: Flask
    client: FlaskClient
    session: Session
    clock: Clock
    group: Group
    reminders: Campaign
    encouragement: Campaign

    def membership(self, phone: str) -> Membership:
        return self.session.scalars(
            select(Membership).join(Participant).where(Participant.phone == phone)
        ).one()

    def person(self, phone: str) -> Participant:
        return self.session.scalars(select(Participant).where(Participant.phone == phone)).one()

    def rows(self, phone: str | None = None, kind: OutboxKind | None = None) -> list[OutboxMessage]:
        self.session.expire_all()
        query = select(OutboxMessage).order_by(OutboxMessage.due_at, OutboxMessage.send_key)
        if phone is not None:
            query = query.where(OutboxMessage.participant_id == self.person(phone).id)
        if kind is not None:
            query = query.where(OutboxMessage.kind == kind)
        return list(self.session.scalars(query))


@pytest.fixture
def world(app: Flask, client: FlaskClient, session: Session, clock: Clock) -> World:
    group = make_group(session, "CIRCLE")
    make_schedule(session, group)
    make_participant(session, SAM, group)
    make_participant(session, LUCIA, group, name="Lucia", timezone="Europe/Madrid")
    reminders = make_campaign(session, group, CampaignKind.REMINDER, offsets=["1d@18:00", "2h"])
    encouragement = make_campaign(
        session,
        group,
        CampaignKind.ENCOURAGEMENT,
        cadence="FREQ=DAILY",
        cadence_time=time(12, 30),
        wording={"en": "You are not alone."},
        created_at=clock.now - timedelta(days=1),  # its cadence starts from the day it was made
    )
    return World(app, client, session, clock, group, reminders, encouragement)


def planned_and_then_skipped(world: World) -> list[Row]:
    first = tick(world.app, world.clock.now)
    assert first.planned == 2 and first.written > 0
    again = tick(world.app, world.clock.now)
    assert (again.planned, again.extended, again.skipped) == (0, 0, 2)
    assert (again.written, again.cancelled) == (0, 0)
    return as_a_full_plan_leaves_it(world.session, world.clock.now)


def test_planning_again_with_nothing_changed_skips_and_writes_nothing(world: World) -> None:
    before = planned_and_then_skipped(world)
    stamps = [r.updated_at for r in world.rows()]

    # A minute on, the horizon has moved but brings no new moment: nothing written either.
    world.clock.now += timedelta(minutes=1)
    later = tick(world.app, world.clock.now)
    assert (later.planned, later.extended, later.skipped) == (0, 2, 0)
    assert (later.written, later.cancelled) == (0, 0)
    assert as_a_full_plan_leaves_it(world.session, world.clock.now) == before
    assert [r.updated_at for r in world.rows()] == stamps
    assert world.session.scalar(select(PlanChange.id).limit(1)) is None


def _move_meeting(w: World) -> None:
    move_meeting(
        w.session, w.group, NEXT_WEEK, to=datetime(2026, 3, 10, 19, 30), location=None,
        now=w.clock.now, actor="test",
    )  # fmt: skip


def _cancel_meeting(w: World) -> None:
    cancel_meeting(w.session, w.group, NEXT_WEEK, now=w.clock.now, actor="test")


def _cancel_meeting_behind_the_domains_back(w: World) -> None:
    meeting = w.session.scalars(select(MeetingSchedule)).one()
    w.session.add(MeetingChange(schedule_id=meeting.id, occurrence_key=NEXT_WEEK, cancelled=True))


def _move_the_whole_schedule(w: World) -> None:
    meeting = w.session.scalars(select(MeetingSchedule)).one()
    meeting.first_start = datetime(2026, 3, 3, 17, 0)


def _set_the_same_schedule_again(w: World) -> None:
    """Takes back every reminder although nothing the plan reads changed."""
    schedule_meetings(
        w.session, w.group, rule="FREQ=WEEKLY;BYDAY=TU", first=datetime(2026, 3, 3, 18, 30),
        duration_minutes=90, location="Room 5", now=w.clock.now, actor="test",
    )  # fmt: skip


def _member_joins(w: World) -> None:
    make_participant(w.session, ADA, w.group, name="Ada")


def _member_leaves(w: World) -> None:
    w.membership(SAM).status = MembershipStatus.LEFT


def _membership_removed(w: World) -> None:
    w.session.delete(w.membership(SAM))


def _member_moves_zone(w: World) -> None:
    w.membership(SAM).timezone = "America/Los_Angeles"


def _member_withdraws_consent(w: World) -> None:
    w.person(SAM).consent = ConsentState.REVOKED


def _campaign_edited(w: World) -> None:
    update_campaign(
        w.session, w.reminders, CampaignChanges(offsets=["3h"]), now=w.clock.now, actor="test"
    )


def _campaign_offsets_changed_behind_the_domains_back(w: World) -> None:
    w.reminders.offsets = ["1d@18:00", "90m"]


def _campaign_paused(w: World) -> None:
    set_campaign_status(w.session, w.reminders, CampaignStatus.PAUSED, now=w.clock.now, actor="t")


def _cadence_time_changed(w: World) -> None:
    w.encouragement.cadence_time = time(9, 0)


def _quiet_hours_changed(w: World) -> None:
    w.group.quiet_start = time(17, 0)  # Monday's 18:00 reminder is now inside them


CHANGES: dict[str, Callable[[World], None]] = {
    "meeting moved": _move_meeting,
    "meeting cancelled": _cancel_meeting,
    "meeting cancelled, no withdrawal": _cancel_meeting_behind_the_domains_back,
    "schedule moved": _move_the_whole_schedule,
    "same schedule set again": _set_the_same_schedule_again,
    "member joins": _member_joins,
    "member leaves": _member_leaves,
    "membership removed": _membership_removed,
    "member in another zone": _member_moves_zone,
    "consent withdrawn": _member_withdraws_consent,
    "campaign edited": _campaign_edited,
    "offsets changed, no withdrawal": _campaign_offsets_changed_behind_the_domains_back,
    "campaign paused": _campaign_paused,
    "cadence time changed": _cadence_time_changed,
    "quiet hours changed": _quiet_hours_changed,
}


# Changes after which the plan puts back exactly what was there (what they withdrew).
RESTORED = {"same schedule set again"}


@pytest.mark.parametrize("name", CHANGES)
def test_a_change_to_anything_a_plan_reads_is_planned_at_the_next_tick(
    world: World, name: str
) -> None:
    before = planned_and_then_skipped(world)

    CHANGES[name](world)
    world.session.commit()
    report = tick(world.app, world.clock.now)

    assert report.planned >= 1 and report.failed == 0
    after = as_a_full_plan_leaves_it(world.session, world.clock.now)
    assert (after == before) is (name in RESTORED)
    settled = tick(world.app, world.clock.now)
    assert (settled.planned, settled.written, settled.cancelled) == (0, 0, 0)


def test_a_stop_and_a_start_by_text_are_each_planned_at_the_next_tick(world: World) -> None:
    planned_and_then_skipped(world)
    assert {r.state for r in world.rows(SAM, OutboxKind.REMINDER)} == {OutboxState.QUEUED}

    text_in(world.client, SAM, "STOP")
    assert tick(world.app, world.clock.now).planned == 2
    assert {r.state for r in world.rows(SAM, OutboxKind.REMINDER)} == {OutboxState.SUPPRESSED}
    as_a_full_plan_leaves_it(world.session, world.clock.now)

    text_in(world.client, SAM, "START")
    assert tick(world.app, world.clock.now).planned == 2
    as_a_full_plan_leaves_it(world.session, world.clock.now)


def test_encouragement_resumed_is_planned_again(world: World) -> None:
    """A pause withdraws the texts (as the PAUSE keyword does); a resume that changes nothing but
    the person's pause must bring them back."""
    planned_and_then_skipped(world)
    sam = world.person(SAM)
    sam.encouragement_paused_until = world.clock.now + timedelta(weeks=52)
    withdraw(
        world.session,
        (OutboxMessage.participant_id == sam.id) & (OutboxMessage.kind == OutboxKind.ENCOURAGEMENT),
        "paused by participant",
        world.clock.now,
    )
    world.session.commit()
    tick(world.app, world.clock.now)
    assert tick(world.app, world.clock.now).skipped == 2
    assert {r.state for r in world.rows(SAM, OutboxKind.ENCOURAGEMENT)} == {OutboxState.CANCELED}

    world.person(SAM).encouragement_paused_until = None
    world.session.commit()
    assert world.session.scalar(select(PlanChange.id).limit(1)) is not None
    assert tick(world.app, world.clock.now).planned == 2
    assert {r.state for r in world.rows(SAM, OutboxKind.ENCOURAGEMENT)} == {OutboxState.QUEUED}
    as_a_full_plan_leaves_it(world.session, world.clock.now)


def test_a_paused_campaign_resumed_plans_again(world: World) -> None:
    planned_and_then_skipped(world)
    _campaign_paused(world)
    world.session.commit()
    tick(world.app, world.clock.now)
    assert {r.state for r in world.rows(kind=OutboxKind.REMINDER)} == {OutboxState.CANCELED}

    set_campaign_status(
        world.session, world.reminders, CampaignStatus.ACTIVE, now=world.clock.now, actor="t"
    )
    world.session.commit()
    tick(world.app, world.clock.now)
    assert {r.state for r in world.rows(kind=OutboxKind.REMINDER)} == {OutboxState.QUEUED}
    as_a_full_plan_leaves_it(world.session, world.clock.now)


def test_the_horizon_moving_onto_a_new_meeting_plans_its_reminders(world: World) -> None:
    planned_and_then_skipped(world)
    week_after = "20260317T1830"
    # The meeting of the 17th is 18:30 EDT (22:30 UTC); its "2h" reminder, 20:30 UTC, comes
    # into the 8-day horizon at 20:30 UTC on the 9th.
    world.clock.now = datetime(2026, 3, 9, 20, 29, tzinfo=UTC)
    before = tick(world.app, world.clock.now)
    assert before.planned == 0 and before.extended == 2
    two_hours = [
        r for r in world.rows(kind=OutboxKind.REMINDER)
        if r.occurrence_key == week_after and r.send_key.endswith(":1")
    ]  # fmt: skip
    assert two_hours == []

    world.clock.now = datetime(2026, 3, 9, 20, 31, tzinfo=UTC)
    report = tick(world.app, world.clock.now)
    assert report.planned == 0 and report.extended == 2 and report.written == 2  # Sam, Lucia
    two_hours = [
        r for r in world.rows(kind=OutboxKind.REMINDER)
        if r.occurrence_key == week_after and r.send_key.endswith(":1")
    ]  # fmt: skip
    assert len(two_hours) == 2
    assert [r.due_at for r in two_hours if r.participant_id == world.person(SAM).id] == [
        datetime(2026, 3, 17, 20, 30, tzinfo=UTC)
    ]
    as_a_full_plan_leaves_it(world.session, world.clock.now)


def test_a_day_on_brings_the_next_days_encouragement(world: World) -> None:
    planned_and_then_skipped(world)
    count = len(world.rows(kind=OutboxKind.ENCOURAGEMENT))
    world.clock.now += timedelta(days=1)
    report = tick(world.app, world.clock.now)
    assert report.extended == 2 and report.written > 0
    assert len(world.rows(kind=OutboxKind.ENCOURAGEMENT)) > count
    as_a_full_plan_leaves_it(world.session, world.clock.now)


def test_a_campaign_that_fails_is_rolled_back_alone_and_logged_masked(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = planner.plan_campaign
    broken = world.reminders.id

    def failing(session: Session, campaign: Campaign, *args: object, **kwargs: object) -> None:
        real(session, campaign, *args, **kwargs)  # type: ignore[arg-type]
        if campaign.id == broken:  # after its rows were written: they must be rolled back
            raise RuntimeError(f"could not plan for {SAM}")

    monkeypatch.setattr(planner, "plan_campaign", failing)
    with caplog.at_level(logging.ERROR, logger="service.campaigns.planner"):
        report = tick(world.app, world.clock.now)

    assert (report.planned, report.failed) == (1, 1)
    assert world.rows(kind=OutboxKind.REMINDER) == []
    assert world.rows(kind=OutboxKind.ENCOURAGEMENT) != []
    [record] = caplog.records
    written = logs.MaskingFormatter(logs.FORMAT).format(record)
    assert f"campaign {broken} not planned" in written and "RuntimeError" in written
    assert SAM not in written and SAM[-4:] in written

    monkeypatch.setattr(planner, "plan_campaign", real)
    again = tick(world.app, world.clock.now)
    assert (again.planned, again.skipped, again.failed) == (1, 1, 0)
    assert world.rows(kind=OutboxKind.REMINDER) != []
    as_a_full_plan_leaves_it(world.session, world.clock.now)


# The planner's advisory lock, held by anyone in this database (a bigint key shows as two halves).
HELD = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND classid = :high AND objid = :low"
).bindparams(high=PLANNER_LOCK >> 32, low=PLANNER_LOCK & 0xFFFF_FFFF)


@pytest.mark.postgres
def test_two_planners_at_once_one_plans_the_other_skips(pg_url: str, clock: Clock) -> None:
    engine = make_engine(pg_url)
    try:
        with Session(engine) as session:
            group = make_group(session, "CIRCLE")
            make_schedule(session, group)
            make_participant(session, SAM, group)
            make_campaign(session, group, CampaignKind.REMINDER, offsets=["2h"])
        results: list[PlanReport | None] = []
        with engine.connect() as holder:
            # Hold the notes of change, so the first planner, once it has the lock, waits.
            holder.execute(select(PlanChange.id).with_for_update())

            def first() -> None:
                with engine.connect() as connection:
                    results.append(plan_changed(connection, clock.now))

            running = threading.Thread(target=first)
            running.start()
            for _ in range(500):
                if holder.scalar(HELD):
                    break
                clock_time.sleep(0.01)
            else:
                pytest.fail("the first planner never took the lock")
            with engine.connect() as connection:
                assert plan_changed(connection, clock.now) is None
            holder.rollback()
            running.join(timeout=60)
        [report] = results
        assert report is not None and report.planned == 1 and report.written == 2  # two Tuesdays
        with engine.connect() as connection:  # the lock is free again
            after = plan_changed(connection, clock.now)
        assert after is not None and after.skipped == 1
        with engine.connect() as connection:
            assert connection.scalar(HELD) == 0
    finally:
        engine.dispose()


def test_notes_of_change_are_written_by_the_database_for_any_writer(world: World) -> None:
    """The triggers see writes that pass no domain function: a bulk UPDATE, a DELETE."""
    planned_and_then_skipped(world)
    world.session.execute(
        delete(Membership).where(Membership.participant_id == world.person(LUCIA).id)
    )
    world.session.commit()
    assert world.session.scalars(select(PlanChange.group_id)).all() == [world.group.id]
    report = tick(world.app, world.clock.now)
    assert report.planned == 2
    assert {r.state for r in world.rows(LUCIA)} == {OutboxState.CANCELED}
    assert world.session.scalar(select(PlanChange.id).limit(1)) is None

    world.person(SAM).name = "Samuel"  # nothing a plan reads
    world.session.commit()
    assert world.session.scalar(select(PlanChange.id).limit(1)) is None


@pytest.mark.postgres
def test_planning_again_locks_no_row_it_leaves_as_it_is(pg_url: str, clock: Clock) -> None:
    """A dispatcher's claim (SKIP LOCKED) still finds a campaign's rows while a plan that changes
    none of them is in progress, and waits only for the rows a plan moves."""
    engine = make_engine(pg_url)
    claim = text("SELECT id FROM outbox_messages WHERE state = 'queued' FOR UPDATE SKIP LOCKED")
    try:
        with Session(engine) as session:
            group = make_group(session, "CIRCLE")
            make_schedule(session, group)
            for phone in (SAM, LUCIA, ADA):
                make_participant(session, phone, group)
            make_campaign(session, group, CampaignKind.REMINDER, offsets=["2h", "30m"])
            plan(session, clock.now)
            session.commit()
            everything = len(session.scalars(select(OutboxMessage.id)).all())
            assert everything == 12  # three people, two Tuesdays, two offsets

            assert plan(session, clock.now).written == 0  # not committed: its locks are held
            with engine.connect() as dispatcher:
                assert len(dispatcher.execute(claim).all()) == everything
                dispatcher.rollback()
            session.rollback()

            session.execute(delete(MeetingChange))
            meeting = session.scalars(select(MeetingSchedule)).one()
            session.add(
                MeetingChange(
                    schedule_id=meeting.id,
                    occurrence_key=NEXT_WEEK,
                    new_start=datetime(2026, 3, 10, 19, 0),
                )
            )
            session.flush()
            assert plan(session, clock.now).written == 6  # next week's moved, for three people
            with engine.connect() as dispatcher:
                assert len(dispatcher.execute(claim).all()) == everything - 6
                dispatcher.rollback()
            session.rollback()
    finally:
        engine.dispose()


@pytest.mark.slow  # 1.7 s alone on SQLite, 2.8 s on PostgreSQL: 32 ticks, each checked afresh
def test_encouragement_by_days_since_joining_comes_into_the_horizon_tick_by_tick(
    world: World,
) -> None:
    stages = make_campaign(
        world.session,
        world.group,
        CampaignKind.ENCOURAGEMENT,
        stages=[0, 2, 9],
        cadence_time=time(10, 0),
        wording={"en": "Glad you came."},
        created_at=world.clock.now - timedelta(days=30),
    )
    # Both joined today, where they live: their ninth day comes into the horizon tomorrow.
    world.membership(SAM).created_at = world.clock.now
    world.membership(LUCIA).created_at = world.clock.now - timedelta(hours=12)
    world.session.commit()
    tick(world.app, world.clock.now)
    mine = select(OutboxMessage.send_key).where(OutboxMessage.campaign_id == stages.id)
    first = set(world.session.scalars(mine))
    assert {key.rsplit(":", 1)[1] for key in first} == {"1"}  # their second day

    for _ in range(4 * 8):  # four days, every three hours
        world.clock.now += timedelta(hours=3)
        report = tick(world.app, world.clock.now)
        assert report.planned == 0 and report.failed == 0
        as_a_full_plan_leaves_it(world.session, world.clock.now)
    later = set(world.session.scalars(mine))
    assert first < later
    assert {key.rsplit(":", 1)[1] for key in later} == {"1", "2"}  # day 2 and day 9 stages


def test_a_cadence_plans_its_first_day_and_each_new_day_as_it_comes(world: World) -> None:
    daily = make_campaign(
        world.session,
        world.group,
        CampaignKind.ENCOURAGEMENT,
        cadence="FREQ=DAILY",
        cadence_time=time(15, 0),
        wording={"en": "Thinking of you."},
        created_at=world.clock.now,  # today, noon in New York: its first text is at 15:00
    )
    mine = select(OutboxMessage).where(
        OutboxMessage.campaign_id == daily.id,
        OutboxMessage.participant_id == world.person(SAM).id,
    )
    tick(world.app, world.clock.now)
    world.session.expire_all()
    days = [row.due_at for row in world.session.scalars(mine.order_by(OutboxMessage.due_at))]
    assert days[0] == datetime(2026, 3, 3, 20, 0, tzinfo=UTC)  # 15:00 EST, the day it was made
    assert days == [days[0] + timedelta(days=n, hours=-(n > 4)) for n in range(8)]  # DST: 8th

    world.clock.now += timedelta(days=1)
    report = tick(world.app, world.clock.now)
    assert report.extended == 3 and report.planned == 0
    world.session.expire_all()
    assert len(world.session.scalars(mine).all()) == 9  # 11 March came in
    as_a_full_plan_leaves_it(world.session, world.clock.now)
