"""Coordinators' accounts: passwords, lockout, API tokens, and which groups each may see."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import select, update
from sqlalchemy.orm import Session, contains_eager
from werkzeug.security import check_password_hash, generate_password_hash

from service.models import ApiToken, Coordinator, Group, Role
from service.phones import InvalidPhone, normalize
from service.text import said, sentence_of

MIN_PASSWORD_LENGTH = 12
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
TOKEN_PREFIX = "pl_"  # noqa: S105 - a marker that says what the secret is, not a secret
# A token's last use is written at most this often, so every API call is not also a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)

WRONG_CREDENTIALS = "wrong email or password"

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class AccountError(Exception):
    """A change to an account that cannot be made, said so that the person asking can fix it."""


class LoginRefused(Exception):
    """A sign-in turned away; the reason is safe to show to whoever tried."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def normalize_email(email: str) -> str:
    """The email as stored: trimmed and in lower case."""
    return email.strip().lower()


def find_coordinator(session: Session, email: str) -> Coordinator:
    """The coordinator with this email, or an AccountError saying there is none."""
    address = normalize_email(email)
    coordinator = session.scalar(select(Coordinator).where(Coordinator.email == address))
    if coordinator is None:
        raise AccountError(f"no coordinator {address}; see: peerline coordinators list")
    return coordinator


def create_coordinator(
    session: Session,
    *,
    email: str,
    name: str,
    role: Role = Role.COORDINATOR,
    password: str | None,
    now: datetime,
) -> Coordinator:
    """Add a coordinator; without a password they can sign in only with an API token."""
    address = normalize_email(email)
    if len(address) > 254 or not _EMAIL.fullmatch(address):
        raise AccountError(said("%(email)r is not an email address", email=email))
    if not name.strip():
        raise AccountError(said("a coordinator needs a name"))
    if session.scalar(select(Coordinator.id).where(Coordinator.email == address)):
        raise AccountError(
            said("a coordinator with the email %(email)s exists already", email=address)
        )
    coordinator = Coordinator(email=address, name=name.strip(), role=role, created_at=now)
    if password is not None:
        set_password(coordinator, password)
    session.add(coordinator)
    session.flush()
    return coordinator


def set_password(coordinator: Coordinator, password: str) -> None:
    """Replace the coordinator's password with this one, kept only as a scrypt hash."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            said("a password needs at least %(least)d characters", least=MIN_PASSWORD_LENGTH)
        )
    if len(set(password)) == 1:
        raise AccountError(said("a password cannot be one character repeated"))
    coordinator.password_hash = generate_password_hash(password, method="scrypt")


def is_locked(coordinator: Coordinator, now: datetime) -> bool:
    return coordinator.locked_until is not None and coordinator.locked_until > now


def unlock(coordinator: Coordinator) -> None:
    """Let the coordinator try their password again now, with a fresh count of failures."""
    coordinator.locked_until = None
    coordinator.failed_logins = 0


@cache
def _dummy_hash() -> str:
    # Checked against when there is no real hash, so that a missing account costs the same time.
    return generate_password_hash(secrets.token_urlsafe(16), method="scrypt")


def check_login(session: Session, email: str, password: str, now: datetime) -> Coordinator:
    """The coordinator these credentials belong to, or LoginRefused.

    A refusal may record a failed attempt: the caller commits after either outcome.
    """
    coordinator = session.scalar(
        select(Coordinator).where(Coordinator.email == normalize_email(email))
    )
    if coordinator is None or coordinator.password_hash is None:
        check_password_hash(_dummy_hash(), password)
        raise LoginRefused(WRONG_CREDENTIALS)
    # While locked even the right password is refused, so guessing cannot go on unseen.
    correct = check_password_hash(coordinator.password_hash, password)
    if is_locked(coordinator, now):
        assert coordinator.locked_until is not None
        raise LoginRefused(
            f"too many wrong passwords; try again after {coordinator.locked_until:%H:%M} UTC"
        )
    if not correct:
        _count_failure(session, coordinator, now)
        raise LoginRefused(WRONG_CREDENTIALS)
    if coordinator.disabled:
        raise LoginRefused("this account is disabled; ask an admin")
    unlock(coordinator)
    return coordinator


def _count_failure(session: Session, coordinator: Coordinator, now: datetime) -> None:
    # Counted in SQL, so that guesses made at once from many places all count.
    session.execute(
        update(Coordinator)
        .where(Coordinator.id == coordinator.id)
        .values(failed_logins=Coordinator.failed_logins + 1),
        execution_options={"synchronize_session": False},
    )
    session.refresh(coordinator, ["failed_logins"])
    if coordinator.failed_logins >= MAX_FAILED_LOGINS:
        coordinator.locked_until = now + LOCKOUT
        coordinator.failed_logins = 0


def _token_hash(plain: str) -> str:
    # Tokens are long random secrets, so one fast hash suffices; passwords need scrypt.
    return hashlib.sha256(plain.encode()).hexdigest()


def issue_token(
    session: Session, coordinator: Coordinator, name: str, now: datetime
) -> tuple[ApiToken, str]:
    """A new API token for the coordinator, and its plain text: the only time it exists."""
    label = name.strip()
    if not label or len(label) > 80:
        raise AccountError(said("a token needs a name of 1 to 80 characters"))
    if coordinator.disabled:
        raise AccountError(said("%(email)s is disabled", email=coordinator.email))
    taken = session.scalar(
        select(ApiToken.id).where(ApiToken.coordinator_id == coordinator.id, ApiToken.name == label)
    )
    if taken:
        raise AccountError(
            said(
                "%(email)s already has a token named %(name)r",
                email=coordinator.email,
                name=label,
            )
        )
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        coordinator_id=coordinator.id,
        name=label,
        token_hash=_token_hash(plain),
        prefix=plain[:8],
        created_at=now,
    )
    session.add(token)
    session.flush()
    return token, plain


def authenticate_token(session: Session, plain: str, now: datetime) -> Coordinator | None:
    """The coordinator a presented token belongs to, or None if it opens nothing."""
    if not plain.startswith(TOKEN_PREFIX):
        return None
    # Found by its hash, so no comparison of the secret itself can leak it through timing.
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(plain)))
    if token is None or token.revoked_at is not None or token.coordinator.disabled:
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = now
    return token.coordinator


def revoke_token(session: Session, token_id: int, now: datetime) -> ApiToken:
    """Stop a token working; revoking it again keeps the first time it was revoked."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise AccountError(f"no token {token_id}; see: peerline tokens list")
    if token.revoked_at is None:
        token.revoked_at = now
    return token


def disable(coordinator: Coordinator) -> None:
    """Shut the coordinator out: their password and tokens stop working, and every browser
    sign-in of theirs ends for good; their groups stay."""
    coordinator.disabled = True
    coordinator.sign_in_generation = (coordinator.sign_in_generation or 0) + 1


def visible_group_ids(session: Session, coordinator: Coordinator) -> set[int] | None:
    """The ids of the groups this coordinator may see, or None for all of them (admins)."""
    if coordinator.disabled:
        return set()
    if coordinator.role is Role.ADMIN:
        return None
    return set(session.scalars(select(Group.id).where(Group.coordinator_id == coordinator.id)))


def enable(coordinator: Coordinator) -> None:
    """Let a disabled coordinator back in; their tokens that were not revoked work again, but a
    browser must sign in afresh."""
    coordinator.disabled = False


def hand_over(group: Group, coordinator: Coordinator) -> None:
    """Make coordinator the one who runs group, and so sees it (and its previous one no longer)."""
    if coordinator.disabled:
        raise AccountError(said("%(email)s is disabled", email=coordinator.email))
    group.coordinator_id = coordinator.id


def coordinators_and_groups(session: Session) -> list[tuple[Coordinator, list[Group]]]:
    """Every coordinator by email, each with the groups they run, by public name."""
    runs: dict[int, list[Group]] = {}
    for group in session.scalars(select(Group).order_by(Group.public_name, Group.id)):
        runs.setdefault(group.coordinator_id, []).append(group)
    return [
        (coordinator, runs.get(coordinator.id, []))
        for coordinator in session.scalars(select(Coordinator).order_by(Coordinator.email))
    ]


def list_tokens(session: Session, coordinator_id: int | None = None) -> list[ApiToken]:
    """API tokens (of one coordinator, or all), oldest first, with their coordinator loaded."""
    query = select(ApiToken).join(ApiToken.coordinator).order_by(ApiToken.id)
    if coordinator_id is not None:
        query = query.where(ApiToken.coordinator_id == coordinator_id)
    return list(session.scalars(query.options(contains_eager(ApiToken.coordinator))))


def set_daily_text(coordinator: Coordinator, *, on: bool, phone: str | None) -> None:
    """Ask for (or stop) the daily text saying how many replies wait, to the coordinator's own
    phone. The phone is normalized; turning it on needs one. The caller commits."""
    number = None
    if phone is not None and phone.strip():
        try:
            number = normalize(phone)
        except InvalidPhone as error:
            raise AccountError(sentence_of(error)) from error
    if on and number is None and coordinator.phone is None:
        raise AccountError(said("a daily text needs your phone number"))
    if number is not None:
        coordinator.phone = number
    coordinator.daily_text = on
