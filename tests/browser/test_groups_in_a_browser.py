"""The Groups pages in a real browser: an admin creates a group for Robin, who finds it warned
of (no on-call phone), edits it, meets a taken code and sees what changed; each page checked for
accessibility at 1280 and 375 px."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from service.db import sessions
from service.models import Role
from tests.browser.conftest import check_page, sign_in
from tests.dashboard import with_password
from tests.support import Clock, make_group, make_participant


def _people(app: Flask, clock: Clock) -> None:
    """Robin runs Circle; Kim runs Harbor; Ada is an admin."""
    with sessions(app)() as session:
        circle = make_group(session, "CIRCLE", coordinator_email="robin@example.org")
        make_participant(session, "+12025550111", circle, name="Sam")
        make_group(session, "HARBOR", coordinator_email="kim@example.org")
        with_password(session, "robin@example.org", clock)
        with_password(session, "kim@example.org", clock)
        with_password(session, "ada@example.org", clock, role=Role.ADMIN)


def test_an_admin_creates_a_group_and_its_coordinator_sets_it_up(
    server: tuple[Flask, str],
    clock: Clock,
    new_page: Callable[[], Page],
    request: pytest.FixtureRequest,
) -> None:
    app, base = server
    _people(app, clock)
    ada, robin = new_page(), new_page()

    sign_in(ada, base, "ada@example.org")
    ada.get_by_role("link", name="Groups").click()
    ada.get_by_role("link", name="Create a group").click()
    check_page(ada, "group-new", request)
    ada.get_by_label("Coordinator").select_option(label="Robin Coordinator (robin@example.org)")
    ada.get_by_label("Public name").fill("Tuesday Group")
    ada.get_by_label("Internal name").fill("Tuesday evening grief group")
    ada.get_by_label("Join code").fill("tuesday")
    ada.get_by_label("Time zone").fill("America/Chicago")
    ada.get_by_label("Landline fallback").check()
    ada.get_by_role("button", name="Create the group").click()
    expect(ada.get_by_text("The group Tuesday Group is created.")).to_be_visible()
    expect(ada.get_by_role("heading", name="Tuesday Group", level=1)).to_be_visible()
    expect(ada.get_by_text("No on-call phone.")).to_be_visible()
    check_page(ada, "group", request)

    sign_in(robin, base, "robin@example.org")
    expect(robin.get_by_text("No on-call phone:")).to_have_count(2)  # Circle and Tuesday on Today
    robin.get_by_role("link", name="Groups").click()
    table = robin.get_by_role("table", name="Your groups")
    expect(table).to_contain_text("Circle Group")
    expect(table).to_contain_text("Tuesday Group")
    expect(table).not_to_contain_text("Harbor")
    expect(robin.get_by_role("link", name="Create a group")).to_have_count(0)
    check_page(robin, "groups", request)

    robin.get_by_role("link", name="Tuesday Group").click()
    robin.get_by_role("link", name="Edit this group").click()
    robin.get_by_label("Join code").fill("CIRCLE")
    robin.get_by_role("button", name="Save changes").click()
    expect(robin.get_by_text("The code CIRCLE is taken; choose another join code")).to_be_visible()
    expect(robin.get_by_label("Join code")).to_have_attribute("aria-invalid", "true")
    check_page(robin, "group-edit-refused", request)

    robin.get_by_label("Join code").fill("TUESDAY")
    robin.get_by_label("Quiet hours begin").fill("22:00")
    robin.get_by_label("Quiet hours end").fill("07:30")
    robin.get_by_label("On-call phone").fill("(202) 555-0177")
    robin.get_by_label("Texts between meetings to callers").check()
    check_page(robin, "group-edit", request)
    robin.get_by_role("button", name="Save changes").click()

    expect(robin.get_by_text("Saved. What changed:")).to_be_visible()
    expect(robin.get_by_text("Quiet hours: 21:00-08:00 → 22:00-07:30")).to_be_visible()
    expect(robin.get_by_text("On-call phone: none → +1******0177")).to_be_visible()
    expect(robin.get_by_text("Texts between meetings to callers: off → on")).to_be_visible()
    expect(robin.get_by_text("No on-call phone.")).to_have_count(0)
    expect(robin.get_by_text("+12025550177")).to_have_count(0)
    robin.get_by_role("link", name="Today").click()
    expect(robin.get_by_text("No on-call phone:")).to_have_count(1)  # only Circle now
