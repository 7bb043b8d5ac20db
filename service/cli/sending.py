"""`peerline send` and `peerline status`: a text to a whole group, and what the outbox holds."""

from __future__ import annotations

import secrets
import sys
from collections import Counter

import click
from flask import current_app
from flask.cli import with_appcontext

from service.campaigns.wording import WordingError, check_template, word_for
from service.cli.common import audited, fail, find_group, now
from service.db import get_session
from service.messages.group_text import active_members, members_at_night, text_group
from service.messages.segments import SegmentCount, count_segments
from service.metrics import live, recent_lateness, totals
from service.models import Membership, OutboxState
from service.sending.dispatch import send_now


@click.command(
    "send",
    help="Text every active member of a group. The text may use {{ first_name }} (the group's "
    "name for each member) and {{ group }}; its cost in segments is shown before it goes. "
    "Members for whom it is night get it when their quiet hours end; consent is checked as "
    "each goes.",
)
@click.option("--group", "code", required=True)
@click.option("--key", default=None, help="A name for this send; the same key never sends twice.")
@click.option(
    "--at-night",
    is_flag=True,
    help="Send now even to members for whom it is night (you are asked to confirm).",
)
@click.option("--yes", is_flag=True, help="With --at-night: do not ask.")
@click.argument("text")
@with_appcontext
def send(code: str, key: str | None, at_night: bool, yes: bool, text: str) -> None:
    session = get_session()
    group = find_group(session, code)
    try:
        check_template(text, meeting=False)
    except WordingError as error:
        fail(f"not sent: {error}")
    moment = now()
    key = key or secrets.token_hex(8)

    def word(membership: Membership) -> str:
        return word_for(
            text, group=group, membership=membership, language=membership.language, now=moment
        )

    members = active_members(session, group)
    if members:
        # The costliest copy (the longest name) is what the coordinator needs to know.
        costliest = max((count_segments(word(m)) for _, m in members), key=_cost)
        click.echo(f"{group.join_code}: {costliest.summary()}")
    if at_night and not yes:
        asleep = members_at_night(session, group, moment)
        if asleep:
            click.confirm(
                f"It is night for {asleep} member(s) of {group.join_code} (quiet hours "
                f"{group.quiet_start:%H:%M}-{group.quiet_end:%H:%M} where they live). "
                "Text them now anyway?",
                abort=True,
            )
    queued = text_group(session, group, word, key=key, now=moment, at_night=at_night)
    audited(
        session,
        "group.send",
        group,
        key=key,
        queued=len(queued.rows),
        waiting=len(queued.waiting),
        at_night=at_night,
    )
    session.commit()
    if not queued.rows:
        click.echo(
            f"nothing to send: {group.join_code} has no active members not already sent {key}"
        )
        return
    waiting = (
        f"; {len(queued.waiting)} waiting for their morning (quiet hours "
        f"{group.quiet_start:%H:%M}-{group.quiet_end:%H:%M} where they live)"
        if queued.waiting
        else ""
    )
    if not queued.now:
        click.echo(f"{group.join_code}: nothing sent yet{waiting} (key {key})")
        return
    ids = [row.id for row in queued.now]
    rows = send_now(current_app._get_current_object(), ids)  # type: ignore[attr-defined]
    tally = Counter(row.state for row in rows)
    summary = ", ".join(f"{n} {state.value}" for state, n in sorted(tally.items()))
    click.echo(f"{group.join_code}: {summary}{waiting} (key {key})")
    if tally.get(OutboxState.FAILED) or tally.get(OutboxState.UNKNOWN):
        sys.exit(1)


def _cost(count: SegmentCount) -> tuple[int, int]:
    return count.segments, count.characters


@click.command(help="What the outbox holds: by state and kind, what is due, what is stuck.")
@with_appcontext
def status() -> None:
    session, moment = get_session(), now()
    click.echo("STATE\tKIND\tROWS")
    for (state, kind), n in sorted(totals(session).items()):
        click.echo(f"{state}\t{kind}\t{n}")
    outbox = live(session, moment)
    click.echo(f"due now: {outbox.due_now} (most overdue by {outbox.oldest_due_seconds:.0f} s)")
    click.echo(f"stuck in sending past their lease: {outbox.stuck_sending}")
    sent, lateness = recent_lateness(session, moment)
    if lateness:
        p50, p99 = lateness[0.5], lateness[0.99]
        click.echo(
            f"sent in the last 15 min: {sent}, due to handed over p50 {p50:.1f} s, p99 {p99:.1f} s"
        )
    else:
        click.echo("sent in the last 15 min: 0")
