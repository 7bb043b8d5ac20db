"""Old texts' words are blanked after PEERLINE_RETENTION_DAYS; rows, counts and the ledger stay."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.clock import retention_tick
from service.campaigns.stats import daily_stats, group_stats
from service.config import ConfigError, Settings
from service.db import sessions
from service.messages import retention
from service.metrics import totals
from service.models import (
    SETTLED_STATES,
    AuditEntry,
    ConsentChange,
    ConsentEvent,
    ConsentSource,
    Group,
    InboundMessage,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Participant,
)
from tests.dashboard import sign_in, with_password
from tests.support import Clock, invoke, make_group, make_participant, new_sid

DAYS = 30
REMOVED = f"(removed after {DAYS} days)"


@pytest.fixture
def app(lend_app: Callable[..., Flask]) -> Flask:
    return lend_app(PEERLINE_RETENTION_DAYS=str(DAYS))


@dataclass
class Story:
    group: Group
    person: Participant
    old: dict[str, int]  # outbox ids whose words must go
    kept: dict[str, int]  # outbox ids whose words must stay
    old_in: int
    recent_in: int


def _out(session: Session, story: tuple[Group, Participant], state: OutboxState, at: datetime,
         words: str) -> int:  # fmt: skip
    group, person = story
    row = OutboxMessage(
        send_key=new_sid(),
        kind=OutboxKind.REMINDER,
        group_id=group.id,
        participant_id=person.id,
        to_phone=person.phone,
        body=words,
        state=state,
        due_at=at,
        sent_at=at if state not in (OutboxState.QUEUED, OutboxState.SENDING) else None,
        created_at=at,
        updated_at=at,
    )
    session.add(row)
    session.flush()
    return row.id


def _in(session: Session, group: Group, person: Participant, at: datetime, words: str) -> int:
    row = InboundMessage(
        message_sid=new_sid(),
        participant_id=person.id,
        group_id=group.id,
        from_phone=person.phone,
        body=words,
        intent="other",
        needs_reply=True,
        received_at=at,
    )
    session.add(row)
    session.flush()
    return row.id


def _story(session: Session, clock: Clock) -> Story:
    group = make_group(session, "CIRCLE")
    person = make_participant(session, "+12025550142", group, name="Sam Rivera")
    pair = (group, person)
    long_ago, lately = clock.now - timedelta(days=DAYS + 5), clock.now - timedelta(days=2)
    old = {
        state.value: _out(session, pair, state, long_ago, f"old {state.value} words")
        for state in SETTLED_STATES
        if state not in (OutboxState.UNDELIVERED, OutboxState.RECONCILED)
    }
    kept = {
        # Still queued or in flight, however old: their words may yet go out.
        "queued": _out(session, pair, OutboxState.QUEUED, long_ago, "old queued words"),
        "sending": _out(session, pair, OutboxState.SENDING, long_ago, "old sending words"),
        "unknown": _out(session, pair, OutboxState.UNKNOWN, long_ago, "old unknown words"),
        "recent": _out(session, pair, OutboxState.DELIVERED, lately, "recent delivered words"),
    }
    old_in = _in(session, group, person, long_ago, "I lost my job today")
    recent_in = _in(session, group, person, lately, "see you Tuesday")
    session.add(
        ConsentEvent(
            participant_id=person.id,
            phone_hash=person.phone_hash,
            change=ConsentChange.OPT_OUT,
            source=ConsentSource.KEYWORD,
            words="STOP please",
            created_at=long_ago,
        )
    )
    session.commit()
    return Story(group, person, old, kept, old_in, recent_in)


def _what_counts(session: Session, group: Group, now: datetime) -> object:
    """Everything a statistic, a metric or the ledger shows, to compare before and after."""
    since = now - timedelta(days=2 * DAYS)
    ledger = session.execute(
        select(
            ConsentEvent.change, ConsentEvent.source, ConsentEvent.words, ConsentEvent.created_at
        ).order_by(ConsentEvent.id)
    ).all()
    return (
        group_stats(session, group, since, now),
        daily_stats(session, group, since, now),
        totals(session),
        session.execute(
            select(InboundMessage.id, InboundMessage.received_at).order_by(InboundMessage.id)
        ).all(),
        session.execute(
            select(
                OutboxMessage.id,
                OutboxMessage.state,
                OutboxMessage.updated_at,
                OutboxMessage.segments,
            ).order_by(OutboxMessage.id)
        ).all(),
        ledger,
    )


def _bodies(session: Session) -> tuple[dict[int, str | None], dict[int, str]]:
    session.expire_all()
    return (
        {i: body for i, body in session.execute(select(OutboxMessage.id, OutboxMessage.body))},
        {i: body for i, body in session.execute(select(InboundMessage.id, InboundMessage.body))},
    )


def test_old_words_are_blanked_and_recent_or_live_ones_kept_with_every_count_intact(
    app: Flask, session: Session, clock: Clock
) -> None:
    story = _story(session, clock)
    before = _what_counts(session, story.group, clock.now)

    result = invoke(app.test_cli_runner(), "retention", "run")

    assert result.exit_code == 0, result.output
    assert "blanked the words of 6 sent and 1 received text(s) older than 30 days" in result.output
    outbox, inbound = _bodies(session)
    assert all(outbox[i] == "" for i in story.old.values())
    assert {name: outbox[i] for name, i in story.kept.items()} == {
        "queued": "old queued words",
        "sending": "old sending words",
        "unknown": "old unknown words",
        "recent": "recent delivered words",
    }
    assert inbound == {story.old_in: "", story.recent_in: "see you Tuesday"}
    assert _what_counts(session, story.group, clock.now) == before
    assert session.scalar(select(ConsentEvent.words)) == "STOP please"
    run = session.scalars(select(AuditEntry).where(AuditEntry.action == "retention.run")).one()
    assert run.details == {"days": DAYS, "sent": 6, "received": 1}


def test_running_again_blanks_nothing_more_and_keeps_when_it_was_done(
    app: Flask, session: Session, clock: Clock
) -> None:
    _story(session, clock)
    invoke(app.test_cli_runner(), "retention", "run")
    removed = select(OutboxMessage.id, OutboxMessage.body_removed_at).order_by(OutboxMessage.id)
    first = session.execute(removed).all()

    clock.now += timedelta(hours=24)
    retention_tick(app)  # the daily job
    again = invoke(app.test_cli_runner(), "retention", "run")

    assert "blanked the words of 0 sent and 0 received" in again.output
    session.expire_all()
    assert session.execute(removed).all() == first


def test_a_dry_run_says_how_many_and_changes_nothing(
    app: Flask, session: Session, clock: Clock
) -> None:
    _story(session, clock)
    before = _bodies(session)

    result = invoke(app.test_cli_runner(), "retention", "run", "--dry-run")

    assert result.exit_code == 0, result.output
    assert "would blank the words of 6 sent and 1 received text(s) older than 30 days" in (
        result.output
    )
    assert _bodies(session) == before


def test_the_daily_job_works_in_small_batches_to_the_end(
    app: Flask, session: Session, clock: Clock
) -> None:
    _story(session, clock)
    with sessions(app)() as own:
        done = []
        for batch in retention.batches(own, clock.now, DAYS, limit=2):
            own.commit()
            done.append((batch.outbox, batch.inbound))

    assert done == [(2, 1), (2, 0), (2, 0)]
    outbox, _ = _bodies(session)
    assert sum(1 for body in outbox.values() if body == "") == 6


def test_pages_say_the_words_were_removed_after_the_retention_period(
    app: Flask, client: FlaskClient, session: Session, clock: Clock
) -> None:
    story = _story(session, clock)
    with_password(session, "robin@example.org", clock)
    invoke(app.test_cli_runner(), "retention", "run")
    sign_in(client, "robin@example.org")

    person = client.get(f"/groups/{story.group.id}/people/{story.person.id}").text
    message = client.get(f"/inbox/{story.old_in}").text
    send = client.get(f"/sends/{story.old['delivered']}").text
    listed = invoke(app.test_cli_runner(), "inbox").output

    assert REMOVED in person and "see you Tuesday" in person
    assert "I lost my job today" not in person + message + listed
    assert REMOVED in message
    assert REMOVED in send and "old delivered words" not in send
    assert REMOVED in listed


@pytest.mark.parametrize("value", ["0", "-1", "forty", "36501"])
def test_a_bad_retention_period_is_refused_naming_the_setting(value: str) -> None:
    with pytest.raises(ConfigError, match="PEERLINE_RETENTION_DAYS"):
        Settings.from_env({"PEERLINE_RETENTION_DAYS": value}, mode="test")
