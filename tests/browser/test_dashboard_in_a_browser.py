"""The dashboard in a real browser: signing in and out, Today, a password change, and two
coordinators side by side; each page checked for accessibility at 1280 and 375 px."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from service.db import sessions
from tests.browser.conftest import check_page
from tests.dashboard import PASSWORD, WRONG_WORDS, with_password
from tests.support import Clock, make_group, make_participant, make_schedule

NEW_PASSWORD = "another long passphrase"


def _coordinators(app: Flask, clock: Clock) -> None:
    """Robin runs Circle (like the demo's coordinator); Kim runs Harbor."""
    with sessions(app)() as session:
        circle = make_group(session, "CIRCLE", coordinator_email="robin@example.org")
        make_schedule(session, circle)
        make_participant(session, "+12025550111", circle, name="Sam")
        make_group(session, "HARBOR", coordinator_email="kim@example.org")
        with_password(session, "robin@example.org", clock)
        with_password(session, "kim@example.org", clock)


def _sign_in(page: Page, base: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/")
    expect(page).to_have_url(f"{base}/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_two_coordinators_signed_in_at_once_each_see_only_their_own_groups(
    server: tuple[Flask, str],
    clock: Clock,
    new_page: Callable[[], Page],
    request: pytest.FixtureRequest,
) -> None:
    app, base = server
    _coordinators(app, clock)
    robin, kim = new_page(), new_page()

    robin.goto(f"{base}/")
    check_page(robin, "sign-in", request)
    _sign_in(robin, base, "robin@example.org")
    _sign_in(kim, base, "kim@example.org")

    expect(robin.get_by_role("heading", name="Today", level=1)).to_be_visible()
    expect(robin.get_by_role("heading", name="Circle Group")).to_be_visible()
    expect(robin.get_by_text("Harbor")).to_have_count(0)
    expect(robin.get_by_role("table", name="Who said they are coming")).to_be_visible()
    robin.keyboard.press("Tab")  # the first key a keyboard user presses reaches the skip link
    expect(robin.get_by_role("link", name="Skip to the main content")).to_be_focused()
    robin.keyboard.press("Enter")
    expect(robin.locator("main")).to_be_focused()
    check_page(robin, "today", request)
    kim.reload()
    expect(kim.get_by_role("heading", name="Harbor Group")).to_be_visible()
    expect(kim.get_by_text("Circle")).to_have_count(0)

    robin.get_by_role("button", name="Sign out").click()
    expect(robin).to_have_url(f"{base}/sign-in")
    expect(robin.get_by_text("You are signed out.")).to_be_visible()
    robin.goto(f"{base}/")
    expect(robin).to_have_url(f"{base}/sign-in")
    kim.reload()
    expect(kim.get_by_role("heading", name="Harbor Group")).to_be_visible()  # still signed in

    # An htmx request carries the page's CSRF token (dashboard.js): this sign-out goes through.
    status = kim.evaluate(
        """() => new Promise(done => {
             document.body.addEventListener('htmx:afterRequest',
               e => done(e.detail.xhr.status), {once: true});
             htmx.ajax('POST', '/sign-out', {target: 'main', swap: 'none'});
           })"""
    )
    assert status == 200  # the redirect to the sign-in page, followed
    kim.goto(f"{base}/")
    expect(kim).to_have_url(f"{base}/sign-in")


def test_a_wrong_password_shows_one_neutral_message(
    server: tuple[Flask, str],
    clock: Clock,
    new_page: Callable[[], Page],
    request: pytest.FixtureRequest,
) -> None:
    app, base = server
    _coordinators(app, clock)
    page = new_page()

    _sign_in(page, base, "robin@example.org", "not my password at all")

    expect(page.get_by_role("alert")).to_contain_text(WRONG_WORDS)
    expect(page.get_by_role("heading", name="Today")).to_have_count(0)
    check_page(page, "sign-in-refused", request)


def test_a_coordinator_changes_their_password_and_signs_in_with_the_new_one(
    server: tuple[Flask, str],
    clock: Clock,
    new_page: Callable[[], Page],
    request: pytest.FixtureRequest,
) -> None:
    app, base = server
    _coordinators(app, clock)
    page = new_page()
    _sign_in(page, base, "robin@example.org")

    page.get_by_role("link", name="Password").click()
    check_page(page, "password", request)
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill("not the same one at all")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("The two new passwords differ.")).to_be_visible()
    check_page(page, "password-refused", request)
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Your password is changed.")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    _sign_in(page, base, "robin@example.org", PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text(WRONG_WORDS)
    page.get_by_label("Email").fill("robin@example.org")
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Circle Group")).to_be_visible()
