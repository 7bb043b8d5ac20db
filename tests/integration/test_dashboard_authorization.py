"""Every dashboard route against who may use it: signed out, without a CSRF token, and as
another coordinator. A new route fails the first test until it is added to the matrix."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

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
from tests.api import token_for
from tests.dashboard import PASSWORD, csrf_token, sign_in, with_password
from tests.support import Clock, make_campaign, make_group, make_participant, make_schedule, text_in

NEW = "a perfectly new password"
# Each protected route, with what a request to it would change if it got through.
PAGES = [
    "/",
    "/account/password",
    "/groups",
    "/people",
    "/people/add",
    "/people/import",
    "/meetings",
    "/campaigns",
    "/inbox",
    "/inbox/<int:message_id>",
    "/sends",
    "/sends.csv",
    "/sends/<int:send_id>",
]
GROUP_FORM = {
    "name": "Taken over",
    "public_name": "Taken over",
    "join_code": "TAKEN",
    "timezone": "America/New_York",
    "language": "en",
    "quiet_start": "21:00",
    "quiet_end": "08:00",
}
POSTS = {
    "/account/password": {"current": PASSWORD, "new": NEW, "repeat": NEW},
    "/sign-out": {},
    "/groups/new": GROUP_FORM,
    "/people/add": {"phone": "+12025550177", "language": "en", "timezone": "UTC", "channel": "sms"},
    "/people/import": {},
    "/people/import/apply": {"roster": "x"},
    "/inbox/<int:message_id>/reply": {"text": "See you there", "answered": "0"},
    "/inbox/<int:message_id>/count": {"text": "See you there"},
    "/inbox/<int:message_id>/handled": {},
    "/inbox/daily-text": {"on": "y", "phone": "+12025550100"},
}
# A person's pages, for Sam (in Robin's CIRCLE) and Vera (in Kim's HARBOR): {gid} and {pid}.
PERSON = "/groups/<int:group_id>/people/<int:participant_id>"
PERSON_PAGES = [PERSON, f"{PERSON}/erase"]
PERSON_POSTS = {
    PERSON: {"name": "Changed", "language": "en", "timezone": "UTC", "channel": "sms"},
    f"{PERSON}/remove": {},
    f"{PERSON}/erase": {},
    f"{PERSON}/opt-out": {"note": "Asked by phone"},
    f"{PERSON}/undo-opt-out": {"note": "Mistake"},
}
# Pages only an admin reaches: anyone else gets 404, as if there were no such page.
ADMIN_PAGES = ["/groups/new"]
# Routes that take a group's id, as the URL map spells them; the tests fill in Kim's group.
ID_PAGES = ["/groups/<int:group_id>", "/groups/<int:group_id>/edit"]
ID_POSTS = {"/groups/<int:group_id>/edit": GROUP_FORM}
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
# Routes under one group, as the app spells them: <int:group_id> is a group of Robin's, and
# <key> one of its meetings (CIRCLE meets Tuesdays at 18:30 from 3 March 2026).
GROUP_PAGES = [
    "/groups/<int:group_id>/meetings",
    "/groups/<int:group_id>/meetings/<key>/move",
]
GROUP_POSTS = {
    "/groups/<int:group_id>/meetings/schedule": {
        "often": "weekly",
        "days": "3",
        "at": "19:00",
        "start": "2026-03-05",
        "duration": "60",
    },
    "/groups/<int:group_id>/meetings/<key>/cancel": {},
    "/groups/<int:group_id>/meetings/<key>/move": {"day": "2026-03-11", "at": "19:00"},
}
# Admins' pages (a coordinator gets 404): each rule, the path tried, and a POST's form.
KIM = 2  # Kim's coordinator id in _robin_and_kim, and her token's id in _kims_token
ADMIN_AREA_PAGES = {
    "/admin/coordinators": "/admin/coordinators",
    "/admin/coordinators/<int:coordinator_id>": f"/admin/coordinators/{KIM}",
    "/admin/tokens": "/admin/tokens",
    "/audit": "/audit",
}
ADMIN_AREA_POSTS = {
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
    covered = (
        {("GET", page) for page in PAGES + ADMIN_PAGES + ID_PAGES + PERSON_PAGES + GROUP_PAGES}
        | {("POST", path) for path in [*POSTS, *ID_POSTS, *PERSON_POSTS, *GROUP_POSTS]}
        | {("GET", rule) for rule in ADMIN_AREA_PAGES}
        | {("POST", rule) for rule in ADMIN_AREA_POSTS}
        | {(method, rule) for method, rule, _, _ in WITH_IDS}
        | OPEN
    )
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


def _harbor(session: Session, rule: str) -> str:
    """The rule filled in with Kim's group's id."""
    harbor = session.scalar(select(Group.id).where(Group.join_code == "HARBOR"))
    return rule.replace("<int:group_id>", str(harbor))


def _harbor_settings(session: Session) -> tuple[str, str, str]:
    session.expire_all()
    harbor = session.scalars(select(Group).where(Group.coordinator.has(email="kim@example.org")))
    group = harbor.one()
    return group.name, group.public_name, group.join_code


@pytest.mark.parametrize("rule", ID_PAGES)
def test_a_signed_out_visitor_to_a_groups_page_is_sent_to_sign_in(
    client: FlaskClient, session: Session, clock: Clock, rule: str
) -> None:
    _robin_and_kim(session, clock)
    page = _harbor(session, rule)

    answer = client.get(page)

    assert answer.status_code == 302
    assert answer.headers["Location"] == f"/sign-in?next={page}"


@pytest.mark.parametrize("rule", ID_POSTS)
def test_a_signed_out_post_to_a_group_is_sent_to_sign_in_and_changes_nothing(
    client: FlaskClient, session: Session, clock: Clock, rule: str
) -> None:
    _robin_and_kim(session, clock)
    before = _harbor_settings(session)

    answer = client.post(
        _harbor(session, rule), data={"csrf_token": csrf_token(client), **ID_POSTS[rule]}
    )

    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/sign-in")
    assert _harbor_settings(session) == before


@pytest.mark.parametrize("rule", ID_POSTS)
@pytest.mark.parametrize("token", [None, "", "not-a-token"])
def test_a_post_to_ones_own_group_without_a_valid_csrf_token_gets_400_and_changes_nothing(
    client: FlaskClient, session: Session, clock: Clock, rule: str, token: str | None
) -> None:
    _robin_and_kim(session, clock)
    sign_in(client, "kim@example.org")
    before = _harbor_settings(session)
    body = dict(ID_POSTS[rule]) if token is None else {"csrf_token": token, **ID_POSTS[rule]}

    answer = client.post(_harbor(session, rule), data=body)

    assert answer.status_code == 400
    assert _harbor_settings(session) == before


@pytest.mark.parametrize("rule", ID_PAGES)
def test_another_coordinators_group_answers_404(
    client: FlaskClient, session: Session, clock: Clock, rule: str
) -> None:
    _robin_and_kim(session, clock)
    sign_in(client, "robin@example.org")

    answer = client.get(_harbor(session, rule))

    assert answer.status_code == 404
    assert "Harbor" not in answer.text


@pytest.mark.parametrize("rule", ID_POSTS)
def test_a_post_to_another_coordinators_group_answers_404_and_changes_nothing(
    client: FlaskClient, session: Session, clock: Clock, rule: str
) -> None:
    _robin_and_kim(session, clock)
    sign_in(client, "robin@example.org")
    before = _harbor_settings(session)

    answer = client.post(
        _harbor(session, rule), data={"csrf_token": csrf_token(client, "/"), **ID_POSTS[rule]}
    )

    assert answer.status_code == 404
    assert _harbor_settings(session) == before


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_a_coordinator_gets_404_on_an_admins_page_and_its_post_changes_nothing(
    client: FlaskClient, session: Session, clock: Clock, page: str
) -> None:
    _robin_and_kim(session, clock)
    sign_in(client, "robin@example.org")
    groups = session.scalar(select(func.count()).select_from(Group))

    shown = client.get(page)
    posted = client.post(page, data={"csrf_token": csrf_token(client, "/"), **POSTS.get(page, {})})

    assert (shown.status_code, posted.status_code) == (404, 404)
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Group)) == groups


def _person(session: Session, code: str, phone: str, rule: str) -> str:
    person = session.scalar(select(Participant).where(Participant.phone == phone))
    group = session.scalar(select(Group).where(Group.join_code == code))
    assert person is not None and group is not None
    return rule.replace("<int:group_id>", str(group.id)).replace(
        "<int:participant_id>", str(person.id)
    )


def _people(session: Session) -> tuple[object, ...]:
    session.expire_all()
    return (
        tuple(session.execute(select(Membership.id, Membership.name, Membership.status)).all()),
        tuple(session.execute(select(Participant.id, Participant.consent)).all()),
        session.scalar(select(func.count()).select_from(ConsentEvent)),
    )


@pytest.mark.parametrize("rule", PERSON_PAGES)
def test_another_coordinators_person_is_not_found_and_mine_signed_out_sign_in(
    client: FlaskClient, session: Session, clock: Clock, rule: str
) -> None:
    _robin_and_kim(session, clock)
    vera = _person(session, "HARBOR", "+12025550122", rule)
    sam = _person(session, "CIRCLE", "+12025550111", rule)
    # Vera in Robin's group id, and Sam in Kim's: neither is Robin's to see.
    crossed = _person(session, "CIRCLE", "+12025550122", rule)

    signed_out = client.get(sam)
    sign_in(client, "robin@example.org")

    assert signed_out.status_code == 302 and signed_out.headers["Location"].startswith("/sign-in")
    assert client.get(sam).status_code == 200
    for path in (vera, crossed):
        answer = client.get(path)
        assert answer.status_code == 404
        assert "Vera" not in answer.text


@pytest.mark.parametrize("rule", list(PERSON_POSTS))
def test_another_coordinators_person_cannot_be_changed_nor_mine_without_a_token(
    client: FlaskClient, session: Session, clock: Clock, rule: str
) -> None:
    _robin_and_kim(session, clock)
    vera = _person(session, "HARBOR", "+12025550122", rule)
    sam = _person(session, "CIRCLE", "+12025550111", rule)
    before = _people(session)

    signed_out = client.post(sam, data={"csrf_token": csrf_token(client), **PERSON_POSTS[rule]})
    sign_in(client, "robin@example.org")
    token = csrf_token(client, "/people")
    theirs = client.post(vera, data={"csrf_token": token, **PERSON_POSTS[rule]})
    forged = client.post(sam, data={"csrf_token": "forged", **PERSON_POSTS[rule]})

    assert signed_out.status_code == 302
    assert theirs.status_code == 404
    assert forged.status_code == 400
    assert _people(session) == before


def test_another_coordinators_group_is_not_found_on_the_people_pages(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _robin_and_kim(session, clock)
    harbor = session.scalar(select(Group).where(Group.join_code == "HARBOR"))
    assert harbor is not None
    sign_in(client, "robin@example.org")

    assert client.get(f"/people?group={harbor.id}").status_code == 404
    assert "Harbor" not in client.get(f"/people/add?group={harbor.id}").text
    assert "Harbor" not in client.get(f"/people/import?group={harbor.id}").text


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
def test_a_signed_out_visitor_to_a_groups_meetings_page_is_sent_to_sign_in(
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
def test_another_coordinators_meetings_answer_404_and_change_nothing(
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


@pytest.mark.parametrize("rule", list(ADMIN_AREA_PAGES))
def test_a_signed_out_visitor_to_an_admin_page_is_sent_to_sign_in(
    client: FlaskClient, session: Session, clock: Clock, rule: str
) -> None:
    _robin_and_kim(session, clock)

    answer = client.get(ADMIN_AREA_PAGES[rule])

    assert answer.status_code == 302
    assert answer.headers["Location"] == f"/sign-in?next={ADMIN_AREA_PAGES[rule]}"


@pytest.mark.parametrize("rule", list(ADMIN_AREA_PAGES))
def test_admin_pages_do_not_exist_for_a_coordinator(
    client: FlaskClient, session: Session, clock: Clock, rule: str
) -> None:
    _robin_and_kim(session, clock)
    sign_in(client, "robin@example.org")

    answer = client.get(ADMIN_AREA_PAGES[rule])

    assert answer.status_code == 404
    assert "kim@example.org" not in answer.text


@pytest.mark.parametrize("rule", list(ADMIN_AREA_POSTS))
def test_an_admin_post_by_a_coordinator_is_404_and_changes_nothing(
    client: FlaskClient, session: Session, clock: Clock, rule: str
) -> None:
    _robin_and_kim(session, clock)
    _kims_token(session, clock)
    sign_in(client, "robin@example.org")
    before = _accounts(session)
    path, form = ADMIN_AREA_POSTS[rule]

    answer = client.post(path, data={"csrf_token": csrf_token(client, "/"), **form})

    assert answer.status_code == 404
    assert _accounts(session) == before


@pytest.mark.parametrize("rule", list(ADMIN_AREA_POSTS))
def test_an_admin_post_without_a_csrf_token_gets_400_and_changes_nothing(
    client: FlaskClient, session: Session, clock: Clock, rule: str
) -> None:
    _robin_and_kim(session, clock)
    _kims_token(session, clock)
    with_password(session, "ada@example.org", clock, role=Role.ADMIN)
    sign_in(client, "ada@example.org")
    before = _accounts(session)
    path, form = ADMIN_AREA_POSTS[rule]

    answer = client.post(path, data=form)

    assert answer.status_code == 400
    assert _accounts(session) == before


@pytest.mark.parametrize("rule", [r for r in ADMIN_AREA_PAGES if "<" in r])
def test_an_admin_page_for_no_such_record_is_404(
    client: FlaskClient, session: Session, clock: Clock, rule: str
) -> None:
    _robin_and_kim(session, clock)
    with_password(session, "ada@example.org", clock, role=Role.ADMIN)
    sign_in(client, "ada@example.org")

    assert client.get(ADMIN_AREA_PAGES[rule].replace(str(KIM), "4242")).status_code == 404


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
