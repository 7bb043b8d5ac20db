"""The People pages in a real browser: a coordinator finds someone, adds someone, opens a
person's page, records an opt-out asked for by phone and undoes it, imports a roster with a bad
row, and erases someone; each page checked for accessibility at 1280 and 375 px."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from service.db import sessions
from tests.browser.conftest import check_page
from tests.dashboard import PASSWORD, with_password
from tests.support import Clock, make_group, make_participant


def _robin(app: Flask, clock: Clock) -> None:
    with sessions(app)() as session:
        circle = make_group(session, "CIRCLE", coordinator_email="robin@example.org")
        harbor = make_group(session, "HARBOR", coordinator_email="kim@example.org")
        make_participant(session, "+12025550111", circle, name="Sam Rivera")
        make_participant(session, "+12025550122", harbor, name="Vera Harbor")
        with_password(session, "robin@example.org", clock)


def test_a_coordinator_manages_the_people_of_their_group(
    server: tuple[Flask, str],
    clock: Clock,
    new_page: Callable[[], Page],
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    app, base = server
    _robin(app, clock)
    page = new_page()
    page.goto(f"{base}/sign-in")
    page.get_by_label("Email").fill("robin@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.get_by_role("link", name="People").click()
    expect(page.get_by_role("heading", name="People", level=1)).to_be_visible()
    expect(page.get_by_role("cell", name="+1******0111")).to_be_visible()
    expect(page.get_by_text("Harbor")).to_have_count(0)
    check_page(page, "people", request)
    page.get_by_label("Name or last digits of the number").fill("0111")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name="Sam Rivera")).to_be_visible()

    page.get_by_role("link", name="Add someone").click()
    page.get_by_label("Phone number").fill("202 555 0177")
    page.get_by_label("Name", exact=True).fill("Jo Banks")
    check_page(page, "people-add", request)
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_text("is invited by text to reply YES")).to_be_visible()
    expect(page.get_by_role("heading", name="Jo Banks")).to_be_visible()
    expect(page.get_by_text("Invitation to join")).to_be_visible()

    page.goto(f"{base}/people")
    page.get_by_role("link", name="Sam Rivera").click()
    page.get_by_label("Note").fill("Asked at the meeting on Tuesday")
    page.get_by_role("button", name="Record their opt-out").click()
    expect(page.get_by_text("Opted out: gets no messages").first).to_be_visible()
    expect(page.get_by_role("cell", name="Asked at the meeting on Tuesday")).to_be_visible()
    check_page(page, "person", request)
    page.get_by_label("Note").fill("It was someone else")
    page.get_by_role("button", name="Undo the opt-out").click()
    expect(page.get_by_text("The opt-out is undone.")).to_be_visible()

    roster = tmp_path / "roster.csv"
    roster.write_text("phone,name\n+12025550101,Ann One\nnot a number,Bad Row\n")
    page.goto(f"{base}/people/import")
    page.get_by_label("Roster file (CSV)").set_input_files(str(roster))
    check_page(page, "people-import", request)
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_role("table", name="Rows that cannot be imported")).to_contain_text("3")
    check_page(page, "people-import-check", request)
    page.get_by_label("Import the good rows and skip the bad ones").check()
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_text("Imported: 1 added")).to_be_visible()
    expect(page.get_by_role("link", name="Ann One")).to_be_visible()

    page.get_by_role("link", name="Ann One").click()
    page.get_by_role("link", name="Erase this person…").click()
    expect(page.get_by_text("This cannot be undone")).to_be_visible()
    check_page(page, "person-erase", request)
    page.get_by_role("button", name="Erase for good").click()
    expect(page.get_by_text("is erased from your groups")).to_be_visible()
    expect(page.get_by_role("link", name="Ann One")).to_have_count(0)
