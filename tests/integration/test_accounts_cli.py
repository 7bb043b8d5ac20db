"""Coordinator accounts and API tokens from the command line, as an admin would use them."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.cli.main import cli
from service.models import ApiToken, AuditEntry, Base, Coordinator
from service.people import accounts
from service.people.accounts import LoginRefused
from tests.support import Clock, invoke, make_group

PASSWORD = "correct horse battery staple"


def create(runner: FlaskCliRunner, *args: str, password: str | None = None) -> Any:
    """`peerline coordinators create ...`, with the password piped in if there is one."""
    argv = ["coordinators", "create", *args]
    if password is not None:
        argv.append("--password-stdin")
    return runner.invoke(cli, argv, input=None if password is None else password + "\n")


def everything_stored(session: Session) -> str:
    """Every row of every table, as text: what someone with a copy of the database would see."""
    session.expire_all()
    return "\n".join(
        repr(row)
        for table in Base.metadata.sorted_tables
        for row in session.execute(table.select())
    )


def new_token(
    runner: FlaskCliRunner, email: str = "robin@example.org", name: str = "laptop"
) -> str:
    result = invoke(runner, "tokens", "create", "--coordinator", email, "--name", name)
    assert result.exit_code == 0, result.output
    found = re.findall(r"pl_[A-Za-z0-9_-]+", result.output)
    assert len(found) == 1, result.output
    return str(found[0])


def signs_in(session: Session, email: str, password: str, clock: Clock) -> bool:
    session.expire_all()
    try:
        accounts.check_login(session, email, password, clock.now)
    except LoginRefused:
        return False
    finally:
        session.commit()
    return True


def table_of(output: str) -> list[list[str]]:
    return [line.split("\t") for line in output.splitlines()]


# -- coordinators -------------------------------------------------------------------------------


def test_create_with_a_password_from_stdin_keeps_only_its_hash(
    runner: FlaskCliRunner, session: Session, clock: Clock
) -> None:
    result = create(
        runner, "--email", "Ana@Example.org", "--name", "Ana Admin", "--role", "admin",
        password=PASSWORD,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert result.output == "coordinator ana@example.org created (admin)\n"
    assert PASSWORD not in everything_stored(session)
    assert signs_in(session, "ana@example.org", PASSWORD, clock)  # the newline is not part of it
    assert not signs_in(session, "ana@example.org", PASSWORD + "\n", clock)


def test_create_without_a_password_says_only_tokens_let_them_in(
    runner: FlaskCliRunner, session: Session, clock: Clock
) -> None:
    result = create(runner, "--email", "robin@example.org", "--name", "Robin Diaz")

    assert result.exit_code == 0, result.output
    assert "coordinator robin@example.org created (coordinator)" in result.output
    assert "no password yet" in result.output
    assert not signs_in(session, "robin@example.org", "", clock)
    plain = new_token(runner)
    robin = accounts.authenticate_token(session, plain, clock.now)
    assert robin is not None and robin.email == "robin@example.org"


@pytest.mark.parametrize(
    ("password", "problem"),
    [("short", "at least 12 characters"), ("z" * 16, "one character repeated"), ("", "nothing")],
)
def test_a_weak_password_creates_no_coordinator(
    runner: FlaskCliRunner, session: Session, password: str, problem: str
) -> None:
    result = create(runner, "--email", "robin@example.org", "--name", "Robin", password=password)

    assert result.exit_code == 1
    assert problem in result.output
    assert session.scalar(select(Coordinator)) is None


def test_the_same_email_twice_is_a_clear_error(runner: FlaskCliRunner) -> None:
    create(runner, "--email", "robin@example.org", "--name", "Robin")
    again = create(runner, "--email", "ROBIN@example.org", "--name", "Robin again")

    assert again.exit_code == 1
    assert "a coordinator with the email robin@example.org exists already" in again.output


def test_list_shows_role_groups_password_and_lockout(
    runner: FlaskCliRunner, session: Session, clock: Clock
) -> None:
    create(runner, "--email", "ana@example.org", "--name", "Ana", "--role", "admin")
    create(runner, "--email", "robin@example.org", "--name", "Robin Diaz", password=PASSWORD)
    make_group(session, "CIRCLE")
    make_group(session, "DAWN")
    for _ in range(5):
        signs_in(session, "robin@example.org", "a wrong guess", clock)

    listing = invoke(runner, "coordinators", "list")

    assert listing.exit_code == 0, listing.output
    assert table_of(listing.output) == [
        ["EMAIL", "NAME", "ROLE", "GROUPS", "PASSWORD", "STATUS"],
        ["ana@example.org", "Ana", "admin", "0", "none", "active"],
        ["robin@example.org", "Robin Diaz", "coordinator", "2", "set", "locked until 2026-03-03 "
         "17:15 UTC"],
    ]  # fmt: skip
    assert not signs_in(session, "robin@example.org", PASSWORD, clock)

    unlocked = invoke(runner, "coordinators", "unlock", "--email", "Robin@example.org")

    assert unlocked.output == "robin@example.org unlocked\n"
    assert "\tset\tactive" in invoke(runner, "coordinators", "list").output
    assert signs_in(session, "robin@example.org", PASSWORD, clock)


def test_a_lock_runs_out_by_itself_after_fifteen_minutes(
    runner: FlaskCliRunner, session: Session, clock: Clock
) -> None:
    create(runner, "--email", "robin@example.org", "--name", "Robin", password=PASSWORD)
    for _ in range(5):
        signs_in(session, "robin@example.org", "a wrong guess", clock)

    clock.now += timedelta(minutes=15)

    assert "\tactive" in invoke(runner, "coordinators", "list").output
    assert signs_in(session, "robin@example.org", PASSWORD, clock)


def test_password_sets_a_new_password_read_from_stdin(
    runner: FlaskCliRunner, session: Session, clock: Clock
) -> None:
    create(runner, "--email", "robin@example.org", "--name", "Robin", password=PASSWORD)
    argv = ["coordinators", "password", "--email", "robin@example.org", "--password-stdin"]

    changed = runner.invoke(cli, argv, input="a brand new passphrase\n")

    assert changed.exit_code == 0, changed.output
    assert changed.output == "password set for robin@example.org\n"
    assert signs_in(session, "robin@example.org", "a brand new passphrase", clock)
    assert not signs_in(session, "robin@example.org", PASSWORD, clock)
    assert "a brand new passphrase" not in everything_stored(session)


def test_password_refuses_without_stdin_or_for_nobody(runner: FlaskCliRunner) -> None:
    create(runner, "--email", "robin@example.org", "--name", "Robin")

    no_flag = invoke(runner, "coordinators", "password", "--email", "robin@example.org")
    nobody = runner.invoke(
        cli,
        ["coordinators", "password", "--email", "who@example.org", "--password-stdin"],
        input=PASSWORD,
    )
    weak = runner.invoke(
        cli,
        ["coordinators", "password", "--email", "robin@example.org", "--password-stdin"],
        input="short",
    )

    assert no_flag.exit_code == 1 and "--password-stdin" in no_flag.output
    assert nobody.exit_code == 1 and "no coordinator who@example.org" in nobody.output
    assert weak.exit_code == 1 and "at least 12 characters" in weak.output


def test_disable_shuts_out_password_and_tokens(
    runner: FlaskCliRunner, session: Session, clock: Clock
) -> None:
    create(runner, "--email", "robin@example.org", "--name", "Robin", password=PASSWORD)
    plain = new_token(runner)

    disabled = invoke(runner, "coordinators", "disable", "--email", "robin@example.org")

    assert disabled.exit_code == 0, disabled.output
    assert "robin@example.org disabled" in disabled.output
    assert not signs_in(session, "robin@example.org", PASSWORD, clock)
    assert accounts.authenticate_token(session, plain, clock.now) is None
    assert invoke(runner, "coordinators", "list").output.splitlines()[1].endswith("\tdisabled")


# -- tokens -------------------------------------------------------------------------------------


def test_a_new_token_is_printed_once_and_only_its_hash_is_stored(
    runner: FlaskCliRunner, session: Session, clock: Clock
) -> None:
    create(runner, "--email", "robin@example.org", "--name", "Robin")

    result = invoke(
        runner, "tokens", "create", "--coordinator", "robin@example.org", "--name", "laptop"
    )

    assert result.exit_code == 0, result.output
    plain = result.output.splitlines()[1]
    assert result.output == (
        f"token 1 (laptop) for robin@example.org:\n{plain}\n"
        "Copy it now: it will not be shown again.\n"
    )
    stored = everything_stored(session)
    assert plain not in stored
    assert plain[:8] in stored  # the prefix, to tell tokens apart
    listing = invoke(runner, "tokens", "list").output
    assert plain not in listing
    robin = accounts.authenticate_token(session, plain, clock.now)
    assert robin is not None and robin.email == "robin@example.org"


def test_a_token_name_used_twice_or_an_unknown_coordinator_is_an_error(
    runner: FlaskCliRunner,
) -> None:
    create(runner, "--email", "robin@example.org", "--name", "Robin")
    new_token(runner)

    again = invoke(
        runner, "tokens", "create", "--coordinator", "robin@example.org", "--name", "laptop"
    )
    nobody = invoke(runner, "tokens", "create", "--coordinator", "who@example.org", "--name", "x")

    assert again.exit_code == 1
    assert "robin@example.org already has a token named 'laptop'" in again.output
    assert "pl_" not in again.output
    assert nobody.exit_code == 1 and "no coordinator who@example.org" in nobody.output


def test_tokens_list_shows_each_tokens_life(
    runner: FlaskCliRunner, session: Session, clock: Clock
) -> None:
    create(runner, "--email", "robin@example.org", "--name", "Robin")
    create(runner, "--email", "sam@example.org", "--name", "Sam")
    laptop = new_token(runner)
    clock.now += timedelta(hours=1)
    new_token(runner, "sam@example.org", "reporting")
    clock.now += timedelta(hours=1)
    accounts.authenticate_token(session, laptop, clock.now)
    session.commit()

    rows = table_of(invoke(runner, "tokens", "list").output)
    robins = table_of(invoke(runner, "tokens", "list", "--coordinator", "robin@example.org").output)

    assert rows == [
        ["ID", "COORDINATOR", "NAME", "PREFIX", "CREATED (UTC)", "LAST USED", "REVOKED"],
        ["1", "robin@example.org", "laptop", laptop[:8], "2026-03-03 17:00", "2026-03-03 19:00",
         "-"],
        ["2", "sam@example.org", "reporting", rows[2][3], "2026-03-03 18:00", "-", "-"],
    ]  # fmt: skip
    assert rows[2][3].startswith("pl_")
    assert robins == rows[:2]


def test_a_revoked_token_stops_working_at_once(
    runner: FlaskCliRunner, session: Session, clock: Clock
) -> None:
    create(runner, "--email", "robin@example.org", "--name", "Robin")
    laptop = new_token(runner)
    phone = new_token(runner, name="phone")
    clock.now += timedelta(minutes=30)

    revoked = invoke(runner, "tokens", "revoke", "1")

    assert revoked.exit_code == 0, revoked.output
    assert revoked.output == "token 1 (laptop, robin@example.org) revoked at 2026-03-03 17:30 UTC\n"
    assert accounts.authenticate_token(session, laptop, clock.now) is None
    assert accounts.authenticate_token(session, phone, clock.now) is not None
    rows = table_of(invoke(runner, "tokens", "list").output)
    assert rows[1][-1] == "2026-03-03 17:30"
    assert rows[2][-1] == "-"


def test_revoking_a_token_that_does_not_exist_is_a_clear_error(runner: FlaskCliRunner) -> None:
    result = invoke(runner, "tokens", "revoke", "42")

    assert result.exit_code == 1
    assert "no token 42" in result.output


def test_account_changes_are_audited_without_secrets(
    runner: FlaskCliRunner, session: Session
) -> None:
    create(runner, "--email", "robin@example.org", "--name", "Robin", password=PASSWORD)
    plain = new_token(runner)
    invoke(runner, "tokens", "revoke", "1")
    runner.invoke(
        cli,
        ["coordinators", "password", "--email", "robin@example.org", "--password-stdin"],
        input="a brand new passphrase",
    )
    invoke(runner, "coordinators", "unlock", "--email", "robin@example.org")
    invoke(runner, "coordinators", "disable", "--email", "robin@example.org")

    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()

    assert [(e.action, e.target_type, e.target_id) for e in entries] == [
        ("coordinator.create", "coordinator", 1),
        ("token.create", "apitoken", 1),
        ("token.revoke", "apitoken", 1),
        ("coordinator.password", "coordinator", 1),
        ("coordinator.unlock", "coordinator", 1),
        ("coordinator.disable", "coordinator", 1),
    ]
    assert entries[0].details == {"role": "coordinator", "password": True}
    assert entries[1].details == {"coordinator": "robin@example.org", "name": "laptop"}
    details = repr([e.details for e in entries])
    assert plain not in details
    assert PASSWORD not in details
    assert session.scalar(select(ApiToken.revoked_at)) is not None


def test_an_enabled_coordinator_signs_in_again(
    runner: FlaskCliRunner, session: Session, clock: Clock
) -> None:
    create(runner, "--email", "robin@example.org", "--name", "Robin", password="a long password!")
    invoke(runner, "coordinators", "disable", "--email", "robin@example.org")

    enabled = invoke(runner, "coordinators", "enable", "--email", "robin@example.org")

    assert enabled.exit_code == 0, enabled.output
    session.expire_all()
    assert accounts.check_login(session, "robin@example.org", "a long password!", clock.now)


def test_handing_a_group_over_moves_who_sees_it_and_is_audited(
    runner: FlaskCliRunner, session: Session
) -> None:
    circle = make_group(session, "CIRCLE", coordinator_email="robin@example.org")
    make_group(session, "HARBOR", coordinator_email="kim@example.org")
    invoke(runner, "coordinators", "disable", "--email", "robin@example.org")

    moved = invoke(runner, "coordinators", "hand-over", "--group", "circle", "--email",
                   "kim@example.org")  # fmt: skip
    refused = invoke(runner, "coordinators", "hand-over", "--group", "circle", "--email",
                     "robin@example.org")  # fmt: skip

    assert moved.exit_code == 0 and "CIRCLE is now run by kim@example.org" in moved.output
    assert refused.exit_code != 0 and "robin@example.org is disabled" in refused.output
    session.expire_all()
    kim = session.scalars(select(Coordinator).where(Coordinator.email == "kim@example.org")).one()
    assert accounts.visible_group_ids(session, kim) == {circle.id, circle.id + 1}
    assert session.scalar(select(AuditEntry.action).where(AuditEntry.action == "group.hand_over"))
