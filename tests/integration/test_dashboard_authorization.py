"""Every dashboard route against who may use it: signed out, without a CSRF token, and as
another coordinator. A new route fails the first test until it is added to the matrix."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.models import ApiToken, AuditEntry, Coordinator, Group, Role
from tests.api import token_for
from tests.dashboard import PASSWORD, csrf_token, sign_in, with_password
from tests.support import Clock, make_group, make_participant, text_in

NEW = "a perfectly new password"
# Each protected route, with what a request to it would change if it got through.
PAGES = ["/", "/account/password"]
POSTS = {
    "/account/password": {"current": PASSWORD, "new": NEW, "repeat": NEW},
    "/sign-out": {},
}
OPEN = {("GET", "/sign-in"), ("POST", "/sign-in")}
# Admins' pages (a coordinator gets 404): each rule, the path tried, and a POST's form.
KIM = 2  # Kim's coordinator id in _robin_and_kim, and her token's id in _kims_token
ADMIN_PAGES = {
    "/admin/coordinators": "/admin/coordinators",
    "/admin/coordinators/<int:coordinator_id>": f"/admin/coordinators/{KIM}",
    "/admin/tokens": "/admin/tokens",
    "/audit": "/audit",
}
ADMIN_POSTS = {
    "/admin/coordinators": ("/admin/coordinators", {
        "email": "new@example.org", "name": "New", "role": "admin", "password": NEW,
    }),
    "/admin/coordinators/<int:coordinator_id>/password": (
        f"/admin/coordinators/{KIM}/password", {"password": NEW},
    ),
    "/admin/coordinators/<int:coordinator_id>/disable": (f"/admin/coordinators/{KIM}/disable", {}),
    "/admin/coordinators/<int:coordinator_id>/enable": (f"/admin/coordinators/{KIM}/enable", {}),
    "/admin/coordinators/<int:coordinator_id>/groups": (
        f"/admin/coordinators/{KIM}/groups", {"group": "1"},
    ),
    "/admin/tokens": ("/admin/tokens", {"coordinator": str(KIM), "name": "sneaky"}),
    "/admin/tokens/<int:token_id>/revoke": (f"/admin/tokens/{KIM}/revoke", {}),
}  # fmt: skip


def _robin_and_kim(session: Session, clock: Clock) -> None:
    circle = make_group(session, "CIRCLE", coordinator_email="robin@example.org")
    harbor = make_group(session, "HARBOR", coordinator_email="kim@example.org")
    make_participant(session, "+12025550111", circle, name="Sam Circle")
    make_participant(session, "+12025550122", harbor, name="Vera Harbor")
    with_password(session, "robin@example.org", clock)
    with_password(session, "kim@example.org", clock)


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
    covered |= {("GET", rule) for rule in ADMIN_PAGES} | {("POST", rule) for rule in ADMIN_POSTS}
    assert routes == covered


@pytest.mark.parametrize("page", PAGES)
def test_a_signed_out_visitor_is_sent_to_sign_in(
    client: FlaskClient, session: Session, clock: Clock, page: str
) -> None:
    _robin_and_kim(session, clock)

    answer = client.get(page)

    assert answer.status_code == 302
    expected = "/sign-in" if page == "/" else f"/sign-in?next={page}"
    assert answer.headers["Location"] == expected
    assert "Circle" not in answer.text


@pytest.mark.parametrize("path", list(POSTS))
def test_a_signed_out_post_with_a_valid_token_is_sent_to_sign_in_and_changes_nothing(
    client: FlaskClient, session: Session, clock: Clock, path: str
) -> None:
    _robin_and_kim(session, clock)
    before = _hash(session, "robin@example.org")

    answer = client.post(path, data={"csrf_token": csrf_token(client), **POSTS[path]})

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

    answer = client.post(path, data=data)

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

    shown = client.get(page)

    assert shown.status_code == 200
    for theirs in ("Harbor Group", "Harbor recovery group", "Vera", "kim@example.org"):
        assert theirs not in shown.text


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


def _kims_token(session: Session, clock: Clock) -> None:
    token_for(session, clock, "robin@example.org")  # id 1
    token_for(session, clock, "kim@example.org")  # id 2 (KIM)


def _accounts(session: Session) -> list[tuple[object, ...]]:
    session.expire_all()
    people = session.execute(
        select(Coordinator.email, Coordinator.password_hash, Coordinator.disabled)
    ).all()
    tokens = session.execute(select(ApiToken.name, ApiToken.revoked_at)).all()
    groups = session.execute(select(Group.id, Group.coordinator_id)).all()
    return sorted(map(tuple, people)) + sorted(map(tuple, tokens)) + sorted(map(tuple, groups))


@pytest.mark.parametrize("rule", list(ADMIN_PAGES))
def test_a_signed_out_visitor_to_an_admin_page_is_sent_to_sign_in(
    client: FlaskClient, session: Session, clock: Clock, rule: str
) -> None:
    _robin_and_kim(session, clock)

    answer = client.get(ADMIN_PAGES[rule])

    assert answer.status_code == 302
    assert answer.headers["Location"] == f"/sign-in?next={ADMIN_PAGES[rule]}"


@pytest.mark.parametrize("rule", list(ADMIN_PAGES))
def test_admin_pages_do_not_exist_for_a_coordinator(
    client: FlaskClient, session: Session, clock: Clock, rule: str
) -> None:
    _robin_and_kim(session, clock)
    sign_in(client, "robin@example.org")

    answer = client.get(ADMIN_PAGES[rule])

    assert answer.status_code == 404
    assert "kim@example.org" not in answer.text


@pytest.mark.parametrize("rule", list(ADMIN_POSTS))
def test_an_admin_post_by_a_coordinator_is_404_and_changes_nothing(
    client: FlaskClient, session: Session, clock: Clock, rule: str
) -> None:
    _robin_and_kim(session, clock)
    _kims_token(session, clock)
    sign_in(client, "robin@example.org")
    before = _accounts(session)
    path, form = ADMIN_POSTS[rule]

    answer = client.post(path, data={"csrf_token": csrf_token(client, "/"), **form})

    assert answer.status_code == 404
    assert _accounts(session) == before


@pytest.mark.parametrize("rule", list(ADMIN_POSTS))
def test_an_admin_post_without_a_csrf_token_gets_400_and_changes_nothing(
    client: FlaskClient, session: Session, clock: Clock, rule: str
) -> None:
    _robin_and_kim(session, clock)
    _kims_token(session, clock)
    with_password(session, "ada@example.org", clock, role=Role.ADMIN)
    sign_in(client, "ada@example.org")
    before = _accounts(session)
    path, form = ADMIN_POSTS[rule]

    answer = client.post(path, data=form)

    assert answer.status_code == 400
    assert _accounts(session) == before


@pytest.mark.parametrize("rule", [r for r in ADMIN_PAGES if "<" in r])
def test_an_admin_page_for_no_such_record_is_404(
    client: FlaskClient, session: Session, clock: Clock, rule: str
) -> None:
    _robin_and_kim(session, clock)
    with_password(session, "ada@example.org", clock, role=Role.ADMIN)
    sign_in(client, "ada@example.org")

    assert client.get(ADMIN_PAGES[rule].replace(str(KIM), "4242")).status_code == 404
