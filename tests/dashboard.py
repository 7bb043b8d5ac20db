"""Helpers for the dashboard's tests: coordinators with passwords, signing in, CSRF tokens."""

from __future__ import annotations

import re
from functools import cache

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash
from werkzeug.test import TestResponse

from service.models import Coordinator, Role
from service.people.accounts import create_coordinator
from tests.support import Clock

PASSWORD = "a long enough password"
WRONG_WORDS = "Those details did not sign you in."

_TOKEN = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')


def with_password(
    session: Session,
    email: str,
    clock: Clock,
    *,
    password: str = PASSWORD,
    role: Role = Role.COORDINATOR,
) -> Coordinator:
    """The coordinator with this email (made if new), whose password is now password."""
    coordinator = session.scalar(select(Coordinator).where(Coordinator.email == email))
    if coordinator is None:
        coordinator = create_coordinator(
            session,
            email=email,
            name=email.split("@")[0].title(),
            role=role,
            password=None,
            now=clock.now,
        )
    coordinator.password_hash = password_hash(password)
    session.commit()
    return coordinator


# set_password's scrypt costs n=2**15 (tests/unit/test_accounts.py holds it there), some 100 ms
# to make and again at every sign-in. A hash carries its own cost, and signing in checks it by
# the same code whatever the cost, so the dashboard's tests keep one of n=2**10.
TEST_HASH = "scrypt:1024:8:1"


@cache
def password_hash(password: str) -> str:
    """A scrypt hash of password, as set_password keeps, made once a run at a test's cost."""
    return generate_password_hash(password, method=TEST_HASH)


def csrf_token(client: FlaskClient, path: str = "/sign-in") -> str:
    """A valid CSRF token for client's session, read from a form as a browser would."""
    page = client.get(path)
    found = _TOKEN.search(page.text)
    assert found is not None, f"no CSRF token on {path} ({page.status_code})"
    return found.group(1)


def sign_in(
    client: FlaskClient, email: str, password: str = PASSWORD, *, next_page: str | None = None
) -> TestResponse:
    token = csrf_token(client)
    path = "/sign-in" if next_page is None else f"/sign-in?next={next_page}"
    return client.post(path, data={"csrf_token": token, "email": email, "password": password})
