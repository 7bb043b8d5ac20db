"""Coordinators' commands for meetings, campaigns and headcounts."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.campaign_wording import WordingError, check_template, render
from service.campaigns import Offset, OffsetError
from service.cli import audited, fail, find_group, now
from service.composer import schedule_of
from service.db import get_session
from service.headcount import answers_by_meeting, headcounts
from service.models import (
    Campaign,
    CampaignKind,
    CampaignStatus,
    Group,
    MeetingChange,
    MeetingSchedule,
    OutboxMessage,
)
from service.outbox import withdraw
from service.recurrence import Schedule, ScheduleError, occurrences, validate
from service.wording import LANGUAGES


def parse_local(value: str, option: str) -> datetime:
    try:
        return datetime.fromisoformat(value.strip().replace("T", " "))
    except ValueError:
        fail(f"{option}: {value!r} is not a date and time such as 2026-03-03 18:30")
        raise  # unreachable: fail() raises


def meeting_of(session: Session, group: Group) -> MeetingSchedule:
    meeting = session.scalar(select(MeetingSchedule).where(MeetingSchedule.group_id == group.id))
    if meeting is None:
        fail(f"{group.join_code} has no meetings yet; see: peerline meetings schedule --help")
    assert meeting is not None
    return meeting


# -- meetings -----------------------------------------------------------------------------------


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
    candidate = Schedule(
        rrule=rule.strip(),
        first_start=start,
        timezone=group.timezone,
        duration=timedelta(minutes=duration),
        location=location,
    )
    try:
        validate(candidate)
    except ScheduleError as error:
        fail(f"--rule: {error}")
    meeting = session.scalar(select(MeetingSchedule).where(MeetingSchedule.group_id == group.id))
    if meeting is None:
        meeting = MeetingSchedule(group_id=group.id)
        session.add(meeting)
    else:
        meeting.changes.clear()
    meeting.rrule, meeting.first_start = candidate.rrule, start
    meeting.duration_minutes, meeting.location = duration, location
    meeting.updated_at = now()
    campaign_ids = select(Campaign.id).where(Campaign.group_id == group.id)
    released = withdraw(
        session, OutboxMessage.campaign_id.in_(campaign_ids), "schedule changed", now()
    )
    audited(
        session,
        "meetings.schedule",
        group,
        rule=candidate.rrule,
        first=start.isoformat(),
    )
    session.commit()
    click.echo(f"{group.join_code} meets: {candidate.rrule} from {start:%Y-%m-%d %H:%M} "
               f"{group.timezone}; {released} planned text(s) will be re-planned")  # fmt: skip


@meetings.command("list", help="Upcoming meetings with their keys (for cancel and move).")
@click.option("--group", "code", required=True)
@click.option("--days", default=30, show_default=True)
@with_appcontext
def meetings_list(code: str, days: int) -> None:
    session = get_session()
    group = find_group(session, code)
    schedule, changes = schedule_of(group, meeting_of(session, group))
    start = now()
    zone = ZoneInfo(group.timezone)
    counts = answers_by_meeting(session, group.id)
    click.echo("KEY\tWHEN (LOCAL)\tWHERE\tSTATUS\tCOMING\tNOT COMING")
    for occurrence in occurrences(
        schedule, changes, start, start + timedelta(days=days), include_cancelled=True
    ):
        status = "cancelled" if occurrence.cancelled else "moved" if occurrence.moved else ""
        yes, no = counts.get(occurrence.key, (0, 0))
        click.echo(
            f"{occurrence.key}\t{occurrence.starts_at.astimezone(zone):%a %Y-%m-%d %H:%M}\t"
            f"{occurrence.location or ''}\t{status}\t{yes}\t{no}"
        )


def _change_for(session: Session, meeting: MeetingSchedule, key: str) -> MeetingChange:
    schedule_keys = {c.occurrence_key: c for c in meeting.changes}
    if key in schedule_keys:
        return schedule_keys[key]
    change = MeetingChange(schedule_id=meeting.id, occurrence_key=key, created_at=now())
    meeting.changes.append(change)
    return change


def _known_occurrence(group: Group, meeting: MeetingSchedule, key: str) -> None:
    schedule, changes = schedule_of(group, meeting)
    try:
        wall = datetime.strptime(key, "%Y%m%dT%H%M")
    except ValueError:
        fail(f"--meeting: {key!r} is not a meeting key such as 20260303T1830 (see meetings list)")
        return
    around = wall.replace(tzinfo=ZoneInfo(group.timezone))
    found = occurrences(
        schedule, [c for c in changes if c.occurrence_key != key], around - timedelta(days=1),
        around + timedelta(days=1), include_cancelled=True,
    )  # fmt: skip
    if key not in {o.key for o in found}:
        fail(f"--meeting: {key} is not one of {group.join_code}'s meetings (see meetings list)")


@meetings.command("cancel", help="Cancel one meeting; its reminders are not sent.")
@click.option("--group", "code", required=True)
@click.option("--meeting", "key", required=True, help="The meeting's key from meetings list.")
@with_appcontext
def meetings_cancel(code: str, key: str) -> None:
    session = get_session()
    group = find_group(session, code)
    meeting = meeting_of(session, group)
    _known_occurrence(group, meeting, key)
    _change_for(session, meeting, key).cancelled = True
    released = withdraw(session, OutboxMessage.occurrence_key == key, "meeting cancelled", now())
    audited(session, "meetings.cancel", group, meeting=key)
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
    meeting = meeting_of(session, group)
    _known_occurrence(group, meeting, key)
    change = _change_for(session, meeting, key)
    change.cancelled = False
    if to is not None:
        change.new_start = parse_local(to, "--to")
    if location is not None:
        change.new_location = location
    released = withdraw(session, OutboxMessage.occurrence_key == key, "meeting moved", now())
    audited(session, "meetings.move", group, meeting=key, to=to, location=location)
    session.commit()
    click.echo(
        f"meeting {key} of {group.join_code} moved; {released} reminder(s) will be re-planned"
    )


# -- campaigns ----------------------------------------------------------------------------------


@click.group(help="Reminders, encouragement and broadcasts.")
def campaigns() -> None:
    pass


def _wording(options: dict[str, str | None], *, meeting: bool) -> dict[str, str]:
    wording = {}
    for language in LANGUAGES:
        text = options.get(language)
        if text is None:
            continue
        try:
            check_template(text, meeting=meeting)
            sample = render(
                text,
                language=language,
                now=now(),
                first_name="Alexandra",
                group="Tuesday Circle",
                meeting_start=now() + timedelta(days=3) if meeting else None,
                zone="America/New_York" if meeting else None,
                location="Community Center, Room 5",
                rsvp=True,
            )
        except WordingError as error:
            fail(f"--wording-{language}: {error}")
            raise
        if sample.warning:
            click.echo(f"warning: --wording-{language}: {sample.warning}", err=True)
        wording[language] = text.strip()
    return wording


@campaigns.command("create", help="Create a campaign for a group.")
@click.option("--group", "code", required=True)
@click.option("--kind", type=click.Choice([k.value for k in CampaignKind]), required=True)
@click.option("--name", required=True)
@click.option("--offset", "offsets", multiple=True, help="Reminders: 2h, 30m, 1d@18:00 ...")
@click.option("--rsvp", is_flag=True, help="Reminders: ask C to confirm, N if not coming.")
@click.option("--wording-en", default=None, help="Your own English wording (see VARIABLES).")
@click.option("--wording-es", default=None, help="Your own Spanish wording.")
@click.option("--pool-en", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--pool-es", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--cadence", default=None, help='Encouragement: an RRULE, e.g. "FREQ=WEEKLY;BYDAY=WE"'
)
@click.option("--at", "at", default=None, help="Encouragement: local time, e.g. 12:00. "
              "Broadcast: local date and time, or 'now'.")  # fmt: skip
@click.option("--stages", default=None, help="Encouragement: days since joining, e.g. 1,3,7,14")
@click.option("--window-hours", default=12, show_default=True, help="Encouragement expiry.")
@with_appcontext
def campaigns_create(
    code: str, kind: str, name: str, offsets: tuple[str, ...], rsvp: bool,
    wording_en: str | None, wording_es: str | None, pool_en: Path | None, pool_es: Path | None,
    cadence: str | None, at: str | None, stages: str | None, window_hours: int,
) -> None:  # fmt: skip
    session = get_session()
    group = find_group(session, code)
    campaign = Campaign(group_id=group.id, kind=CampaignKind(kind), name=name, created_at=now())
    if campaign.kind is CampaignKind.REMINDER:
        if not offsets:
            fail("a reminder campaign needs at least one --offset, e.g. --offset 1d@18:00")
        try:
            campaign.offsets = [Offset.parse(o).text for o in offsets]
        except OffsetError as error:
            fail(f"--offset: {error}")
        meeting_of(session, group)
        campaign.rsvp = rsvp
        campaign.wording = _wording({"en": wording_en, "es": wording_es}, meeting=True)
    elif campaign.kind is CampaignKind.ENCOURAGEMENT:
        campaign.wording = {
            lang: "\n".join(_pool(path, lang))
            for lang, path in (("en", pool_en), ("es", pool_es))
            if path is not None
        }
        campaign.window_minutes = window_hours * 60
        campaign.cadence_time = _clock_time(at or "12:00")
        if (cadence is None) == (stages is None):
            fail("an encouragement campaign needs --cadence or --stages (one of them)")
        if cadence is not None:
            try:
                validate(Schedule(rrule=cadence, first_start=datetime(2026, 1, 1, 12),
                                  timezone=group.timezone))  # fmt: skip
            except ScheduleError as error:
                fail(f"--cadence: {error}")
            campaign.cadence = cadence.strip()
        else:
            campaign.stages = _stages(stages or "")
    else:
        campaign.wording = _wording({"en": wording_en, "es": wording_es}, meeting=False)
        if not campaign.wording:
            fail("a broadcast needs its words: --wording-en and/or --wording-es")
        if at and at.strip().lower() != "now":
            local = parse_local(at, "--at").replace(tzinfo=ZoneInfo(group.timezone))
            campaign.send_at = local
        else:
            campaign.send_at = now()
    session.add(campaign)
    audited(session, "campaigns.create", campaign, kind=kind, name=name)
    session.commit()
    click.echo(f"campaign {campaign.id} ({kind}) created for {group.join_code}")


def _pool(path: Path, language: str) -> list[str]:
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        fail(f"--pool-{language}: {path} has no messages (one per line)")
    for number, line in enumerate(lines, start=1):
        try:
            check_template(line, meeting=False)
        except WordingError as error:
            fail(f"--pool-{language}: line {number}: {error}")
    return lines


def _clock_time(value: str) -> time:
    try:
        return time.fromisoformat(value.strip())
    except ValueError:
        fail(f"--at: {value!r} is not a time of day such as 12:00")
        raise


def _stages(value: str) -> list[int]:
    try:
        days = sorted({int(part) for part in value.split(",") if part.strip()})
    except ValueError:
        fail(f"--stages: {value!r} is not a list of days such as 1,3,7,14")
        raise
    if not days or days[0] < 0 or days[-1] > 365:
        fail("--stages: days since joining, from 0 to 365")
    return days


@campaigns.command("list")
@click.option("--group", "code", default=None)
@with_appcontext
def campaigns_list(code: str | None) -> None:
    session = get_session()
    query = select(Campaign, Group).join(Group).order_by(Campaign.id)
    if code:
        query = query.where(Group.join_code == code.upper())
    click.echo("ID\tGROUP\tKIND\tSTATUS\tNAME\tWHEN")
    for campaign, group in session.execute(query).all():
        when = (
            ", ".join(campaign.offsets) if campaign.kind is CampaignKind.REMINDER
            else campaign.cadence or f"days {campaign.stages}"
            if campaign.kind is CampaignKind.ENCOURAGEMENT
            else f"{campaign.send_at:%Y-%m-%d %H:%M} UTC"
        )  # fmt: skip
        click.echo(
            f"{campaign.id}\t{group.join_code}\t{campaign.kind.value}\t{campaign.status.value}\t"
            f"{campaign.name}\t{when}"
        )


def _set_status(campaign_id: int, status: CampaignStatus) -> None:
    session = get_session()
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        fail(f"no campaign {campaign_id}; see: peerline campaigns list")
    assert campaign is not None
    campaign.status = status
    released = 0
    if status is CampaignStatus.PAUSED:
        released = withdraw(
            session, OutboxMessage.campaign_id == campaign.id, "campaign paused", now()
        )
    audited(session, f"campaigns.{status.value}", campaign)
    session.commit()
    click.echo(f"campaign {campaign.id} is {status.value}"
               + (f"; {released} planned text(s) withdrawn" if released else ""))  # fmt: skip


@campaigns.command("pause")
@click.argument("campaign_id", type=int)
@with_appcontext
def campaigns_pause(campaign_id: int) -> None:
    _set_status(campaign_id, CampaignStatus.PAUSED)


@campaigns.command("resume")
@click.argument("campaign_id", type=int)
@with_appcontext
def campaigns_resume(campaign_id: int) -> None:
    _set_status(campaign_id, CampaignStatus.ACTIVE)


# -- headcount ----------------------------------------------------------------------------------


@click.command("headcount", help="Who said they are coming to each upcoming meeting.")
@click.option("--group", "code", required=True)
@click.option("--days", default=14, show_default=True)
@with_appcontext
def headcount(code: str, days: int) -> None:
    session = get_session()
    group = find_group(session, code)
    meeting_of(session, group)  # a clear error when there are no meetings yet
    zone = ZoneInfo(group.timezone)
    for count in headcounts(session, group, now(), days) or []:
        click.echo(
            f"{count.starts_at.astimezone(zone):%a %Y-%m-%d %H:%M}  coming {count.coming}, "
            f"not coming {count.not_coming}, no answer {count.no_answer}  ({count.key})"
        )
