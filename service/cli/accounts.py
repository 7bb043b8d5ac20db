"""`peerline coordinators` and `peerline tokens`: coordinators' accounts and API tokens."""

from __future__ import annotations

import sys
from datetime import datetime

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.cli.common import audited, fail, find_group, now
from service.db import get_session
from service.models import ApiToken, Coordinator, Group, Role
from service.people import accounts


@click.group(help="Coordinators: the people who run groups.")
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


@coordinators.command("enable", help="Let a disabled coordinator sign in again.")
@click.option("--email", required=True)
@with_appcontext
def coordinators_enable(email: str) -> None:
    session = get_session()
    coordinator = find_coordinator(session, email)
    accounts.enable(coordinator)
    audited(session, "coordinator.enable", coordinator)
    session.commit()
    click.echo(f"{coordinator.email} enabled: their password and unrevoked tokens work again")


@coordinators.command(
    "hand-over", help="Give a group to a coordinator: they see it, its present one no longer."
)
@click.option("--group", "code", required=True)
@click.option("--email", required=True, help="The coordinator who will run it.")
@with_appcontext
def coordinators_hand_over(code: str, email: str) -> None:
    session = get_session()
    group = find_group(session, code)
    coordinator = find_coordinator(session, email)
    before = group.coordinator.email
    try:
        accounts.hand_over(group, coordinator)
    except accounts.AccountError as error:
        fail(str(error))
    audited(session, "group.hand_over", group, coordinator=coordinator.email, previous=before)
    session.commit()
    click.echo(f"{group.join_code} is now run by {coordinator.email} (was {before})")


@click.group(help="API tokens: how coordinators' programs reach the REST API.")
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
