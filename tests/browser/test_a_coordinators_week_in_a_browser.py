"""A coordinator's week, end to end, in a real browser: an admin creates a group for Robin, who
schedules it in words, imports a roster with bad rows, moves the next meeting to tonight, makes a
reminder asking C/N and previews it. A real `peerline worker` sends the reminder through the real
twilio-python client to the local Twilio; Sam answers C and Today's headcount goes up; Alex asks a
question, Robin answers from the inbox and the answer reaches Twilio. Kim, another coordinator
signed in at the same time, reaches none of it. Every page is checked at 1280 and 375 px.

Everything runs on the real clock, the worker's as the web app's: the meeting is moved to twenty
minutes from now, so its reminder, thirty minutes before, is due as soon as it is planned.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from flask import Flask
from playwright.sync_api import Page, expect

from service.app import create_app
from service.db import sessions
from service.models import Role
from service.sending.gateway import TwilioGateway
from tests.browser.conftest import check_page, serving, sign_in
from tests.dashboard import with_password
from tests.support import Clock, make_group, make_participant, make_settings, new_sid, sign
from tests.twilio_fake import Accepted, TwilioFakeServer
from tests.workers import ACCOUNT_SID, Worker, worker_env

CHICAGO = ZoneInfo("America/Chicago")
SAM, ALEX = "+12025550142", "+12025550143"
ROSTER = (
    "phone,name,time zone\n"
    "(202) 555-0142,Sam Rivera,\n"
    "202-555-0143,Alex Kim,\n"
    "not a number,Pat Doe,\n"
    "+12025550144,Jo Banks,Mars/Olympus\n"
)
CONSENT = "Signed consent forms, kept in the office binder"


@pytest.fixture
def live(database_url: str, twilio_server: TwilioFakeServer) -> Iterator[tuple[Flask, str]]:
    """The app as in production, on the real clock, with Twilio's API at the local server."""

    def build(base: str) -> Flask:
        settings = make_settings(
            database_url, PEERLINE_PUBLIC_URL=base, TWILIO_API_BASE_URL=twilio_server.base_url
        )
        return create_app(settings)

    with serving(build) as (app, base):
        assert isinstance(app.extensions["peerline.gateway"], TwilioGateway)
        yield app, base
    sessions(app).kw["bind"].dispose()


def _people(app: Flask) -> None:
    """Ada is an admin, Robin a coordinator with no group yet; Kim runs Harbor, with Vera."""
    clock = Clock(datetime.now(UTC))
    with sessions(app)() as session:
        with_password(session, "ada@example.org", clock, role=Role.ADMIN)
        with_password(session, "robin@example.org", clock)
        with_password(session, "kim@example.org", clock)
        harbor = make_group(session, "HARBOR", coordinator_email="kim@example.org")
        make_participant(session, "+12025550199", harbor, name="Vera Stone")


def _day(day: date, today: date) -> str:
    """A date as the Meetings page says it in a sentence: "8 December", with a year if not
    this one."""
    return f"{day.day} {day:%B}" + ("" if day.year == today.year else f" {day.year}")


def _clock(moment: datetime) -> str:
    """ "6:30 PM"."""
    return f"{moment.hour % 12 or 12}:{moment:%M} {'AM' if moment.hour < 12 else 'PM'}"


def _when(moment: datetime, *, year: bool = True) -> str:
    """A meeting's time as the dashboard says it: "Tuesday 8 December 2026 at 6:30 PM" (Today
    leaves out the year)."""
    day = f"{moment:%A} {moment.day} {moment:%B}" + (f" {moment.year}" if year else "")
    return f"{day} at {_clock(moment)}"


def _id_in(page: Page, pattern: str) -> int:
    found = re.search(pattern, page.url)
    assert found is not None, f"no {pattern} in {page.url}"
    return int(found.group(1))


def _text_in(base: str, sender: str, body: str) -> requests.Response:
    """A text to Peerline from sender, posted and signed exactly as Twilio would."""
    form = {
        "MessageSid": new_sid(),
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "To": "+15005550006",
        "Body": body,
        "NumMedia": "0",
    }
    url = f"{base}/twilio/sms"  # PEERLINE_PUBLIC_URL is the live server's base: Twilio signs it
    signature = {"X-Twilio-Signature": sign(url, form)}
    return requests.post(url, data=form, headers=signature, timeout=15)


def _arrives(
    twilio: TwilioFakeServer, to: str, worker: Worker, wanted: Callable[[str], bool]
) -> Accepted:
    """The first text the local Twilio accepted for to whose body is wanted, within 60 s."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for message in twilio.messages:
            body = message.params.get("Body")
            if message.params.get("To") == to and isinstance(body, str) and wanted(body):
                return message
        time.sleep(0.2)
    raise AssertionError(
        f"no such text reached the local Twilio in 60 s; it has {len(twilio.messages)}; "
        f"the worker said:\n{worker.log.read_text(errors='replace')[-3000:]}"
    )


def _expect_headcount(page: Page, coming: int, not_coming: int, no_answer: int) -> None:
    cells = page.get_by_role("table", name="Who said they are coming").locator("tbody td")
    expect(cells).to_have_text([str(coming), str(not_coming), str(no_answer)])


def test_a_coordinators_week_from_a_new_group_to_a_reply_that_reaches_twilio(
    live: tuple[Flask, str],
    database_url: str,
    twilio_server: TwilioFakeServer,
    new_page: Callable[[], Page],
    request: pytest.FixtureRequest,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, base = live
    _people(app)
    now = datetime.now(UTC).astimezone(CHICAGO)
    ada, robin, kim = new_page(), new_page(), new_page()
    sign_in(kim, base, "kim@example.org")

    # Ada creates the group for Robin. Its quiet hours are kept clear of the next few hours, so
    # that the story runs at any time of day.
    sign_in(ada, base, "ada@example.org")
    ada.get_by_role("link", name="Groups").click()
    ada.get_by_role("link", name="Create a group").click()
    ada.get_by_label("Coordinator").select_option(label="Robin (robin@example.org)")
    ada.get_by_label("Public name").fill("Tuesday Group")
    ada.get_by_label("Internal name").fill("Tuesday evening grief group")
    ada.get_by_label("Join code").fill("TUESDAY")
    ada.get_by_label("Time zone").fill("America/Chicago")
    ada.get_by_label("Quiet hours begin").fill(f"{now + timedelta(hours=3):%H:%M}")
    ada.get_by_label("Quiet hours end").fill(f"{now + timedelta(hours=5):%H:%M}")
    check_page(ada, "group-new", request)
    ada.get_by_role("button", name="Create the group").click()
    expect(ada.get_by_text("The group Tuesday Group is created.")).to_be_visible()
    runs_it = ada.get_by_role("row").filter(
        has=ada.get_by_role("rowheader", name="Coordinator", exact=True)
    )
    expect(runs_it).to_contain_text("Robin (robin@example.org)")
    group = _id_in(ada, r"/groups/(\d+)$")
    check_page(ada, "group", request)

    # Robin finds it on Today, with no meetings yet, and schedules it in words.
    sign_in(robin, base, "robin@example.org")
    expect(robin.get_by_role("heading", name="Tuesday Group")).to_be_visible()
    expect(robin.get_by_text("No meetings are scheduled for this group.")).to_be_visible()
    check_page(robin, "today-new-group", request)
    robin.get_by_role("link", name="Meetings of Tuesday Group").click()
    first = now.date() + timedelta(days=(1 - now.weekday()) % 7 or 7)  # next Tuesday
    robin.get_by_label("Every few weeks").check()
    robin.get_by_label("Tuesday").check()
    robin.get_by_label("Time", exact=True).fill("18:30")
    robin.get_by_label("From", exact=True).fill(first.isoformat())
    robin.get_by_label("Where (or a link)").fill("Room 5")
    robin.get_by_role("button", name="Save the schedule").click()
    said = f"every other Tuesday at 6:30 PM, from {_day(first, now.date())}"
    expect(robin.get_by_text(f"Saved: the group meets {said}.")).to_be_visible()
    expect(robin.get_by_text(f"The group meets {said}.", exact=True)).to_be_visible()
    next_dates = robin.locator("ol.next-dates li")
    first_meeting = datetime.combine(first, datetime.min.time()).replace(hour=18, minute=30)
    expect(next_dates.first).to_have_text(_when(first_meeting))
    expect(next_dates.nth(1)).to_have_text(_when(first_meeting + timedelta(days=14)))
    check_page(robin, "meetings", request)

    # The roster: two good rows, two bad ones, named by line; the good ones go in with consent.
    roster = tmp_path / "tuesday.csv"
    roster.write_text(ROSTER)
    robin.get_by_role("navigation").get_by_role("link", name="People").click()
    robin.get_by_role("link", name="Import a roster").click()
    robin.get_by_label("Roster file (CSV)").set_input_files(str(roster))
    robin.get_by_label("Written consent (optional)").fill(CONSENT)
    robin.get_by_role("button", name="Check the file").click()
    expect(robin.get_by_text("Nothing is imported yet.")).to_be_visible()
    expect(robin.get_by_text("2 people would be added")).to_be_visible()
    expect(robin.get_by_text(f"Written consent: {CONSENT}")).to_be_visible()
    bad = robin.get_by_role("table", name="Rows that cannot be imported").locator("tbody tr")
    expect(bad).to_have_count(2)
    expect(bad.first.locator("td").first).to_have_text("4")
    expect(bad.first).to_contain_text("is not a valid number")
    expect(bad.nth(1).locator("td").first).to_have_text("5")
    expect(bad.nth(1)).to_contain_text("is not known")
    check_page(robin, "roster-check", request)
    robin.get_by_label("Import the good rows and skip the bad ones").check()
    robin.get_by_role("button", name="Import").click()
    expect(robin.get_by_text("Imported: 2 added, 0 invited to reply YES")).to_be_visible()
    expect(robin.get_by_role("link", name="Sam Rivera")).to_be_visible()
    expect(robin.get_by_role("link", name="Alex Kim")).to_be_visible()
    check_page(robin, "people", request)

    # The next meeting moves to tonight, twenty minutes from now.
    robin.get_by_role("navigation").get_by_role("link", name="Meetings").click()
    robin.get_by_role("link", name="Tuesday Group").click()
    robin.get_by_role("link", name=f"Move the meeting of {_when(first_meeting)}").click()
    soon = (datetime.now(UTC) + timedelta(minutes=21)).astimezone(CHICAGO)
    soon = soon.replace(second=0, microsecond=0)
    robin.get_by_label("New date").fill(soon.date().isoformat())
    robin.get_by_label("New time").fill(f"{soon:%H:%M}")
    check_page(robin, "meeting-move", request)
    robin.get_by_role("button", name="Move the meeting").click()
    expect(robin.get_by_text(f"The meeting is moved to {_when(soon)}.")).to_be_visible()
    expect(next_dates.first).to_have_text(f"{_when(soon)} (moved)")
    check_page(robin, "meetings-moved", request)

    # A reminder half an hour before each meeting, asking C/N, previewed before it is saved.
    robin.get_by_role("navigation").get_by_role("link", name="Campaigns").click()
    robin.get_by_role("link", name="Tuesday Group").click()
    robin.get_by_role("link", name="New reminder before meetings").click()
    robin.get_by_label("Name (only coordinators see it)").fill("Before each meeting")
    robin.get_by_label("Reminder 1: how long before").fill("30")
    robin.get_by_label("Reminder 1: unit").select_option("m")
    robin.get_by_label("Ask people to reply C to confirm, N if they cannot come").check()
    robin.get_by_role("button", name="Preview what goes out").click()
    preview = robin.get_by_role("table", name="Each text, when, and to how many people")
    due = soon - timedelta(minutes=30)
    day = "today" if due.date() == soon.date() else "tomorrow"  # as the text says, when due
    expect(preview.locator("tbody tr")).to_have_count(2)  # one text each: it names them
    for name in ("Sam", "Alex"):
        line = preview.get_by_role("row").filter(has_text=f"Hi {name}, a reminder")
        expect(line).to_contain_text(f"{due:%a %Y-%m-%d %H:%M} (America/Chicago time)")
        expect(line).to_contain_text("its time has passed: it goes out right away")
        expect(line).to_contain_text("1 person")
        expect(line).to_contain_text(
            f"Tuesday Group meets {day} at {_clock(soon)} at Room 5. Reply C to confirm"
        )
    check_page(robin, "reminder-preview", request)
    robin.get_by_role("button", name="Save").click()
    expect(robin.get_by_text("“Before each meeting” is saved.")).to_be_visible()
    expect(robin.get_by_role("row", name="Before each meeting")).to_contain_text(
        "30 minutes before each meeting, asking C/N"
    )
    campaign = int(
        re.findall(
            r"/campaigns/(\d+)",
            robin.get_by_role("row", name="Before each meeting").inner_html(),
        )[0]
    )
    check_page(robin, "campaigns", request)

    robin.get_by_role("link", name="Today").click()
    expect(robin.get_by_text(_when(soon, year=False))).to_be_visible()  # the next meeting
    _expect_headcount(robin, coming=0, not_coming=0, no_answer=2)

    env = worker_env(
        database_url, twilio_server, PEERLINE_PUBLIC_URL=base, PEERLINE_LOG_LEVEL="INFO"
    )
    with Worker(env, tmp_path / "worker.log") as worker:
        # The worker plans at once, and the reminder, due now, reaches Twilio.
        reminder = _arrives(twilio_server, SAM, worker, lambda body: "Tuesday Group" in body)
        assert "Reply C" in str(reminder.params["Body"])
        _arrives(twilio_server, ALEX, worker, lambda body: "Tuesday Group" in body)

        # Sam answers C, and Today counts him in.
        answered = _text_in(base, SAM, "C")
        assert answered.status_code == 200
        assert "down as coming to Tuesday Group" in answered.text
        robin.reload()
        _expect_headcount(robin, coming=1, not_coming=0, no_answer=1)
        check_page(robin, "today-headcount", request)

        # Alex asks a question; Robin reads it in the inbox and answers.
        asked = _text_in(base, ALEX, "Can I bring my sister next week?")
        assert asked.status_code == 200
        robin.get_by_role("link", name="Inbox").click()
        row = robin.get_by_role("table").locator("tbody tr").first
        expect(row).to_contain_text("Alex Kim")
        expect(row).to_contain_text("Can I bring my sister next week?")
        check_page(robin, "inbox", request)
        robin.get_by_role("link", name="Can I bring my sister next week?").click()
        expect(robin.get_by_role("heading", name="Message from Alex Kim")).to_be_visible()
        message = _id_in(robin, r"/inbox/(\d+)$")
        robin.get_by_label("Your reply").fill("Of course, {{ first_name }}: she is welcome.")
        expect(robin.locator("#text-cost")).to_contain_text("1 segment")
        check_page(robin, "inbox-message", request)
        robin.get_by_role("button", name="Send reply").click()
        expect(robin.get_by_text("Your reply is on its way")).to_be_visible()
        answer = _arrives(twilio_server, ALEX, worker, lambda body: body.startswith("Of course"))
        assert answer.params["Body"] == "Of course, Alex: she is welcome."
        assert worker.terminate() == 0

    # Alex's page on People holds the whole thread, in order: the reminder, the question,
    # Peerline's automatic answer to it, Robin's answer.
    robin.get_by_role("navigation").get_by_role("link", name="People").click()
    robin.get_by_role("link", name="Alex Kim").click()
    alex = _id_in(robin, r"/people/(\d+)$")
    thread = robin.get_by_role("region", name="Messages with this group").locator("ol > li")
    expect(thread).to_have_count(4)
    expect(thread.nth(0)).to_contain_text("Hi Alex, a reminder: Tuesday Group meets")
    expect(thread.nth(1)).to_contain_text("They wrote")
    expect(thread.nth(1)).to_contain_text("Can I bring my sister next week?")
    expect(thread.nth(2)).to_contain_text("Automatic answer")
    expect(thread.nth(2)).to_contain_text("Thanks, we got your message")
    expect(thread.nth(3)).to_contain_text("Reply from a coordinator")
    expect(thread.nth(3)).to_contain_text("Of course, Alex: she is welcome.")
    check_page(robin, "person", request)

    # Sends: the two reminders and the answer, in plain words.
    robin.get_by_role("link", name="Sends").click()
    sends = robin.get_by_role("table", name="3 texts and calls").locator("tbody tr")
    expect(sends).to_have_count(3)
    expect(sends.nth(0)).to_contain_text("Alex Kim")
    expect(sends.nth(0)).to_contain_text("text from a coordinator")
    for later in (1, 2):
        expect(sends.nth(later)).to_contain_text("reminder")
    expect(robin.get_by_role("table").get_by_text("sent: the phone company")).to_have_count(3)
    check_page(robin, "sends", request)

    # Kim, signed in all along with her own cookies, reaches none of it.
    for path in (
        f"/groups/{group}",
        f"/groups/{group}/meetings",
        f"/groups/{group}/campaigns",
        f"/campaigns/{campaign}",
        f"/groups/{group}/people/{alex}",
        f"/inbox/{message}",
    ):
        theirs = kim.request.get(base + path)
        assert theirs.status == 404, path
        assert "Tuesday Group" not in theirs.text() and "Alex" not in theirs.text(), path
    kim.reload()
    expect(kim.get_by_role("heading", name="Harbor Group")).to_be_visible()
    expect(kim.get_by_text("Tuesday Group")).to_have_count(0)
    check_page(kim, "other-coordinator-today", request)
    kim.get_by_role("link", name="Inbox").click()
    expect(kim.get_by_text("Nothing here: no reply matches.")).to_be_visible()
    kim.get_by_role("link", name="Sends").click()
    expect(kim.get_by_text("Nothing here: no text or call matches.")).to_be_visible()
    kim.get_by_role("navigation").get_by_role("link", name="People").click()
    expect(kim.get_by_role("link", name="Vera Stone")).to_be_visible()
    expect(kim.get_by_text("Alex")).to_have_count(0)
    expect(kim.get_by_text("Sam")).to_have_count(0)
    check_page(kim, "other-coordinator-people", request)

    # Nothing logged a whole phone number, in the web app or in the worker.
    worker_log = worker.log.read_text()
    assert "planned 2 row(s)" in worker_log
    assert "from +1******0143 read as message" in caplog.text  # masked, as always
    for phone in (SAM, ALEX):
        assert phone[2:] not in caplog.text and phone[2:] not in worker_log
