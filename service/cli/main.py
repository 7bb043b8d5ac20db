"""Coordinators' command line: thin shells around the domain."""

from __future__ import annotations

import os
import secrets
import sys
from collections import Counter
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from alembic import command
from alembic.config import Config
from dotenv import load_dotenv
from flask import current_app
from flask.cli import ScriptInfo, with_appcontext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service import accounts, audit, simulator
from service.clock import app_clock
from service.config import ConfigError, Settings
from service.db import get_session
from service.dispatch import send_now
from service.erasure import erase_participant
from service.inbox import InboxError, mark_read
from service.inbox import messages as inbox_messages
from service.inbox import reply as inbox_answer
from service.metrics import summarize
from service.models import (
    ApiToken,
    Base,
    Channel,
    Coordinator,
    Group,
    InboundMessage,
    Membership,
    MembershipStatus,
    OutboxKind,
    OutboxState,
    Participant,
    Role,
    new_keypad_code,
)
from service.outbox import enqueue
from service.participants import Details, ParticipantError, enrol
from service.phones import InvalidPhone, mask, normalize
from service.stats import group_stats

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


@click.group(help="Peerline: SMS and voice reminders for peer support groups.")
@click.version_option(package_name="peerline")
@click.pass_context
def cli(ctx: click.Context) -> None:
    if ctx.obj is None:
        from service.app import create_app

        ctx.obj = ScriptInfo(create_app=create_app, set_debug_flag=False)


def main() -> None:
    """Run the command line, turning configuration errors into one clear line."""
    load_dotenv(Path.cwd() / ".env")
    try:
        cli.main(standalone_mode=True)
    except ConfigError as error:
        click.echo(f"peerline: configuration error: {error}", err=True)
        sys.exit(2)


def now() -> datetime:
    return app_clock()()


def audited(session: Session, action: str, target: Base | None = None, **details: Any) -> None:
    """Record a coordinator's command in the audit log, in the command's transaction."""
    session.flush()
    audit.record(
        session,
        actor=audit.command_line_actor(),
        action=action,
        now=now(),
        target_type=type(target).__name__.lower() if target is not None else None,
        target_id=getattr(target, "id", None),
        **details,
    )


def settings() -> Settings:
    value: Settings = current_app.extensions["peerline.settings"]
    return value


def fail(message: str) -> None:
    raise click.ClickException(message)


def find_group(session: Session, code: str) -> Group:
    group = session.scalar(select(Group).where(Group.join_code == code.upper()))
    if group is None:
        fail(f"no group has the code {code.upper()}; see: peerline groups list")
    assert group is not None
    return group


def valid_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"{value!r} is not a time zone; use a name such as America/New_York")
    return value


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


# -- database -----------------------------------------------------------------------------------


@cli.group(help="The database.")
def db() -> None:
    pass


def upgrade_database(url: str) -> None:
    command.upgrade(alembic_config(url), "head")


@db.command("upgrade", help="Create or migrate the database to the latest schema.")
@with_appcontext
def db_upgrade() -> None:
    upgrade_database(settings().database_url)
    click.echo("database is up to date")


@cli.command(
    help="Serve the web app with gunicorn (no scheduler: run `peerline worker` beside it)."
)
@click.option("--bind", default="127.0.0.1:8000", show_default=True)
@click.option("--workers", default=2, show_default=True)
@click.option("--threads", default=4, show_default=True)
def web(bind: str, workers: int, threads: int) -> None:
    Settings.from_env()  # a bad setting stops us here, in one line, not in every worker
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        bind,
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--access-logfile",
        "-",
        "service.app:create_app()",
    ]
    os.execv(sys.executable, argv)  # noqa: S606 - our own interpreter, fixed arguments


# -- coordinators -------------------------------------------------------------------------------


@cli.group(help="Coordinators: the people who run groups.")
def coordinators() -> None:
    pass


def read_password() -> str:
    """The password piped in on stdin, so it shows in no shell history or process list."""
    password = sys.stdin.read().rstrip("\r\n")
    if not password:
        fail("--password-stdin: nothing came in on stdin")
    return password


def find_coordinator(session: Session, email: str) -> Coordinator:
    try:
        return accounts.find_coordinator(session, email)
    except accounts.AccountError as error:
        fail(str(error))
        raise


@coordinators.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    default=Role.COORDINATOR.value,
    show_default=True,
    help="Admins see every group; coordinators see the groups they run.",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read a password from stdin; without one, only API tokens let them in.",
)
@with_appcontext
def coordinators_create(email: str, name: str, role: str, password_stdin: bool) -> None:
    session = get_session()
    password = read_password() if password_stdin else None
    try:
        coordinator = accounts.create_coordinator(
            session, email=email, name=name, role=Role(role), password=password, now=now()
        )
    except accounts.AccountError as error:
        fail(str(error))
        return
    audited(session, "coordinator.create", coordinator, role=role, password=password is not None)
    session.commit()
    click.echo(f"coordinator {coordinator.email} created ({role})")
    if password is None:
        click.echo(
            "no password yet: give them an API token (peerline tokens create), or set one with "
            "peerline coordinators password"
        )


@coordinators.command("list")
@with_appcontext
def coordinators_list() -> None:
    session = get_session()
    counts = dict(
        session.execute(
            select(Group.coordinator_id, func.count()).group_by(Group.coordinator_id)
        ).all()
    )
    moment = now()
    click.echo("EMAIL\tNAME\tROLE\tGROUPS\tPASSWORD\tSTATUS")
    for c in session.scalars(select(Coordinator).order_by(Coordinator.email)):
        if c.disabled:
            state = "disabled"
        elif accounts.is_locked(c, moment):
            state = f"locked until {c.locked_until:%Y-%m-%d %H:%M} UTC"
        else:
            state = "active"
        click.echo(
            f"{c.email}\t{c.name}\t{c.role.value}\t{counts.get(c.id, 0)}\t"
            f"{'set' if c.password_hash else 'none'}\t{state}"
        )


@coordinators.command("password", help="Set a coordinator's password, read from stdin.")
@click.option("--email", required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@with_appcontext
def coordinators_password(email: str, password_stdin: bool) -> None:
    if not password_stdin:
        fail("pipe the password in and say so with --password-stdin")
    session = get_session()
    coordinator = find_coordinator(session, email)
    try:
        accounts.set_password(coordinator, read_password())
    except accounts.AccountError as error:
        fail(str(error))
    audited(session, "coordinator.password", coordinator)
    session.commit()
    click.echo(f"password set for {coordinator.email}")


@coordinators.command("unlock", help="Let a coordinator locked out by wrong passwords try again.")
@click.option("--email", required=True)
@with_appcontext
def coordinators_unlock(email: str) -> None:
    session = get_session()
    coordinator = find_coordinator(session, email)
    accounts.unlock(coordinator)
    audited(session, "coordinator.unlock", coordinator)
    session.commit()
    click.echo(f"{coordinator.email} unlocked")


@coordinators.command("disable", help="Shut a coordinator out: password and API tokens stop.")
@click.option("--email", required=True)
@with_appcontext
def coordinators_disable(email: str) -> None:
    session = get_session()
    coordinator = find_coordinator(session, email)
    accounts.disable(coordinator)
    audited(session, "coordinator.disable", coordinator)
    session.commit()
    click.echo(
        f"{coordinator.email} disabled: their password and API tokens no longer work; "
        "their groups stay as they are"
    )


# -- tokens -------------------------------------------------------------------------------------


@cli.group(help="API tokens: how coordinators' programs reach the REST API.")
def tokens() -> None:
    pass


@tokens.command("create", help="Issue a token; it is shown once and never again.")
@click.option("--coordinator", "email", required=True, help="Whose token: their email.")
@click.option("--name", required=True, help="What it is for, e.g. 'laptop' or 'reporting'.")
@with_appcontext
def tokens_create(email: str, name: str) -> None:
    session = get_session()
    coordinator = find_coordinator(session, email)
    try:
        token, plain = accounts.issue_token(session, coordinator, name, now())
    except accounts.AccountError as error:
        fail(str(error))
        return
    audited(session, "token.create", token, coordinator=coordinator.email, name=token.name)
    session.commit()
    click.echo(f"token {token.id} ({token.name}) for {coordinator.email}:")
    click.echo(plain)
    click.echo("Copy it now: it will not be shown again.")


def when(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M}"


@tokens.command("list")
@click.option("--coordinator", "email", default=None, help="Only this coordinator's tokens.")
@with_appcontext
def tokens_list(email: str | None) -> None:
    session = get_session()
    query = select(ApiToken, Coordinator.email).join(ApiToken.coordinator).order_by(ApiToken.id)
    if email is not None:
        query = query.where(ApiToken.coordinator_id == find_coordinator(session, email).id)
    click.echo("ID\tCOORDINATOR\tNAME\tPREFIX\tCREATED (UTC)\tLAST USED\tREVOKED")
    for token, owner in session.execute(query):
        click.echo(
            f"{token.id}\t{owner}\t{token.name}\t{token.prefix}\t{when(token.created_at)}\t"
            f"{when(token.last_used_at)}\t{when(token.revoked_at)}"
        )


@tokens.command("revoke", help="Stop a token working, at once.")
@click.argument("token_id", metavar="ID", type=int)
@with_appcontext
def tokens_revoke(token_id: int) -> None:
    session = get_session()
    try:
        token = accounts.revoke_token(session, token_id, now())
    except accounts.AccountError as error:
        fail(str(error))
        return
    audited(session, "token.revoke", token, coordinator=token.coordinator.email, name=token.name)
    session.commit()
    click.echo(
        f"token {token.id} ({token.name}, {token.coordinator.email}) revoked "
        f"at {when(token.revoked_at)} UTC"
    )


# -- groups -------------------------------------------------------------------------------------


@cli.group(help="Support groups.")
def groups() -> None:
    pass


@groups.command("create")
@click.option("--name", required=True, help="Internal name, seen only by coordinators.")
@click.option("--public-name", required=True, help="The only name participants see in texts.")
@click.option("--code", required=True, help="Join code participants text: 3-12 letters/digits.")
@click.option("--timezone", "zone", required=True, help="e.g. America/Chicago")
@click.option("--language", type=click.Choice(["en", "es"]), default="en", show_default=True)
@click.option("--coordinator", "email", required=True, help="The coordinator's email.")
@click.option("--on-call-phone", default=None, help="Texted when an urgent message arrives.")
@click.option(
    "--quiet-hours",
    default="21:00-08:00",
    show_default=True,
    help="No texts or calls then, where each participant lives.",
)
@with_appcontext
def groups_create(
    name: str,
    public_name: str,
    code: str,
    zone: str,
    language: str,
    email: str,
    on_call_phone: str | None,
    quiet_hours: str,
) -> None:
    session = get_session()
    code = code.strip().upper()
    if not code.isalnum() or not 3 <= len(code) <= 12 or not code.isascii():
        fail("--code must be 3 to 12 letters or digits")
    if session.scalar(select(Group.id).where(Group.join_code == code)):
        fail(f"the code {code} is taken by another group")
    coordinator = session.scalar(select(Coordinator).where(Coordinator.email == email.lower()))
    if coordinator is None:
        fail(f"no coordinator {email}; create one with: peerline coordinators create")
    assert coordinator is not None
    on_call = None
    if on_call_phone:
        try:
            on_call = normalize(on_call_phone, settings().default_region)
        except InvalidPhone as error:
            fail(f"--on-call-phone: {error}")
    quiet_start, quiet_end = parse_quiet_hours(quiet_hours)
    group = Group(
        coordinator_id=coordinator.id,
        name=name,
        public_name=public_name,
        join_code=code,
        timezone=valid_zone(zone),
        language=language,
        on_call_phone=on_call,
        quiet_start=quiet_start,
        quiet_end=quiet_end,
        keypad_code=unused_keypad_code(session),
        created_at=now(),
    )
    session.add(group)
    audited(session, "group.create", group, code=code)
    session.commit()
    click.echo(
        f"group {code} created: participants text JOIN {code} to join, "
        f"or call and type {group.keypad_code}"
    )


def unused_keypad_code(session: Session) -> str:
    """A keypad code no other group has (900,000 to choose from: a clash is rare, not never)."""
    taken = set(session.scalars(select(Group.keypad_code).where(Group.keypad_code.is_not(None))))
    code = new_keypad_code()
    while code in taken:
        code = new_keypad_code()
    return code


def parse_quiet_hours(value: str) -> tuple[time, time]:
    try:
        start, end = (time.fromisoformat(part.strip()) for part in value.split("-"))
    except ValueError:
        fail(f"--quiet-hours: {value!r} is not a range such as 21:00-08:00")
        raise
    return start, end


@groups.command("quiet-hours", help="Change when a group's participants get no texts or calls.")
@click.option("--group", "code", required=True)
@click.argument("hours")
@with_appcontext
def groups_quiet_hours(code: str, hours: str) -> None:
    session = get_session()
    group = find_group(session, code)
    group.quiet_start, group.quiet_end = parse_quiet_hours(hours)
    audited(session, "group.quiet_hours", group, hours=hours)
    session.commit()
    click.echo(
        f"{group.join_code}: quiet from {group.quiet_start:%H:%M} to {group.quiet_end:%H:%M} "
        "where each participant lives; planned texts move at the next planning tick"
    )


@groups.command("calls", help="How a group's reminder calls behave.")
@click.option("--group", "code", required=True)
@click.option(
    "--landline-fallback/--no-landline-fallback",
    default=None,
    help="Call, instead of text, a participant whose number turns out to be a landline.",
)
@click.option(
    "--voicemail-details/--no-voicemail-details",
    default=None,
    help="Let a voicemail say the group's public name and the meeting place.",
)
@with_appcontext
def groups_calls(code: str, landline_fallback: bool | None, voicemail_details: bool | None) -> None:
    session = get_session()
    group = find_group(session, code)
    if landline_fallback is not None:
        group.voice_fallback = landline_fallback
    if voicemail_details is not None:
        group.voicemail_details = voicemail_details
    audited(
        session,
        "group.calls",
        group,
        landline_fallback=group.voice_fallback,
        voicemail_details=group.voicemail_details,
    )
    session.commit()
    click.echo(
        f"{group.join_code}: keypad code {group.keypad_code}; landline fallback "
        f"{'on' if group.voice_fallback else 'off'}; voicemail "
        f"{'names the group and place' if group.voicemail_details else 'names no group or place'}"
    )


@groups.command("list")
@with_appcontext
def groups_list() -> None:
    session = get_session()
    counts = dict(
        session.execute(
            select(Membership.group_id, func.count())
            .where(Membership.status == MembershipStatus.ACTIVE)
            .group_by(Membership.group_id)
        ).all()
    )
    rows = session.scalars(select(Group).order_by(Group.join_code))
    click.echo("CODE\tKEYPAD\tNAME\tPUBLIC NAME\tTIME ZONE\tLANG\tACTIVE")
    for g in rows:
        click.echo(
            f"{g.join_code}\t{g.keypad_code or '-'}\t{g.name}\t{g.public_name}\t{g.timezone}\t"
            f"{g.language}\t{counts.get(g.id, 0)}"
        )


# -- participants -------------------------------------------------------------------------------


@cli.group(help="Participants and their memberships.")
def participants() -> None:
    pass


@participants.command("add")
@click.option("--phone", required=True)
@click.option("--group", "code", required=True, help="The group's join code.")
@click.option("--name", default=None)
@click.option("--language", type=click.Choice(["en", "es"]), default=None)
@click.option("--timezone", "zone", default=None, help="Defaults to the group's.")
@click.option("--channel", type=click.Choice([c.value for c in Channel]), default="sms")
@click.option(
    "--consented",
    "consent_note",
    default=None,
    help="Record prior written consent (say where it is kept); otherwise they are invited to "
    "reply YES.",
)
@with_appcontext
def participants_add(
    phone: str,
    code: str,
    name: str | None,
    language: str | None,
    zone: str | None,
    channel: str,
    consent_note: str | None,
) -> None:
    config = settings()
    session = get_session()
    try:
        number = normalize(phone, config.default_region)
    except InvalidPhone as error:
        fail(f"--phone: {error}")
        return
    group = find_group(session, code)
    try:
        enrolled = enrol(
            session,
            group,
            number,
            Details(name=name, language=language, timezone=zone, channel=Channel(channel)),
            consent_note=consent_note,
            secret_key=config.secret_key,
            wording=current_app.extensions["peerline.wording"],
            now=now(),
            actor=audit.command_line_actor(),
        )
    except ParticipantError as error:
        option = {"consent_note": "consented"}.get(error.field or "", error.field)
        fail(f"--{option}: {error}")
        return
    session.commit()
    if enrolled.opted_out:
        click.echo(
            f"{mask(number)} has opted out; added as pending. Only they can opt back in "
            "(by texting START or JOIN)."
        )
        return
    click.echo(f"{mask(number)} is {enrolled.membership.status.value} in {group.join_code}")
    if enrolled.invitation is not None:
        send_now(current_app._get_current_object(), [enrolled.invitation.id])  # type: ignore[attr-defined]
        click.echo("invited by text to reply YES")


@participants.command(
    "erase", help="Forget a person: number, name and words go; counts and opt-outs stay."
)
@click.option("--phone", required=True)
@click.option("--yes", is_flag=True, help="Do it without asking.")
@with_appcontext
def participants_erase(phone: str, yes: bool) -> None:
    session = get_session()
    try:
        number = normalize(phone, settings().default_region)
    except InvalidPhone as error:
        fail(f"--phone: {error}")
        return
    participant = session.scalar(select(Participant).where(Participant.phone == number))
    if participant is None:
        fail(f"no participant has the number {mask(number)}")
        return
    if not yes:
        click.confirm(f"Erase {mask(number)} for good?", abort=True)
    audited(session, "participant.erase", participant)
    erased = erase_participant(session, participant, now())
    session.commit()
    click.echo(
        f"{mask(number)} erased: {erased.texts_out} texts to them and {erased.texts_in} from "
        f"them kept without words or number; {erased.ledger_entries} consent records kept "
        "as a keyed hash"
    )


@participants.command("list")
@click.option("--group", "code", default=None)
@click.option("--show-phones", is_flag=True, help="Show full numbers instead of masked ones.")
@with_appcontext
def participants_list(code: str | None, show_phones: bool) -> None:
    session = get_session()
    query = select(Participant, Membership).join(Membership).order_by(Participant.id)
    if code:
        query = query.where(Membership.group_id == find_group(session, code).id)
    click.echo("ID\tPHONE\tNAME\tGROUP\tMEMBERSHIP\tCONSENT\tCHANNEL")
    for participant, membership in session.execute(query):
        phone = participant.phone if show_phones else mask(participant.phone)
        click.echo(
            f"{participant.id}\t{phone}\t{participant.name or ''}\t{membership.group.join_code}\t"
            f"{membership.status.value}\t{participant.consent.value}\t{participant.channel.value}"
        )


# -- sending ------------------------------------------------------------------------------------


@cli.command(
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


@cli.group(
    invoke_without_command=True,
    help="What people wrote that needs a human, urgent first; `read ID`, `reply ID TEXT`.",
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
    click.echo("ID\tURGENT\tREAD\tRECEIVED (UTC)\tGROUP\tFROM\tMESSAGE")
    for m in found:
        person = people.get(m.participant_id) if m.participant_id else None
        phone = person.phone if person else m.from_phone
        who = (phone if show_phones else mask(phone)) if phone else "(erased)"
        if person and person.name:
            who = f"{person.name} {who}"
        click.echo(
            f"{m.id}\t{'URGENT' if m.urgent else ''}\t{'read' if m.read else 'new'}\t"
            f"{m.received_at:%Y-%m-%d %H:%M}\t{names.get(m.group_id or 0, '-')}\t{who}\t{m.body}"
        )


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


@inbox.command("reply", help="Answer a message by text; refused if they opted out.")
@click.argument("message_id", type=int)
@click.argument("text")
@with_appcontext
def inbox_reply(message_id: int, text: str) -> None:
    session = get_session()
    message = find_message(session, message_id)
    try:
        row = inbox_answer(session, message, text, now())
    except InboxError as error:
        session.rollback()
        fail(f"not sent: {error}")
        return
    audited(session, "inbox.reply", message)
    session.commit()
    [sent] = send_now(current_app._get_current_object(), [row.id])  # type: ignore[attr-defined]
    click.echo(f"reply to message {message_id}: {sent.state.value}")


@cli.command(help="What the outbox holds: by state and kind, what is due, what is stuck.")
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


@cli.command(help="What a group's texts and calls came to over the last days.")
@click.option("--group", "code", required=True)
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 3660))
@with_appcontext
def stats(code: str, days: int) -> None:
    session = get_session()
    group = find_group(session, code)
    until = now()
    counts = group_stats(session, group.id, until - timedelta(days=days), until)
    click.echo(f"{group.join_code}, the last {days} day(s):")
    for label, n in (
        ("sent", counts.sent),
        ("delivered", counts.delivered),
        ("failed or undelivered", counts.failed),
        ("held back when due (no consent, paused, ...)", counts.suppressed),
        ("expired (too late to be useful)", counts.expired),
        ("members who opted out", counts.opted_out),
        ("coming", counts.confirmations),
        ("not coming", counts.declines),
    ):
        click.echo(f"  {label}: {n:,}")


@cli.command(
    "simulate", help="Text a running Peerline as a participant (demo), signed as Twilio signs."
)
@click.option("--url", default="http://127.0.0.1:5000", show_default=True)
@click.option("--from", "sender", required=True, help="The participant's phone.")
@click.argument("text")
def simulate(url: str, sender: str, text: str) -> None:
    config = Settings.from_env(mode="demo")
    assert config.webhook_token is not None
    try:
        number = normalize(sender, config.default_region)
    except InvalidPhone as error:
        fail(f"--from: {error}")
        return
    try:
        replies = simulator.text_service(url, config.webhook_token, number, text)
    except simulator.SimulatorError as error:
        fail(str(error))
        return
    for reply in replies:
        click.echo(f"< {reply}")
    if not replies:
        click.echo("(no reply)")


@cli.command(
    "simulate-call",
    help="Be a participant on the phone with a running Peerline (demo): call its number, or "
    "answer a reminder call the console printed, and press keys.",
)
@click.option("--url", default="http://127.0.0.1:5000", show_default=True)
@click.option("--from", "sender", help="The participant's phone (to call Peerline's number).")
@click.option("--answer", "answer_url", help="Answer this reminder call (its URL as printed).")
@click.option("--call-sid", help="The SID of the call to answer, as printed with it.")
@click.option("--machine", is_flag=True, help="Let an answering machine take the call.")
@click.option(
    "--keys",
    help="Keys to press in turn, comma-separated ('-' stays silent); without it, you are asked.",
)
def simulate_call(
    url: str,
    sender: str | None,
    answer_url: str | None,
    call_sid: str | None,
    machine: bool,
    keys: str | None,
) -> None:
    config = Settings.from_env(mode="demo")
    assert config.webhook_token is not None
    if sender is None and answer_url is None:
        fail("say who is calling (--from) or which call to answer (--answer)")
        return
    try:
        number = normalize(sender, config.default_region) if sender else "+15005550100"
    except InvalidPhone as error:
        fail(f"--from: {error}")
        return
    phone = simulator.CallSimulator(url, config.webhook_token, number, call_sid=call_sid)
    presses = [k.strip() for k in keys.split(",")] if keys is not None else None
    try:
        step = phone.answer(answer_url, machine=machine) if answer_url else phone.dial()
        while True:
            for line in step.said:
                click.echo(f"< {line}")
            if step.action is None:
                click.echo("(the call ended)")
                return
            if presses is None:
                digits = click.prompt(
                    "keys (Enter: silence, q: hang up)", default="", show_default=False
                )
            elif presses:
                digits = presses.pop(0)
            else:
                digits = "q"
            if digits.strip().lower() == "q":
                click.echo("(you hung up)")
                return
            shown = digits.strip() if digits.strip() not in ("", "-") else "(silence)"
            click.echo(f"> {shown}")
            step = phone.press(step, None if shown == "(silence)" else digits.strip())
    except simulator.SimulatorError as error:
        fail(str(error))


def _register_campaign_commands() -> None:
    # They live in their own module, which imports this one's helpers.
    from service import cli_campaigns, cli_import

    for group in (cli_campaigns.meetings, cli_campaigns.campaigns, cli_campaigns.headcount):
        cli.add_command(group)
    cli.add_command(cli_import.import_roster)


_register_campaign_commands()
