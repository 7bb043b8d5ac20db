"""`peerline inbox`: the replies that need a human, read and answered."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.campaigns.wording import WordingError
from service.cli.common import audited, fail, find_group, now, settings
from service.conversation.inbox import (
    MAYBE_STOP_NOTE,
    InboxError,
    mark_handled,
    mark_read,
    may_ask_to_stop,
)
from service.conversation.inbox import messages as inbox_messages
from service.conversation.inbox import reply as inbox_answer
from service.db import get_session
from service.messages.segments import count_segments
from service.models import Group, InboundMessage, Participant
from service.people.accounts import AccountError, find_coordinator, set_daily_text
from service.people.participants import names_in
from service.phones import mask
from service.sending.dispatch import send_now


@click.group(
    invoke_without_command=True,
    help="What people wrote that needs a human, urgent first, then what may ask to stop; "
    "`read ID`, `reply ID TEXT`, `handled ID`.",
)
@click.option("--group", "code", help="Only this group's messages.")
@click.option("--unread", is_flag=True, help="Only messages nobody has read.")
@click.option("--show-phones", is_flag=True, help="Full numbers, to call someone back.")
@click.pass_context
@with_appcontext
def inbox(ctx: click.Context, code: str | None, unread: bool, show_phones: bool) -> None:
    if ctx.invoked_subcommand is not None:
        return
    session = get_session()
    groups = [find_group(session, code).id] if code else None
    found = inbox_messages(session, groups, unread_only=unread)
    if not found:
        click.echo("nothing waiting")
        return
    names = dict(session.execute(select(Group.id, Group.join_code)).all())
    people = {
        p.id: p
        for p in session.scalars(
            select(Participant).where(Participant.id.in_({m.participant_id for m in found}))
        )
    }
    known_as = names_in(session, {m.group_id for m in found if m.group_id is not None})
    click.echo("ID\tFLAGS\tREAD\tRECEIVED (UTC)\tGROUP\tFROM\tMESSAGE")
    for m in found:
        flags = ", ".join(
            flag
            for flag, shown in (("URGENT", m.urgent), ("MAYBE STOP", may_ask_to_stop(m)))
            if shown
        )
        person = people.get(m.participant_id) if m.participant_id else None
        phone = person.phone if person else m.from_phone
        who = (phone if show_phones else mask(phone)) if phone else "(erased)"
        if person and (name := known_as.get((person.id, m.group_id or 0))):
            who = f"{name} {who}"
        words = f"(removed after {settings().retention_days} days)" if m.body_removed_at else m.body
        click.echo(
            f"{m.id}\t{flags}\t{'read' if m.read else 'new'}\t"
            f"{m.received_at:%Y-%m-%d %H:%M}\t{names.get(m.group_id or 0, '-')}\t{who}\t{words}"
        )
    if any(may_ask_to_stop(m) for m in found):
        click.echo(f"\n{MAYBE_STOP_NOTE}")


def find_message(session: Session, message_id: int) -> InboundMessage:
    message = session.get(InboundMessage, message_id)
    if message is None:
        fail(f"no message {message_id} in the inbox")
    assert message is not None
    return message


@inbox.command("read", help="Mark a message read.")
@click.argument("message_id", type=int)
@with_appcontext
def inbox_read(message_id: int) -> None:
    session = get_session()
    message = find_message(session, message_id)
    mark_read(message)
    audited(session, "inbox.read", message)
    session.commit()
    click.echo(f"message {message_id} marked read")


@inbox.command("handled", help="Mark a message handled: it no longer waits for anyone.")
@click.argument("message_id", type=int)
@with_appcontext
def inbox_handled(message_id: int) -> None:
    session = get_session()
    message = find_message(session, message_id)
    mark_handled(message, now())
    audited(session, "inbox.handled", message)
    session.commit()
    click.echo(f"message {message_id} marked handled")


@inbox.command(
    "daily-text",
    help="Text a coordinator each day, on their own phone, how many replies wait (a count only).",
)
@click.argument("email")
@click.option("--on/--off", required=True, help="Turn the daily text on or off.")
@click.option("--phone", help="Their own phone (needed the first time it is turned on).")
@with_appcontext
def inbox_daily_text(email: str, on: bool, phone: str | None) -> None:
    session = get_session()
    try:
        coordinator = find_coordinator(session, email)
        set_daily_text(coordinator, on=on, phone=phone)
    except AccountError as error:
        session.rollback()
        fail(str(error))
        return
    audited(session, "coordinator.daily_text", coordinator)
    session.commit()
    where = f" to {mask(coordinator.phone)}" if coordinator.phone else ""
    click.echo(f"daily text for {coordinator.email}: {'on' if on else 'off'}{where}")


@inbox.command("reply", help="Answer a message by text; refused if they opted out.")
@click.argument("message_id", type=int)
@click.argument("text")
@with_appcontext
def inbox_reply(message_id: int, text: str) -> None:
    session = get_session()
    message = find_message(session, message_id)
    try:
        row = inbox_answer(session, message, text, now())
    except (InboxError, WordingError) as error:
        session.rollback()
        fail(f"not sent: {error}")
        return
    click.echo(f"reply to message {message_id}: {count_segments(row.body or '').summary()}")
    audited(session, "inbox.reply", message)
    session.commit()
    [sent] = send_now(current_app._get_current_object(), [row.id])  # type: ignore[attr-defined]
    click.echo(f"reply to message {message_id}: {sent.state.value}")
