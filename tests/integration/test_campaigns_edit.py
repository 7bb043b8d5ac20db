"""Changing and deleting campaigns: what was planned follows, what went stays, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.dispatcher import dispatch_due
from service.campaigns.planner import plan
from service.cli.main import cli
from service.models import Campaign, OutboxMessage, OutboxState, Role
from tests.api import call, get, post, token_for, two_coordinators
from tests.support import Clock, RecordingGateway, invoke, make_schedule

SAM = "+12025550142"
# The test clock starts Tuesday 2026-03-03 at 12:00 in New York (17:00 UTC); the group meets
# Tuesdays at 18:30 there: tonight at 23:30 UTC, next week at 22:30 UTC (after the DST change).
TONIGHT_2H = datetime(2026, 3, 3, 21, 30, tzinfo=UTC)
NEXT_WEEK_2H = datetime(2026, 3, 10, 20, 30, tzinfo=UTC)
NEXT_WEEK_1D = datetime(2026, 3, 9, 22, 30, tzinfo=UTC)


def patch(client: FlaskClient, campaign_id: int, token: str, body: Any) -> tuple[int, Any]:
    return call(client, "PATCH", f"/api/v1/campaigns/{campaign_id}", token, body)


def delete(client: FlaskClient, campaign_id: int, token: str) -> tuple[int, Any]:
    return call(client, "DELETE", f"/api/v1/campaigns/{campaign_id}", token)


def outbox(session: Session) -> list[tuple[str | None, OutboxState, datetime, str | None]]:
    """Every row: its meeting, state, time and the reason for its state, by time."""
    session.expire_all()
    found = session.scalars(select(OutboxMessage).order_by(OutboxMessage.due_at))
    return [(r.occurrence_key, r.state, r.due_at, r.state_reason) for r in found]


def reminder(client: FlaskClient, token: str, group_id: int, **fields: Any) -> dict[str, Any]:
    body = {"group_id": group_id, "kind": "reminder", "name": "Before", "offsets": ["2h"]}
    status, campaign = post(client, "/api/v1/campaigns", token, {**body, **fields})
    assert status == 201, campaign
    result: dict[str, Any] = campaign
    return result


def test_a_reminder_moved_from_2h_to_a_day_before_is_planned_again_at_the_new_time(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)
    make_schedule(session, mine)
    campaign = reminder(client, robin, mine.id)
    plan(session, clock.now)
    session.commit()
    assert [(when, state) for _, state, when, _ in outbox(session)] == [
        (TONIGHT_2H, OutboxState.QUEUED),
        (NEXT_WEEK_2H, OutboxState.QUEUED),
    ]

    status, changed = patch(client, campaign["id"], robin, {"offsets": ["1d"]})
    assert status == 200, changed
    assert (changed["offsets"], changed["withdrawn"]) == (["1d"], 2)
    assert outbox(session) == [
        ("20260303T1830", OutboxState.CANCELED, TONIGHT_2H, "campaign changed"),
        ("20260310T1830", OutboxState.CANCELED, NEXT_WEEK_2H, "campaign changed"),
    ]

    plan(session, clock.now)
    session.commit()
    # Tonight's meeting is too close for a reminder a day before: it stays withdrawn.
    assert outbox(session) == [
        ("20260303T1830", OutboxState.CANCELED, TONIGHT_2H, "campaign changed"),
        ("20260310T1830", OutboxState.QUEUED, NEXT_WEEK_1D, None),
    ]


def test_after_the_wording_changes_the_next_text_goes_in_the_new_words(
    app: Flask, client: FlaskClient, session: Session, clock: Clock, gateway: RecordingGateway
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)
    make_schedule(session, mine)
    campaign = reminder(client, robin, mine.id, wording={"en": "Old words, {{ first_name }}."})
    plan(session, clock.now)
    session.commit()
    tonight = session.scalars(select(OutboxMessage).order_by(OutboxMessage.due_at)).first()
    assert tonight is not None
    tonight.body = "Old words, Sam."  # worded already, as a text put back for a retry is
    session.commit()

    status, changed = patch(
        client, campaign["id"], robin, {"wording": {"en": "New words: {{ meeting_when }}."}}
    )
    assert status == 200, changed
    assert changed["reworded"] == 1 and changed["withdrawn"] == 0
    assert changed["words"]["en"]["segments"] == 1 and changed["words"]["en"]["encoding"]
    assert changed["wording"] == {"en": "New words: {{ meeting_when }}."}

    clock.now = TONIGHT_2H
    dispatch_due(app)
    assert gateway.to(SAM) == ["New words: today at 6:30 PM."]


def test_a_sent_text_is_untouched_by_changing_and_deleting_its_campaign_and_still_counts(
    app: Flask, client: FlaskClient, session: Session, clock: Clock, gateway: RecordingGateway
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)
    make_schedule(session, mine)
    campaign = reminder(client, robin, mine.id)
    plan(session, clock.now)
    session.commit()
    clock.now = TONIGHT_2H
    dispatch_due(app)
    sent = session.scalars(select(OutboxMessage).order_by(OutboxMessage.due_at)).first()
    assert sent is not None and sent.state is OutboxState.SENT
    words = sent.body

    status, changed = patch(
        client, campaign["id"], robin, {"offsets": ["1d"], "wording": {"en": "Changed."}}
    )
    assert status == 200 and changed["withdrawn"] == 1, changed
    status, _ = delete(client, campaign["id"], robin)
    assert status == 204
    plan(session, clock.now)  # never planned again
    session.commit()

    session.expire_all()
    rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.due_at)).all()
    assert [(r.state, r.body, r.campaign_id) for r in rows] == [
        (OutboxState.SENT, words, campaign["id"]),
        (OutboxState.CANCELED, None, campaign["id"]),
    ]
    assert gateway.to(SAM) == [words]
    clock.now += timedelta(minutes=1)
    status, stats = get(client, f"/api/v1/groups/{mine.id}/stats", robin)
    assert status == 200 and stats["sent"] == 1
    status, listed = get(client, f"/api/v1/outbox?campaign_id={campaign['id']}", robin)
    assert status == 200 and sorted(row["state"] for row in listed) == ["canceled", "sent"]


def test_deleting_a_campaign_withdraws_what_it_planned_and_it_is_gone_after(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)
    make_schedule(session, mine)
    campaign = reminder(client, robin, mine.id)
    kept = reminder(client, robin, mine.id, name="Kept", offsets=["1d@18:00"])
    plan(session, clock.now)
    session.commit()

    status, body = delete(client, campaign["id"], robin)
    assert (status, body) == (204, None)
    reasons = {
        (r.campaign_id, r.state, r.state_reason)
        for r in session.scalars(select(OutboxMessage))
        if r.campaign_id == campaign["id"]
    }
    assert reasons == {(campaign["id"], OutboxState.CANCELED, "campaign deleted")}
    path = f"/api/v1/campaigns/{campaign['id']}"
    for method, suffix, request in (
        ("GET", "", None),
        ("PATCH", "", {"name": "Back"}),
        ("DELETE", "", None),  # deleting twice: a plain 404
        ("GET", "/preview", None),
        ("POST", "/pause", None),
        ("POST", "/resume", None),
    ):
        status, problem = call(client, method, path + suffix, robin, request)
        assert status == 404, (method, suffix, problem)
        assert problem["message"] == f"No campaign {campaign['id']}."
    assert [c["id"] for c in get(client, "/api/v1/campaigns", robin)[1]] == [kept["id"]]

    plan(session, clock.now + timedelta(days=1))
    session.commit()
    session.expire_all()
    queued = session.scalars(
        select(OutboxMessage.campaign_id).where(OutboxMessage.state == OutboxState.QUEUED)
    ).all()
    assert queued and set(queued) == {kept["id"]}


def test_invalid_changes_are_refused_with_the_field_at_fault_and_change_nothing(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)
    make_schedule(session, mine)
    campaign = reminder(client, robin, mine.id, wording={"en": "See you {{ meeting_when }}."})
    status, broadcast = post(
        client, "/api/v1/campaigns", robin,
        {"group_id": mine.id, "kind": "broadcast", "name": "Snow", "wording": {"en": "Snow."},
         "send_at": "2026-03-03T20:00:00-05:00"},
    )  # fmt: skip
    assert status == 201
    plan(session, clock.now)
    session.commit()

    def state() -> list[object]:
        session.expire_all()
        return [
            [(c.name, c.offsets, c.wording, c.send_at) for c in session.scalars(select(Campaign))],
            outbox(session),
        ]

    before = state()
    cases: list[tuple[int, dict[str, Any], str, str]] = [
        (campaign["id"], {"kind": "broadcast"}, "kind", "kind cannot change"),
        (campaign["id"], {"offsets": ["soon"]}, "offsets", "is not an offset"),
        (campaign["id"], {"offsets": []}, "offsets", "at least one offset"),
        (campaign["id"], {"wording": {"en": "Hi {{ nme }}"}}, "wording.en", "{{ nme }}"),
        (campaign["id"], {"wording": {"en": "x" * 1601}}, "wording.en", "at most 1600"),
        (campaign["id"], {"name": "  ", "offsets": ["1d"]}, "name", "1 to 120 characters"),
        (campaign["id"], {"send_at": "2026-03-04T20:00:00-05:00"}, "send_at", "no send_at"),
        (campaign["id"], {}, "", "nothing to change"),
        (broadcast["id"], {"send_at": "2026-03-02T20:00:00-05:00"}, "send_at", "has passed"),
        (broadcast["id"], {"offsets": ["2h"]}, "offsets", "has no offsets"),
        (broadcast["id"], {"wording": {"en": ""}}, "wording", "needs its words"),
    ]
    for campaign_id, body, field, words in cases:
        status, problem = patch(client, campaign_id, robin, body)
        assert status == 422, (body, problem)
        assert words in problem["message"], (body, problem)
        if field:
            assert field in problem["details"]["json"], (body, problem)
    assert state() == before


def test_another_coordinator_gets_404_and_an_admin_may_change_and_delete(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, _, robin, kim = two_coordinators(session, clock)
    make_schedule(session, mine)
    campaign = reminder(client, robin, mine.id)
    plan(session, clock.now)
    session.commit()
    before = outbox(session)

    assert patch(client, campaign["id"], kim, {"name": "Kim's now"})[0] == 404
    assert delete(client, campaign["id"], kim)[0] == 404
    assert outbox(session) == before
    assert get(client, f"/api/v1/campaigns/{campaign['id']}", robin)[1]["name"] == "Before"

    admin = token_for(session, clock, "admin@example.org", Role.ADMIN)
    status, changed = patch(client, campaign["id"], admin, {"name": "Renamed"})
    assert (status, changed["name"], changed["withdrawn"]) == (200, "Renamed", 0)
    assert outbox(session) == before  # a new name moves nothing
    assert delete(client, campaign["id"], admin)[0] == 204


def test_a_broadcast_moved_later_is_withdrawn_and_planned_at_its_new_time(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)
    status, broadcast = post(
        client, "/api/v1/campaigns", robin,
        {"group_id": mine.id, "kind": "broadcast", "name": "Room", "wording": {"en": "Room 7."},
         "send_at": "2026-03-03T19:00:00-05:00"},
    )  # fmt: skip
    assert status == 201
    plan(session, clock.now)
    session.commit()

    status, moved = patch(client, broadcast["id"], robin, {"send_at": "2026-03-04T19:00:00-05:00"})
    assert status == 200 and moved["withdrawn"] == 1, moved
    assert moved["send_at"] == "2026-03-05T00:00:00+00:00"
    plan(session, clock.now)
    session.commit()
    assert outbox(session) == [
        ("20260305T0000", OutboxState.QUEUED, datetime(2026, 3, 5, 0, 0, tzinfo=UTC), None)
    ]

    clock.now = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)  # its time has passed: a new name is fine
    status, renamed = patch(client, broadcast["id"], robin, {"name": "Room 7"})
    assert (status, renamed["send_at"], renamed["withdrawn"]) == (200, moved["send_at"], 0)


def test_an_encouragement_given_a_new_cadence_is_planned_again_at_its_new_times(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)
    status, daily = post(
        client, "/api/v1/campaigns", robin,
        {"group_id": mine.id, "kind": "encouragement", "name": "Daily",
         "cadence": "FREQ=DAILY", "at": "15:00", "pools": {"en": ["You matter."]}},
    )  # fmt: skip
    assert status == 201
    plan(session, clock.now)
    session.commit()
    planned = len(outbox(session))
    assert planned >= 7

    status, changed = patch(
        client, daily["id"], robin, {"cadence": "FREQ=WEEKLY;BYDAY=WE", "at": "16:00"}
    )
    assert status == 200 and changed["withdrawn"] == planned, changed
    plan(session, clock.now)
    session.commit()
    queued = [when for _, state, when, _ in outbox(session) if state is OutboxState.QUEUED]
    assert queued == [datetime(2026, 3, 4, 21, 0, tzinfo=UTC)]  # Wednesday, 16:00 in New York

    assert patch(client, daily["id"], robin, {"cadence": "FREQ=DAILY", "stages": [1]})[0] == 422
    status, changed = patch(client, daily["id"], robin, {"stages": [1, 7]})
    assert (status, changed["cadence"], changed["stages"]) == (200, None, [1, 7])
    assert changed["withdrawn"] == 1


def test_the_command_line_changes_and_deletes_a_campaign_asking_first(
    runner: FlaskCliRunner, client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)
    make_schedule(session, mine)
    campaign = reminder(client, robin, mine.id)
    plan(session, clock.now)
    session.commit()
    number = str(campaign["id"])

    result = invoke(runner, "campaigns", "update", number, "--offset", "1d", "--wording-en",
                    "Hi {{ first_name }}, {{ meeting_when }}.", "--no-rsvp")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "--wording-en: " in result.output and "segment" in result.output
    assert f"campaign {number} updated; 2 planned text(s) withdrawn" in result.output

    refused = invoke(runner, "campaigns", "update", number, "--kind", "broadcast")
    assert refused.exit_code != 0 and "kind cannot change" in refused.output
    refused = invoke(runner, "campaigns", "update", number, "--offset", "soon")
    assert refused.exit_code != 0 and "--offset: 'soon' is not an offset" in refused.output
    refused = invoke(runner, "campaigns", "update", number, "--window-hours", "0")
    assert refused.exit_code != 0 and "--window-hours: a reminder campaign has no" in refused.output
    refused = invoke(runner, "campaigns", "update", number, "--cadence", "FREQ=DAILY")
    assert refused.exit_code != 0 and "--cadence: a reminder campaign has no" in refused.output
    session.expire_all()
    assert session.get_one(Campaign, campaign["id"]).offsets == ["1d"]

    kept = runner.invoke(cli, ["campaigns", "delete", number], input="n\n")
    assert kept.exit_code != 0 and "Delete campaign" in kept.output
    session.expire_all()
    assert session.get_one(Campaign, campaign["id"]).deleted_at is None

    deleted = runner.invoke(cli, ["campaigns", "delete", number], input="y\n")
    assert deleted.exit_code == 0, deleted.output
    assert f"campaign {number} deleted" in deleted.output
    for command in (["delete", number, "--yes"], ["update", number, "--name", "x"],
                    ["pause", number]):  # fmt: skip
        again = invoke(runner, "campaigns", *command)
        assert again.exit_code != 0 and f"no such campaign: {number}" in again.output, command
    assert "Before" not in invoke(runner, "campaigns", "list").output


def test_the_command_line_moves_a_broadcast_but_never_into_the_past(
    runner: FlaskCliRunner, client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)
    status, broadcast = post(
        client, "/api/v1/campaigns", robin,
        {"group_id": mine.id, "kind": "broadcast", "name": "Room", "wording": {"en": "Room 7."},
         "send_at": "2026-03-03T19:00:00-05:00"},
    )  # fmt: skip
    assert status == 201
    number = str(broadcast["id"])

    past = invoke(runner, "campaigns", "update", number, "--send-at", "2026-03-02 10:00")
    assert past.exit_code != 0 and "--send-at: 2026-03-02 10:00 (America/New_York) has passed" in (
        past.output
    )
    later = invoke(runner, "campaigns", "update", number, "--send-at", "2026-03-05 10:00")
    assert later.exit_code == 0, later.output
    session.expire_all()
    assert session.get_one(Campaign, broadcast["id"]).send_at == datetime(
        2026, 3, 5, 15, 0, tzinfo=UTC
    )


def test_a_row_a_planner_wrote_as_its_campaign_was_deleted_or_paused_is_never_sent(
    app: Flask, client: FlaskClient, session: Session, clock: Clock, gateway: RecordingGateway
) -> None:
    """Another worker's planner may commit a row just after the delete or pause withdrew what
    was queued: the dispatcher checks the campaign itself, as the row comes due."""
    mine, _, robin, _ = two_coordinators(session, clock)
    make_schedule(session, mine)
    deleted = reminder(client, robin, mine.id)
    paused = reminder(client, robin, mine.id, name="Also before", offsets=["1h"])
    assert delete(client, deleted["id"], robin)[0] == 204
    assert post(client, f"/api/v1/campaigns/{paused['id']}/pause", robin, {})[0] == 200
    for campaign_id in (deleted["id"], paused["id"]):  # as that other planner wrote them
        campaign = session.get_one(Campaign, campaign_id)
        saved = campaign.deleted_at, campaign.status
        campaign.deleted_at, campaign.status = None, type(campaign.status)("active")
        plan(session, clock.now)
        campaign.deleted_at, campaign.status = saved
        session.commit()
    assert [state for _, state, _, _ in outbox(session)].count(OutboxState.QUEUED) == 4

    clock.now = TONIGHT_2H + timedelta(hours=1)
    dispatch_due(app)

    assert gateway.to(SAM) == []
    tonight = [(state, why) for key, state, _, why in outbox(session) if key == "20260303T1830"]
    assert sorted(tonight) == [
        (OutboxState.CANCELED, "campaign deleted"),
        (OutboxState.CANCELED, "campaign paused"),
    ]
    assert post(client, f"/api/v1/campaigns/{paused['id']}/resume", robin, {})[0] == 200
    plan(session, clock.now)
    session.commit()
    session.expire_all()
    again = session.scalars(
        select(OutboxMessage.state).where(OutboxMessage.campaign_id == paused["id"])
    ).all()
    assert OutboxState.QUEUED in again  # resumed: planned again

    clock.now = NEXT_WEEK_2H + timedelta(hours=1)  # both of next week's are due
    dispatch_due(app)
    assert len(gateway.to(SAM)) == 1  # the resumed campaign's; the deleted one's never
    session.expire_all()
    assert session.scalars(
        select(OutboxMessage.state).where(OutboxMessage.campaign_id == deleted["id"])
    ).all() == [OutboxState.CANCELED, OutboxState.CANCELED]
