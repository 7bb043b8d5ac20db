"""A broadcast cannot be dated in the past, an expired row is never planned again, and a
preview is capped and never holds what the live planner and dispatcher need."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduler.clock import plan_tick
from scheduler.dispatcher import dispatch_due
from service.campaigns.planner import PlanReport, plan
from service.db import sessions
from service.models import Campaign, CampaignKind, Group, OutboxKind, OutboxMessage, OutboxState
from tests.api import post, two_coordinators
from tests.support import (
    Clock,
    RecordingGateway,
    invoke,
    make_campaign,
    make_group,
    make_participant,
    make_schedule,
)

SAM, LUCIA = "+12025550142", "+12025550145"
# The test clock reads Tuesday 2026-03-03 17:00 UTC: 12:00 in New York, the group's zone.


def broadcast(runner: FlaskCliRunner, at: str) -> Any:
    return invoke(
        runner, "campaigns", "create", "--group", "CIRCLE", "--kind", "broadcast",
        "--name", "Room", "--at", at, "--wording-en", "We're in room 7 from now on.",
    )  # fmt: skip


def campaigns(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Campaign)) or 0


def test_a_broadcast_dated_in_the_past_is_refused_on_the_command_line(
    runner: FlaskCliRunner, session: Session
) -> None:
    make_participant(session, SAM, make_group(session, "CIRCLE"))

    refused = broadcast(runner, "2026-03-03 11:58")  # two minutes ago in New York

    assert refused.exit_code == 1
    assert "--at: 2026-03-03 11:58 (America/New_York) has passed" in refused.output
    assert "a broadcast goes now or later" in refused.output
    assert campaigns(session) == 0
    # A minute ago is taken as now, and so is "now".
    assert broadcast(runner, "2026-03-03 11:59").exit_code == 0
    assert broadcast(runner, "now").exit_code == 0
    assert campaigns(session) == 2
    sends = session.scalars(select(Campaign.send_at)).all()
    assert sends == [datetime(2026, 3, 3, 17, 0, tzinfo=UTC)] * 2


def test_a_broadcast_dated_in_the_past_is_refused_by_the_api_with_its_field(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)
    body = {"group_id": mine.id, "kind": "broadcast", "name": "Snow",
            "wording": {"en": "No meeting tonight: snow."}}  # fmt: skip

    status, problem = post(
        client, "/api/v1/campaigns", robin, {**body, "send_at": "2026-03-02T20:00:00-05:00"}
    )

    assert status == 422
    assert "send_at" in problem["details"]["json"]
    assert "2026-03-02 20:00 (America/New_York) has passed" in problem["message"]
    assert campaigns(session) == 0
    status, made = post(
        client, "/api/v1/campaigns", robin, {**body, "send_at": "2026-03-03T12:00:00-05:00"}
    )
    assert status == 201 and made["send_at"] == "2026-03-03T17:00:00+00:00"


def test_an_expired_broadcast_is_never_planned_again(
    app: Flask, session: Session, clock: Clock, gateway: RecordingGateway
) -> None:
    circle = make_group(session, "CIRCLE")
    make_participant(session, SAM, circle)
    make_campaign(session, circle, CampaignKind.BROADCAST, wording={"en": "Room 7."},
                  send_at=clock.now)  # fmt: skip
    assert plan(session, clock.now).written == 1
    session.commit()
    clock.now += timedelta(hours=13)  # the workers were down past its 12-hour window
    dispatch_due(app)
    session.expire_all()
    assert session.scalars(select(OutboxMessage.state)).all() == [OutboxState.EXPIRED]

    reports: list[PlanReport] = []
    for _ in range(3):  # three ticks of the planner, a minute apart
        clock.now += timedelta(minutes=1)
        reports.append(plan(session, clock.now))
        session.commit()
        dispatch_due(app)

    assert [(r.written, r.cancelled) for r in reports] == [(0, 0)] * 3
    session.expire_all()
    assert session.scalars(select(OutboxMessage.state)).all() == [OutboxState.EXPIRED]
    assert gateway.sent == []


def test_a_broadcast_already_in_the_past_plans_nothing(
    session: Session, clock: Clock, gateway: RecordingGateway
) -> None:
    """One dated in the past before such dates were refused: its window is over."""
    circle = make_group(session, "CIRCLE")
    make_participant(session, SAM, circle)
    make_campaign(session, circle, CampaignKind.BROADCAST, wording={"en": "Room 7."},
                  send_at=clock.now - timedelta(days=2))  # fmt: skip

    assert [plan(session, clock.now + timedelta(minutes=n)).written for n in range(3)] == [0] * 3
    session.commit()
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_a_preview_longer_than_31_days_is_refused_on_the_command_line(
    runner: FlaskCliRunner, session: Session
) -> None:
    circle = make_group(session, "CIRCLE")
    make_participant(session, SAM, circle)
    make_schedule(session, circle)
    make_campaign(session, circle, CampaignKind.REMINDER, offsets=["2h"])

    refused = invoke(runner, "preview", "--group", "CIRCLE", "--days", "100000")

    assert refused.exit_code == 2
    assert "--days" in refused.output and "1<=x<=31" in refused.output
    month = invoke(runner, "preview", "--group", "CIRCLE", "--days", "31")
    assert month.exit_code == 0
    assert month.output.count("reminder to 1") == 5  # five Tuesdays from 2026-03-03 on
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_a_preview_never_holds_what_the_live_planner_and_dispatcher_need(
    app: Flask,
    session: Session,
    runner: FlaskCliRunner,
    clock: Clock,
    gateway: RecordingGateway,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While a preview has planned and not yet finished, the live planner plans the group and
    the dispatcher sends its due broadcast: each tick runs to its end, counted."""
    circle = make_group(session, "CIRCLE")
    make_participant(session, SAM, circle, name="Sam Rivera")
    make_participant(session, LUCIA, circle, name="Lucia Gomez")
    make_schedule(session, circle)
    make_campaign(session, circle, CampaignKind.REMINDER, offsets=["2h"])
    make_campaign(session, circle, CampaignKind.BROADCAST, wording={"en": "Room 7."},
                  send_at=clock.now)  # fmt: skip
    ticks: list[str] = []

    def live_ticks() -> None:
        plan_tick(app)
        ticks.append("planned")
        if dispatch_due(app):
            ticks.append("dispatched")

    def planning_then_ticks(*args: Any, **kwargs: Any) -> PlanReport:
        report = plan(*args, **kwargs)
        run_elsewhere(live_ticks)  # the scheduler's ticks, while the preview is mid-way
        return report

    monkeypatch.setattr("service.campaigns.preview.plan", planning_then_ticks)

    shown = invoke(runner, "preview", "--group", "CIRCLE", "--days", "8")

    assert shown.exit_code == 0, shown.output
    assert ticks == ["planned", "dispatched"]
    assert sorted(t.to for t in gateway.sent) == sorted([SAM, LUCIA])  # the broadcast went
    assert "broadcast to 2" in shown.output and shown.output.count("reminder to 1") == 4
    # What the live planner wrote is all there is: two reminders each, one broadcast each.
    with sessions(app)() as fresh:
        kinds = fresh.scalars(select(OutboxMessage.kind).order_by(OutboxMessage.id)).all()
        assert sorted(kinds) == sorted([OutboxKind.BROADCAST] * 2 + [OutboxKind.REMINDER] * 4)
        assert fresh.scalar(select(func.count()).select_from(Group)) == 1


def run_elsewhere(work: Callable[[], None]) -> None:
    """Run work on another thread, as the scheduler would, and re-raise what it raised."""
    failed: list[BaseException] = []

    def guarded() -> None:
        try:
            work()
        except BaseException as error:  # re-raised on the test's thread
            failed.append(error)

    thread = threading.Thread(target=guarded)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
