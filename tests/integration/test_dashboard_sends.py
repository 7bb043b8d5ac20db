"""The dashboard's Sends: my groups' texts and calls in plain words, filtered and paged, one in
full, and the CSV of a period (the API's too)."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.models import CampaignKind, Group, OutboxKind, OutboxMessage, OutboxState
from tests.api import token_for
from tests.dashboard import sign_in, with_password
from tests.support import Clock, make_campaign, make_group, make_participant

SAM, ALEX, VERA = "+12025550142", "+12025550143", "+12025550122"


def happened(page: str) -> list[str]:
    """The What happened column of a Sends page, row by row."""
    return re.findall(r"<td>([^<]*)</td>\s*</tr>", page)


def _send(session: Session, clock: Clock, key: str, **fields: Any) -> OutboxMessage:
    fields.setdefault("due_at", clock.now)
    row = OutboxMessage(send_key=key, kind=OutboxKind.ONE_OFF, **fields)
    session.add(row)
    session.commit()
    return row


def _sends(session: Session, clock: Clock) -> dict[str, Any]:
    """Robin's Circle (Chicago) with a reminder campaign and five sends; Kim's Harbor with one."""
    circle = make_group(session, "CIRCLE", timezone="America/Chicago")
    harbor = make_group(session, "HARBOR", coordinator_email="kim@example.org")
    sam = make_participant(session, SAM, circle, name="Sam Rivera")
    alex = make_participant(session, ALEX, circle, name="Alex Kim")
    vera = make_participant(session, VERA, harbor, name="Vera Harbor")
    reminders = make_campaign(session, circle, CampaignKind.REMINDER, offsets=["2h"])
    mine = {"group": circle, "campaign": reminders}
    for key, person, state, reason, days, campaign in (
        ("held", alex, OutboxState.SUPPRESSED, "opted out", 0, None),
        ("late", sam, OutboxState.EXPIRED, "too late to be useful", -1, reminders),
        ("quiet", sam, OutboxState.QUEUED, "waiting out quiet hours", 1, reminders),
        ("arrived", sam, OutboxState.DELIVERED, None, -3, None),
        ("bad", alex, OutboxState.FAILED, "Twilio said the number is not valid", -5, None),
    ):
        mine[key] = _send(
            session, clock, key, body=f"Hello {key}", participant_id=person.id,
            group_id=circle.id, state=state, state_reason=reason,
            due_at=clock.now + timedelta(days=days),
            campaign_id=campaign.id if campaign else None,
        )  # fmt: skip
    mine["theirs"] = _send(
        session, clock, "vera", body="Harbor news", participant_id=vera.id, group_id=harbor.id
    )
    with_password(session, "robin@example.org", clock)
    return mine


def test_sends_list_my_groups_texts_with_each_state_in_plain_words(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _sends(session, clock)
    sign_in(client, "robin@example.org")

    page = client.get("/sends").text

    assert happened(page) == [
        "waiting for quiet hours to end",
        "held back: this person opted out",
        "expired: it could no longer arrive before the meeting",
        "delivered",
        "failed: the number is not valid",
    ]
    assert "Sam Rivera +1******0142" in page and SAM not in page
    assert "(America/Chicago)" in page
    assert "Harbor news" not in page and "Vera" not in page
    assert ">suppressed<" not in page and "Held back</option>" in page


def test_sends_filter_by_state_campaign_and_days_in_the_groups_zone(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine = _sends(session, clock)
    sign_in(client, "robin@example.org")
    group, campaign = mine["group"].id, mine["campaign"].id
    held = client.get("/sends?state=suppressed").text
    reminders = client.get(f"/sends?campaign={campaign}").text
    first = (clock.now - timedelta(days=3)).date().isoformat()
    last = (clock.now - timedelta(days=1)).date().isoformat()
    period = client.get(f"/sends?group={group}&since={first}&until={last}").text

    assert happened(held) == ["held back: this person opted out"]
    assert happened(reminders) == [
        "waiting for quiet hours to end",
        "expired: it could no longer arrive before the meeting",
    ]
    assert happened(period) == [
        "expired: it could no longer arrive before the meeting",
        "delivered",
    ]


def test_bad_filters_are_refused_beside_the_field_and_another_groups_are_not_found(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine = _sends(session, clock)
    sign_in(client, "robin@example.org")
    harbor = session.scalar(select(Group.id).where(Group.join_code == "HARBOR"))

    bad_day = client.get("/sends?since=yesterday")
    backwards = client.get("/sends?since=2026-03-05&until=2026-03-01")

    assert bad_day.status_code == 400 and 'id="since-error"' in bad_day.text
    assert "Give a date such as 2026-12-01." in bad_day.text
    assert backwards.status_code == 400 and 'id="until-error"' in backwards.text
    assert client.get("/sends?state=lost").status_code == 400
    assert client.get(f"/sends?group={harbor}").status_code == 404
    assert client.get(f"/sends/{mine['theirs'].id}").status_code == 404


def test_a_sends_page_shows_its_words_and_what_happened(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine = _sends(session, clock)
    sign_in(client, "robin@example.org")

    page = client.get(f"/sends/{mine['late'].id}").text

    assert "Hello late" in page
    assert "expired: it could no longer arrive before the meeting" in page
    assert "reminder campaign" in page and "Sam Rivera +1******0142" in page


def test_the_sends_csv_has_the_filtered_rows_with_masked_numbers_and_plain_words(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _sends(session, clock)
    sign_in(client, "robin@example.org")

    answer = client.get("/sends.csv?state=suppressed")
    rows = list(csv.DictReader(io.StringIO(answer.text)))

    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    assert [(r["to"], r["what_happened"], r["group"]) for r in rows] == [
        ("Alex Kim +1******0143", "held back: this person opted out", "Circle Group")
    ]
    assert ALEX not in answer.text


def test_the_apis_outbox_gives_the_same_csv(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine = _sends(session, clock)
    token = token_for(session, clock, "robin@example.org")

    answer = client.get(
        f"/api/v1/outbox?format=csv&group_id={mine['group'].id}",
        headers={"Authorization": f"Bearer {token}"},
    )
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    wrong = client.get("/api/v1/outbox?format=xml", headers={"Authorization": f"Bearer {token}"})

    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert len(rows) == 5 and "Harbor news" not in answer.text
    assert {r["what_happened"] for r in rows} >= {"delivered", "waiting for quiet hours to end"}
    assert SAM not in answer.text and ALEX not in answer.text
    assert wrong.status_code == 422


def test_sends_are_paged_fifty_at_a_time(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine = _sends(session, clock)
    for n in range(50):
        _send(session, clock, f"more{n}", body=f"More {n}", group_id=mine["group"].id,
              due_at=clock.now + timedelta(days=10, minutes=n))  # fmt: skip
    sign_in(client, "robin@example.org")

    first = client.get("/sends").text
    second = client.get("/sends?page=2").text

    assert "Page 1 of 2" in first and len(happened(first)) == 50
    assert "Page 2 of 2" in second and happened(second)[-1] == "failed: the number is not valid"
