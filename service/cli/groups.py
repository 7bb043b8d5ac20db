"""`peerline groups` and `peerline stats`: support groups, their settings and their numbers."""

from __future__ import annotations

from datetime import time, timedelta

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.campaigns.stats import group_stats
from service.cli.common import audited, fail, find_group, now, settings, valid_zone
from service.db import get_session
from service.models import Coordinator, Group, Membership, MembershipStatus, new_keypad_code
from service.phones import InvalidPhone, normalize


@click.group(help="Support groups.")
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
@click.option(
    "--texts-between-meetings/--calls-between-meetings",
    "texts_between",
    default=None,
    help="Text, rather than call, encouragement and broadcasts to a participant who takes "
    "calls, when their number takes texts (a landline is always called).",
)
@with_appcontext
def groups_calls(
    code: str,
    landline_fallback: bool | None,
    voicemail_details: bool | None,
    texts_between: bool | None,
) -> None:
    session = get_session()
    group = find_group(session, code)
    if landline_fallback is not None:
        group.voice_fallback = landline_fallback
    if voicemail_details is not None:
        group.voicemail_details = voicemail_details
    if texts_between is not None:
        group.texts_between_meetings_to_callers = texts_between
    audited(
        session,
        "group.calls",
        group,
        landline_fallback=group.voice_fallback,
        voicemail_details=group.voicemail_details,
        texts_between_meetings=group.texts_between_meetings_to_callers,
    )
    session.commit()
    click.echo(
        f"{group.join_code}: keypad code {group.keypad_code}; landline fallback "
        f"{'on' if group.voice_fallback else 'off'}; voicemail "
        f"{'names the group and place' if group.voicemail_details else 'names no group or place'}"
        "; between meetings, callers get "
        f"{'texts (landlines: calls)' if group.texts_between_meetings_to_callers else 'calls'}"
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


@click.command(help="What a group's texts and calls came to over the last days.")
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
