"""The Meetings page in a real browser: a coordinator schedules "every other Tuesday at 18:30"
in words, reads it back with the next dates and the warnings, cancels and moves a meeting, sees
who answered for a past one; another coordinator gets 404. Each page checked at 1280 and 375 px.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import update

from service.campaigns.headcount import record_answer
from service.db import sessions
from service.models import Membership
from tests.browser.conftest import check_page, sign_in
from tests.dashboard import with_password
from tests.support import Clock, make_group, make_participant


def _coordinators(app: Flask, clock: Clock) -> int:
    """Robin runs Circle, in Chicago, with Sam and Ana, members since January; Kim runs Harbor."""
    with sessions(app)() as session:
        circle = make_group(
            session, "CIRCLE", timezone="America/Chicago", coordinator_email="robin@example.org"
        )
        sam = make_participant(session, "+12025550111", circle, name="Sam")
        make_participant(session, "+12025550112", circle, name="Ana")
        session.execute(update(Membership).values(created_at=datetime(2026, 1, 5, tzinfo=UTC)))
        record_answer(session, sam.id, circle.id, "20260217T1830", True, clock.now)
        make_group(session, "HARBOR", coordinator_email="kim@example.org")
        with_password(session, "robin@example.org", clock)
        with_password(session, "kim@example.org", clock)
        session.commit()
        return circle.id


def test_a_coordinator_schedules_in_words_cancels_and_moves_a_meeting_and_sees_who_came(
    server: tuple[Flask, str],
    clock: Clock,
    new_page: Callable[[], Page],
    request: pytest.FixtureRequest,
) -> None:
    app, base = server
    circle = _coordinators(app, clock)  # the clock: Tuesday 3 March 2026, 11:00 in Chicago
    robin, kim = new_page(), new_page()
    sign_in(robin, base, "robin@example.org")
    sign_in(kim, base, "kim@example.org")

    robin.get_by_role("link", name="Meetings of Circle Group").click()
    expect(robin.get_by_role("heading", name="Meetings of Circle Group", level=1)).to_be_visible()
    expect(robin.get_by_text("No meetings are scheduled for this group yet")).to_be_visible()
    check_page(robin, "meetings-none", request)

    # A first try without a day of the week comes back with the reason beside the days.
    robin.get_by_label("Every few weeks").check()
    robin.get_by_label("Time", exact=True).fill("18:30")
    robin.get_by_label("From", exact=True).fill("2026-02-17")
    robin.get_by_label("Where (or a link)").fill("Room 5")
    robin.get_by_role("button", name="Save the schedule").click()
    expect(robin.get_by_text("choose at least one day of the week")).to_be_visible()
    check_page(robin, "meetings-refused", request)

    robin.get_by_label("Tuesday").check()
    robin.get_by_role("button", name="Save the schedule").click()
    said = "every other Tuesday at 6:30 PM, from 17 February"
    expect(robin.get_by_text(f"Saved: the group meets {said}.")).to_be_visible()
    expect(robin.get_by_text(f"The group meets {said}.", exact=True)).to_be_visible()
    expect(
        robin.get_by_text("The first meeting, Tuesday 17 February at 6:30 PM, is already past")
    ).to_be_visible()
    next_dates = robin.locator("ol.next-dates li")
    expect(next_dates).to_have_count(6)
    expect(next_dates.first).to_have_text("Tuesday 3 March 2026 at 6:30 PM")
    expect(next_dates.nth(1)).to_have_text("Tuesday 17 March 2026 at 6:30 PM")
    expect(robin.get_by_text("FREQ=")).to_have_count(0)
    past = robin.locator("article.past-meeting")
    expect(past.first).to_contain_text("Tuesday 17 February 2026 at 6:30 PM")
    expect(past.first).to_contain_text("Confirmed: 1 Sam")
    expect(past.first).to_contain_text("Did not answer: 1 Ana")
    check_page(robin, "meetings", request)

    robin.get_by_role(
        "button", name="Cancel the meeting of Tuesday 3 March 2026 at 6:30 PM"
    ).click()
    expect(robin.get_by_text("The meeting is cancelled")).to_be_visible()
    expect(next_dates.first).to_have_text("Tuesday 17 March 2026 at 6:30 PM")

    robin.get_by_role("link", name="Move the meeting of Tuesday 17 March 2026 at 6:30 PM").click()
    expect(robin.get_by_label("New date")).to_have_value("2026-03-17")
    check_page(robin, "meetings-move", request)
    robin.get_by_label("New date").fill("2026-03-08")  # the night the clocks go forward
    robin.get_by_label("New time").fill("02:30")
    robin.get_by_label("Where (or a link)").fill("Room 7")
    robin.get_by_role("button", name="Move the meeting").click()
    expect(
        robin.get_by_text("Sunday 8 March at 2:30 AM does not exist in America/Chicago")
    ).to_be_visible()
    expect(next_dates.first).to_have_text("Sunday 8 March 2026 at 3:30 AM (moved)")

    robin.get_by_role("navigation").get_by_role("link", name="Meetings").click()
    expect(robin.get_by_role("listitem").filter(has_text="Circle Group")).to_contain_text(
        f"meets {said} (America/Chicago time)."
    )
    check_page(robin, "meetings-index", request)

    # Kim, signed in with her own cookies, asks for Robin's page (not navigated to: a 404 page
    # would count as a console error).
    theirs = kim.request.get(f"{base}/groups/{circle}/meetings")
    assert theirs.status == 404
    assert "Circle" not in theirs.text() and "Sam" not in theirs.text()
    expect(kim.get_by_role("heading", name="Today")).to_be_visible()
