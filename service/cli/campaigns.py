"""`peerline campaigns` and `peerline preview`: reminders, encouragement and broadcasts, and
exactly what they will send."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.campaigns.campaigns import (
    CampaignChanges,
    CampaignError,
    CampaignSpec,
    create_campaign,
    delete_campaign,
    live_campaigns,
    set_campaign_status,
    update_campaign,
)
from service.campaigns.preview import MAX_DAYS as MAX_PREVIEW_DAYS
from service.campaigns.preview import PreviewLine, PreviewSummary, preview_as
from service.campaigns.preview import preview as preview_of
from service.campaigns.preview import summary as counts
from service.cli.common import fail, find_group, now, option_of, parse_local
from service.db import get_session
from service.models import Campaign, CampaignKind, CampaignStatus, Group
from service.people import audit


@click.group(help="Reminders, encouragement and broadcasts.")
def campaigns() -> None:
    pass


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
    written = {"en": wording_en, "es": wording_es}
    spec = CampaignSpec(
        kind=CampaignKind(kind),
        name=name,
        offsets=list(offsets),
        rsvp=rsvp,
        wording={language: text for language, text in written.items() if text is not None},
        cadence=cadence,
        window_hours=window_hours,
    )
    if spec.kind is CampaignKind.ENCOURAGEMENT:
        pools = {"en": pool_en, "es": pool_es}
        spec.pools = {
            language: _pool(path, language) for language, path in pools.items() if path is not None
        }
        spec.at = _clock_time(at) if at is not None else None
        spec.stages = _stages(stages) if stages is not None else []
    elif spec.kind is CampaignKind.BROADCAST and at and at.strip().lower() != "now":
        spec.send_at = parse_local(at, "--at").replace(tzinfo=ZoneInfo(group.timezone))
    try:
        campaign, warnings, summaries = create_campaign(
            session, group, spec, now=now(), actor=audit.command_line_actor()
        )
    except CampaignError as error:
        fail(_campaign_refusal(error, spec))
        return
    for language, summary in summaries.items():
        click.echo(f"--wording-{language}: {summary.summary()}")
    for warning in warnings:
        where, _, text = warning.partition(": ")
        click.echo(f"warning: {option_of(where)}: {text}", err=True)
    session.commit()
    click.echo(f"campaign {campaign.id} ({kind}) created for {group.join_code}")


def _campaign_refusal(error: CampaignError, spec: CampaignSpec) -> str:
    """The domain's refusal in this command's words; a missing input is named by its options."""
    if error.field == "offsets" and not spec.offsets:
        return "a reminder campaign needs at least one --offset, e.g. --offset 1d@18:00"
    if error.field == "cadence" and (spec.cadence is None) == (not spec.stages):
        return "an encouragement campaign needs --cadence or --stages (one of them)"
    if error.field == "wording" and spec.kind is CampaignKind.BROADCAST:
        return "a broadcast needs its words: --wording-en and/or --wording-es"
    if error.field is None:  # the group is not ready: a reminder needs its meetings
        return f"{error}; see: peerline meetings schedule --help"
    return f"{option_of(error.field)}: {error}"


def _pool(path: Path, language: str) -> list[str]:
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        fail(f"--pool-{language}: {path} has no messages (one per line)")
    return lines


def _clock_time(value: str) -> time:
    try:
        return time.fromisoformat(value.strip())
    except ValueError:
        fail(f"--at: {value!r} is not a time of day such as 12:00")
        raise


def _stages(value: str) -> list[int]:
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        fail(f"--stages: {value!r} is not a list of days such as 1,3,7,14")
        raise


@campaigns.command("update", help="Change a campaign; its kind cannot change.")
@click.argument("campaign_id", type=int)
@click.option("--kind", type=click.Choice([k.value for k in CampaignKind]), default=None,
              help="A campaign's kind cannot change: refused.")  # fmt: skip
@click.option("--name", default=None)
@click.option("--offset", "offsets", multiple=True, help="Reminders: replaces every offset.")
@click.option("--rsvp/--no-rsvp", default=None, help="Reminders: ask C to confirm, or not.")
@click.option("--wording-en", default=None, help='Your own English wording ("" for the default).')
@click.option("--wording-es", default=None, help="Your own Spanish wording.")
@click.option("--pool-en", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--pool-es", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--cadence", default=None, help="Encouragement: an RRULE; replaces --stages.")
@click.option("--at", "at", default=None, help="Encouragement: local time, e.g. 12:00. "
              "Broadcast: local date and time, or 'now'.")  # fmt: skip
@click.option(
    "--stages", default=None, help="Encouragement: days since joining; replaces --cadence."
)
@click.option("--window-hours", type=int, default=None, help="Encouragement expiry.")
@click.option("--send-at", default=None, help="Broadcast: local date and time, or 'now'.")
@with_appcontext
def campaigns_update(
    campaign_id: int, kind: str | None, name: str | None, offsets: tuple[str, ...],
    rsvp: bool | None, wording_en: str | None, wording_es: str | None, pool_en: Path | None,
    pool_es: Path | None, cadence: str | None, at: str | None, stages: str | None,
    window_hours: int | None, send_at: str | None,
) -> None:  # fmt: skip
    session = get_session()
    campaign = _live(session, campaign_id)
    group = session.get_one(Group, campaign.group_id)
    written = {"en": wording_en, "es": wording_es}
    pools = {"en": pool_en, "es": pool_es}
    changes = CampaignChanges(
        kind=CampaignKind(kind) if kind else None,
        name=name,
        offsets=list(offsets) or None,
        rsvp=rsvp,
        wording={lang: text for lang, text in written.items() if text is not None} or None,
        pools={lang: _pool(path, lang) for lang, path in pools.items() if path} or None,
        cadence=cadence,
        stages=_stages(stages) if stages is not None else None,
        window_hours=window_hours,
    )
    when_option = "--at" if send_at is None else "--send-at"  # a broadcast's time, either way
    if campaign.kind is CampaignKind.BROADCAST:
        if at is not None and send_at is not None:
            fail("--send-at and --at say the same for a broadcast: give one")
        when = send_at if send_at is not None else at
        if when is not None:
            changes.send_at = (
                now() if when.strip().lower() == "now"
                else parse_local(when, when_option).replace(tzinfo=ZoneInfo(group.timezone))
            )  # fmt: skip
    elif send_at is not None:
        changes.send_at = now()  # refused by the domain: only a broadcast has one
    elif at is not None:
        changes.at = _clock_time(at)
    try:
        edit = update_campaign(
            session, campaign, changes, now=now(), actor=audit.command_line_actor()
        )
    except CampaignError as error:
        if error.field is None:
            fail(f"{error}; see: peerline campaigns update --help")
        fail(f"{when_option if error.field == 'send_at' else option_of(error.field or '')}: "
             f"{error}")  # fmt: skip
        return
    for language, summary in edit.words.items():
        click.echo(f"--wording-{language}: {summary.summary()}")
    for warning in edit.warnings:
        where, _, text = warning.partition(": ")
        click.echo(f"warning: {option_of(where)}: {text}", err=True)
    session.commit()
    click.echo(
        f"campaign {campaign.id} updated"
        + (f"; {edit.withdrawn} planned text(s) withdrawn, to be planned anew"
           if edit.withdrawn else "")
        + (f"; {edit.reworded} planned text(s) will go in the new words" if edit.reworded else "")
    )  # fmt: skip


@campaigns.command("delete", help="Delete a campaign: what it planned is withdrawn, what it "
                   "sent stays in the history.")  # fmt: skip
@click.argument("campaign_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask first.")
@with_appcontext
def campaigns_delete(campaign_id: int, yes: bool) -> None:
    session = get_session()
    campaign = _live(session, campaign_id)
    group = session.get_one(Group, campaign.group_id)
    if not yes:
        click.confirm(
            f'Delete campaign {campaign.id} ({campaign.kind.value} "{campaign.name}" of '
            f"{group.join_code})? What it planned is withdrawn; what it sent stays.",
            abort=True,
        )
    withdrawn = delete_campaign(session, campaign, now=now(), actor=audit.command_line_actor())
    session.commit()
    click.echo(f"campaign {campaign_id} deleted"
               + (f"; {withdrawn} planned text(s) withdrawn" if withdrawn else ""))  # fmt: skip


def _live(session: Session, campaign_id: int) -> Campaign:
    """The campaign with this id, unless there is none or it was deleted."""
    campaign = session.scalar(live_campaigns().where(Campaign.id == campaign_id))
    if campaign is None:
        fail(f"no such campaign: {campaign_id}; see: peerline campaigns list")
    assert campaign is not None
    return campaign


@campaigns.command("list")
@click.option("--group", "code", default=None)
@with_appcontext
def campaigns_list(code: str | None) -> None:
    session = get_session()
    query = (
        select(Campaign, Group)
        .join(Group)
        .where(Campaign.deleted_at.is_(None))
        .order_by(Campaign.id)
    )
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
    campaign = _live(session, campaign_id)
    released = set_campaign_status(
        session, campaign, status, now=now(), actor=audit.command_line_actor()
    )
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


@click.command(help="Show exactly what a group's campaigns will send, and when, without sending.")
@click.option("--group", "code", required=True)
@click.option(
    "--days",
    default=7,
    show_default=True,
    type=click.IntRange(1, MAX_PREVIEW_DAYS),
    help=f"How far ahead: 1 to {MAX_PREVIEW_DAYS} days.",
)
@click.option(
    "--summary",
    "counted",
    is_flag=True,
    help="Only the counts, hour by hour, and the first texts (quick for a large group).",
)
@with_appcontext
def preview(code: str, days: int, counted: bool) -> None:
    session = get_session()
    group = find_group(session, code)
    if counted:
        _summarise(preview_as(counts(), session, group, now(), days), group, days)
        return
    lines = preview_of(session, group, now(), days)
    if not lines:
        click.echo(f"nothing planned for {group.join_code} in the next {days} day(s)")
        return
    _echo(lines)


def _summarise(counted: PreviewSummary, group: Group, days: int) -> None:
    if not counted.sends:
        click.echo(f"nothing planned for {group.join_code} in the next {days} day(s)")
        return
    click.echo(
        f"{counted.texts} texts and {counted.calls} calls to {counted.people} people in the "
        f"next {days} day(s); {counted.moved} moved by quiet hours, {counted.right_away} going "
        f"at once, {counted.expiring} expiring unsent"
    )
    for hour in counted.hours:
        click.echo(f"  {hour.local} {hour.timezone}: {hour.texts} texts, {hour.calls} calls"
                   + (f", {hour.moved} moved" if hour.moved else "")
                   + (f", {hour.expiring} expiring" if hour.expiring else ""))  # fmt: skip
    click.echo("The first:")
    _echo(counted.sample)


def _echo(lines: list[PreviewLine]) -> None:
    for line in lines:
        plural = "s" if line.segments != 1 else ""
        click.echo(f"{line.local} {line.timezone} ({line.due_at:%H:%M} UTC) {line.kind} "
                   f"to {line.recipients}, {line.segments} segment{plural}"
                   + (f"  [{line.note}]" if line.note else ""))  # fmt: skip
        click.echo(f"    {line.text}")
