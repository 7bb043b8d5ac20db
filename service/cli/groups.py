"""`peerline groups`, `stats` and `quiet`: support groups, their settings and their numbers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select

from service.campaigns.quiet import MAX_WEEKS, gone_quiet
from service.campaigns.stats import group_stats
from service.campaigns.wording import split_topic_words
from service.cli.common import fail, find_group, now, option_of, settings
from service.conversation.groups import (
    DEFAULT_QUIET_HOURS,
    LABELS,
    Change,
    GroupChanges,
    GroupError,
    create_group,
    shown,
    update_group,
    warnings,
)
from service.db import get_session
from service.models import Group, Membership, MembershipStatus
from service.people import audit
from service.people.accounts import AccountError, find_coordinator
from service.phones import mask

F = TypeVar("F", bound=Callable[..., Any])


@click.group(help="Support groups.")
def groups() -> None:
    pass


# The options whose names differ from the fields the domain (and the API) names.
_OPTIONS = {"join_code": "--code", "voice_fallback": "--landline-fallback"}


def _refused(error: GroupError) -> None:
    if error.field is None:
        fail(str(error))
    option = _OPTIONS.get(error.field or "") or option_of(error.field or "")
    fail(f"{option}: {error}")


def _show(group: Group) -> None:
    """The group as it now is, then its warnings."""
    seen = shown(group)
    for field, label in LABELS.items():
        value = seen[field]
        if field == "language":
            value += " (for members who join from now on)"
        click.echo(f"  {label}: {value}")
    for warning in warnings(group):
        click.echo(
            f"Warning: {warning}; set one with: peerline groups update {group.join_code} "
            "--on-call-phone NUMBER"
        )


def _call_options(command: F) -> F:
    """How a group's calls behave: the options of both `groups update` and `groups calls`."""
    options = [
        click.option(
            "--landline-fallback/--no-landline-fallback",
            default=None,
            help="Call, instead of text, a participant whose number turns out to be a landline.",
        ),
        click.option(
            "--voicemail-details/--no-voicemail-details",
            default=None,
            help="Let a voicemail say the group's public name and the meeting place.",
        ),
        click.option(
            "--texts-between-meetings/--calls-between-meetings",
            "texts_between",
            default=None,
            help="Text, rather than call, encouragement and broadcasts to a participant who "
            "takes calls, when their number takes texts (a landline is always called).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@groups.command("create")
@click.option("--name", required=True, help="Internal name, seen only by coordinators.")
@click.option("--public-name", required=True, help="The only name participants see in texts.")
@click.option("--code", required=True, help="Join code participants text: 3-12 letters/digits.")
@click.option("--timezone", "zone", required=True, help="e.g. America/Chicago")
@click.option(
    "--language",
    type=click.Choice(["en", "es"]),
    default="en",
    show_default=True,
    help="The language members get when they join.",
)
@click.option("--coordinator", "email", required=True, help="The coordinator's email.")
@click.option(
    "--on-call-phone",
    default=None,
    help="Texted when an urgent message (crisis words) arrives; without one, nobody is.",
)
@click.option(
    "--quiet-hours",
    default=DEFAULT_QUIET_HOURS,
    show_default=True,
    help="No texts or calls then, where each participant lives.",
)
@click.option(
    "--keypad-code",
    default=None,
    help="What callers type: 4-8 digits, not 0 first; drawn if not given.",
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
    keypad_code: str | None,
) -> None:
    session = get_session()
    try:
        coordinator = find_coordinator(session, email)
    except AccountError as error:
        fail(str(error))
        return
    spec = GroupChanges(
        name=name,
        public_name=public_name,
        join_code=code,
        keypad_code=keypad_code,
        timezone=zone,
        language=language,
        quiet_hours=quiet_hours,
        on_call_phone=on_call_phone,
    )
    try:
        group, _ = create_group(
            session,
            coordinator,
            spec,
            region=settings().default_region,
            now=now(),
            actor=audit.command_line_actor(),
        )
    except GroupError as error:
        _refused(error)
        return
    session.commit()
    click.echo(
        f"group {group.join_code} created: participants text JOIN {group.join_code} to join, "
        f"or call and type {group.keypad_code}"
    )
    _show(group)


@groups.command("update")
@click.argument("group_code", metavar="CODE")
@click.option("--name", default=None, help="Internal name, seen only by coordinators.")
@click.option("--public-name", default=None, help="The only name participants see in texts.")
@click.option(
    "--code",
    "new_code",
    default=None,
    help="A new join code; the old one no longer joins anyone.",
)
@click.option("--keypad-code", default=None, help="What callers type: 4-8 digits, not 0 first.")
@click.option(
    "--timezone",
    "zone",
    default=None,
    help="e.g. America/Chicago; meetings keep their wall-clock time, and planned reminders move.",
)
@click.option(
    "--language",
    type=click.Choice(["en", "es"]),
    default=None,
    help="The language of members who join from now on; members already in keep theirs.",
)
@click.option("--quiet-hours", default=None, help="e.g. 21:00-08:00; planned texts move.")
@click.option(
    "--on-call-phone",
    default=None,
    help="Texted when an urgent message (crisis words) arrives.",
)
@click.option(
    "--no-on-call-phone",
    "no_on_call_phone",
    is_flag=True,
    default=False,
    help="Take the on-call phone away (urgent messages then alert nobody by text).",
)
@_call_options
@click.option(
    "--topic-words",
    default=None,
    help='Words a lock screen should not show, separated by commas, e.g. "grief, loss"; '
    'campaign wording with one is warned of. "" for none.',
)
@with_appcontext
def groups_update(
    group_code: str,
    name: str | None,
    public_name: str | None,
    new_code: str | None,
    keypad_code: str | None,
    zone: str | None,
    language: str | None,
    quiet_hours: str | None,
    on_call_phone: str | None,
    no_on_call_phone: bool,
    landline_fallback: bool | None,
    voicemail_details: bool | None,
    texts_between: bool | None,
    topic_words: str | None,
) -> None:
    """Correct a group: only the options given change."""
    if on_call_phone is not None and no_on_call_phone:
        fail("--on-call-phone and --no-on-call-phone: give one or the other")
    changes = GroupChanges(
        name=name,
        public_name=public_name,
        join_code=new_code,
        keypad_code=keypad_code,
        timezone=zone,
        language=language,
        quiet_hours=quiet_hours,
        on_call_phone="" if no_on_call_phone else on_call_phone,
        voice_fallback=landline_fallback,
        voicemail_details=voicemail_details,
        texts_between_meetings_to_callers=texts_between,
        topic_words=None if topic_words is None else split_topic_words(topic_words),
    )
    group, changed = _update(group_code, changes)
    if changed:
        click.echo(f"{group.join_code} changed:")
        for change in changed:
            click.echo(f"  {change}")
    else:
        click.echo(f"{group.join_code}: nothing changed")
    if {"timezone", "quiet_hours"} & {c.field for c in changed}:
        click.echo("Planned texts and calls move at the next planning tick.")
    click.echo(f"{group.join_code} now:")
    _show(group)


def _update(code: str, changes: GroupChanges) -> tuple[Group, list[Change]]:
    """Change the group with this join code and commit, or fail saying which option is wrong."""
    session = get_session()
    group = find_group(session, code)
    try:
        changed, _ = update_group(
            session,
            group,
            changes,
            region=settings().default_region,
            now=now(),
            actor=audit.command_line_actor(),
        )
    except GroupError as error:
        _refused(error)
        raise  # unreachable: _refused() raises
    session.commit()
    return group, changed


@groups.command("quiet-hours", help="Change when a group's participants get no texts or calls.")
@click.option("--group", "code", required=True)
@click.argument("hours")
@with_appcontext
def groups_quiet_hours(code: str, hours: str) -> None:
    group, _ = _update(code, GroupChanges(quiet_hours=hours))
    click.echo(
        f"{group.join_code}: quiet from {group.quiet_start:%H:%M} to {group.quiet_end:%H:%M} "
        "where each participant lives; planned texts move at the next planning tick"
    )


@groups.command("calls", help="How a group's reminder calls behave.")
@click.option("--group", "code", required=True)
@_call_options
@with_appcontext
def groups_calls(
    code: str,
    landline_fallback: bool | None,
    voicemail_details: bool | None,
    texts_between: bool | None,
) -> None:
    changes = GroupChanges(
        voice_fallback=landline_fallback,
        voicemail_details=voicemail_details,
        texts_between_meetings_to_callers=texts_between,
    )
    group, _ = _update(code, changes)
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
    click.echo("CODE\tKEYPAD\tNAME\tPUBLIC NAME\tTIME ZONE\tLANG\tACTIVE\tON-CALL PHONE")
    for g in rows:
        # A group whose urgent messages would alert nobody stands out.
        on_call = mask(g.on_call_phone) if g.on_call_phone else "NONE: urgent texts alert nobody"
        click.echo(
            f"{g.join_code}\t{g.keypad_code or '-'}\t{g.name}\t{g.public_name}\t{g.timezone}\t"
            f"{g.language}\t{counts.get(g.id, 0)}\t{on_call}"
        )


@click.command(help="What a group's texts and calls came to over the last days.")
@click.option("--group", "code", required=True)
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 3660))
@with_appcontext
def stats(code: str, days: int) -> None:
    session = get_session()
    group = find_group(session, code)
    until = now()
    counts = group_stats(session, group, until - timedelta(days=days), until)
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


@click.command(help="Members who have neither answered a meeting nor texted for some weeks.")
@click.option("--group", "code", required=True)
@click.option("--weeks", default=4, show_default=True, type=click.IntRange(1, MAX_WEEKS))
@with_appcontext
def quiet(code: str, weeks: int) -> None:
    session = get_session()
    group = find_group(session, code)
    members = gone_quiet(session, group.id, weeks, now())
    if not members:
        click.echo(f"{group.join_code}: nobody has been quiet for {weeks} week(s)")
        return
    click.echo("NAME\tPHONE\tJOINED (UTC)\tLAST HEARD FROM (UTC)")
    for member in members:
        heard = "never" if member.last_heard is None else f"{member.last_heard:%Y-%m-%d}"
        click.echo(
            f"{member.name or '-'}\t{mask(member.phone)}\t{member.joined_at:%Y-%m-%d}\t{heard}"
        )
