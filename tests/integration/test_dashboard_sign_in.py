"""Signing in to the dashboard, its cookie, idle timeout, password change, and Today."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.campaigns.headcount import record_answer
from service.messages.outbox import enqueue
from service.models import AuditEntry, Coordinator, InboundMessage, OutboxKind, Role
from service.people.accounts import MAX_FAILED_LOGINS, disable
from tests.dashboard import PASSWORD, WRONG_WORDS, csrf_token, sign_in, with_password
from tests.support import Clock, make_group, make_participant, make_schedule, new_sid


def test_a_coordinator_signs_in_and_today_shows_only_their_groups(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    make_group(session, "CIRCLE", coordinator_email="robin@example.org")
    make_group(session, "HARBOR", coordinator_email="kim@example.org")
    with_password(session, "robin@example.org", clock)

    assert client.get("/").headers["Location"] == "/sign-in"
    signed = sign_in(client, "Robin@Example.org ", PASSWORD)
    assert signed.status_code == 302
    assert signed.headers["Location"] == "/"

    today = client.get("/")
    assert today.status_code == 200
    assert "Circle Group" in today.text
    assert "Harbor" not in today.text
    assert 'hx-history="false"' in today.text


def test_an_admin_sees_every_group_on_today(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    make_group(session, "CIRCLE", coordinator_email="robin@example.org")
    make_group(session, "HARBOR", coordinator_email="kim@example.org")
    with_password(session, "admin@example.org", clock, role=Role.ADMIN)

    sign_in(client, "admin@example.org")

    page = client.get("/").text
    assert "Circle Group" in page
    assert "Harbor Group" in page


def test_a_wrong_password_an_unknown_email_and_a_disabled_account_read_alike(
    app: Flask, client: FlaskClient, session: Session, clock: Clock
) -> None:
    robin = with_password(session, "robin@example.org", clock)
    kim = with_password(session, "kim@example.org", clock)
    disable(kim)
    session.commit()

    answers = [
        sign_in(client, "robin@example.org", "not the password at all"),
        sign_in(client, "nobody@example.org", PASSWORD),
        sign_in(client, "kim@example.org", PASSWORD),
    ]

    for answer in answers:
        assert answer.status_code == 422
        assert WRONG_WORDS in answer.text
        assert "disabled" not in answer.text
    assert client.get("/").status_code == 302  # still signed out
    session.refresh(robin)
    assert robin.failed_logins == 1


def test_wrong_passwords_on_the_sign_in_page_lock_the_account(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    robin = with_password(session, "robin@example.org", clock)
    for _ in range(MAX_FAILED_LOGINS):
        sign_in(client, "robin@example.org", "a wrong guess, again")

    right = sign_in(client, "robin@example.org", PASSWORD)

    assert WRONG_WORDS in right.text  # the same words, though the password was right
    assert client.get("/").status_code == 302
    session.refresh(robin)
    assert robin.locked_until is not None


def test_sign_in_returns_to_the_page_asked_for_but_never_to_another_site(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    with_password(session, "robin@example.org", clock)
    asked = client.get("/account/password")
    assert asked.headers["Location"] == "/sign-in?next=/account/password"

    back = sign_in(client, "robin@example.org", next_page="/account/password")
    assert back.headers["Location"] == "/account/password"

    for elsewhere in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        client.post("/sign-out", data={"csrf_token": csrf_token(client, "/")})
        away = sign_in(client, "robin@example.org", next_page=elsewhere)
        assert away.headers["Location"] == "/", elsewhere


def test_the_session_cookie_is_http_only_lax_and_secure_behind_https(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    with_password(session, "robin@example.org", clock)

    signed = sign_in(client, "robin@example.org")

    cookie = signed.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" in cookie  # the test settings' public URL is https


def test_signing_in_over_https_needs_no_referer(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    with_password(session, "robin@example.org", clock)
    https = "https://localhost"  # as behind the TLS proxy; pages ask browsers to send no Referer
    form = client.get("/sign-in", base_url=https).text
    token = form.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]

    signed = client.post(
        "/sign-in",
        base_url=https,
        data={"csrf_token": token, "email": "robin@example.org", "password": PASSWORD},
    )

    assert signed.status_code == 302
    assert signed.headers["Location"] == "/"


def test_a_sign_in_left_idle_ends(client: FlaskClient, session: Session, clock: Clock) -> None:
    with_password(session, "robin@example.org", clock)
    sign_in(client, "robin@example.org")
    clock.now += timedelta(minutes=29)
    assert client.get("/").status_code == 200  # a request keeps it alive

    clock.now += timedelta(minutes=31)
    idle = client.get("/")

    assert idle.status_code == 302
    assert idle.headers["Location"].startswith("/sign-in")
    assert "without activity" in client.get("/sign-in").text
    assert client.get("/").status_code == 302


def test_sign_out_ends_the_sign_in(client: FlaskClient, session: Session, clock: Clock) -> None:
    with_password(session, "robin@example.org", clock)
    sign_in(client, "robin@example.org")

    out = client.post("/sign-out", data={"csrf_token": csrf_token(client, "/")})

    assert out.headers["Location"] == "/sign-in"
    assert "You are signed out." in client.get("/sign-in").text
    assert client.get("/").status_code == 302


def test_a_new_password_works_the_old_one_not_and_other_sign_ins_end(
    app: Flask, client: FlaskClient, session: Session, clock: Clock
) -> None:
    with_password(session, "robin@example.org", clock)
    elsewhere = app.test_client()
    sign_in(elsewhere, "robin@example.org")
    sign_in(client, "robin@example.org")
    new = "a brand new passphrase"

    changed = client.post(
        "/account/password",
        data={
            "csrf_token": csrf_token(client, "/account/password"),
            "current": PASSWORD,
            "new": new,
            "repeat": new,
        },
    )

    assert changed.headers["Location"] == "/"
    assert client.get("/").status_code == 200  # this sign-in stays
    assert elsewhere.get("/").status_code == 302  # the other computer's ended
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/")})
    assert WRONG_WORDS in sign_in(client, "robin@example.org", PASSWORD).text
    assert sign_in(client, "robin@example.org", new).headers["Location"] == "/"
    actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert "coordinator.password" in actions


def test_a_password_change_is_refused_beside_the_field_at_fault(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    robin = with_password(session, "robin@example.org", clock)
    sign_in(client, "robin@example.org")
    before = robin.password_hash

    def change(current: str, new: str, repeat: str) -> str:
        token = csrf_token(client, "/account/password")
        data = {"csrf_token": token, "current": current, "new": new, "repeat": repeat}
        answer = client.post("/account/password", data=data)
        assert answer.status_code == 422
        return answer.text

    assert "That is not your current password." in change(
        "wrong", "a brand new one!", "a brand new one!"
    )
    assert "The two new passwords differ." in change(
        PASSWORD, "a brand new one!", "another new one"
    )
    assert "at least 12 characters" in change(PASSWORD, "short", "short")
    assert "one character repeated" in change(PASSWORD, "a" * 14, "a" * 14)
    session.expire_all()
    assert session.get(Coordinator, robin.id).password_hash == before  # type: ignore[union-attr]


def test_today_shows_the_next_meeting_its_headcount_replies_and_what_goes_out(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = make_group(session, "CIRCLE")
    make_schedule(session, circle)  # Tuesdays 18:30 in New York; the clock is Tuesday noon there
    sam = make_participant(session, "+12025550111", circle, name="Sam")
    ana = make_participant(session, "+12025550112", circle, name="Ana")
    make_participant(session, "+12025550113", circle, name="Lee")
    record_answer(session, sam.id, circle.id, "20260303T1830", True, clock.now)
    record_answer(session, ana.id, circle.id, "20260303T1830", False, clock.now)
    for urgent, read in ((True, False), (False, False), (False, True)):
        session.add(
            InboundMessage(
                message_sid=new_sid(),
                participant_id=sam.id,
                group_id=circle.id,
                body="words",
                intent="other",
                needs_reply=True,
                urgent=urgent,
                read=read,
                received_at=clock.now,
            )
        )
    for hours in (1, 23, 25):
        enqueue(
            session,
            send_key=f"test:{hours}",
            kind=OutboxKind.ONE_OFF,
            body="hello",
            now=clock.now,
            participant=sam,
            group_id=circle.id,
            due_at=clock.now + timedelta(hours=hours),
        )
    session.commit()
    with_password(session, "robin@example.org", clock)
    sign_in(client, "robin@example.org")

    page = client.get("/").text

    assert "Tuesday 3 March at 6:30 PM (in 6 hours)" in page
    assert "America/New_York" in page
    assert "<td>1</td><td>1</td><td>1</td>" in page  # coming, not coming, no answer
    assert "2 unread replies" in page
    assert "1 urgent" in page
    assert "2 texts and calls go out in the next 24 hours" in page
    assert session.scalar(select(func.count()).select_from(InboundMessage)) == 3
