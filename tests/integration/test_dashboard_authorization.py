"""Every dashboard route against who may use it, from one table: signed out, without a valid
CSRF token, as another group's coordinator, and as a coordinator on an admin's page.

Robin runs CIRCLE (Sam), Kim runs HARBOR (Vera), Ada is an admin. Each route is tried with the
ids of Kim's group, its member, reply, send, campaign and meeting; nothing any refused request
could change may change. A new route fails the first test until it is added to ROUTES.

A refused request changes nothing (each test asserts so after every request), so the refused
requests of a batch of routes share one world and one sign-in: each is tried on the world as
it was built, as it would be in a test of its own, and is asserted on its own (a subtest names
the route). The requests that are let through change things, and get a world each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from service.models import (
    ApiToken,
    AuditEntry,
    Campaign,
    CampaignKind,
    ConsentEvent,
    Coordinator,
    Group,
    InboundMessage,
    MeetingSchedule,
    Membership,
    OutboxKind,
    OutboxMessage,
    Participant,
    Role,
)
from service.web.dashboard.people import ROSTER_SALT
from tests.api import token_for
from tests.dashboard import PASSWORD, csrf_token, sign_in, with_password
from tests.support import Clock, make_campaign, make_group, make_participant, make_schedule, text_in

NEW = "a perfectly new password"
MEETING = "20260310T1830"  # a Tuesday meeting of both groups (they meet from 3 March 2026)
THEIRS = ("Harbor Group", "Harbor recovery group", "Vera", "kim@example.org", "HARBOR")


class Who(Enum):
    """Who may use a route."""

    ANYONE = "any coordinator; it shows or changes only their own groups"
    GROUP = "the coordinator of the group its ids belong to (or an admin)"
    ADMIN = "admins only; anyone else is told there is no such page"


@dataclass(frozen=True)
class Route:
    method: str
    rule: str  # as the app's URL map spells it
    who: Who
    form: dict[str, str] = field(default_factory=dict)  # {group} is the group tried

    def __str__(self) -> str:
        return f"{self.method} {self.rule}"


GROUP_FORM = {
    "name": "Taken over",
    "public_name": "Taken over",
    "join_code": "TAKEN",
    "timezone": "America/New_York",
    "language": "en",
    "quiet_start": "21:00",
    "quiet_end": "08:00",
}
PERSON = "/groups/<int:group_id>/people/<int:participant_id>"
A, G, X = Who.ANYONE, Who.GROUP, Who.ADMIN
ROUTES = [
    Route("GET", "/", A),
    Route("GET", "/groups/<int:group_id>/quiet", G),
    Route("GET", "/account/password", A),
    Route("POST", "/account/password", A, {"current": PASSWORD, "new": NEW, "repeat": NEW}),
    Route("POST", "/sign-out", A),
    # Groups
    Route("GET", "/groups", A),
    Route("GET", "/groups/new", X),
    Route("POST", "/groups/new", X, GROUP_FORM),
    Route("GET", "/groups/<int:group_id>", G),
    Route("GET", "/groups/<int:group_id>/edit", G),
    Route("POST", "/groups/<int:group_id>/edit", G, GROUP_FORM),
    # Meetings
    Route("GET", "/meetings", A),
    Route("GET", "/groups/<int:group_id>/meetings", G),
    Route(
        "POST",
        "/groups/<int:group_id>/meetings/schedule",
        G,
        {
            "often": "weekly",
            "days": "3",
            "at": "19:00",
            "start": "2026-03-05",
            "duration": "60",
        },
    ),
    Route("POST", "/groups/<int:group_id>/meetings/<key>/cancel", G),
    Route("GET", "/groups/<int:group_id>/meetings/<key>/move", G),
    Route(
        "POST",
        "/groups/<int:group_id>/meetings/<key>/move",
        G,
        {"day": "2026-03-11", "at": "19:00"},
    ),
    # Campaigns
    Route("GET", "/campaigns", A),
    Route("GET", "/groups/<int:group_id>/campaigns", G),
    Route("GET", "/groups/<int:group_id>/campaigns/new/<kind>", G),
    Route(
        "POST",
        "/groups/<int:group_id>/campaigns/new/<kind>",
        G,
        {"name": "Snow", "wording_en": "No meeting today.", "action": "save"},
    ),
    Route(
        "POST",
        "/groups/<int:group_id>/campaigns/wording-check",
        G,
        {"kind": "broadcast", "wording_en": "Hello"},
    ),
    Route("GET", "/campaigns/<int:campaign_id>", G),
    Route("POST", "/campaigns/<int:campaign_id>", G, {"name": "Renamed", "action": "save"}),
    Route("POST", "/campaigns/<int:campaign_id>/pause", G),
    Route("POST", "/campaigns/<int:campaign_id>/resume", G),
    Route("GET", "/campaigns/<int:campaign_id>/delete", G),
    Route("POST", "/campaigns/<int:campaign_id>/delete", G),
    # People
    Route("GET", "/people", A),
    Route("GET", "/people/add", A),
    Route(
        "POST",
        "/people/add",
        A,
        {
            "group": "{group}",
            "phone": "+12025550177",
            "language": "en",
            "timezone": "UTC",
            "channel": "sms",
            "consent_note": "Asked at the meeting",
        },
    ),
    Route("GET", "/people/import", A),
    Route("POST", "/people/import", A, {"group": "{group}"}),
    # A roster checked for the group tried, carried signed to the apply step as the page does.
    Route("POST", "/people/import/apply", A, {"roster": "{roster}"}),
    Route("GET", PERSON, G),
    Route(
        "POST",
        PERSON,
        G,
        {"name": "Changed", "language": "en", "timezone": "UTC", "channel": "sms"},
    ),
    Route("POST", f"{PERSON}/remove", G),
    Route("GET", f"{PERSON}/erase", G),
    Route("POST", f"{PERSON}/erase", G),
    Route("POST", f"{PERSON}/opt-out", G, {"note": "Asked by phone"}),
    Route("POST", f"{PERSON}/undo-opt-out", G, {"note": "Mistake"}),
    # Inbox and sends
    Route("GET", "/inbox", A),
    Route("GET", "/inbox/<int:message_id>", G),
    Route("POST", "/inbox/<int:message_id>/reply", G, {"text": "See you there", "answered": "0"}),
    Route("POST", "/inbox/<int:message_id>/count", G, {"text": "See you there"}),
    Route("POST", "/inbox/<int:message_id>/handled", G),
    Route("POST", "/inbox/daily-text", A, {"on": "y", "phone": "+12025550100"}),
    Route("GET", "/sends", A),
    Route("GET", "/sends.csv", A),
    Route("GET", "/sends/<int:send_id>", G),
    # Admins' pages
    Route("GET", "/admin/coordinators", X),
    Route(
        "POST",
        "/admin/coordinators",
        X,
        {
            "email": "new@example.org",
            "name": "New",
            "role": "admin",
            "password": NEW,
        },
    ),
    Route("GET", "/admin/coordinators/<int:coordinator_id>", X),
    Route("POST", "/admin/coordinators/<int:coordinator_id>/password", X, {"password": NEW}),
    Route("POST", "/admin/coordinators/<int:coordinator_id>/disable", X),
    Route("POST", "/admin/coordinators/<int:coordinator_id>/enable", X),
    Route("POST", "/admin/coordinators/<int:coordinator_id>/groups", X, {"group": "{group}"}),
    Route("GET", "/admin/tokens", X),
    Route("POST", "/admin/tokens", X, {"coordinator": "{coordinator}", "name": "sneaky"}),
    Route("POST", "/admin/tokens/<int:token_id>/revoke", X),
    Route("GET", "/audit", X),
]
OPEN = {("GET", "/sign-in"), ("POST", "/sign-in")}  # signing in needs no sign-in
POSTS = [r for r in ROUTES if r.method == "POST"]
BAD_TOKENS = [None, "", "not-a-token", "forged.token.value"]
GUARDED = [r for r in ROUTES if r.who is not Who.ANYONE]  # another coordinator gets 404
LISTS = [r for r in ROUTES if r.who is Who.ANYONE and r.method == "GET"]


def _world(session: Session, clock: Clock) -> None:
    """Robin's CIRCLE with Sam and Kim's HARBOR with Vera, each with a schedule, a reply, a
    send, a campaign, and an API token of its coordinator; Ada, an admin."""
    for code, coordinator, phone, name in (
        ("CIRCLE", "robin@example.org", "+12025550111", "Sam Circle"),
        ("HARBOR", "kim@example.org", "+12025550122", "Vera Harbor"),
    ):
        group = make_group(session, code, coordinator_email=coordinator)
        person = make_participant(session, phone, group, name=name)
        make_schedule(session, group)
        make_campaign(
            session,
            group,
            CampaignKind.BROADCAST,
            wording={"en": "Hi"},
            send_at=clock.now + timedelta(days=2),
        )
        session.add(
            InboundMessage(
                message_sid=f"SM{code:0>32}",
                participant_id=person.id,
                group_id=group.id,
                from_phone=person.phone,
                body=f"a question for {code}",
                intent="message",
                needs_reply=True,
                received_at=clock.now,
            )
        )
        session.add(
            OutboxMessage(
                send_key=f"test:{code}",
                kind=OutboxKind.ONE_OFF,
                body=f"news for {code}",
                participant_id=person.id,
                group_id=group.id,
                due_at=clock.now,
            )
        )
        session.commit()
        with_password(session, coordinator, clock)
        token_for(session, clock, coordinator)
    with_password(session, "ada@example.org", clock, role=Role.ADMIN)


def _group(session: Session, code: str) -> Group:
    return session.scalars(select(Group).where(Group.join_code == code)).one()


def _url(session: Session, route: Route, code: str = "HARBOR", **override: object) -> str:
    """The route's path with the ids of this group's things filled in (or those given)."""
    group = _group(session, code)
    ids: dict[str, object] = {
        "group_id": group.id,
        "participant_id": session.scalar(
            select(Membership.participant_id).where(Membership.group_id == group.id)
        ),
        "message_id": session.scalar(
            select(InboundMessage.id).where(InboundMessage.group_id == group.id)
        ),
        "send_id": session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.group_id == group.id)
        ),
        "campaign_id": session.scalar(select(Campaign.id).where(Campaign.group_id == group.id)),
        "key": MEETING,
        "kind": "broadcast",
        "coordinator_id": group.coordinator_id,
        "token_id": session.scalar(
            select(ApiToken.id).where(ApiToken.coordinator_id == group.coordinator_id)
        ),
        **override,
    }
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids[m.group(1)]), route.rule)


def _form(
    client: FlaskClient, session: Session, route: Route, token: str | None, code: str = "HARBOR"
) -> dict[str, str]:
    group = _group(session, code)
    roster = {"group": group.id, "note": "Signed up at the meeting", "csv": "phone\n+12025550177\n"}
    values = {
        "group": str(group.id),
        "coordinator": str(group.coordinator_id),
        "roster": URLSafeTimedSerializer(
            client.application.config["SECRET_KEY"], ROSTER_SALT
        ).dumps(roster),
    }
    form = {name: value.format(**values) for name, value in route.form.items()}
    return form if token is None else {"csrf_token": token, **form}


def _everything(session: Session) -> tuple[object, ...]:
    """All that a dashboard request could change, to compare before and after."""
    session.expire_all()

    def rows(*columns: Any) -> list[tuple[object, ...]]:
        return sorted(map(tuple, session.execute(select(*columns)).all()), key=repr)

    schedules = [
        (
            s.group_id,
            s.rrule,
            s.first_start,
            s.duration_minutes,
            sorted((c.occurrence_key, c.cancelled, str(c.new_start)) for c in s.changes),
        )
        for s in session.scalars(select(MeetingSchedule).order_by(MeetingSchedule.id))
    ]
    return (
        rows(
            Coordinator.email,
            Coordinator.password_hash,
            Coordinator.disabled,
            Coordinator.phone,
            Coordinator.daily_text,
        ),
        rows(ApiToken.name, ApiToken.revoked_at),
        rows(Group.id, Group.name, Group.public_name, Group.join_code, Group.coordinator_id),
        rows(Membership.id, Membership.name, Membership.status),
        rows(Participant.id, Participant.consent),
        session.scalar(select(func.count()).select_from(ConsentEvent)),
        rows(InboundMessage.id, InboundMessage.read, InboundMessage.handled_at),
        session.scalar(select(func.count()).select_from(OutboxMessage)),
        rows(Campaign.name, Campaign.status, Campaign.deleted_at),
        schedules,
        [a for a in rows(AuditEntry.action) if a != ("coordinator.sign_in",)],
    )


def _send(client: FlaskClient, session: Session, route: Route, token: str | None) -> TestResponse:
    path = _url(session, route)
    if route.method == "GET":
        return client.get(path)
    return client.post(path, data=_form(client, session, route, token))


def _batches(routes: list[Route], size: int) -> list[Any]:
    """The routes, size to a test, in their order; a test's id is where its batch starts."""
    return [
        pytest.param(routes[n : n + size], id=f"{n + 1}-{min(n + size, len(routes))}")
        for n in range(0, len(routes), size)
    ]


def test_the_matrix_covers_every_dashboard_route(app: Flask) -> None:
    routes = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("dashboard.")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    listed = [(route.method, route.rule) for route in ROUTES]

    assert len(listed) == len(set(listed))  # each once
    assert routes == set(listed) | OPEN


@pytest.mark.parametrize("routes", _batches(ROUTES, 16))
def test_a_signed_out_visitor_is_sent_to_sign_in_and_nothing_changes(
    app: Flask, session: Session, clock: Clock, subtests: pytest.Subtests, routes: list[Route]
) -> None:
    _world(session, clock)
    before = _everything(session)

    for route in routes:
        with subtests.test(route=str(route)):
            client = app.test_client()  # a visitor of its own, never signed in
            answer = _send(client, session, route, csrf_token(client))

            assert answer.status_code == 302
            path = _url(session, route)
            if route.method == "GET":
                assert answer.headers["Location"] == (
                    "/sign-in" if path == "/" else f"/sign-in?next={path}"
                )
            else:
                assert answer.headers["Location"].startswith("/sign-in")
            assert not any(word in answer.text for word in THEIRS)
            was, before = before, _everything(session)
            assert before == was


@pytest.mark.parametrize("routes", _batches(POSTS, 8))
def test_a_post_without_a_valid_csrf_token_gets_400_and_nothing_changes(
    app: Flask, session: Session, clock: Clock, subtests: pytest.Subtests, routes: list[Route]
) -> None:
    _world(session, clock)
    kim, ada = app.test_client(), app.test_client()
    sign_in(kim, "kim@example.org")
    sign_in(ada, "ada@example.org")
    before = _everything(session)

    for route in routes:
        client = ada if route.who is Who.ADMIN else kim
        for token in BAD_TOKENS:
            with subtests.test(route=str(route), token=token):
                answer = _send(client, session, route, token)

                assert answer.status_code == 400
                assert "This form has expired" in answer.text
                was, before = before, _everything(session)
                assert before == was
                # Still signed in: not even sign-out went through. (The dashboard's one
                # sign-in check guards every page; this one is quicker to draw than "/".)
                assert client.get("/account/password").status_code == 200


@pytest.mark.parametrize("routes", _batches(GUARDED, 15))
def test_another_groups_coordinator_gets_404_and_nothing_changes(
    client: FlaskClient,
    session: Session,
    clock: Clock,
    subtests: pytest.Subtests,
    routes: list[Route],
) -> None:
    _world(session, clock)
    sign_in(client, "robin@example.org")
    token = csrf_token(client, "/account/password")
    before = _everything(session)

    for route in routes:
        with subtests.test(route=str(route)):
            answer = _send(client, session, route, token)

            assert answer.status_code == 404  # signed out, it would be a 302
            assert not any(word in answer.text for word in THEIRS)
            was, before = before, _everything(session)
            assert before == was


@pytest.mark.parametrize("route", GUARDED, ids=str)
def test_the_same_request_reaches_the_groups_own_coordinator_or_an_admin(
    client: FlaskClient, session: Session, clock: Clock, route: Route
) -> None:
    """The 404 above is about whose it is: the same address works for the one it belongs to."""
    _world(session, clock)
    sign_in(client, "ada@example.org" if route.who is Who.ADMIN else "kim@example.org")

    answer = _send(client, session, route, csrf_token(client, "/account/password"))

    assert answer.status_code in ((200,) if route.method == "GET" else (200, 302, 422))


def test_a_coordinators_pages_show_nothing_of_another_coordinators_groups(
    client: FlaskClient, session: Session, clock: Clock, subtests: pytest.Subtests
) -> None:
    _world(session, clock)
    sign_in(client, "robin@example.org")

    for route in LISTS:
        with subtests.test(route=str(route)):
            shown = client.get(route.rule)

            assert shown.status_code == 200
            assert not any(word in shown.text for word in THEIRS)


def test_naming_another_coordinators_group_in_a_form_is_refused_and_nothing_changes(
    client: FlaskClient, session: Session, clock: Clock, subtests: pytest.Subtests
) -> None:
    _world(session, clock)
    sign_in(client, "robin@example.org")
    token = csrf_token(client, "/account/password")
    before = _everything(session)

    for route in [r for r in POSTS if "{" in "".join(r.form.values())]:
        with subtests.test(route=str(route)):
            answer = client.post(
                _url(session, route), data=_form(client, session, route, token, "HARBOR")
            )

            assert answer.status_code in (404, 422)
            assert not any(word in answer.text for word in THEIRS)
            was, before = before, _everything(session)
            assert before == was


def test_another_coordinators_group_is_not_found_on_the_people_pages(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _world(session, clock)
    harbor = _group(session, "HARBOR").id
    sign_in(client, "robin@example.org")

    assert client.get(f"/people?group={harbor}").status_code == 404
    assert "Harbor" not in client.get(f"/people/add?group={harbor}").text
    assert "Harbor" not in client.get(f"/people/import?group={harbor}").text


def test_a_person_of_another_group_under_my_groups_id_is_not_found(
    client: FlaskClient, session: Session, clock: Clock, subtests: pytest.Subtests
) -> None:
    """Vera (Kim's) under the id of Robin's group: the pair must match, not each id alone."""
    _world(session, clock)
    vera = session.scalar(select(Participant.id).where(Participant.phone == "+12025550122"))
    sign_in(client, "robin@example.org")
    token = csrf_token(client, "/account/password")
    before = _everything(session)

    for route in [r for r in ROUTES if "participant_id" in r.rule]:
        with subtests.test(route=str(route)):
            crossed = _url(session, route, "CIRCLE", participant_id=vera)
            if route.method == "GET":
                answer = client.get(crossed)
            else:
                answer = client.post(crossed, data=_form(client, session, route, token, "CIRCLE"))

            assert answer.status_code == 404
            assert "Vera" not in answer.text
            was, before = before, _everything(session)
            assert before == was


@pytest.mark.parametrize("path", ["/admin/coordinators/4242", "/campaigns/4242", "/inbox/4242"])
def test_an_address_for_no_such_record_is_404_even_for_an_admin(
    client: FlaskClient, session: Session, clock: Clock, path: str
) -> None:
    _world(session, clock)
    sign_in(client, "ada@example.org")

    assert client.get(path).status_code == 404


def test_a_sign_in_without_a_valid_csrf_token_gets_400_and_counts_no_attempt(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _world(session, clock)

    wrong = client.post("/sign-in", data={"email": "robin@example.org", "password": "guess one"})
    right = client.post("/sign-in", data={"email": "robin@example.org", "password": PASSWORD})

    assert (wrong.status_code, right.status_code) == (400, 400)
    session.expire_all()
    robin = session.scalar(select(Coordinator).where(Coordinator.email == "robin@example.org"))
    assert robin is not None and robin.failed_logins == 0
    assert client.get("/").status_code == 302
    assert session.scalars(select(AuditEntry)).all() == []


def test_webhooks_and_the_api_take_no_csrf_token(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _world(session, clock)
    clock.now += timedelta(seconds=1)  # a token of another name than the one _world made
    token = token_for(session, clock, "robin@example.org")

    texted = text_in(client, "+12025550111", "HELP")
    api = client.post("/api/v1/campaigns/4242/pause", headers={"Authorization": f"Bearer {token}"})
    nowhere = client.post("/api/v1/nothing-here")

    assert texted.status_code == 200
    assert api.status_code == 404  # it reached the route, which found no such campaign
    assert api.get_json()["message"] == "No campaign 4242."
    assert nowhere.status_code == 404
