"""The Campaigns pages in a real browser: a coordinator makes a reminder from plain durations,
watches the live segment count, previews it, saves, pauses and deletes it; each page checked
for accessibility at 1280 and 375 px."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from service.db import sessions
from tests.browser.conftest import check_page
from tests.dashboard import PASSWORD, with_password
from tests.support import Clock, make_group, make_participant, make_schedule


def test_a_coordinator_makes_previews_pauses_and_deletes_a_reminder(
    server: tuple[Flask, str],
    clock: Clock,
    new_page: Callable[[], Page],
    request: pytest.FixtureRequest,
) -> None:
    app, base = server
    with sessions(app)() as session:
        circle = make_group(session, "CIRCLE", coordinator_email="robin@example.org")
        make_schedule(session, circle)
        make_participant(session, "+12025550111", circle, name="Sam")
        make_group(session, "HARBOR", coordinator_email="kim@example.org")
        with_password(session, "robin@example.org", clock)
    page = new_page()
    page.goto(f"{base}/sign-in")
    page.get_by_label("Email").fill("robin@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.get_by_role("link", name="Campaigns").click()
    expect(page.get_by_text("Harbor")).to_have_count(0)
    page.get_by_role("link", name="Circle Group").click()
    expect(page.get_by_text("This group has no campaigns yet.")).to_be_visible()
    page.get_by_role("link", name="New reminder before meetings").click()
    check_page(page, "new-reminder", request)

    page.get_by_label("Name (only coordinators see it)").fill("Before meetings")
    page.get_by_label("Reminder 1: how long before").fill("2")
    page.get_by_label("Reminder 1: unit").select_option("h")
    page.get_by_label("Reminder at a set time 1: days before (1 is the day before)").fill("1")
    page.get_by_label("Reminder at a set time 1: at (each person's time)").fill("18:00")
    wording = page.get_by_label("Wording in English")
    wording.press_sequentially("Hi {{ first_name }} 🙂 see you {{ meeting_when }}")
    live = page.locator("#check-wording_en")
    expect(live).to_contain_text("UCS-2")
    expect(live).to_contain_text("U+1F642")
    wording.press_sequentially(" {{ nickname }}")
    expect(live).to_contain_text("Unknown variable {{ nickname }}")
    wording.fill("")
    wording.press_sequentially("Circle recovery group: {{ meeting_when }}")
    expect(live).to_contain_text("internal name")

    page.get_by_role("button", name="Preview what goes out").click()
    preview = page.get_by_role("table", name="Each text, when, and to how many people")
    expect(preview).to_contain_text("Tue 2026-03-03 16:30 (America/New_York time)")
    expect(preview).to_contain_text("1 person")
    check_page(page, "reminder-preview", request)

    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("“Before meetings” is saved.")).to_be_visible()
    expect(page.get_by_text("internal name")).to_be_visible()  # warned of, and saved
    row = page.get_by_role("row", name="Before meetings")
    expect(row).to_contain_text("2 hours before and the day before at 18:00 each meeting")
    check_page(page, "campaigns-list", request)

    page.get_by_role("button", name="Pause Before meetings").click()
    expect(page.get_by_role("row", name="Before meetings")).to_contain_text("Paused")
    page.get_by_role("link", name="Delete Before meetings").click()
    check_page(page, "delete-confirm", request)
    page.get_by_role("button", name="Yes, delete it").click()
    expect(page.get_by_text("This group has no campaigns yet.")).to_be_visible()

    page.get_by_role("link", name="New encouragement between meetings").click()
    check_page(page, "new-encouragement", request)
    page.get_by_label("Name (only coordinators see it)").fill("Midweek")
    page.get_by_label("Friday").check()
    page.get_by_label("Messages in English, one per line").fill("Thinking of you.\nSee you soon.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("row", name="Midweek")).to_contain_text(
        "every Wednesday and Friday at 12:00, each person's time"
    )

    page.get_by_role("link", name="New broadcast").click()
    check_page(page, "new-broadcast", request)
    page.get_by_label("Name (only coordinators see it)").fill("Room change")
    page.get_by_label("Date").fill("2026-03-01")
    page.get_by_label("Time", exact=True).fill("09:00")
    page.get_by_label("Wording in English").fill("We are in room 7.")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#send_at-error")).to_contain_text("has passed")
    check_page(page, "broadcast-refused", request)
