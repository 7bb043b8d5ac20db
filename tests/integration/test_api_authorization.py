"""The authorization matrix: every API route and method, against another coordinator's group.

The routes come from the app itself, so a new endpoint is in the matrix the day it is added;
a mutating one without a valid body below fails the test until it gets one (a request that
fails validation would be refused before anyone looked at whose group it names).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.models import (
    CampaignKind,
    Channel,
    ConsentEvent,
    ConsentSource,
    ConsentState,
    Group,
    InboundMessage,
    Membership,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Participant,
    Role,
)
from service.people.participants import choose
from tests.api import call, token_for, two_coordinators
from tests.support import Clock, make_campaign, make_participant, make_schedule, text_in

PUBLIC = {"/api/v1/openapi.json", "/api/v1/docs"}  # the API described, as to anyone
ADMINS_ONLY = {
    "/api/v1/audit",
    "/api/v1/coordinators",
    "/api/v1/coordinators/<id:coordinator_id>/disable",
    "/api/v1/coordinators/<id:coordinator_id>/enable",
    "/api/v1/coordinators/<id:coordinator_id>/password",
    "/api/v1/coordinators/<id:coordinator_id>/groups",
    "/api/v1/tokens",
    "/api/v1/tokens/<id:token_id>/revoke",
}
ADMINS_ONLY_METHODS = {("POST", "/api/v1/groups")}  # a coordinator reads the route, may not post
OWN_ACCOUNT = {"/api/v1/inbox/daily-text"}  # the caller's own settings: no group in them


@dataclass(frozen=True)
class Theirs:
    """Ids of everything in Kim's group, which Robin must never reach."""

    group_id: int
    participant_id: int
    membership_id: int
    campaign_id: int
    outbox_id: int
    inbox_id: int
    key: str = "20260303T1830"


def kims_group(client: FlaskClient, session: Session, clock: Clock) -> tuple[Theirs, str, int]:
    mine, theirs, robin, _ = two_coordinators(session, clock)
    make_schedule(session, mine)
    make_schedule(session, theirs)
    person = make_participant(session, "+12025550143", theirs, name="Kim's member")
    campaign = make_campaign(session, theirs, CampaignKind.REMINDER, offsets=["2h"])
    row = OutboxMessage(
        send_key="kim:1", kind=OutboxKind.ONE_OFF, participant_id=person.id, group_id=theirs.id,
        body="See you", state=OutboxState.DELIVERED, due_at=clock.now, sent_at=clock.now,
    )  # fmt: skip
    session.add(row)
    session.commit()
    text_in(client, "+12025550143", "can I bring my sister?")
    membership = session.scalars(
        select(Membership).where(Membership.participant_id == person.id)
    ).one()
    inbound = session.scalars(
        select(InboundMessage).where(InboundMessage.group_id == theirs.id)
    ).one()
    ids = Theirs(theirs.id, person.id, membership.id, campaign.id, row.id, inbound.id)
    return ids, robin, mine.id


def api_routes(app: Flask) -> Iterator[tuple[str, str]]:
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule in PUBLIC:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield method, rule.rule


def fill(rule: str, theirs: Theirs) -> str:
    ids = {
        "group_id": theirs.group_id,
        "participant_id": theirs.participant_id,
        "membership_id": theirs.membership_id,
        "campaign_id": theirs.campaign_id,
        "message_id": theirs.inbox_id if rule.startswith("/api/v1/inbox") else theirs.outbox_id,
        "key": theirs.key,
        "coordinator_id": 1,
        "token_id": 1,
    }
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids[m.group(1)]), rule)


def valid_bodies(theirs: Theirs, my_group: int) -> dict[tuple[str, str], dict[str, Any]]:
    """A request each mutating route would accept, aimed at Kim's group or what is in it."""
    return {
        ("POST", "/api/v1/groups"): {
            "name": "New",
            "public_name": "New Group",
            "join_code": "NEWGROUP",
            "timezone": "UTC",
            "coordinator_email": "kim@example.org",
        },
        ("PATCH", "/api/v1/groups/<id:group_id>"): {"name": "Changed", "join_code": "CHANGED"},
        ("POST", "/api/v1/participants"): {"group_id": theirs.group_id, "phone": "+12025550199"},
        ("PATCH", "/api/v1/participants/<id:participant_id>"): {"name": "Changed"},
        ("POST", "/api/v1/participants/<id:participant_id>/opt-out"): {
            "group_id": theirs.group_id,
            "note": "Asked by phone",
        },
        ("POST", "/api/v1/participants/<id:participant_id>/undo-opt-out"): {"note": "Mistake"},
        ("POST", "/api/v1/memberships"): {
            "group_id": my_group,
            "participant_id": theirs.participant_id,
        },
        ("POST", "/api/v1/campaigns"): {
            "group_id": theirs.group_id,
            "kind": "broadcast",
            "name": "x",
            "wording": {"en": "Hello"},
        },
        ("PATCH", "/api/v1/campaigns/<id:campaign_id>"): {"name": "Changed"},
        ("POST", "/api/v1/campaigns/preview"): {
            "group_id": theirs.group_id,
            "kind": "broadcast",
            "name": "x",
            "wording": {"en": "Hello"},
        },
        ("POST", "/api/v1/campaigns/<id:campaign_id>/preview"): {"name": "Changed"},
        ("POST", "/api/v1/campaigns/preview/summary"): {
            "group_id": theirs.group_id,
            "kind": "broadcast",
            "name": "x",
            "wording": {"en": "Hello"},
        },
        ("POST", "/api/v1/campaigns/<id:campaign_id>/preview/summary"): {"name": "Changed"},
        ("POST", "/api/v1/campaigns/wording-check"): {
            "group_id": theirs.group_id,
            "kind": "broadcast",
            "text": "Hello",
        },
        ("PUT", "/api/v1/groups/<id:group_id>/schedule"): {
            "rule": "FREQ=WEEKLY;BYDAY=WE",
            "first": "2026-03-04T18:30",
        },
        ("POST", "/api/v1/groups/<id:group_id>/meetings/<string:key>/move"): {"location": "x"},
        ("POST", "/api/v1/inbox/<id:message_id>/reply"): {"text": "Hi"},
        ("POST", "/api/v1/coordinators"): {"email": "x@example.org", "name": "X"},
        ("POST", "/api/v1/coordinators/<id:coordinator_id>/disable"): {},
        ("POST", "/api/v1/coordinators/<id:coordinator_id>/enable"): {},
        ("PUT", "/api/v1/coordinators/<id:coordinator_id>/password"): {"password": "x" * 20},
        ("POST", "/api/v1/coordinators/<id:coordinator_id>/groups"): {"group_id": theirs.group_id},
        ("POST", "/api/v1/tokens"): {"coordinator_id": 1, "name": "sneaky"},
        ("POST", "/api/v1/tokens/<id:token_id>/revoke"): {},
        ("PUT", "/api/v1/inbox/daily-text"): {"on": False},
    }


def request(
    client: FlaskClient, method: str, rule: str, theirs: Theirs, token: str | None, my_group: int
) -> tuple[int, Any]:
    path = fill(rule, theirs)
    if rule.endswith("/import"):
        roster = io.BytesIO(b"phone\n+12025550198\n")
        return call(
            client, method, path + "?apply=true", token,
            data={"file": (roster, "roster.csv")}, content_type="multipart/form-data",
        )  # fmt: skip
    body = valid_bodies(theirs, my_group).get((method, rule))
    if (
        method in ("POST", "PUT", "PATCH")
        and body is None
        and not rule.endswith(("/read", "/handled", "/cancel", "/pause", "/resume"))
    ):
        pytest.fail(f"{method} {rule} is new: give it a valid body in valid_bodies()")
    return call(client, method, path, token, body)


def test_every_route_of_another_coordinators_group_is_not_found(
    app: Flask, client: FlaskClient, session: Session, clock: Clock
) -> None:
    theirs, robin, mine = kims_group(client, session, clock)
    before = snapshot(session)
    checked = 0
    for method, rule in api_routes(app):
        status, body = request(client, method, rule, theirs, robin, mine)
        if rule in OWN_ACCOUNT:
            assert status == 200 and "group_id" not in body, (method, rule, body)
        elif rule in ADMINS_ONLY or (method, rule) in ADMINS_ONLY_METHODS:
            assert status == 403, (method, rule, body)
        elif "<" in rule:
            assert status == 404, (method, rule, body)
            assert body["error"] == "Not Found", body
        elif method == "GET":
            # A collection: asked for Kim's group, 404; unfiltered, none of Kim's rows.
            status, body = call(client, method, rule, robin)
            assert status == 200, (rule, body)
            group_of = "id" if rule == "/api/v1/groups" else "group_id"
            assert theirs.group_id not in {row.get(group_of) for row in body}, (rule, body)
            if rule != "/api/v1/groups":
                status, body = call(client, method, f"{rule}?group_id={theirs.group_id}", robin)
                assert status == 404, (rule, body)
            assert "Kim's member" not in str(body)
        else:
            assert status == 404, (method, rule, body)
        checked += 1
    assert checked >= 30
    assert snapshot(session) == before, "a refused request changed something"


def test_every_route_without_a_token_is_401(
    app: Flask, client: FlaskClient, session: Session, clock: Clock
) -> None:
    theirs, _, mine = kims_group(client, session, clock)
    routes = list(api_routes(app))
    for method, rule in routes:
        for token in (None, "pl_forged"):
            status, body = request(client, method, rule, theirs, token, mine)
            assert status == 401, (method, rule, body)
            assert body["error"] == "Unauthorized"


def test_an_admin_reads_every_route_of_every_group(
    app: Flask, client: FlaskClient, session: Session, clock: Clock
) -> None:

    theirs, _, _ = kims_group(client, session, clock)
    admin = token_for(session, clock, "admin@example.org", Role.ADMIN)
    for method, rule in api_routes(app):
        if method == "GET":
            status, body = call(client, method, fill(rule, theirs), admin)
            assert status == 200, (rule, body)


def snapshot(session: Session) -> tuple[object, ...]:
    """What a refused request must leave as it was."""
    session.expire_all()
    return (
        [(g.id, g.name, g.join_code) for g in session.scalars(select(Group))],
        [(p.id, p.name, p.consent) for p in session.scalars(select(Participant))],
        [(m.id, m.status) for m in session.scalars(select(Membership))],
        [(o.id, o.state) for o in session.scalars(select(OutboxMessage))],
        [(i.id, i.read) for i in session.scalars(select(InboundMessage))],
    )


# -- a person in another coordinator's group, entered by number ---------------------------------

KNOWN, UNKNOWN = "+12025550143", "+12025550198"  # in Kim's group; in nobody's


def private(body: Any) -> Any:
    """A response without what names the number itself (its ids, its digits, its times)."""
    if isinstance(body, list | tuple):
        return [private(item) for item in body]
    if not isinstance(body, dict):
        return body
    hidden = {"id", "participant_id", "phone", "phone_e164", "created_at", "updated_at"}
    return {key: private(value) for key, value in body.items() if key not in hidden}


def test_a_number_in_another_group_looks_to_me_like_a_number_nobody_has(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    """Robin enters the number of Kim's member, and a number nobody has, the same ways: every
    answer is the same, and nothing of Kim's changes. Kim's member speaks Spanish, lives in
    Chicago and takes calls, by their own choice: none of it shows to Robin."""
    theirs, robin, mine = kims_group(client, session, clock)
    kims_member = session.get_one(Participant, theirs.participant_id)
    enrol_with_note(session, kims_member, theirs.group_id, clock)
    choose(kims_member, language="es", timezone="America/Chicago", channel=Channel.VOICE)
    session.commit()
    before = kims_view(session, theirs)

    answers = {}
    for phone in (KNOWN, UNKNOWN):
        roster = io.BytesIO(f"phone,name\n{phone},Pat\n".encode())
        dry_run = call(
            client, "POST", f"/api/v1/groups/{mine}/import", robin,
            data={"file": (roster, "roster.csv")}, content_type="multipart/form-data",
        )  # fmt: skip
        enrolled = call(
            client, "POST", "/api/v1/participants", robin,
            {"group_id": mine, "phone": phone, "name": "Pat"},
        )  # fmt: skip
        person = enrolled[1]["id"]
        answers[phone] = [
            dry_run,
            enrolled,
            call(client, "GET", f"/api/v1/participants/{person}", robin),
            call(client, "GET", f"/api/v1/participants/{person}/consent", robin),
            call(client, "GET", f"/api/v1/participants?group_id={mine}&consent=unknown", robin),
            call(
                client,
                "PATCH",
                f"/api/v1/participants/{person}",
                robin,
                {"language": "en", "timezone": "Europe/London", "channel": "sms"},
            ),
            call(client, "PATCH", f"/api/v1/participants/{person}", robin, {"name": "Pat R."}),
            call(client, "DELETE", f"/api/v1/participants/{person}", robin),
        ]

    known, unknown = (private(answers[p]) for p in (KNOWN, UNKNOWN))
    # Robin's list holds Sam as well as the person entered; the rest is the same, answer by
    # answer, field by field.
    known[4][1] = [p for p in known[4][1] if p["name"] == "Pat"]
    unknown[4][1] = [p for p in unknown[4][1] if p["name"] == "Pat"]
    for n, (mine_known, mine_unknown) in enumerate(zip(known, unknown, strict=True)):
        assert mine_known == mine_unknown, f"answer {n} tells the numbers apart"
    assert answers[KNOWN][1][1]["name"] == "Pat" and answers[KNOWN][2][1]["consent"] == "unknown"
    assert kims_view(session, theirs) == before, "something of Kim's changed"


def enrol_with_note(session: Session, person: Participant, group_id: int, clock: Clock) -> None:
    """Kim recorded the person's written consent: a note only Kim's group should see."""
    from service.people import consent

    person.consent = ConsentState.UNKNOWN
    consent.opt_in(
        session,
        person,
        source=ConsentSource.COORDINATOR,
        words="form in Kim's cabinet",
        now=clock.now,
        group_id=group_id,
    )
    session.commit()


def kims_view(session: Session, theirs: Theirs) -> tuple[object, ...]:
    session.expire_all()
    person = session.get_one(Participant, theirs.participant_id)
    membership = session.get_one(Membership, theirs.membership_id)
    return (
        person.name,
        person.language,
        person.timezone,
        person.channel,
        person.consent,
        membership.name,
        membership.status,
        (membership.language, membership.timezone, membership.channel),
        [
            (e.change, e.words)
            for e in session.scalars(
                select(ConsentEvent).where(ConsentEvent.group_id == theirs.group_id)
            )
        ],
    )
