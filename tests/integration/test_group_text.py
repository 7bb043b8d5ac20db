"""A coordinator's text to a whole group waits for each member's morning, wherever they live."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.dispatcher import dispatch_due
from service.cli.main import cli
from service.models import Group, OutboxMessage, OutboxState, Participant
from tests.support import (
    Clock,
    RecordingGateway,
    invoke,
    make_group,
    make_participant,
    text_in,
)

PEOPLE = {
    "+12025550142": "America/New_York",
    "+442079460958": "Europe/London",
    "+919876543210": "Asia/Kolkata",
    "+61291234567": "Australia/Sydney",
}


def living_in(session: Session, phone: str, zone: str, *groups: Group) -> Participant:
    return make_participant(session, phone, *groups, timezone=zone)


def local(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def at_local(zone: str, year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone)).astimezone(UTC)


@pytest.mark.parametrize("zone", sorted(set(PEOPLE.values())))
def test_a_text_sent_at_eleven_at_night_arrives_at_eight_in_the_morning(
    app: Flask,
    runner: FlaskCliRunner,
    session: Session,
    clock: Clock,
    gateway: RecordingGateway,
    zone: str,
) -> None:
    phone = next(p for p, z in PEOPLE.items() if z == zone)
    living_in(session, phone, zone, make_group(session, "CIRCLE"))
    clock.now = at_local(zone, 2026, 3, 3, 23, 0)

    result = invoke(runner, "send", "--group", "CIRCLE", "Room 5 tomorrow")

    assert result.exit_code == 0, result.output
    assert "1 waiting for their morning" in result.output
    assert gateway.sent == []
    row = session.scalars(select(OutboxMessage)).one()
    assert local(row.due_at, zone) == datetime(2026, 3, 4, 8, 0)
    assert row.expires_at is not None and row.expires_at - row.due_at == timedelta(hours=4)

    clock.now = at_local(zone, 2026, 3, 4, 7, 59)
    dispatch_due(app)
    assert gateway.sent == []

    clock.now = at_local(zone, 2026, 3, 4, 8, 0)
    dispatch_due(app)
    assert [(t.to, t.body) for t in gateway.sent] == [(phone, "Room 5 tomorrow")]


def test_each_member_gets_it_in_their_own_morning(
    app: Flask,
    runner: FlaskCliRunner,
    session: Session,
    clock: Clock,
    gateway: RecordingGateway,
) -> None:
    circle = make_group(session, "CIRCLE")
    for phone, zone in PEOPLE.items():
        living_in(session, phone, zone, circle)
    # 23:00 in New York is 04:00 in London, 09:30 in Kolkata and 15:00 in Sydney.
    clock.now = at_local("America/New_York", 2026, 3, 3, 23, 0)

    result = invoke(runner, "send", "--group", "CIRCLE", "See you Tuesday")

    assert "2 sent; 2 waiting for their morning" in result.output
    assert sorted(t.to for t in gateway.sent) == ["+61291234567", "+919876543210"]
    waiting = {
        row.participant_id: row.due_at
        for row in session.scalars(
            select(OutboxMessage).where(OutboxMessage.state == OutboxState.QUEUED)
        )
    }
    by_phone = {p.phone: p for p in session.scalars(select(Participant))}
    for phone in ("+12025550142", "+442079460958"):
        due = waiting[by_phone[phone].id]
        assert local(due, PEOPLE[phone]) == datetime(2026, 3, 4, 8, 0), phone

    clock.now = at_local("Europe/London", 2026, 3, 4, 8, 0)
    dispatch_due(app)
    assert gateway.sent[-1].to == "+442079460958" and len(gateway.sent) == 3
    clock.now = at_local("America/New_York", 2026, 3, 4, 8, 0)
    dispatch_due(app)
    assert gateway.sent[-1].to == "+12025550142" and len(gateway.sent) == 4


def test_at_night_only_when_the_coordinator_confirms(
    runner: FlaskCliRunner,
    session: Session,
    clock: Clock,
    gateway: RecordingGateway,
) -> None:
    circle = make_group(session, "CIRCLE")
    living_in(session, "+12025550142", "America/New_York", circle)
    clock.now = at_local("America/New_York", 2026, 3, 3, 23, 0)

    declined = runner.invoke(
        cli, ["send", "--group", "CIRCLE", "--at-night", "Tonight's room changed"], input="n\n"
    )
    assert declined.exit_code != 0
    assert "It is night for 1 member(s) of CIRCLE" in declined.output
    assert session.scalars(select(OutboxMessage)).all() == []
    assert gateway.sent == []

    confirmed = runner.invoke(
        cli, ["send", "--group", "CIRCLE", "--at-night", "Tonight's room changed"], input="y\n"
    )
    assert confirmed.exit_code == 0, confirmed.output
    assert [t.to for t in gateway.sent] == ["+12025550142"]


def test_a_direct_reply_and_a_crisis_answer_go_at_any_hour(
    runner: FlaskCliRunner,
    session: Session,
    clock: Clock,
    gateway: RecordingGateway,
    client: FlaskClient,
) -> None:
    circle = make_group(session, "CIRCLE", on_call_phone="+12025550100")
    living_in(session, "+12025550142", "America/New_York", circle)
    clock.now = at_local("America/New_York", 2026, 3, 3, 23, 30)

    crisis = text_in(client, "+12025550142", "I want to die")
    assert "988" in crisis.text  # the crisis resources come back in the reply, at once

    reply = invoke(runner, "inbox", "reply", "1", "We are here. Call me: 555-0100")
    assert reply.exit_code == 0, reply.output
    assert [t.body for t in gateway.sent if t.to == "+12025550142"] == [
        "We are here. Call me: 555-0100"
    ]
