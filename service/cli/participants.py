"""`peerline participants`: enrolling people, listing them, erasing one."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.cli.common import audited, fail, find_group, now, settings
from service.db import get_session
from service.models import Channel, Group, Membership, Participant
from service.people import audit, consent
from service.people.erasure import erase_participant
from service.people.participants import Details, ParticipantError, enrol
from service.phones import InvalidPhone, mask, normalize
from service.sending.dispatch import send_now


@click.group(help="Participants and their memberships.")
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
        fail(f"no participant has the number {phone.strip()!r}")
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
            f"{participant.id}\t{phone}\t{membership.name or ''}\t{membership.group.join_code}\t"
            f"{membership.status.value}\t{participant.consent.value}\t{membership.channel.value}"
        )


def _member(session: Session, phone: str, code: str) -> tuple[Participant, Group]:
    try:
        number = normalize(phone, settings().default_region)
    except InvalidPhone as error:
        raise click.ClickException(f"--phone: {error}") from None
    group = find_group(session, code)
    participant = session.scalar(
        select(Participant)
        .join(Membership)
        .where(Participant.phone == number, Membership.group_id == group.id)
    )
    if participant is None:
        raise click.ClickException(f"no one in {group.join_code} has the number {phone.strip()!r}")
    return participant, group


@participants.command("opt-out", help="Record an opt-out someone asked for in person or by phone.")
@click.option("--phone", required=True)
@click.option("--group", "code", required=True, help="The group they asked through.")
@click.option("--note", required=True, help="How and when they asked.")
@with_appcontext
def participants_opt_out(phone: str, code: str, note: str) -> None:
    session = get_session()
    participant, group = _member(session, phone, code)
    try:
        changed = consent.record_opt_out(
            session, participant, group_id=group.id, note=note, now=now()
        )
    except consent.ConsentError as error:
        raise click.ClickException(f"--note: {error}") from None
    if not changed:
        click.echo(f"{mask(participant.phone)} had opted out already")
        return
    audited(session, "participant.opt_out", participant, group=group.join_code)
    session.commit()
    click.echo(f"{mask(participant.phone)} is opted out: nothing more goes out to them")


@participants.command(
    "undo-opt-out",
    help="Undo an opt-out a coordinator recorded by mistake (never the person's own STOP).",
)
@click.option("--phone", required=True)
@click.option("--group", "code", required=True, help="A group they are in.")
@click.option("--note", required=True, help="Why it is undone.")
@with_appcontext
def participants_undo_opt_out(phone: str, code: str, note: str) -> None:
    session = get_session()
    participant, _group = _member(session, phone, code)
    try:
        consent.undo_opt_out(session, participant, groups=None, note=note, now=now())
    except consent.ConsentError as error:
        raise click.ClickException(str(error)) from None
    audited(session, "participant.undo_opt_out", participant)
    session.commit()
    click.echo(f"{mask(participant.phone)}'s opt-out is undone")
