"""Today's last 30 days and quiet members, and the admins' pages, driven in a real browser;
each page checked for accessibility at 1280 and 375 px."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from service.db import sessions
from service.models import Membership, OutboxKind, OutboxMessage, OutboxState, Role
from tests.browser.conftest import check_page, sign_in
from tests.dashboard import with_password
from tests.support import Clock, make_group, make_participant, new_sid

NEW_PASSWORD = "a brand new passphrase"


def _people(app: Flask, clock: Clock) -> None:
    """Robin runs Circle: Ana joined long ago and never answered; texts went out this week."""
    with sessions(app)() as session:
        circle = make_group(session, "CIRCLE", timezone="America/Chicago")
        make_group(session, "HARBOR", coordinator_email="kim@example.org")
        make_participant(session, "+12025550122", circle, name="Ana Quiet")
        for membership in session.scalars(select(Membership)):
            membership.created_at = clock.now - timedelta(weeks=10)
        for days, state in ((2, OutboxState.DELIVERED), (1, OutboxState.FAILED)):
            at = clock.now - timedelta(days=days)
            session.add(
                OutboxMessage(
                    send_key=new_sid(), kind=OutboxKind.REMINDER, group_id=circle.id,
                    body="See you", state=state, due_at=at, sent_at=at,
                )
            )  # fmt: skip
        session.commit()
        with_password(session, "robin@example.org", clock)
        with_password(session, "kim@example.org", clock)
        with_password(session, "ada@example.org", clock, role=Role.ADMIN)


def test_a_coordinator_reads_the_last_30_days_and_who_has_gone_quiet(
    server: tuple[Flask, str],
    clock: Clock,
    new_page: Callable[[], Page],
    request: pytest.FixtureRequest,
) -> None:
    app, base = server
    _people(app, clock)
    robin = new_page()
    sign_in(robin, base, "robin@example.org")

    chart = robin.get_by_role("img", name="Texts and calls per day over the last 30 days")
    expect(chart).to_be_visible()
    totals = robin.get_by_role("table", name="Totals, the last 30 days")
    expect(totals.get_by_role("cell")).to_have_text(["2", "1", "1", "0"])
    expect(robin.get_by_role("table").filter(has_text="Ana Quiet")).to_contain_text("+1******0122")
    robin.get_by_text("Day by day").click()
    expect(robin.get_by_role("table", name="Each day, in America/Chicago time")).to_be_visible()
    check_page(robin, "today-recent", request)

    robin.get_by_label("Show people who have gone quiet for this many weeks").fill("60")
    robin.get_by_role("button", name="Show", exact=True).click()
    expect(robin.get_by_text("Choose a number of weeks from 1 to 52.")).to_be_visible()
    robin.get_by_label("Show people who have gone quiet for this many weeks").fill("12")
    robin.get_by_role("button", name="Show", exact=True).click()
    expect(robin.get_by_text("Nobody has been quiet for 12 weeks or more.")).to_be_visible()
    robin.goto(f"{base}/")  # the choice is remembered
    expect(robin.get_by_label("Show people who have gone quiet for this many weeks")).to_have_value(
        "12"
    )
    # The admins' pages do not exist for a coordinator (asked with this browser's cookies).
    assert robin.context.request.get(f"{base}/admin/coordinators").status == 404


def test_an_admin_adds_a_coordinator_gives_them_a_group_and_a_token_then_reads_the_log(
    server: tuple[Flask, str],
    clock: Clock,
    new_page: Callable[[], Page],
    request: pytest.FixtureRequest,
) -> None:
    app, base = server
    _people(app, clock)
    ada = new_page()
    sign_in(ada, base, "ada@example.org")

    ada.get_by_role("link", name="Admin").click()
    expect(ada.get_by_role("heading", name="Coordinators", level=1)).to_be_visible()
    check_page(ada, "coordinators", request)
    ada.get_by_label("Email").fill("lee@example.org")
    ada.get_by_label("Name").fill("Lee")
    ada.get_by_label("First password").fill("short")
    ada.get_by_role("button", name="Add coordinator").click()
    expect(ada.get_by_text("a password needs at least 12 characters")).to_be_visible()
    ada.get_by_label("First password").fill(NEW_PASSWORD)
    ada.get_by_role("button", name="Add coordinator").click()
    expect(ada.get_by_text("lee@example.org can now sign in.")).to_be_visible()

    ada.get_by_label("Group").select_option(
        label="Circle Group (Circle recovery group), now run by robin@example.org"
    )
    ada.get_by_role("button", name="Hand this group over to Lee").click()
    expect(ada.get_by_text("lee@example.org now runs Circle Group.")).to_be_visible()
    check_page(ada, "coordinator", request)

    ada.get_by_role("link", name="API tokens", exact=True).click()
    ada.get_by_label("Whose token").select_option(label="Lee (lee@example.org)")
    ada.get_by_label("What it is for").fill("reporting")
    ada.get_by_role("button", name="Create token").click()
    token = ada.get_by_label("New token").input_value()
    assert token.startswith("pl_")
    check_page(ada, "tokens", request)
    ada.get_by_role("button", name="Revoke reporting").click()
    expect(ada.get_by_text("The token reporting no longer works.")).to_be_visible()

    ada.get_by_role("link", name="Audit log", exact=True).click()
    ada.get_by_label("What").fill("group.hand_over")
    ada.get_by_role("button", name="Show").click()
    expect(ada.get_by_role("table", name="Who did what")).to_contain_text("web:ada@example.org")
    expect(ada.get_by_text("1 entry")).to_be_visible()
    check_page(ada, "audit", request)

    lee = new_page()
    sign_in(lee, base, "lee@example.org", NEW_PASSWORD)
    expect(lee.get_by_role("heading", name="Circle Group")).to_be_visible()
