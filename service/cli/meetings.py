"""`peerline meetings`, `headcount` and `attendance`: when a group meets, and who comes."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import click
from flask.cli import with_appcontext

from service.campaigns.headcount import attendance as past_meetings
from service.campaigns.headcount import headcounts
from service.campaigns.meeting_warnings import move_warnings, schedule_warnings
from service.campaigns.meetings import (
    MeetingError,
    NoMeetings,
    cancel_meeting,
    move_meeting,
    schedule_meetings,
    schedule_of_group,
    upcoming,
)
from service.campaigns.rules import describe
from service.cli.common import fail, find_group, now, option_of, parse_local
from service.db import get_session
from service.people import audit


def _meeting_refusal(error: MeetingError) -> str:
    if isinstance(error, NoMeetings):
        return f"{error}; see: peerline meetings schedule --help"
    if error.field is None:
        return str(error)
    hint = " (see meetings list)" if error.field == "key" else ""
    return f"{option_of(error.field)}: {error}{hint}"


def _warn(warnings: list[str]) -> None:
    """Say after the result what was kept as given but will not happen as it may seem."""
    for warning in warnings:
        click.echo(f"Warning: {warning}", err=True)


@click.group(help="A group's recurring meetings.")
def meetings() -> None:
    pass


@meetings.command("schedule", help="Set (or replace) when a group meets.")
@click.option("--group", "code", required=True)
@click.option(
    "--rule",
    required=True,
    help='RFC 5545 RRULE, e.g. "FREQ=WEEKLY;BYDAY=TU" (every Tuesday), '
    '"FREQ=WEEKLY;INTERVAL=2;BYDAY=TU" (every other), "FREQ=MONTHLY;BYDAY=1MO" (first Monday).',
)
@click.option("--first", required=True, help="The first meeting, local time: 2026-03-03 18:30")
@click.option("--duration", default=90, show_default=True, help="Minutes.")
@click.option("--location", default=None, help="Where, or a link.")
@with_appcontext
def meetings_schedule(
    code: str, rule: str, first: str, duration: int, location: str | None
) -> None:
    session = get_session()
    group = find_group(session, code)
    start = parse_local(first, "--first")
    moment = now()
    try:
        meeting, released = schedule_meetings(
            session, group, rule=rule, first=start, duration_minutes=duration,
            location=location, now=moment, actor=audit.command_line_actor(),
        )  # fmt: skip
    except MeetingError as error:
        fail(_meeting_refusal(error))
        return
    session.commit()
    click.echo(f"{group.join_code} meets: {meeting.rrule} from {start:%Y-%m-%d %H:%M} "
               f"{group.timezone}; {released} planned text(s) will be re-planned")  # fmt: skip
    _warn(schedule_warnings(meeting.rrule, start, group.timezone, moment))


@meetings.command("list", help="Upcoming meetings with their keys (for cancel and move).")
@click.option("--group", "code", required=True)
@click.option("--days", default=30, show_default=True)
@with_appcontext
def meetings_list(code: str, days: int) -> None:
    session = get_session()
    group = find_group(session, code)
    try:
        coming_up = upcoming(session, group, now(), days)
    except MeetingError as error:
        fail(_meeting_refusal(error))
        return
    zone = ZoneInfo(group.timezone)
    meeting = schedule_of_group(session, group)
    said = describe(meeting.rrule, meeting.first_start, now().astimezone(zone).date())
    click.echo(f"{group.join_code} meets {said} ({group.timezone} time)")
    click.echo("KEY\tWHEN (LOCAL)\tWHERE\tSTATUS\tCOMING\tNOT COMING")
    for one in coming_up:
        status = "cancelled" if one.cancelled else "moved" if one.moved else ""
        click.echo(
            f"{one.key}\t{one.starts_at.astimezone(zone):%a %Y-%m-%d %H:%M}\t"
            f"{one.location or ''}\t{status}\t{one.coming}\t{one.not_coming}"
        )


@meetings.command("cancel", help="Cancel one meeting; its reminders are not sent.")
@click.option("--group", "code", required=True)
@click.option("--meeting", "key", required=True, help="The meeting's key from meetings list.")
@with_appcontext
def meetings_cancel(code: str, key: str) -> None:
    session = get_session()
    group = find_group(session, code)
    try:
        released = cancel_meeting(session, group, key, now=now(), actor=audit.command_line_actor())
    except MeetingError as error:
        fail(_meeting_refusal(error))
        return
    session.commit()
    click.echo(f"meeting {key} of {group.join_code} cancelled; {released} reminder(s) withdrawn")


@meetings.command("move", help="Move one meeting to another time or place.")
@click.option("--group", "code", required=True)
@click.option("--meeting", "key", required=True, help="The meeting's key from meetings list.")
@click.option("--to", "to", default=None, help="New local start: 2026-03-05 19:00")
@click.option("--location", default=None)
@with_appcontext
def meetings_move(code: str, key: str, to: str | None, location: str | None) -> None:
    if to is None and location is None:
        fail("say where to move it: --to and/or --location")
    session = get_session()
    group = find_group(session, code)
    new_start = parse_local(to, "--to") if to is not None else None
    moment = now()
    try:
        released = move_meeting(
            session, group, key, to=new_start, location=location, now=moment,
            actor=audit.command_line_actor(),
        )  # fmt: skip
    except MeetingError as error:
        fail(_meeting_refusal(error))
        return
    session.commit()
    click.echo(
        f"meeting {key} of {group.join_code} moved; {released} reminder(s) will be re-planned"
    )
    if new_start is not None:
        _warn(move_warnings(new_start, group.timezone, moment))


@click.command("headcount", help="Who said they are coming to each upcoming meeting.")
@click.option("--group", "code", required=True)
@click.option("--days", default=14, show_default=True)
@with_appcontext
def headcount(code: str, days: int) -> None:
    session = get_session()
    group = find_group(session, code)
    try:
        schedule_of_group(session, group)  # a clear error when there are no meetings yet
    except NoMeetings as error:
        fail(_meeting_refusal(error))
    zone = ZoneInfo(group.timezone)
    for count in headcounts(session, group, now(), days) or []:
        click.echo(
            f"{count.starts_at.astimezone(zone):%a %Y-%m-%d %H:%M}  coming {count.coming}, "
            f"not coming {count.not_coming}, no answer {count.no_answer}  ({count.key})"
        )


@click.command("attendance", help="Who answered for each of the group's past meetings.")
@click.option("--group", "code", required=True)
@click.option("--weeks", default=8, show_default=True, type=click.IntRange(1, 520))
@with_appcontext
def attendance(code: str, weeks: int) -> None:
    session = get_session()
    group = find_group(session, code)
    try:
        schedule_of_group(session, group)
    except NoMeetings as error:
        fail(_meeting_refusal(error))
    meetings = past_meetings(session, group, now(), weeks) or []
    if not meetings:
        click.echo(f"no meetings of {group.join_code} in the last {weeks} week(s)")
    for meeting in meetings:
        when = f"{meeting.starts_at:%a %Y-%m-%d %H:%M}"
        if meeting.cancelled:
            click.echo(f"{when}  cancelled  ({meeting.key})")
            continue
        click.echo(
            f"{when}  coming {meeting.coming}, not coming {meeting.not_coming}, "
            f"no answer {meeting.no_answer}  ({meeting.key})"
        )
        for label, names, count in (
            ("coming", meeting.coming_names, meeting.coming),
            ("not coming", meeting.not_coming_names, meeting.not_coming),
            ("no answer", meeting.no_answer_names, meeting.no_answer),
        ):
            if count:
                unnamed = count - len(names)
                listed = names + ([f"{unnamed} without a name"] if unnamed else [])
                click.echo(f"    {label}: {', '.join(listed)}")
