"""Admins' pages: coordinators, which groups each runs, API tokens and the audit log."""

from __future__ import annotations

import re
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.models import ApiToken, AuditEntry, Coordinator, Group, Role
from service.people import audit
from tests.dashboard import PASSWORD, csrf_token, sign_in, with_password
from tests.support import Clock, make_group

NEW = "a perfectly new password"


def _ada_signed_in(client: FlaskClient, session: Session, clock: Clock) -> None:
    make_group(session, "CIRCLE", coordinator_email="robin@example.org")
    make_group(session, "HARBOR", coordinator_email="kim@example.org")
    with_password(session, "robin@example.org", clock)
    with_password(session, "kim@example.org", clock)
    with_password(session, "ada@example.org", clock, role=Role.ADMIN)
    sign_in(client, "ada@example.org")


def _post(client: FlaskClient, path: str, **form: str) -> object:
    return client.post(path, data={"csrf_token": csrf_token(client, "/"), **form})


def _who(session: Session, email: str) -> Coordinator:
    session.expire_all()
    return session.scalars(select(Coordinator).where(Coordinator.email == email)).one()


def test_an_admin_sees_every_coordinator_and_the_groups_each_runs(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _ada_signed_in(client, session, clock)

    page = client.get("/admin/coordinators")

    assert page.status_code == 200
    robin = page.text.split("robin@example.org", 1)[1].split("</tr>", 1)[0]
    assert "Circle Group" in robin and "Harbor Group" not in robin
    assert "kim@example.org" in page.text and 'aria-current="page"' in page.text


def test_an_admin_adds_a_coordinator_who_can_then_sign_in_and_adding_twice_is_refused(
    app: object, client: FlaskClient, session: Session, clock: Clock
) -> None:
    _ada_signed_in(client, session, clock)
    form = {"email": "Lee@Example.org", "name": "Lee", "role": "coordinator", "password": NEW}

    added = client.post("/admin/coordinators", data={"csrf_token": csrf_token(client, "/"), **form})
    again = client.post("/admin/coordinators", data={"csrf_token": csrf_token(client, "/"), **form})
    other = client.application.test_client()

    assert added.status_code == 302
    assert again.status_code == 422
    assert "a coordinator with the email lee@example.org exists already" in again.text
    assert sign_in(other, "lee@example.org", NEW).headers["Location"] == "/"
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "coordinator.create"))
    assert [e.actor for e in entry] == ["web:ada@example.org"]


def test_a_short_password_or_no_email_is_refused_beside_its_field(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _ada_signed_in(client, session, clock)

    short = _post(client, "/admin/coordinators", email="lee@example.org", name="Lee",
                  role="coordinator", password="short")  # fmt: skip
    empty = _post(client, "/admin/coordinators", email="", name="Lee", role="coordinator",
                  password=NEW)  # fmt: skip

    assert short.status_code == 422  # type: ignore[attr-defined]
    assert "a password needs at least 12 characters" in short.text  # type: ignore[attr-defined]
    assert 'id="password-error"' in short.text  # type: ignore[attr-defined]
    assert empty.status_code == 422  # type: ignore[attr-defined]
    assert 'id="email-error"' in empty.text  # type: ignore[attr-defined]
    assert session.scalar(select(Coordinator).where(Coordinator.name == "Lee")) is None


def test_disabling_a_coordinator_ends_their_sign_in_and_enabling_lets_them_back(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _ada_signed_in(client, session, clock)
    robin = client.application.test_client()
    sign_in(robin, "robin@example.org")
    robin_id = _who(session, "robin@example.org").id

    _post(client, f"/admin/coordinators/{robin_id}/disable")
    _post(client, f"/admin/coordinators/{robin_id}/disable")  # twice: harmless
    shut_out = robin.get("/")
    listed = client.get("/admin/coordinators").text
    _post(client, f"/admin/coordinators/{robin_id}/enable")

    assert shut_out.status_code == 302
    assert "No: disabled" in listed and "Enable Robin" in listed
    assert not _who(session, "robin@example.org").disabled
    assert robin.get("/").status_code == 302  # the sign-in from before stays ended
    again = client.application.test_client()
    assert sign_in(again, "robin@example.org").headers["Location"] == "/"


def test_an_admin_cannot_disable_themselves(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _ada_signed_in(client, session, clock)
    ada = _who(session, "ada@example.org")

    _post(client, f"/admin/coordinators/{ada.id}/disable")

    assert not _who(session, "ada@example.org").disabled
    assert "You cannot disable your own account." in client.get("/admin/coordinators").text


def test_an_admin_sets_a_new_password_and_the_old_one_stops_working(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _ada_signed_in(client, session, clock)
    kim = _who(session, "kim@example.org")
    other = client.application.test_client()

    short = _post(client, f"/admin/coordinators/{kim.id}/password", password="tiny")
    done = _post(client, f"/admin/coordinators/{kim.id}/password", password=NEW)

    assert short.status_code == 422  # type: ignore[attr-defined]
    assert "a password needs at least 12 characters" in short.text  # type: ignore[attr-defined]
    assert done.status_code == 302  # type: ignore[attr-defined]
    assert sign_in(other, "kim@example.org", PASSWORD).status_code == 422  # refused
    assert sign_in(other, "kim@example.org", NEW).headers["Location"] == "/"


def test_handing_a_group_over_changes_who_sees_it(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _ada_signed_in(client, session, clock)
    kim = _who(session, "kim@example.org")
    circle = session.scalars(select(Group).where(Group.join_code == "CIRCLE")).one()
    robin = client.application.test_client()
    sign_in(robin, "robin@example.org")

    page = client.get(f"/admin/coordinators/{kim.id}").text
    _post(client, f"/admin/coordinators/{kim.id}/groups", group=str(circle.id))
    bad = _post(client, f"/admin/coordinators/{kim.id}/groups", group="4242")

    assert "Circle Group (Circle recovery group), now run by robin@example.org" in page
    assert bad.status_code == 422  # type: ignore[attr-defined]
    assert "Circle Group" not in robin.get("/").text
    session.expire_all()
    assert session.get(Group, circle.id).coordinator_id == kim.id  # type: ignore[union-attr]


def test_a_token_is_shown_once_then_only_its_prefix_and_a_revoked_one_stops_working(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _ada_signed_in(client, session, clock)
    kim = _who(session, "kim@example.org")

    made = _post(client, "/admin/tokens", coordinator=str(kim.id), name="reporting")
    twice = _post(client, "/admin/tokens", coordinator=str(kim.id), name="reporting")
    plain = re.search(r'value="(pl_[^"]+)"', made.text)  # type: ignore[attr-defined]
    assert plain is not None
    api = {"Authorization": f"Bearer {plain.group(1)}"}
    works = client.get("/api/v1/groups", headers=api).status_code
    listed = client.get("/admin/tokens").text
    token = session.scalars(select(ApiToken)).one()
    _post(client, f"/admin/tokens/{token.id}/revoke")
    _post(client, f"/admin/tokens/{token.id}/revoke")  # twice: harmless

    assert works == 200
    assert plain.group(1) not in listed and plain.group(1)[:8] in listed
    assert "already has a token named" in twice.text  # type: ignore[attr-defined]
    assert client.get("/api/v1/groups", headers=api).status_code == 401
    assert "Revoked" in client.get("/admin/tokens").text
    assert (
        client.post(
            "/admin/tokens/4242/revoke", data={"csrf_token": csrf_token(client, "/")}
        ).status_code
        == 404
    )


def test_the_audit_log_pages_and_filters_by_who_what_and_day(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _ada_signed_in(client, session, clock)
    for n in range(60):
        audit.record(
            session, actor="cli:root", action="participant.add",
            now=clock.now - timedelta(minutes=n), target_type="participant", target_id=n,
        )  # fmt: skip
    audit.record(session, actor="web:kim@example.org", action="group.update",
                 now=clock.now - timedelta(days=3))  # fmt: skip
    session.commit()

    first = client.get("/audit?action=participant.add").text
    second = client.get("/audit?action=participant.add&page=2").text
    kim = client.get("/audit?actor=web:kim@example.org").text
    day = (clock.now - timedelta(days=3)).date().isoformat()
    on_the_day = client.get(f"/audit?since={day}&until={day}").text
    backwards = client.get(f"/audit?since={clock.now.date()}&until={day}")

    assert "60 entries: page 1 of 2" in first and first.count("participant.add</td>") == 50
    assert "participant 0<" in first and "participant 59<" not in first
    assert second.count("participant.add</td>") == 10 and "participant 59<" in second
    assert "group.update" in kim and "participant.add</td>" not in kim
    assert "group.update" in on_the_day and "participant.add</td>" not in on_the_day
    assert backwards.status_code == 200 and "This day comes before the first one." in backwards.text
