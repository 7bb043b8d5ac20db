"""`peerline send` and `peerline status`: a text to a whole group now, and what the outbox holds."""

from __future__ import annotations

import secrets
import sys
from collections import Counter
from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from service.cli.common import audited, fail, find_group, now
from service.db import get_session
from service.messages.outbox import enqueue
from service.metrics import summarize
from service.models import Membership, MembershipStatus, OutboxKind, OutboxState, Participant
from service.sending.dispatch import send_now


@click.command(
    "send", help="Text every active member of a group now; consent is checked as each goes."
)
@click.option("--group", "code", required=True)
@click.option("--key", default=None, help="A name for this send; the same key never sends twice.")
@click.argument("text")
@with_appcontext
def send(code: str, key: str | None, text: str) -> None:
    session = get_session()
    group = find_group(session, code)
    body = " ".join(text.split())
    if not body:
        fail("the text is empty")
    moment = now()
    key = key or secrets.token_hex(8)
    members = session.scalars(
        select(Participant)
        .join(Membership)
        .where(Membership.group_id == group.id, Membership.status == MembershipStatus.ACTIVE)
        .order_by(Participant.id)
    ).all()
    ids = []
    for participant in members:
        row = enqueue(
            session,
            send_key=f"one-off:{group.id}:{key}:{participant.id}",
            kind=OutboxKind.ONE_OFF,
            body=body,
            participant=participant,
            group_id=group.id,
            now=moment,
            expires_at=moment + timedelta(hours=4),
        )
        if row is not None:
            ids.append(row.id)
    audited(
        session,
        "group.send",
        group,
        key=key,
        queued=len(ids),
    )
    session.commit()
    if not ids:
        click.echo(
            f"nothing to send: {group.join_code} has no active members not already sent {key}"
        )
        return
    rows = send_now(current_app._get_current_object(), ids)  # type: ignore[attr-defined]
    tally = Counter(row.state for row in rows)
    summary = ", ".join(f"{n} {state.value}" for state, n in sorted(tally.items()))
    click.echo(f"{group.join_code}: {summary} (key {key})")
    if tally.get(OutboxState.FAILED) or tally.get(OutboxState.UNKNOWN):
        sys.exit(1)


@click.command(help="What the outbox holds: by state and kind, what is due, what is stuck.")
@with_appcontext
def status() -> None:
    summary = summarize(get_session(), now())
    click.echo("STATE\tKIND\tROWS")
    for (state, kind), n in sorted(summary.by_state_and_kind.items()):
        click.echo(f"{state}\t{kind}\t{n}")
    click.echo(f"due now: {summary.due_now} (most overdue by {summary.oldest_due_seconds:.0f} s)")
    click.echo(f"stuck in sending past their lease: {summary.stuck_sending}")
    if summary.lateness:
        p50, p99 = summary.lateness[0.5], summary.lateness[0.99]
        click.echo(
            f"sent in the last 15 min: {summary.recent_sent}, "
            f"due to handed over p50 {p50:.1f} s, p99 {p99:.1f} s"
        )
    else:
        click.echo("sent in the last 15 min: 0")
