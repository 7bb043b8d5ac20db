"""The demo phone page: what went, what is planned, in the phone's own time, linked to Today."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy.orm import Session

from service.config import Settings
from service.db import sessions
from service.models import OutboxKind, OutboxMessage, OutboxState
from tests.dashboard import sign_in, with_password
from tests.support import Clock, make_group, make_participant, make_settings, new_sid

PHONE = "+12025550111"


def _demo(database_url: str, app_factory: Callable[[Settings], Flask]) -> Flask:
    return app_factory(dataclasses.replace(make_settings(database_url), mode="demo"))


def _row(
    session: Session, person_id: int, state: OutboxState, at: datetime, body: str | None
) -> None:
    session.add(
        OutboxMessage(
            send_key=new_sid(), kind=OutboxKind.REMINDER, participant_id=person_id,
            to_phone=PHONE, body=body, state=state, due_at=at,
            sent_at=at if state is OutboxState.DELIVERED else None, campaign_id=None,
        )
    )  # fmt: skip


def test_the_phone_shows_what_went_in_its_own_time_and_what_is_planned_plainly(
    database_url: str, app_factory: Callable[[Settings], Flask], clock: Clock
) -> None:
    app = _demo(database_url, app_factory)
    with sessions(app)() as session:
        group = make_group(session, "CIRCLE", timezone="America/Chicago")
        person = make_participant(session, PHONE, group, timezone="America/Chicago")
        went = datetime(2026, 3, 3, 0, 30, tzinfo=clock.now.tzinfo)  # Mon 6:30 PM in Chicago
        _row(session, person.id, OutboxState.DELIVERED, went, "See you tomorrow " + "x" * 80)
        _row(session, person.id, OutboxState.QUEUED, went + timedelta(days=1), "Tonight at 6:30")
        _row(session, person.id, OutboxState.SUPPRESSED, went, "held back, never sent")
        session.commit()

    page = app.test_client().get("/demo/phone", query_string={"from": PHONE}).text

    assert page.count('class="bubble out"') == 1
    assert "Mon 6:30 PM CST" in page and "UTC" not in page.split("conversation", 1)[1]
    assert 'class="bubble planned"' in page and "planned for Tue 6:30 PM CST, not sent yet" in page
    assert "held back, never sent" not in page and "None" not in page
    assert "America/Chicago" in page


def test_the_demo_phone_and_today_link_to_each_other_in_demo_mode(
    database_url: str, app_factory: Callable[[Settings], Flask], clock: Clock
) -> None:
    app = _demo(database_url, app_factory)
    client = app.test_client()
    with sessions(app)() as session:
        make_group(session, "CIRCLE")
        with_password(session, "robin@example.org", clock)
    sign_in(client, "robin@example.org")

    assert 'href="/demo/phone"' in client.get("/").text
    assert 'href="/"' in client.get("/demo/phone").text


def test_today_outside_the_demo_has_no_phone_link(
    client: object, session: Session, clock: Clock
) -> None:
    make_group(session, "CIRCLE")
    with_password(session, "robin@example.org", clock)
    sign_in(client, "robin@example.org")  # type: ignore[arg-type]

    assert "/demo/phone" not in client.get("/").text  # type: ignore[attr-defined]
