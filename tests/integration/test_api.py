"""The REST API at /api/v1: tokens, one error shape, the OpenAPI document, and who sees what."""

from __future__ import annotations

import json

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.models import InboundMessage, OutboxKind, OutboxMessage, Role
from service.people.accounts import (
    create_coordinator,
    issue_token,
    revoke_token,
)
from tests.api import get, post, token_for, two_coordinators
from tests.support import (
    Clock,
    RecordingGateway,
    make_participant,
    make_schedule,
    text_in,
)


def test_without_a_valid_token_everything_is_401_in_one_shape(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)
    for token in (None, "pl_not-a-token", robin + "x"):
        for path in ("/api/v1/groups", f"/api/v1/groups/{mine.id}"):
            reply = client.get(path, headers={"Authorization": f"Bearer {token}"} if token else {})
            assert reply.status_code == 401
            assert reply.headers["WWW-Authenticate"].startswith("Bearer")
            body = reply.get_json()
            assert body["error"] == "Unauthorized" and "API token" in body["message"]


def test_a_coordinator_sees_only_their_groups_and_others_are_not_found(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, theirs, robin, kim = two_coordinators(session, clock)

    status, groups = get(client, "/api/v1/groups", robin)
    assert status == 200
    assert [(g["join_code"], g["active_members"]) for g in groups] == [("CIRCLE", 1)]
    assert groups[0]["keypad_code"] == mine.keypad_code

    status, body = get(client, f"/api/v1/groups/{theirs.id}", robin)
    assert status == 404 and body == {"error": "Not Found", "message": f"No group {theirs.id}."}
    assert get(client, "/api/v1/groups/99999", robin)[1]["message"] == "No group 99999."
    assert [g["join_code"] for g in get(client, "/api/v1/groups", kim)[1]] == ["OTHER"]


def test_a_groups_detail_says_whether_callers_get_texts_between_meetings(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)
    assert (
        get(client, f"/api/v1/groups/{mine.id}", robin)[1]["texts_between_meetings_to_callers"]
        is False
    )
    mine.texts_between_meetings_to_callers = True
    session.commit()

    status, group = get(client, f"/api/v1/groups/{mine.id}", robin)

    assert status == 200 and group["texts_between_meetings_to_callers"] is True


def test_an_admin_sees_every_group(client: FlaskClient, session: Session, clock: Clock) -> None:
    two_coordinators(session, clock)
    admin = token_for(session, clock, "admin@example.org", Role.ADMIN)

    status, groups = get(client, "/api/v1/groups", admin)

    assert status == 200 and [g["join_code"] for g in groups] == ["CIRCLE", "OTHER"]


def test_the_groups_list_pages_like_every_other_list(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    two_coordinators(session, clock)
    admin = token_for(session, clock, "admin@example.org", Role.ADMIN)
    headers = {"Authorization": f"Bearer {admin}"}

    first = client.get("/api/v1/groups?page_size=1", headers=headers)
    second = client.get("/api/v1/groups?page_size=1&page=2", headers=headers)

    assert [g["join_code"] for g in first.get_json()] == ["CIRCLE"]
    assert [g["join_code"] for g in second.get_json()] == ["OTHER"]
    paging = json.loads(first.headers["X-Pagination"])
    assert (paging["total"], paging["total_pages"], paging["next_page"]) == (2, 2, 2)


def test_a_revoked_token_stops_working(client: FlaskClient, session: Session, clock: Clock) -> None:
    two_coordinators(session, clock)
    coordinator = create_coordinator(
        session, email="sam@example.org", name="Sam", role=Role.COORDINATOR, password=None,
        now=clock.now,
    )  # fmt: skip
    token, plain = issue_token(session, coordinator, "laptop", clock.now)
    session.commit()
    assert get(client, "/api/v1/groups", plain)[0] == 200

    revoke_token(session, token.id, clock.now)
    session.commit()

    assert get(client, "/api/v1/groups", plain)[0] == 401


def test_the_openapi_document_is_served_and_describes_the_api(client: FlaskClient) -> None:
    reply = client.get("/api/v1/openapi.json")

    assert reply.status_code == 200
    document = reply.get_json()
    assert document["openapi"].startswith("3.")
    assert {"/api/v1/groups", "/api/v1/groups/{group_id}"} <= set(document["paths"])
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    error = document["components"]["schemas"]["Error"]["properties"]
    assert {"error", "message", "details"} <= set(error)


def inbox_with_two_groups(
    client: FlaskClient, session: Session, clock: Clock
) -> tuple[int, int, str, str]:
    """Sam (Robin's group) and Kim's member each wrote something; returns their message ids."""
    _, theirs, robin, kim = two_coordinators(session, clock)
    make_participant(session, "+12025550143", theirs)
    text_in(client, "+12025550142", "can I bring a friend?")
    text_in(client, "+12025550143", "I want to die")
    session.expire_all()
    ids = {m.body: m.id for m in session.scalars(select(InboundMessage))}
    return ids["can I bring a friend?"], ids["I want to die"], robin, kim


def test_the_inbox_shows_only_the_callers_groups_urgent_first_with_masked_numbers(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    sams, kims, robin, kim = inbox_with_two_groups(client, session, clock)
    admin = token_for(session, clock, "admin@example.org", Role.ADMIN)

    status, robins_inbox = get(client, "/api/v1/inbox", robin)
    assert status == 200
    assert [(m["id"], m["phone"]) for m in robins_inbox] == [(sams, "+1******0142")]
    assert [m["id"] for m in get(client, "/api/v1/inbox", admin)[1]] == [kims, sams]
    assert get(client, f"/api/v1/inbox?group_id={robins_inbox[0]['group_id']}", kim)[0] == 404
    status, problem = get(client, "/api/v1/inbox?page_size=0", robin)
    assert status == 422 and problem["error"] == "Unprocessable Entity"
    assert "page_size" in problem["details"]["query"]


def test_replies_and_reads_are_only_for_the_callers_messages(
    client: FlaskClient, session: Session, clock: Clock, gateway: RecordingGateway
) -> None:
    sams, kims, robin, _ = inbox_with_two_groups(client, session, clock)

    assert post(client, f"/api/v1/inbox/{kims}/read", robin)[0] == 404
    assert post(client, f"/api/v1/inbox/{kims}/reply", robin, {"text": "hi"})[0] == 404
    status, queued = post(client, f"/api/v1/inbox/{sams}/reply", robin, {"text": "Of course!"})
    assert status == 202 and queued["state"] == "queued"
    assert post(client, f"/api/v1/inbox/{sams}/read", robin)[1]["read"] is True
    status, problem = post(client, f"/api/v1/inbox/{sams}/reply", robin, {})
    assert status == 422 and "text" in problem["details"]["json"]


def test_a_reply_to_someone_who_opted_out_is_refused_with_the_reason(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    sams, _, robin, _ = inbox_with_two_groups(client, session, clock)
    text_in(client, "+12025550142", "STOP")

    status, problem = post(client, f"/api/v1/inbox/{sams}/reply", robin, {"text": "Of course!"})

    assert status == 409
    assert problem["error"] == "Conflict" and "opted out (STOP)" in problem["message"]
    session.expire_all()
    assert (
        session.scalars(select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.ONE_OFF)).all()
        == []
    )


def test_headcount_per_meeting_for_the_callers_group_only(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, theirs, robin, _ = two_coordinators(session, clock)
    make_schedule(session, mine)
    make_participant(session, "+12025550143", mine)
    text_in(client, "+12025550142", "C")  # Sam is coming tonight

    status, meetings = get(client, f"/api/v1/groups/{mine.id}/headcount?days=8", robin)

    assert status == 200
    assert [(m["key"], m["coming"], m["not_coming"], m["no_answer"]) for m in meetings] == [
        ("20260303T1830", 1, 0, 1),
        ("20260310T1830", 0, 0, 2),
    ]
    assert get(client, f"/api/v1/groups/{theirs.id}/headcount", robin)[0] == 404
    assert get(client, f"/api/v1/groups/{mine.id}/headcount?days=0", robin)[0] == 422


def test_a_text_that_may_ask_to_stop_is_marked_and_listed_before_older_ordinary_ones(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _, _, robin, _ = two_coordinators(session, clock)
    text_in(client, "+12025550142", "too many texts")
    text_in(client, "+12025550142", "can I bring a friend?")

    status, listed = get(client, "/api/v1/inbox", robin)

    assert status == 200
    assert [(m["body"], m["maybe_stop"], m["urgent"]) for m in listed] == [
        ("too many texts", True, False),
        ("can I bring a friend?", False, False),
    ]


def test_the_inbox_filters_by_state_and_a_handled_message_stops_waiting(
    client: FlaskClient, session: Session, clock: Clock, gateway: RecordingGateway
) -> None:
    sams, kims, robin, kim = inbox_with_two_groups(client, session, clock)
    post(client, f"/api/v1/inbox/{sams}/reply", robin, {"text": "Of course!"})

    replied = get(client, "/api/v1/inbox?state=replied", robin)[1]
    status, handled = post(client, f"/api/v1/inbox/{sams}/handled", robin)
    again = post(client, f"/api/v1/inbox/{sams}/handled", robin)[1]

    assert [(m["id"], m["state"]) for m in replied] == [(sams, "replied")]
    assert status == 200 and handled["state"] == "handled" and handled["handled_at"]
    assert again["handled_at"] == handled["handled_at"]  # twice is harmless
    assert get(client, "/api/v1/inbox", robin)[1] == []
    assert [m["id"] for m in get(client, "/api/v1/inbox?state=handled", robin)[1]] == [sams]
    assert [m["state"] for m in get(client, "/api/v1/inbox", kim)[1]] == ["urgent"]
    assert post(client, f"/api/v1/inbox/{kims}/handled", robin)[0] == 404
    assert get(client, "/api/v1/inbox?state=lost", robin)[0] == 422
