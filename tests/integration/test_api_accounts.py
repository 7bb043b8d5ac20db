"""Coordinators and API tokens through the API: what the admin pages and the CLI do."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from service.models import Role
from tests.api import call, get, post, token_for
from tests.support import Clock, make_group


def test_an_admin_adds_disables_enables_and_resets_a_coordinator(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    admin = token_for(session, clock, "ada@example.org", Role.ADMIN)

    short_one = {"email": "Lee@example.org", "name": "Lee", "password": "x" * 8}
    status, lee = post(client, "/api/v1/coordinators", admin, short_one)
    assert status == 422 and "12 characters" in lee["message"]
    status, lee = post(
        client, "/api/v1/coordinators", admin, {"email": "lee@example.org", "name": "Lee"}
    )
    again, _ = post(
        client, "/api/v1/coordinators", admin, {"email": "lee@example.org", "name": "Lee"}
    )
    lees = token_for(session, clock, "lee@example.org")
    disabled = post(client, f"/api/v1/coordinators/{lee['id']}/disable", admin)
    shut_out = get(client, "/api/v1/groups", lees)[0]
    enabled = post(client, f"/api/v1/coordinators/{lee['id']}/enable", admin)
    short = call(
        client, "PUT", f"/api/v1/coordinators/{lee['id']}/password", admin, {"password": "x"}
    )
    reset = call(client, "PUT", f"/api/v1/coordinators/{lee['id']}/password", admin,
                 {"password": "a long new password"})  # fmt: skip

    assert status == 201 and lee["role"] == "coordinator" and not lee["has_password"]
    assert again == 422
    assert disabled[1]["disabled"] is True and shut_out == 401
    assert enabled[1]["disabled"] is False and get(client, "/api/v1/groups", lees)[0] == 200
    assert short[0] == 422 and reset[0] == 200 and reset[1]["has_password"] is True
    assert [c["email"] for c in get(client, "/api/v1/coordinators", admin)[1]] == [
        "ada@example.org", "lee@example.org",
    ]  # fmt: skip


def test_a_group_handed_over_is_seen_by_its_new_coordinator_only(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = make_group(session, "CIRCLE", coordinator_email="robin@example.org")
    make_group(session, "HARBOR", coordinator_email="kim@example.org")
    admin = token_for(session, clock, "ada@example.org", Role.ADMIN)
    robin = token_for(session, clock, "robin@example.org")
    kim = token_for(session, clock, "kim@example.org")
    kims_id = next(c["id"] for c in get(client, "/api/v1/coordinators", admin)[1]
                   if c["email"] == "kim@example.org")  # fmt: skip

    status, body = post(client, f"/api/v1/coordinators/{kims_id}/groups", admin,
                        {"group_id": circle.id})  # fmt: skip

    assert status == 200 and circle.id in body["group_ids"]
    assert get(client, f"/api/v1/groups/{circle.id}", robin)[0] == 404
    assert get(client, f"/api/v1/groups/{circle.id}", kim)[0] == 200
    assert (
        post(client, f"/api/v1/coordinators/{kims_id}/groups", admin, {"group_id": 4242})[0] == 404
    )


def test_a_token_made_by_api_is_shown_once_and_a_revoked_one_stops_working(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    make_group(session, "CIRCLE", coordinator_email="robin@example.org")
    admin = token_for(session, clock, "ada@example.org", Role.ADMIN)
    robins_id = next(c["id"] for c in get(client, "/api/v1/coordinators", admin)[1]
                     if c["email"] == "robin@example.org")  # fmt: skip

    status, made = post(
        client, "/api/v1/tokens", admin, {"coordinator_id": robins_id, "name": "laptop"}
    )
    works = get(client, "/api/v1/groups", made["token"])[0]
    listed = get(client, f"/api/v1/tokens?coordinator_id={robins_id}", admin)[1]
    revoked = post(client, f"/api/v1/tokens/{made['id']}/revoke", admin)

    assert status == 201 and made["token"].startswith("pl_") and works == 200
    assert [t["prefix"] for t in listed] == [made["token"][:8]] and "token" not in listed[0]
    assert revoked[0] == 200 and revoked[1]["revoked_at"] is not None
    assert get(client, "/api/v1/groups", made["token"])[0] == 401
    assert post(client, "/api/v1/tokens/4242/revoke", admin)[0] == 404
