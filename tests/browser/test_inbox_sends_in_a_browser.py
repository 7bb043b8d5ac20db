"""The Inbox and Sends in a real browser: a coordinator reads an urgent message and a question,
answers with the cost shown as they type, marks it handled, asks for a daily text, then reads
what went out in plain words; another coordinator reaches none of it. Each page is checked for
accessibility at 1280 and 375 px."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from service.db import sessions
from service.models import InboundMessage, OutboxKind, OutboxMessage, OutboxState
from tests.browser.conftest import check_page, sign_in
from tests.dashboard import with_password
from tests.support import Clock, make_group, make_participant


def _robins_inbox(app: Flask, clock: Clock) -> int:
    """Robin's Circle: Sam's question, Alex's urgent message, a text held back; Kim runs Harbor."""
    with sessions(app)() as session:
        circle = make_group(session, "CIRCLE", timezone="America/Chicago")
        make_group(session, "HARBOR", coordinator_email="kim@example.org")
        sam = make_participant(session, "+12025550142", circle, name="Sam Rivera")
        alex = make_participant(session, "+12025550143", circle, name="Alex Kim")
        for n, (person, words, urgent) in enumerate(
            ((sam, "Can I bring a friend next week?", False), (alex, "I feel awful tonight", True))
        ):
            session.add(
                InboundMessage(
                    message_sid=f"SM{n:032d}", participant_id=person.id, group_id=circle.id,
                    from_phone=person.phone, body=words, intent="message", needs_reply=True,
                    urgent=urgent, received_at=clock.now - timedelta(minutes=10 - n),
                )
            )  # fmt: skip
        session.add(
            OutboxMessage(
                send_key="held", kind=OutboxKind.ONE_OFF, body="See you Tuesday",
                participant_id=alex.id, group_id=circle.id, due_at=clock.now,
                state=OutboxState.SUPPRESSED, state_reason="opted out",
            )
        )  # fmt: skip
        session.commit()
        with_password(session, "robin@example.org", clock)
        with_password(session, "kim@example.org", clock)
        found = session.query(InboundMessage.id).filter(InboundMessage.message_sid == f"SM{0:032d}")
        return int(found.scalar() or 0)


def test_a_coordinator_answers_a_reply_marks_it_handled_and_reads_what_went_out(
    server: tuple[Flask, str],
    clock: Clock,
    new_page: Callable[[], Page],
    request: pytest.FixtureRequest,
) -> None:
    app, base = server
    question = _robins_inbox(app, clock)
    robin, kim = new_page(), new_page()
    sign_in(robin, base, "robin@example.org")
    sign_in(kim, base, "kim@example.org")

    robin.get_by_role("link", name="Inbox").click()
    expect(robin.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    rows = robin.get_by_role("table").locator("tbody tr")
    expect(rows.first).to_contain_text("Urgent")
    expect(rows.first).to_contain_text("I feel awful tonight")
    expect(rows.nth(1)).to_contain_text("Sam Rivera +1******0142")
    check_page(robin, "inbox", request)

    robin.get_by_label("Show").select_option("unread")
    robin.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(2)

    robin.get_by_role("link", name="Can I bring a friend next week?").click()
    expect(
        robin.get_by_role("heading", name="Message from Sam Rivera +1******0142")
    ).to_be_visible()
    robin.get_by_label("Your reply").fill("Of course, {{ first_name }} 😊")
    expect(robin.locator("#text-cost")).to_contain_text("1 segment")
    expect(robin.locator("#text-cost")).to_contain_text("UCS-2")
    check_page(robin, "inbox-message", request)
    robin.get_by_role("button", name="Send reply").click()
    expect(robin.get_by_text("Your reply is on its way")).to_be_visible()
    expect(robin.get_by_text("We sent")).to_be_visible()

    robin.get_by_role("button", name="Mark handled").click()
    expect(robin.get_by_text("The message is marked handled.")).to_be_visible()
    expect(robin.get_by_text("Can I bring a friend next week?")).to_have_count(0)

    robin.get_by_label("Text me once a day when replies are waiting").check()
    robin.get_by_label("My phone").fill("202 555 0100")
    robin.get_by_role("button", name="Save").click()
    expect(robin.get_by_text("It is on, to +1******0100.")).to_be_visible()

    robin.get_by_role("link", name="Sends").click()
    expect(robin.get_by_role("heading", name="Sends", level=1)).to_be_visible()
    expect(robin.get_by_text("held back: this person opted out")).to_be_visible()
    check_page(robin, "sends", request)
    robin.get_by_label("What happened").select_option("suppressed")
    robin.get_by_role("button", name="Filter").click()
    expect(robin.get_by_role("table").locator("tbody tr")).to_have_count(1)
    robin.get_by_role("table").locator("tbody tr a").first.click()
    expect(robin.get_by_text("See you Tuesday")).to_be_visible()
    check_page(robin, "sends-message", request)

    # Kim, signed in at the same time with her own cookies, reaches none of it.
    assert kim.request.get(f"{base}/inbox/{question}").status == 404
    kim.goto(f"{base}/sends")
    expect(kim.get_by_text("Nothing here: no text or call matches.")).to_be_visible()
    kim.goto(f"{base}/inbox")
    expect(kim.get_by_text("Nothing here: no reply matches.")).to_be_visible()
