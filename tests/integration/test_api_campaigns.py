"""The API for meetings and campaigns: schedule, cancel, move; create, preview, pause, resume."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.campaigns.planner import plan
from service.models import (
    AuditEntry,
    Campaign,
    CampaignStatus,
    OutboxMessage,
    OutboxState,
    Participant,
)
from tests.api import call, get, post, two_coordinators
from tests.support import Clock, make_history, make_participant, make_schedule


def put(client: FlaskClient, path: str, token: str, body: object) -> tuple[int, object]:
    return call(client, "PUT", path, token, body)


# -- meetings -----------------------------------------------------------------------------------


def test_scheduling_listing_cancelling_and_moving_meetings(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, _, robin, kim = two_coordinators(session, clock)
    base = f"/api/v1/groups/{mine.id}"
    assert get(client, f"{base}/schedule", robin)[0] == 404  # no meetings yet

    status, schedule = put(
        client,
        f"{base}/schedule",
        robin,
        {"rule": "FREQ=WEEKLY;BYDAY=TU", "first": "2026-03-03T18:30", "location": "Room 5"},
    )
    assert status == 200
    assert schedule == {
        "rule": "FREQ=WEEKLY;BYDAY=TU", "first": "2026-03-03T18:30:00", "duration_minutes": 90,
        "location": "Room 5", "timezone": "America/New_York", "withdrawn": 0, "warnings": [],
        "description": "every Tuesday at 6:30 PM, from 3 March",
    }  # fmt: skip
    status, meetings = get(client, f"{base}/meetings?days=14", robin)
    assert status == 200
    assert [(m["key"], m["starts_at"]) for m in meetings] == [
        ("20260303T1830", "2026-03-03T23:30:00+00:00"),
        ("20260310T1830", "2026-03-10T22:30:00+00:00"),  # after the DST change: 18:30 still
    ]

    assert post(client, f"{base}/meetings/20260310T1830/cancel", robin)[1] == {
        "key": "20260310T1830", "withdrawn": 0,
    }  # fmt: skip
    status, moved = post(
        client, f"{base}/meetings/20260303T1830/move", robin,
        {"to": "2026-03-04T19:00", "location": "Library"},
    )  # fmt: skip
    assert status == 200 and moved["key"] == "20260303T1830"
    meetings = get(client, f"{base}/meetings?days=14", robin)[1]
    assert [(m["key"], m["cancelled"], m["moved"], m["location"]) for m in meetings] == [
        ("20260303T1830", False, True, "Library"),
        ("20260310T1830", True, False, "Room 5"),
    ]
    assert meetings[0]["starts_at"] == "2026-03-05T00:00:00+00:00"

    for method, path, body in (
        ("GET", f"{base}/schedule", None),
        ("PUT", f"{base}/schedule", {"rule": "FREQ=DAILY", "first": "2026-03-03T18:30"}),
        ("GET", f"{base}/meetings", None),
        ("POST", f"{base}/meetings/20260317T1830/cancel", None),
        ("POST", f"{base}/meetings/20260317T1830/move", {"location": "x"}),
    ):
        assert call(client, method, path, kim, body)[0] == 404, (method, path)
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.actor == "api:robin@example.org")
    )
    assert list(actions) == ["meetings.schedule", "meetings.cancel", "meetings.move"]


def test_bad_meeting_changes_are_refused_with_the_field_at_fault(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)
    base = f"/api/v1/groups/{mine.id}"
    assert post(client, f"{base}/meetings/20260303T1830/cancel", robin)[0] == 404
    make_schedule(session, mine)

    cases: list[tuple[str, str, object, str]] = [
        ("PUT", "/schedule", {"rule": "FREQ=SOMETIMES", "first": "2026-03-03T18:30"}, "rule"),
        ("PUT", "/schedule", {"rule": "FREQ=WEEKLY", "first": "tuesday"}, "first"),
        (
            "PUT",
            "/schedule",
            {"rule": "FREQ=WEEKLY", "first": "2026-03-03T18:30", "duration_minutes": 0},
            "duration_minutes",
        ),
        ("POST", "/meetings/20260303T1830/move", {}, ""),
    ]
    for method, path, body, field in cases:
        status, problem = call(client, method, base + path, robin, body)
        assert status == 422, (path, body, problem)
        if field:
            assert field in problem["details"]["json"], problem
    for key in ("20260304T1830", "next-tuesday"):  # a Wednesday: no meeting; no key at all
        status, problem = post(client, f"{base}/meetings/{key}/cancel", robin)
        assert status == 404, problem
        assert "not one of" in problem["message"] or "not a meeting key" in problem["message"]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0


# -- campaigns ----------------------------------------------------------------------------------


REMINDER = {"kind": "reminder", "name": "Day before", "offsets": ["1d@18:00", "2h"], "rsvp": True}


def test_meetings_and_their_headcount_come_a_page_at_a_time(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)
    base = f"/api/v1/groups/{mine.id}"
    put(
        client,
        f"{base}/schedule",
        robin,
        {"rule": "FREQ=WEEKLY;BYDAY=TU", "first": "2026-03-03T18:30"},
    )
    headers = {"Authorization": f"Bearer {robin}"}

    for listing in ("meetings", "headcount"):
        whole = get(client, f"{base}/{listing}?days=21", robin)[1]
        second = client.get(f"{base}/{listing}?days=21&page_size=2&page=2", headers=headers)

        assert len(whole) == 3
        assert second.get_json() == whole[2:]
        paging = json.loads(second.headers["X-Pagination"])
        assert (paging["total"], paging["total_pages"], paging["page"]) == (3, 2, 2)


def test_creating_previewing_pausing_and_resuming_a_reminder_campaign(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, _, robin, kim = two_coordinators(session, clock)
    make_schedule(session, mine)
    clock.now -= timedelta(days=1)  # the day before the first meeting, morning

    status, campaign = post(client, "/api/v1/campaigns", robin, {**REMINDER, "group_id": mine.id})
    assert status == 201
    assert (campaign["status"], campaign["offsets"], campaign["rsvp"]) == (
        "active", ["1d@18:00", "2h"], True,
    )  # fmt: skip
    assert campaign["warnings"] == []

    status, lines = get(client, f"/api/v1/campaigns/{campaign['id']}/preview?days=2", robin)
    assert status == 200
    assert [(line["local"], line["recipients"]) for line in lines] == [
        ("Mon 2026-03-02 18:00", 1),
        ("Tue 2026-03-03 16:30", 1),
    ]
    assert "C" in lines[0]["text"] and lines[0]["names"] == ["Sam Rivera"]
    path = f"/api/v1/campaigns/{campaign['id']}/preview?days=2&page_size=1&page=2"
    assert get(client, path, robin)[1] == lines[1:]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0  # a preview only

    plan(session, clock.now)
    session.commit()
    status, paused = post(client, f"/api/v1/campaigns/{campaign['id']}/pause", robin)
    assert status == 200 and paused["status"] == "paused" and paused["withdrawn"] >= 1
    session.expire_all()
    states = session.scalars(select(OutboxMessage.state)).all()
    assert len(states) == paused["withdrawn"] and set(states) == {OutboxState.CANCELED}
    status, resumed = post(client, f"/api/v1/campaigns/{campaign['id']}/resume", robin)
    assert status == 200 and resumed["status"] == "active"

    for path in ("", "/preview", "/pause", "/resume"):
        method = "POST" if path in ("/pause", "/resume") else "GET"
        assert call(client, method, f"/api/v1/campaigns/{campaign['id']}{path}", kim)[0] == 404
    assert get(client, "/api/v1/campaigns", kim)[1] == []
    assert [c["name"] for c in get(client, "/api/v1/campaigns?kind=reminder", robin)[1]] == [
        "Day before"
    ]
    session.expire_all()
    assert session.get_one(Campaign, campaign["id"]).status is CampaignStatus.ACTIVE


def test_a_campaigns_preview_is_what_is_still_due_not_its_history(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    """A reminder campaign running since January: its sent and expired rows, and those a
    worker left queued past their expiry, are not in "the next 7 days"."""
    mine, _, robin, _ = two_coordinators(session, clock)
    make_schedule(session, mine, first=datetime(2026, 1, 6, 18, 30))
    status, campaign = post(client, "/api/v1/campaigns", robin, {**REMINDER, "group_id": mine.id})
    assert status == 201
    path = f"/api/v1/campaigns/{campaign['id']}/preview?days=7"
    before = get(client, path, robin)[1]
    sam = session.scalars(select(Participant)).one()
    past = [datetime(2026, 1, 6, 23, 30, tzinfo=UTC) + timedelta(weeks=n) for n in range(8)]
    make_history(session, session.get_one(Campaign, campaign["id"]), [sam], past)

    status, lines = get(client, path, robin)

    assert status == 200
    assert [(line["local"], line["note"]) for line in lines] == [
        ("Tue 2026-03-03 16:30", ""),
        ("Mon 2026-03-09 18:00", ""),
    ]
    assert lines == before


def test_a_campaigns_preview_summary_counts_and_samples_and_its_lines_are_paged_by_send(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    """Five members: a summary counts them and words the first sends; the full list, paged
    by send, holds the same sends page after page."""
    mine, _, robin, kim = two_coordinators(session, clock)
    for n in range(4):
        make_participant(session, f"+1202555{n:04d}", mine, name=f"Person{n} Rivera")
    make_schedule(session, mine)
    clock.now -= timedelta(days=1)  # Monday noon in New York: tomorrow's meeting ahead
    status, campaign = post(client, "/api/v1/campaigns", robin, {**REMINDER, "group_id": mine.id})
    assert status == 201
    base = f"/api/v1/campaigns/{campaign['id']}/preview"

    status, counted = get(client, f"{base}/summary?days=2&sample=3", robin)

    assert status == 200, counted
    assert (counted["texts"], counted["calls"], counted["people"], counted["sends"]) == (
        10,
        0,
        5,
        10,
    )
    assert (counted["moved"], counted["expiring"], counted["right_away"]) == (0, 0, 0)
    assert [(h["local"], h["texts"]) for h in counted["hours"]] == [
        ("Mon 2026-03-02 18:00", 5),
        ("Tue 2026-03-03 16:00", 5),
    ]
    assert [line["recipients"] for line in counted["sample"]] == [1, 1, 1]
    assert counted["sample"][0]["local"] == "Mon 2026-03-02 18:00"
    assert "+1202" not in json.dumps(counted)  # names, never numbers

    pages = [client.get(f"{base}?days=2&page_size=4&page={n}", headers={
        "Authorization": f"Bearer {robin}"}) for n in (1, 2, 3)]  # fmt: skip
    assert [json.loads(p.headers["X-Pagination"])["total"] for p in pages] == [10] * 3
    listed = [line for p in pages for line in p.get_json()]
    assert sum(line["recipients"] for line in listed) == 10
    assert listed[:3] == counted["sample"]
    assert get(client, f"{base}?days=2&page_size=4&page=4", robin)[1] == []

    draft = post(client, "/api/v1/campaigns/preview/summary?days=2&sample=0", robin,
                 {**REMINDER, "group_id": mine.id, "offsets": ["2h"]})  # fmt: skip
    changed = post(client, f"{base}/summary?days=2", robin, {"offsets": ["1d@18:00"]})
    assert draft[0] == 200 and (draft[1]["texts"], draft[1]["sample"]) == (5, [])
    assert changed[0] == 200 and [h["local"] for h in changed[1]["hours"]] == [
        "Mon 2026-03-02 18:00"
    ]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert session.get_one(Campaign, campaign["id"]).offsets == ["1d@18:00", "2h"]

    for bad in ("days=0", "days=1000", "sample=101", "sample=-1", "days=x"):
        assert get(client, f"{base}/summary?{bad}", robin)[0] == 422, bad
    assert get(client, f"{base}?days=32", robin)[0] == 422
    assert get(client, f"{base}/summary", kim)[0] == 404  # another coordinator's campaign
    assert post(client, f"{base}/summary", kim, {"name": "x"})[0] == 404
    assert get(client, "/api/v1/campaigns/999999/preview/summary", robin)[0] == 404
    assert post(client, "/api/v1/campaigns/preview/summary", kim,
                {**REMINDER, "group_id": mine.id})[0] == 404  # fmt: skip
    refused = post(client, f"{base}/summary", robin, {"offsets": ["soon"]})
    assert refused[0] == 422 and "offsets" in refused[1]["details"]["json"]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_encouragement_and_broadcast_campaigns(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)

    status, weekly = post(
        client, "/api/v1/campaigns", robin,
        {"group_id": mine.id, "kind": "encouragement", "name": "Midweek",
         "cadence": "FREQ=WEEKLY;BYDAY=WE", "at": "12:30",
         "pools": {"en": ["You matter, {{ first_name }}.", "We are glad you are here."]}},
    )  # fmt: skip
    assert status == 201
    assert weekly["pools"]["en"][1] == "We are glad you are here." and weekly["at"] == "12:30:00"

    status, broadcast = post(
        client, "/api/v1/campaigns", robin,
        {"group_id": mine.id, "kind": "broadcast", "name": "Snow",
         "wording": {"en": "No meeting tonight: snow. Stay warm."},
         "send_at": "2026-03-03T20:00:00-05:00"},
    )  # fmt: skip
    assert status == 201 and broadcast["send_at"] == "2026-03-04T01:00:00+00:00"
    lines = get(client, f"/api/v1/campaigns/{broadcast['id']}/preview", robin)[1]
    assert [(line["text"], line["recipients"]) for line in lines] == [
        ("No meeting tonight: snow. Stay warm.", 1)
    ]


def test_bad_campaigns_are_refused_with_the_field_at_fault_and_nothing_is_created(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, theirs, robin, _ = two_coordinators(session, clock)
    cases: list[tuple[dict[str, object], int, str]] = [
        ({**REMINDER, "group_id": mine.id}, 422, ""),  # no meetings yet
        ({**REMINDER, "group_id": theirs.id}, 404, ""),
        (
            {"group_id": mine.id, "kind": "reminder", "name": "x", "offsets": ["soon"]},
            422,
            "offsets",
        ),
        ({"group_id": mine.id, "kind": "broadcast", "name": "x"}, 422, "wording"),
        (
            {
                "group_id": mine.id,
                "kind": "broadcast",
                "name": "x",
                "wording": {"en": "Hi {{ nickname }}"},
            },
            422,
            "wording.en",
        ),
        (
            {"group_id": mine.id, "kind": "broadcast", "name": "x", "wording": {"fr": "Salut"}},
            422,
            "wording",
        ),
        ({"group_id": mine.id, "kind": "encouragement", "name": "x"}, 422, "cadence"),
        (
            {"group_id": mine.id, "kind": "encouragement", "name": "x", "stages": [400]},
            422,
            "stages",
        ),
        ({"group_id": mine.id, "kind": "newsletter", "name": "x"}, 422, "kind"),
        (
            {"group_id": mine.id, "kind": "broadcast", "name": "", "wording": {"en": "Hi"}},
            422,
            "name",
        ),
    ]
    for body, expected, field in cases:
        status, problem = post(client, "/api/v1/campaigns", robin, body)
        assert status == expected, (body, problem)
        if field:
            assert field in str(problem["details"]), (body, problem)
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Campaign)) == 0
