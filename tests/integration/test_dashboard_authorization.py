"""Every dashboard route against who may use it: signed out, without a CSRF token, and as
another coordinator. A new route fails the first test until it is added to the matrix."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.models import AuditEntry, Campaign, CampaignKind, Coordinator, Group
from tests.api import token_for
from tests.dashboard import PASSWORD, csrf_token, sign_in, with_password
from tests.support import Clock, make_campaign, make_group, make_participant, text_in

NEW = "a perfectly new password"
# Each protected route, with what a request to it would change if it got through.
PAGES = ["/", "/account/password", "/campaigns"]
POSTS = {
    "/account/password": {"current": PASSWORD, "new": NEW, "repeat": NEW},
    "/sign-out": {},
}
OPEN = {("GET", "/sign-in"), ("POST", "/sign-in")}
# Routes that take an id: (method, rule, the URL for a group's or campaign's id, form data).
WITH_IDS = [
    ("GET", "/groups/<int:group_id>/campaigns", "/groups/{group}/campaigns", {}),
    (
        "GET",
        "/groups/<int:group_id>/campaigns/new/<kind>",
        "/groups/{group}/campaigns/new/broadcast",
        {},
    ),
    (
        "POST",
        "/groups/<int:group_id>/campaigns/new/<kind>",
        "/groups/{group}/campaigns/new/broadcast",
        {"name": "Snow", "wording_en": "No meeting today.", "action": "save"},
    ),
    (
        "POST",
        "/groups/<int:group_id>/campaigns/wording-check",
        "/groups/{group}/campaigns/wording-check",
        {"kind": "broadcast", "wording_en": "Hello"},
    ),
    ("GET", "/campaigns/<int:campaign_id>", "/campaigns/{campaign}", {}),
    (
        "POST",
        "/campaigns/<int:campaign_id>",
        "/campaigns/{campaign}",
        {"name": "Renamed", "action": "save"},
    ),
    ("POST", "/campaigns/<int:campaign_id>/pause", "/campaigns/{campaign}/pause", {}),
    ("POST", "/campaigns/<int:campaign_id>/resume", "/campaigns/{campaign}/resume", {}),
    ("GET", "/campaigns/<int:campaign_id>/delete", "/campaigns/{campaign}/delete", {}),
    ("POST", "/campaigns/<int:campaign_id>/delete", "/campaigns/{campaign}/delete", {}),
]


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
    covered |= {(method, rule) for method, rule, _, _ in WITH_IDS}
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


def _kims_campaign(session: Session) -> tuple[int, int]:
    """Kim's group and a campaign of it, for the routes that take an id."""
    harbor = session.scalar(select(Group).where(Group.join_code == "HARBOR"))
    assert harbor is not None
    campaign = make_campaign(session, harbor, CampaignKind.BROADCAST, wording={"en": "Hi"})
    return harbor.id, campaign.id


def _state(session: Session) -> list[tuple[str, str, object]]:
    session.expire_all()
    return [(c.name, c.status.value, c.deleted_at) for c in session.scalars(select(Campaign))]


@pytest.mark.parametrize(("method", "rule", "url", "data"), WITH_IDS)
def test_a_signed_out_visitor_reaches_no_route_with_an_id(
    client: FlaskClient,
    session: Session,
    clock: Clock,
    method: str,
    rule: str,
    url: str,
    data: dict[str, str],
) -> None:
    _robin_and_kim(session, clock)
    group, campaign = _kims_campaign(session)
    before = _state(session)
    token = csrf_token(client)

    answer = client.open(
        url.format(group=group, campaign=campaign),
        method=method,
        data={"csrf_token": token, **data} if method == "POST" else None,
    )

    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/sign-in")
    assert _state(session) == before


@pytest.mark.parametrize(("method", "rule", "url", "data"), [r for r in WITH_IDS if r[0] == "POST"])
def test_a_post_with_an_id_without_a_csrf_token_gets_400_and_changes_nothing(
    client: FlaskClient,
    session: Session,
    clock: Clock,
    method: str,
    rule: str,
    url: str,
    data: dict[str, str],
) -> None:
    _robin_and_kim(session, clock)
    harbor, campaign = _kims_campaign(session)
    sign_in(client, "kim@example.org")
    before = _state(session)

    answer = client.post(url.format(group=harbor, campaign=campaign), data=data)

    assert answer.status_code == 400
    assert _state(session) == before


@pytest.mark.parametrize(("method", "rule", "url", "data"), WITH_IDS)
def test_another_coordinators_group_or_campaign_answers_404_and_changes_nothing(
    client: FlaskClient,
    session: Session,
    clock: Clock,
    method: str,
    rule: str,
    url: str,
    data: dict[str, str],
) -> None:
    _robin_and_kim(session, clock)
    harbor, campaign = _kims_campaign(session)
    sign_in(client, "robin@example.org")
    before = _state(session)
    token = csrf_token(client, "/account/password")

    answer = client.open(
        url.format(group=harbor, campaign=campaign),
        method=method,
        data={"csrf_token": token, **data} if method == "POST" else None,
    )

    assert answer.status_code == 404
    assert "Harbor" not in answer.text
    assert _state(session) == before
