"""Every dashboard route against who may use it: signed out, without a CSRF token, and as
another coordinator. A new route fails the first test until it is added to the matrix."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.models import AuditEntry, Coordinator, Group, MeetingSchedule
from tests.api import token_for
from tests.dashboard import PASSWORD, csrf_token, sign_in, with_password
from tests.support import Clock, make_group, make_participant, make_schedule, text_in

NEW = "a perfectly new password"
# Each protected route, with what a request to it would change if it got through.
PAGES = ["/", "/account/password", "/meetings"]
POSTS = {
    "/account/password": {"current": PASSWORD, "new": NEW, "repeat": NEW},
    "/sign-out": {},
}
OPEN = {("GET", "/sign-in"), ("POST", "/sign-in")}
# Routes under one group, as the app spells them: <int:group_id> is a group of Robin's, and
# <key> one of its meetings (CIRCLE meets Tuesdays at 18:30 from 3 March 2026).
GROUP_PAGES = [
    "/groups/<int:group_id>/meetings",
    "/groups/<int:group_id>/meetings/<key>/move",
]
GROUP_POSTS = {
    "/groups/<int:group_id>/meetings/schedule": {
        "often": "weekly", "days": "3", "at": "19:00", "start": "2026-03-05", "duration": "60",
    },
    "/groups/<int:group_id>/meetings/<key>/cancel": {},
    "/groups/<int:group_id>/meetings/<key>/move": {"day": "2026-03-11", "at": "19:00"},
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
    covered |= {("GET", page) for page in GROUP_PAGES} | {("POST", p) for p in GROUP_POSTS}
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


def _in_circle(session: Session, clock: Clock, rule: str) -> tuple[str, str]:
    """rule's address under Robin's CIRCLE and under Kim's HARBOR, both meeting Tuesdays."""
    _robin_and_kim(session, clock)
    for code in ("CIRCLE", "HARBOR"):
        make_schedule(session, _group(session, code))
    path = rule.replace("<key>", "20260310T1830")
    return (
        path.replace("<int:group_id>", str(_group(session, "CIRCLE").id)),
        path.replace("<int:group_id>", str(_group(session, "HARBOR").id)),
    )


def _group(session: Session, code: str) -> Group:
    return session.scalars(select(Group).where(Group.join_code == code)).one()


def _meetings_of(session: Session, code: str) -> tuple[object, ...]:
    """The group's schedule and its changes to single meetings, to compare before and after."""
    session.expire_all()
    schedule = session.scalars(
        select(MeetingSchedule).where(MeetingSchedule.group_id == _group(session, code).id)
    ).one()
    changes = sorted((c.occurrence_key, c.cancelled, str(c.new_start)) for c in schedule.changes)
    return schedule.rrule, schedule.first_start, schedule.duration_minutes, changes


@pytest.mark.parametrize("rule", GROUP_PAGES)
def test_a_signed_out_visitor_to_a_groups_page_is_sent_to_sign_in(
    client: FlaskClient, session: Session, clock: Clock, rule: str
) -> None:
    robins, _ = _in_circle(session, clock, rule)

    answer = client.get(robins)

    assert answer.status_code == 302
    assert answer.headers["Location"] == f"/sign-in?next={robins}"


@pytest.mark.parametrize("rule", list(GROUP_POSTS))
def test_a_groups_form_without_a_valid_csrf_token_or_signed_out_changes_nothing(
    client: FlaskClient, session: Session, clock: Clock, rule: str
) -> None:
    robins, _ = _in_circle(session, clock, rule)
    before = _meetings_of(session, "CIRCLE")

    signed_out = client.post(robins, data={"csrf_token": csrf_token(client), **GROUP_POSTS[rule]})
    sign_in(client, "robin@example.org")
    forged = client.post(robins, data={"csrf_token": "forged.token", **GROUP_POSTS[rule]})

    assert signed_out.status_code == 302
    assert signed_out.headers["Location"].startswith("/sign-in")
    assert forged.status_code == 400
    assert _meetings_of(session, "CIRCLE") == before


@pytest.mark.parametrize("rule", GROUP_PAGES + list(GROUP_POSTS))
def test_another_coordinators_group_answers_404_and_changes_nothing(
    client: FlaskClient, session: Session, clock: Clock, rule: str
) -> None:
    robins, kims = _in_circle(session, clock, rule)
    sign_in(client, "robin@example.org")
    before = _meetings_of(session, "HARBOR")

    if rule in GROUP_POSTS:
        token = csrf_token(client, "/")
        theirs = client.post(kims, data={"csrf_token": token, **GROUP_POSTS[rule]})
        mine = client.post(robins, data={"csrf_token": token, **GROUP_POSTS[rule]})
    else:
        theirs, mine = client.get(kims), client.get(robins)

    assert theirs.status_code == 404
    assert mine.status_code in (200, 302)  # the same request reaches Robin's own group
    assert "Harbor" not in theirs.text and "Vera" not in theirs.text
    assert _meetings_of(session, "HARBOR") == before
