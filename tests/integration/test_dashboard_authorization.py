"""Every dashboard route against who may use it: signed out, without a CSRF token, and as
another coordinator. A new route fails the first test until it is added to the matrix."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.models import (
    AuditEntry,
    Coordinator,
    Group,
    InboundMessage,
    OutboxKind,
    OutboxMessage,
)
from tests.api import token_for
from tests.dashboard import PASSWORD, csrf_token, sign_in, with_password
from tests.support import Clock, make_group, make_participant, text_in

NEW = "a perfectly new password"
# Each protected route, with what a request to it would change if it got through.
# A rule's ids are filled with Robin's own rows (or Kim's, to see them refused).
PAGES = [
    "/",
    "/account/password",
    "/inbox",
    "/inbox/<int:message_id>",
    "/sends",
    "/sends.csv",
    "/sends/<int:send_id>",
]
POSTS = {
    "/account/password": {"current": PASSWORD, "new": NEW, "repeat": NEW},
    "/sign-out": {},
    "/inbox/<int:message_id>/reply": {"text": "See you there", "answered": "0"},
    "/inbox/<int:message_id>/count": {"text": "See you there"},
    "/inbox/<int:message_id>/handled": {},
    "/inbox/daily-text": {"on": "y", "phone": "+12025550100"},
}
OPEN = {("GET", "/sign-in"), ("POST", "/sign-in")}


def _robin_and_kim(session: Session, clock: Clock) -> None:
    circle = make_group(session, "CIRCLE", coordinator_email="robin@example.org")
    harbor = make_group(session, "HARBOR", coordinator_email="kim@example.org")
    sam = make_participant(session, "+12025550111", circle, name="Sam Circle")
    vera = make_participant(session, "+12025550122", harbor, name="Vera Harbor")
    for group, person in ((circle, sam), (harbor, vera)):
        session.add(
            InboundMessage(
                message_sid=f"SM{group.join_code:0>32}",
                participant_id=person.id,
                group_id=group.id,
                from_phone=person.phone,
                body=f"a question for {group.join_code}",
                intent="message",
                needs_reply=True,
                received_at=clock.now,
            )
        )
        session.add(
            OutboxMessage(
                send_key=f"test:{group.join_code}",
                kind=OutboxKind.ONE_OFF,
                body=f"news for {group.join_code}",
                participant_id=person.id,
                group_id=group.id,
                due_at=clock.now,
            )
        )
    session.commit()
    with_password(session, "robin@example.org", clock)
    with_password(session, "kim@example.org", clock)


def _path(session: Session, rule: str, code: str = "CIRCLE") -> str:
    """rule with its ids filled from the group with this join code."""
    group = session.scalar(select(Group).where(Group.join_code == code))
    assert group is not None
    ids = {
        "message_id": session.scalar(
            select(InboundMessage.id).where(InboundMessage.group_id == group.id)
        ),
        "send_id": session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.group_id == group.id)
        ),
    }
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids[m.group(1)]), rule)


def _hash(session: Session, email: str) -> str | None:
    session.expire_all()
    return session.scalar(select(Coordinator.password_hash).where(Coordinator.email == email))


def test_the_matrix_covers_every_dashboard_route(app: Flask) -> None:
    routes = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("dashboard.")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    covered = {("GET", page) for page in PAGES} | {("POST", path) for path in POSTS} | OPEN
    assert routes == covered


@pytest.mark.parametrize("page", PAGES)
def test_a_signed_out_visitor_is_sent_to_sign_in(
    client: FlaskClient, session: Session, clock: Clock, page: str
) -> None:
    _robin_and_kim(session, clock)
    path = _path(session, page)

    answer = client.get(path)

    assert answer.status_code == 302
    expected = "/sign-in" if page == "/" else f"/sign-in?next={path}"
    assert answer.headers["Location"] == expected
    assert "Circle" not in answer.text


@pytest.mark.parametrize("path", list(POSTS))
def test_a_signed_out_post_with_a_valid_token_is_sent_to_sign_in_and_changes_nothing(
    client: FlaskClient, session: Session, clock: Clock, path: str
) -> None:
    _robin_and_kim(session, clock)
    before = _hash(session, "robin@example.org")

    answer = client.post(
        _path(session, path), data={"csrf_token": csrf_token(client), **POSTS[path]}
    )

    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/sign-in")
    assert _hash(session, "robin@example.org") == before


@pytest.mark.parametrize("path", list(POSTS))
@pytest.mark.parametrize("token", [None, "", "not-a-token", "forged.token.value"])
def test_a_post_without_a_valid_csrf_token_gets_400_and_changes_nothing(
    client: FlaskClient, session: Session, clock: Clock, path: str, token: str | None
) -> None:
    _robin_and_kim(session, clock)
    sign_in(client, "robin@example.org")
    before = _hash(session, "robin@example.org")
    data = dict(POSTS[path]) if token is None else {"csrf_token": token, **POSTS[path]}

    answer = client.post(_path(session, path), data=data)

    assert answer.status_code == 400
    assert "This form has expired" in answer.text
    assert _hash(session, "robin@example.org") == before
    assert client.get("/").status_code == 200  # still signed in: sign-out did not happen


def test_a_sign_in_without_a_valid_csrf_token_gets_400_and_counts_no_attempt(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _robin_and_kim(session, clock)

    wrong = client.post("/sign-in", data={"email": "robin@example.org", "password": "guess one"})
    right = client.post("/sign-in", data={"email": "robin@example.org", "password": PASSWORD})

    assert (wrong.status_code, right.status_code) == (400, 400)
    session.expire_all()
    robin = session.scalar(select(Coordinator).where(Coordinator.email == "robin@example.org"))
    assert robin is not None and robin.failed_logins == 0
    assert client.get("/").status_code == 302
    assert session.scalars(select(AuditEntry)).all() == []


@pytest.mark.parametrize("page", PAGES)
def test_another_coordinators_groups_and_people_never_show(
    client: FlaskClient, session: Session, clock: Clock, page: str
) -> None:
    _robin_and_kim(session, clock)
    sign_in(client, "robin@example.org")

    shown = client.get(_path(session, page))

    assert shown.status_code == 200
    for theirs in ("Harbor Group", "Harbor recovery group", "Vera", "kim@example.org"):
        assert theirs not in shown.text


@pytest.mark.parametrize(
    ("method", "rule"),
    [("GET", page) for page in PAGES if "<" in page] + [("POST", p) for p in POSTS if "<" in p],
)
def test_another_coordinators_ids_answer_404_and_change_nothing(
    client: FlaskClient, session: Session, clock: Clock, method: str, rule: str
) -> None:
    _robin_and_kim(session, clock)
    sign_in(client, "robin@example.org")
    token = csrf_token(client, "/account/password")
    theirs = _path(session, rule, "HARBOR")
    before = session.scalars(select(InboundMessage.read)).all()

    if method == "GET":
        answer = client.get(theirs)
    else:
        answer = client.post(theirs, data={"csrf_token": token, **POSTS[rule]})

    assert answer.status_code == 404
    assert "Vera" not in answer.text and "HARBOR" not in answer.text
    session.expire_all()
    assert session.scalars(select(InboundMessage.read)).all() == before
    assert session.scalars(select(AuditEntry.action)).all() == ["coordinator.sign_in"]


def test_webhooks_and_the_api_take_no_csrf_token(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _robin_and_kim(session, clock)
    token = token_for(session, clock, "robin@example.org")

    texted = text_in(client, "+12025550111", "HELP")
    api = client.post("/api/v1/campaigns/4242/pause", headers={"Authorization": f"Bearer {token}"})
    nowhere = client.post("/api/v1/nothing-here")

    assert texted.status_code == 200
    assert api.status_code == 404  # it reached the route, which found no such campaign
    assert api.get_json()["message"] == "No campaign 4242."
    assert nowhere.status_code == 404
