"""Helpers for the API tests: tokens for coordinators, and calls that carry them."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from service.models import Group, Role
from service.people.accounts import AccountError, create_coordinator, find_coordinator, issue_token
from tests.support import Clock, make_group, make_participant


def token_for(session: Session, clock: Clock, email: str, role: Role = Role.COORDINATOR) -> str:
    try:
        coordinator = find_coordinator(session, email)
    except AccountError:
        coordinator = create_coordinator(
            session, email=email, name=email.split("@")[0], role=role, password=None, now=clock.now
        )
    _, plain = issue_token(session, coordinator, f"token {clock.now.timestamp()}", clock.now)
    session.commit()
    return plain


def call(
    client: FlaskClient,
    method: str,
    path: str,
    token: str | None,
    body: Any = None,
    **options: Any,
) -> tuple[int, Any]:
    """One API call; returns the status and the decoded JSON body."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    reply = client.open(path, method=method, json=body, headers=headers, **options)
    return reply.status_code, reply.get_json(silent=True)


def get(client: FlaskClient, path: str, token: str | None) -> tuple[int, Any]:
    return call(client, "GET", path, token)


def post(client: FlaskClient, path: str, token: str, body: Any = None) -> tuple[int, Any]:
    return call(client, "POST", path, token, body)


def two_coordinators(session: Session, clock: Clock) -> tuple[Group, Group, str, str]:
    """Robin runs CIRCLE (Sam, +12025550142, is in it); Kim runs OTHER; with their tokens."""
    mine = make_group(session, "CIRCLE", coordinator_email="robin@example.org")
    theirs = make_group(session, "OTHER", coordinator_email="kim@example.org")
    make_participant(session, "+12025550142", mine)
    return (
        mine,
        theirs,
        token_for(session, clock, "robin@example.org"),
        token_for(session, clock, "kim@example.org"),
    )
