"""Coordinators' accounts: passwords, lockout, API tokens, and who sees which groups."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from service.models import Base, Coordinator, Group, Role
from service.people import accounts
from service.people.accounts import AccountError, LoginRefused

NOW = datetime(2026, 3, 3, 17, 0, tzinfo=UTC)
PASSWORD = "tuesday circle 2026"


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


def coordinator(
    session: Session,
    email: str = "robin@example.org",
    *,
    role: Role = Role.COORDINATOR,
    password: str | None = PASSWORD,
) -> Coordinator:
    made = accounts.create_coordinator(
        session, email=email, name="Robin Diaz", role=role, password=password, now=NOW
    )
    session.commit()
    return made


def group(session: Session, owner: Coordinator, code: str) -> Group:
    made = Group(
        coordinator_id=owner.id,
        name=f"{code} group",
        public_name=code,
        join_code=code,
        timezone="America/New_York",
    )
    session.add(made)
    session.commit()
    return made


def sign_in(session: Session, email: str, password: str, now: datetime) -> Coordinator:
    """As a web request would: commit whether or not the sign-in is refused."""
    try:
        return accounts.check_login(session, email, password, now)
    finally:
        session.commit()


def refusal(session: Session, email: str, password: str, now: datetime = NOW) -> str:
    with pytest.raises(LoginRefused) as refused:
        sign_in(session, email, password, now)
    assert str(refused.value) == refused.value.reason
    return refused.value.reason


# -- passwords ----------------------------------------------------------------------------------


def test_a_password_is_kept_only_as_a_scrypt_hash(session: Session, full_cost: None) -> None:
    robin = coordinator(session)

    assert robin.password_hash is not None
    assert robin.password_hash.startswith("scrypt:32768:8:1$")  # werkzeug's full cost
    assert PASSWORD not in robin.password_hash
    assert sign_in(session, "robin@example.org", PASSWORD, NOW) is robin


def test_the_same_password_hashes_differently_each_time(session: Session, full_cost: None) -> None:
    robin = coordinator(session)
    first = robin.password_hash
    accounts.set_password(robin, PASSWORD)

    assert robin.password_hash != first  # salted: equal passwords are not visible as equal


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("eleven char", "at least 12 characters"),
        ("", "at least 12 characters"),
        ("x" * 20, "one character repeated"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(
    session: Session, password: str, problem: str
) -> None:
    with pytest.raises(AccountError, match=problem):
        coordinator(session, password=password)


def test_twelve_characters_are_enough(session: Session) -> None:
    coordinator(session, password="abcdefghijkl")
    assert sign_in(session, "robin@example.org", "abcdefghijkl", NOW).email == "robin@example.org"


# -- coordinators -------------------------------------------------------------------------------


def test_emails_are_kept_in_lower_case_and_signed_in_with_any_case(session: Session) -> None:
    robin = coordinator(session, " Robin@Example.ORG ")

    assert robin.email == "robin@example.org"
    assert sign_in(session, "ROBIN@example.org", PASSWORD, NOW) is robin


def test_a_second_coordinator_with_the_same_email_is_refused(session: Session) -> None:
    coordinator(session)
    with pytest.raises(AccountError, match=r"robin@example\.org exists already"):
        coordinator(session, "Robin@example.org")


@pytest.mark.parametrize("email", ["robin", "robin@", "@example.org", "robin@example", "a b@c.d"])
def test_what_is_not_an_email_address_is_refused(session: Session, email: str) -> None:
    with pytest.raises(AccountError, match="is not an email address"):
        coordinator(session, email)


# -- signing in ---------------------------------------------------------------------------------


def test_unknown_email_and_wrong_password_are_refused_alike(session: Session) -> None:
    coordinator(session)
    coordinator(session, "sam@example.org", password=None)

    unknown = refusal(session, "nobody@example.org", PASSWORD)
    wrong = refusal(session, "robin@example.org", "not the password")
    no_password_yet = refusal(session, "sam@example.org", "")

    assert unknown == wrong == no_password_yet == "wrong email or password"


def test_an_unknown_email_costs_a_password_check_all_the_same(
    session: Session, monkeypatch: pytest.MonkeyPatch, full_cost: None
) -> None:
    checked: list[str] = []

    def spy(hashed: str, password: str) -> bool:
        checked.append(hashed.split("$")[0])
        return check_password_hash(hashed, password)

    monkeypatch.setattr("service.people.accounts.check_password_hash", spy)
    coordinator(session)

    refusal(session, "robin@example.org", "not the password")
    refusal(session, "nobody@example.org", "not the password")

    assert checked == ["scrypt:32768:8:1", "scrypt:32768:8:1"]  # same work, so same time


def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(session: Session) -> None:
    robin = coordinator(session)
    for minute in range(5):
        assert refusal(session, robin.email, "guess", NOW + timedelta(minutes=minute)) == (
            "wrong email or password"
        )

    locked = "too many wrong passwords; try again after 17:19 UTC"
    assert refusal(session, robin.email, PASSWORD, NOW + timedelta(minutes=5)) == locked
    assert refusal(session, robin.email, PASSWORD, NOW + timedelta(minutes=18)) == locked
    # Guessing while locked neither lengthens the lock nor gets a different answer.
    assert refusal(session, robin.email, "guess", NOW + timedelta(minutes=18)) == locked

    assert sign_in(session, robin.email, PASSWORD, NOW + timedelta(minutes=19)) is robin


def test_after_a_lock_runs_out_there_are_five_fresh_tries(session: Session) -> None:
    robin = coordinator(session)
    for _ in range(5):
        refusal(session, robin.email, "guess")
    later = NOW + timedelta(minutes=15)

    for _ in range(4):
        assert refusal(session, robin.email, "guess", later) == "wrong email or password"
    assert sign_in(session, robin.email, PASSWORD, later) is robin


def test_a_success_starts_the_count_of_failures_again(session: Session) -> None:
    robin = coordinator(session)
    for _ in range(4):
        refusal(session, robin.email, "guess")
    sign_in(session, robin.email, PASSWORD, NOW)
    for _ in range(4):
        refusal(session, robin.email, "guess")

    assert sign_in(session, robin.email, PASSWORD, NOW) is robin
    assert robin.failed_logins == 0


def test_unlock_lets_a_locked_out_coordinator_in_at_once(session: Session) -> None:
    robin = coordinator(session)
    for _ in range(5):
        refusal(session, robin.email, "guess")

    accounts.unlock(robin)

    assert sign_in(session, robin.email, PASSWORD, NOW) is robin


def test_a_disabled_account_is_refused_even_with_the_right_password(session: Session) -> None:
    robin = coordinator(session)
    accounts.disable(robin)

    assert refusal(session, robin.email, PASSWORD) == "this account is disabled; ask an admin"
    # Someone without the password learns nothing more than "wrong".
    assert refusal(session, robin.email, "guess") == "wrong email or password"


# -- API tokens ---------------------------------------------------------------------------------


def test_a_token_is_given_once_and_kept_only_as_its_hash(session: Session) -> None:
    robin = coordinator(session)
    token, plain = accounts.issue_token(session, robin, "laptop", NOW)
    session.commit()

    assert plain.startswith("pl_")
    assert len(plain) >= 40
    assert token.token_hash == hashlib.sha256(plain.encode()).hexdigest()
    assert token.prefix == plain[:8]
    assert plain not in repr(vars(token))
    assert accounts.authenticate_token(session, plain, NOW) is robin


def test_tokens_are_different_every_time(session: Session) -> None:
    robin = coordinator(session)
    plains = {accounts.issue_token(session, robin, f"t{n}", NOW)[1] for n in range(20)}
    assert len(plains) == 20


@pytest.mark.parametrize("presented", ["", "pl_", "pl_not-a-token", "Bearer pl_x", "secret"])
def test_a_token_that_was_never_issued_opens_nothing(session: Session, presented: str) -> None:
    robin = coordinator(session)
    accounts.issue_token(session, robin, "laptop", NOW)

    assert accounts.authenticate_token(session, presented, NOW) is None


def test_a_revoked_token_opens_nothing(session: Session) -> None:
    robin = coordinator(session)
    token, plain = accounts.issue_token(session, robin, "laptop", NOW)
    _, other = accounts.issue_token(session, robin, "phone", NOW)

    revoked = accounts.revoke_token(session, token.id, NOW + timedelta(hours=1))
    accounts.revoke_token(session, token.id, NOW + timedelta(hours=2))

    assert revoked.revoked_at == NOW + timedelta(hours=1)
    assert accounts.authenticate_token(session, plain, NOW + timedelta(hours=3)) is None
    assert accounts.authenticate_token(session, other, NOW + timedelta(hours=3)) is robin


def test_revoking_a_token_that_does_not_exist_says_so(session: Session) -> None:
    with pytest.raises(AccountError, match="no token 42"):
        accounts.revoke_token(session, 42, NOW)


def test_a_disabled_coordinators_tokens_open_nothing(session: Session) -> None:
    robin = coordinator(session)
    _, plain = accounts.issue_token(session, robin, "laptop", NOW)

    accounts.disable(robin)

    assert accounts.authenticate_token(session, plain, NOW) is None
    with pytest.raises(AccountError, match="disabled"):
        accounts.issue_token(session, robin, "another", NOW)


def test_a_tokens_last_use_is_written_at_most_once_a_minute(session: Session) -> None:
    robin = coordinator(session)
    token, plain = accounts.issue_token(session, robin, "laptop", NOW)
    assert token.last_used_at is None

    accounts.authenticate_token(session, plain, NOW)
    accounts.authenticate_token(session, plain, NOW + timedelta(seconds=59))
    assert token.last_used_at == NOW

    accounts.authenticate_token(session, plain, NOW + timedelta(seconds=60))
    assert token.last_used_at == NOW + timedelta(seconds=60)


def test_token_names_are_unique_per_coordinator(session: Session) -> None:
    robin = coordinator(session)
    sam = coordinator(session, "sam@example.org")
    accounts.issue_token(session, robin, "laptop", NOW)

    with pytest.raises(AccountError, match="already has a token named 'laptop'"):
        accounts.issue_token(session, robin, " laptop ", NOW)
    assert accounts.issue_token(session, sam, "laptop", NOW)[0].name == "laptop"


# -- who sees which groups ----------------------------------------------------------------------


def test_a_coordinator_sees_only_their_own_groups(session: Session) -> None:
    robin = coordinator(session)
    sam = coordinator(session, "sam@example.org")
    circle = group(session, robin, "CIRCLE")
    dawn = group(session, robin, "DAWN")
    group(session, sam, "HARBOR")

    assert accounts.visible_group_ids(session, robin) == {circle.id, dawn.id}
    assert accounts.visible_group_ids(session, coordinator(session, "new@example.org")) == set()


def test_an_admin_sees_every_group(session: Session) -> None:
    admin = coordinator(session, "admin@example.org", role=Role.ADMIN)
    group(session, coordinator(session), "CIRCLE")

    assert accounts.visible_group_ids(session, admin) is None


def test_a_disabled_coordinator_sees_no_group(session: Session) -> None:
    admin = coordinator(session, "admin@example.org", role=Role.ADMIN)
    robin = coordinator(session)
    group(session, robin, "CIRCLE")
    accounts.disable(admin)
    accounts.disable(robin)

    assert accounts.visible_group_ids(session, admin) == set()
    assert accounts.visible_group_ids(session, robin) == set()
