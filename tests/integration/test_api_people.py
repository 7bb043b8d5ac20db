"""The API for people: participants, memberships, roster import, the outbox, stats, audit."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from service.models import (
    AuditEntry,
    ConsentSource,
    ConsentState,
    MembershipStatus,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Participant,
    Role,
    Rsvp,
)
from tests.api import call, get, post, token_for, two_coordinators
from tests.integration.test_import_cli import write_roster
from tests.support import Clock, make_group, make_participant, make_schedule, text_in


def sam(session: Session) -> Participant:
    return session.scalars(select(Participant).where(Participant.phone == "+12025550142")).one()


# -- participants -------------------------------------------------------------------------------


def test_enrolling_someone_invites_them_and_the_list_masks_their_number(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)

    status, body = post(
        client,
        "/api/v1/participants",
        robin,
        {"group_id": mine.id, "phone": "(202) 555-0177", "name": "Alex", "language": "es"},
    )

    assert status == 201
    assert body["phone"] == "+1******0177" and body["phone_e164"] == "+12025550177"
    assert (body["created"], body["invited"], body["opted_out"]) == (True, True, False)
    assert [(m["group_id"], m["status"]) for m in body["memberships"]] == [(mine.id, "pending")]
    assert body["language"] == "es" and body["timezone"] == mine.timezone
    invitation = session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.INVITATION)
    ).one()
    assert invitation.participant_id == body["id"] and invitation.state is OutboxState.QUEUED

    reply = client.get("/api/v1/participants", headers={"Authorization": f"Bearer {robin}"})
    listed = reply.get_json()
    assert [(p["name"], p["phone"]) for p in listed] == [
        ("Sam Rivera", "+1******0142"),
        ("Alex", "+1******0177"),
    ]
    assert all("phone_e164" not in p for p in listed)
    assert json.loads(reply.headers["X-Pagination"])["total"] == 2


def test_a_consent_note_makes_them_active_and_goes_into_their_consent_history(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)
    note = "signed form, filed at the centre"

    status, body = post(
        client,
        "/api/v1/participants",
        robin,
        {"group_id": mine.id, "phone": "+12025550177", "consent_note": note},
    )
    assert status == 201 and body["consent"] == "granted" and not body["invited"]
    assert body["memberships"][0]["status"] == "active"

    status, history = get(client, f"/api/v1/participants/{body['id']}/consent", robin)
    assert status == 200
    assert [(e["change"], e["source"], e["words"]) for e in history] == [
        ("opt_in", ConsentSource.COORDINATOR.value, note)
    ]
    assert call(client, "PUT", f"/api/v1/participants/{body['id']}/consent", robin, {})[0] == 405


def test_a_long_consent_history_comes_a_page_at_a_time(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _, _, robin, _ = two_coordinators(session, clock)
    text_in(client, "+12025550142", "STOP")
    text_in(client, "+12025550142", "START")
    path = f"/api/v1/participants/{sam(session).id}/consent"
    whole = get(client, path, robin)[1]

    headers = {"Authorization": f"Bearer {robin}"}
    pages = [client.get(f"{path}?page_size=1&page={n}", headers=headers) for n in (1, 2)]

    assert len(whole) >= 2
    assert [len(page.get_json()) for page in pages] == [1, 1]
    assert [page.get_json()[0] for page in pages] == whole[:2]
    assert json.loads(pages[0].headers["X-Pagination"])["total"] == len(whole)


def test_someone_who_opted_out_stays_opted_out_when_enrolled_again(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)
    text_in(client, "+12025550142", "STOP")

    status, body = post(
        client,
        "/api/v1/participants",
        robin,
        {"group_id": mine.id, "phone": "+12025550142", "consent_note": "form on file"},
    )

    assert status == 201 and body["opted_out"] is True and body["consent"] == "revoked"
    session.expire_all()
    assert sam(session).consent is ConsentState.REVOKED
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1  # STOP's answer


def test_bad_enrolments_are_refused_field_by_field_and_change_nothing(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, theirs, robin, _ = two_coordinators(session, clock)
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"group_id": mine.id, "phone": "555-CALL-NOW"}, 422, "phone"),
        ({"group_id": mine.id, "phone": "+12025550177", "timezone": "Mars/Base"}, 422, "timezone"),
        ({"group_id": mine.id, "phone": "+12025550177", "language": "fr"}, 422, "language"),
        ({"group_id": mine.id, "phone": "+12025550177", "channel": "fax"}, 422, "channel"),
        ({"group_id": mine.id}, 422, "phone"),
        ({"group_id": theirs.id, "phone": "+12025550177"}, 404, ""),
    ]
    for body, expected, field in cases:
        status, problem = post(client, "/api/v1/participants", robin, body)
        assert status == expected, body
        if field:
            assert field in problem["details"]["json"], problem
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Participant)) == 1


def test_reading_and_updating_a_participant(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _, _, robin, kim = two_coordinators(session, clock)
    sam_id = sam(session).id

    status, body = call(
        client, "PATCH", f"/api/v1/participants/{sam_id}", robin, {"name": "Sam R."}
    )
    assert (status, body["name"]) == (200, "Sam R.")
    assert get(client, f"/api/v1/participants/{sam_id}", robin)[1]["phone_e164"] == "+12025550142"
    admin = token_for(session, clock, "admin@example.org", Role.ADMIN)
    preferences = {"channel": "voice", "timezone": "America/Chicago"}
    status, body = call(client, "PATCH", f"/api/v1/participants/{sam_id}", admin, preferences)
    assert (status, body["channel"], body["timezone"]) == (200, "voice", "America/Chicago")
    status, problem = call(
        client, "PATCH", f"/api/v1/participants/{sam_id}", admin, {"timezone": "Nowhere/Land"}
    )
    assert status == 422 and "timezone" in problem["details"]["json"]
    assert get(client, f"/api/v1/participants/{sam_id}", kim)[0] == 404
    assert call(client, "PATCH", f"/api/v1/participants/{sam_id}", kim, {"name": "x"})[0] == 404
    session.expire_all()
    assert [m.name for m in sam(session).memberships] == ["Sam R."]  # Robin's group's name
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.actor.like("api:%")))
    assert list(actions) == ["participant.update", "participant.update"]


def reach(session: Session, phone: str) -> tuple[object, ...]:
    """The person's own language, zone and channel, then each group's, by group."""
    session.expire_all()
    person = session.scalars(select(Participant).where(Participant.phone == phone)).one()
    groups = sorted(person.memberships, key=lambda m: m.group_id)
    return (
        (person.language, person.timezone, person.channel.value),
        [(m.language, m.timezone, m.channel.value) for m in groups],
    )


def test_a_coordinator_sets_how_their_group_reaches_someone_and_no_other_group(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    """Robin may set the language, zone and channel Robin's group uses. The person's own
    choice (what other groups start from, what HELP answers in) changes too only while every
    group they are in is Robin's; Kim's group goes on as Kim set it."""
    _, theirs, robin, kim = two_coordinators(session, clock)
    sam_id = sam(session).id
    spanish_calls = {"language": "es", "channel": "voice", "timezone": "America/Chicago"}
    status, body = call(client, "PATCH", f"/api/v1/participants/{sam_id}", robin, spanish_calls)
    assert status == 200
    assert (body["language"], body["channel"], body["timezone"]) == (
        "es",
        "voice",
        "America/Chicago",
    )
    everywhere = ("es", "America/Chicago", "voice")
    assert reach(session, "+12025550142") == (everywhere, [everywhere])

    # Kim enrols the same number, as Kim's group would anyone: in its language and zone, by text.
    status, body = post(
        client, "/api/v1/participants", kim,
        {"group_id": theirs.id, "phone": "+12025550142", "name": "S."},
    )  # fmt: skip
    kims = ("en", "America/New_York", "sms")
    assert status == 201
    assert (body["language"], body["timezone"], body["channel"]) == kims
    assert reach(session, "+12025550142") == (everywhere, [everywhere, kims])

    # Now Robin's change is Robin's group's alone, and the answer looks as it did before.
    status, body = call(
        client, "PATCH", f"/api/v1/participants/{sam_id}", robin, {"channel": "sms"}
    )
    assert (status, body["channel"], body["language"]) == (200, "sms", "es")
    texts = ("es", "America/Chicago", "sms")
    assert reach(session, "+12025550142") == (everywhere, [texts, kims])
    assert get(client, f"/api/v1/participants/{sam_id}", kim)[1]["channel"] == "sms"
    assert get(client, f"/api/v1/participants/{sam_id}", kim)[1]["language"] == "en"

    # An admin speaks for every group.
    admin = token_for(session, clock, "admin@example.org", Role.ADMIN)
    status, _ = call(client, "PATCH", f"/api/v1/participants/{sam_id}", admin, {"language": "en"})
    assert status == 200
    english = ("en", "America/Chicago", "voice")
    assert reach(session, "+12025550142") == (
        english,
        [("en", "America/Chicago", "sms"), kims],
    )


def test_listing_filters_by_group_status_and_consent(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, theirs, robin, _ = two_coordinators(session, clock)
    make_participant(session, "+12025550143", mine, name="Pat", consent=ConsentState.UNKNOWN,
                     status=MembershipStatus.PENDING)  # fmt: skip
    make_participant(session, "+12025550144", theirs, name="Kim's member")

    def names(query: str) -> list[str]:
        status, people = get(client, f"/api/v1/participants{query}", robin)
        assert status == 200
        return [p["name"] for p in people]

    assert names("") == ["Sam Rivera", "Pat"]
    assert names("?status=pending") == ["Pat"]
    assert names("?consent=granted") == ["Sam Rivera"]
    assert names(f"?group_id={mine.id}&page_size=1&page=2") == ["Pat"]
    assert get(client, f"/api/v1/participants?group_id={theirs.id}", robin)[0] == 404
    assert get(client, "/api/v1/participants?status=gone", robin)[0] == 422


def test_erasing_a_participant_through_the_api(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, theirs, robin, kim = two_coordinators(session, clock)
    admin = token_for(session, clock, "admin@example.org", Role.ADMIN)
    sam_id = sam(session).id
    text_in(client, "+12025550142", "STOP")
    both = make_participant(session, "+12025550150", mine, theirs, name="In both")

    assert call(client, "DELETE", f"/api/v1/participants/{sam_id}", kim)[0] == 404
    status, erased = call(client, "DELETE", f"/api/v1/participants/{sam_id}", robin)
    assert status == 200 and erased["ledger_entries"] == 1
    assert get(client, f"/api/v1/participants/{sam_id}", robin)[0] == 404
    # Someone also in Kim's group: gone from Robin's, still Kim's, and Robin is not told so.
    status, erased = call(client, "DELETE", f"/api/v1/participants/{both.id}", robin)
    assert status == 200 and erased == {"texts_out": 0, "texts_in": 0, "ledger_entries": 0}
    assert get(client, f"/api/v1/participants/{both.id}", robin)[0] == 404
    assert get(client, f"/api/v1/participants/{both.id}", kim)[1]["name"] == "In both"
    assert call(client, "DELETE", f"/api/v1/participants/{both.id}", admin)[0] == 200
    assert get(client, f"/api/v1/participants/{both.id}", kim)[0] == 404

    # Their number comes back in an enrolment: still opted out.
    status, body = post(
        client, "/api/v1/participants", robin, {"group_id": mine.id, "phone": "+12025550142"}
    )
    assert status == 201 and body["consent"] == "revoked" and not body["invited"]


# -- memberships --------------------------------------------------------------------------------


def test_memberships_add_to_another_of_my_groups_and_remove(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, theirs, robin, kim = two_coordinators(session, clock)
    second = make_group(session, "SECOND", coordinator_email="robin@example.org")
    sam_id = sam(session).id

    status, body = post(
        client, "/api/v1/memberships", robin, {"group_id": second.id, "participant_id": sam_id}
    )
    assert status == 201 and body["created"] and body["invited"]  # new in that group
    assert {(m["group_id"], m["status"]) for m in body["memberships"]} == {
        (mine.id, "active"),
        (second.id, "pending"),  # a new group waits for their own YES to it
    }
    assert (
        post(client, "/api/v1/memberships", kim, {"group_id": theirs.id, "participant_id": sam_id})[
            0
        ]
        == 404
    )
    assert (
        post(
            client, "/api/v1/memberships", robin, {"group_id": theirs.id, "participant_id": sam_id}
        )[0]
        == 404
    )

    status, listed = get(client, f"/api/v1/memberships?participant_id={sam_id}", robin)
    assert status == 200 and len(listed) == 2
    first = next(m for m in listed if m["group_id"] == mine.id)
    assert get(client, f"/api/v1/memberships/{first['id']}", kim)[0] == 404
    assert call(client, "DELETE", f"/api/v1/memberships/{first['id']}", kim)[0] == 404
    status, removed = call(client, "DELETE", f"/api/v1/memberships/{first['id']}", robin)
    assert status == 200 and removed["status"] == "left"
    assert [m["status"] for m in get(client, f"/api/v1/memberships?group_id={mine.id}", robin)[1]]\
        == ["left"]  # fmt: skip


# -- roster import ------------------------------------------------------------------------------


def upload(
    client: FlaskClient, group_id: int, token: str, text: str, query: str = ""
) -> tuple[int, Any]:
    # Encoded here, in memory: the test client would spool a large body to a file it never closes.
    file = FileStorage(io.BytesIO(text.encode()), "roster.csv", content_type="text/csv")
    boundary, body = encode_multipart(MultiDict({"file": file}))
    return call(
        client,
        "POST",
        f"/api/v1/groups/{group_id}/import{query}",
        token,
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


ROSTER = "phone,name,language\n2025550160,Ana,es\nnot a number,Bo,en\n2025550161,Cy,xx\n"


def test_import_dry_run_reports_bad_rows_and_writes_nothing(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, theirs, robin, _ = two_coordinators(session, clock)

    status, report = upload(client, mine.id, robin, ROSTER)

    assert status == 200 and report["applied"] is False
    assert [p["line"] for p in report["problems"]] == [3, 4]
    assert "phone" in report["problems"][0]["reason"]
    assert report["counts"]["added"] == 1 and report["to_import"] == 1
    assert upload(client, theirs.id, robin, ROSTER)[0] == 404
    status, problem = upload(client, mine.id, robin, ROSTER, "?apply=true")
    assert status == 422 and "2 bad row" in problem["message"]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Participant)) == 1


def test_import_with_skip_bad_rows_adds_the_good_ones_and_invites_them(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)

    status, report = upload(client, mine.id, robin, ROSTER, "?apply=true&skip_bad_rows=true")

    assert status == 200 and report["applied"] is True
    assert report["counts"]["added"] == 1 and report["counts"]["invited"] == 1
    session.expire_all()
    ana = session.scalars(select(Participant).where(Participant.name == "Ana")).one()
    assert ana.language == "es" and ana.consent is ConsentState.UNKNOWN
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "participants.import")
    ).one()
    assert entry.actor == "api:robin@example.org" and entry.details["bad_rows_skipped"] == 2


def test_an_unreadable_upload_is_a_clear_422(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)
    reply = client.post(
        f"/api/v1/groups/{mine.id}/import",
        headers={"Authorization": f"Bearer {robin}"},
        data={"file": (io.BytesIO("phone\n\xff\xfe".encode("latin-1")), "roster.csv")},
        content_type="multipart/form-data",
    )
    assert reply.status_code == 422 and "UTF-8" in reply.get_json()["message"]
    status, problem = call(client, "POST", f"/api/v1/groups/{mine.id}/import", robin, {})
    assert status == 422 and "file" in problem["details"]["files"]


# -- outbox and stats ---------------------------------------------------------------------------


def test_the_outbox_lists_only_the_callers_groups_and_filters(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, theirs, robin, kim = two_coordinators(session, clock)
    make_participant(session, "+12025550144", theirs, name="Kim's member")
    for phone, group, state in (
        ("+12025550142", mine, OutboxState.DELIVERED),
        ("+12025550144", theirs, OutboxState.QUEUED),
    ):
        person = session.scalars(select(Participant).where(Participant.phone == phone)).one()
        session.add(
            OutboxMessage(
                send_key=f"test:{phone}", kind=OutboxKind.ONE_OFF, participant_id=person.id,
                group_id=group.id, body="See you soon", state=state, due_at=clock.now,
                sent_at=clock.now if state is OutboxState.DELIVERED else None,
            )
        )  # fmt: skip
    session.commit()

    status, rows = get(client, "/api/v1/outbox", robin)
    assert status == 200
    assert [(r["to"], r["state"], r["body"]) for r in rows] == [
        ("+1******0142", "delivered", "See you soon")
    ]
    assert get(client, f"/api/v1/outbox/{rows[0]['id']}", kim)[0] == 404
    assert get(client, f"/api/v1/outbox?group_id={mine.id}", kim)[0] == 404
    assert get(client, "/api/v1/outbox?state=queued", robin)[1] == []
    assert len(get(client, "/api/v1/outbox?state=queued&state=delivered", robin)[1]) == 1
    later = (clock.now + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert get(client, f"/api/v1/outbox?since={later}", robin)[1] == []
    assert get(client, "/api/v1/outbox?since=2026-03-03T10:00:00", robin)[0] == 422  # no zone
    assert get(client, "/api/v1/outbox?state=lost", robin)[0] == 422


def test_stats_count_a_groups_messages_opt_outs_and_answers(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, theirs, robin, _ = two_coordinators(session, clock)
    make_schedule(session, mine)
    pat = make_participant(session, "+12025550143", mine, name="Pat")
    for n, state in enumerate([OutboxState.DELIVERED, OutboxState.DELIVERED, OutboxState.FAILED,
                               OutboxState.UNDELIVERED, OutboxState.SUPPRESSED]):  # fmt: skip
        session.add(
            OutboxMessage(
                send_key=f"test:{n}", kind=OutboxKind.ONE_OFF, participant_id=pat.id, body="Hi",
                group_id=mine.id, state=state, due_at=clock.now,
                sent_at=None if state is OutboxState.SUPPRESSED else clock.now,
            )
        )  # fmt: skip
    session.commit()
    text_in(client, "+12025550142", "C")
    text_in(client, "+12025550143", "STOP")
    clock.now += timedelta(minutes=5)

    status, stats = get(client, f"/api/v1/groups/{mine.id}/stats", robin)

    assert status == 200
    counted = ("sent", "delivered", "failed", "suppressed", "opted_out", "confirmations")
    assert [stats[k] for k in counted] == [4, 2, 2, 1, 1, 1]
    assert stats["declines"] == 0
    before = (clock.now - timedelta(days=60)).isoformat().replace("+00:00", "Z")
    until = (clock.now - timedelta(days=31)).isoformat().replace("+00:00", "Z")
    status, old = get(client, f"/api/v1/groups/{mine.id}/stats?since={before}&until={until}", robin)
    assert status == 200 and old["sent"] == 0 and old["opted_out"] == 0
    assert get(client, f"/api/v1/groups/{mine.id}/stats?since={until}&until={before}", robin)[0] \
        == 422  # fmt: skip
    assert get(client, f"/api/v1/groups/{theirs.id}/stats", robin)[0] == 404


# -- audit --------------------------------------------------------------------------------------


def test_the_audit_log_is_for_admins_and_says_who_did_what(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)
    admin = token_for(session, clock, "admin@example.org", Role.ADMIN)
    post(client, "/api/v1/participants", robin, {"group_id": mine.id, "phone": "+12025550177"})
    text_in(client, "+12025550142", "is there parking?")
    message = get(client, "/api/v1/inbox", robin)[1][0]["id"]
    post(client, f"/api/v1/inbox/{message}/reply", robin, {"text": "Yes, behind the hall."})

    status, problem = get(client, "/api/v1/audit", robin)
    assert status == 403 and problem["error"] == "Forbidden"
    status, entries = get(client, "/api/v1/audit?actor=api:robin@example.org", admin)
    assert status == 200
    assert [(e["action"], e["target_type"]) for e in entries] == [
        ("inbox.reply", "inboundmessage"),
        ("participant.add", "participant"),
    ]
    assert entries[1]["details"]["group"] == "CIRCLE"
    assert "Yes, behind" not in json.dumps(entries)
    assert "+12025550177" not in json.dumps(entries)
    assert get(client, "/api/v1/audit?action=nothing.like.this", admin)[1] == []


@pytest.mark.slow  # ten thousand rows
def test_a_ten_thousand_row_roster_through_the_api(
    client: FlaskClient, session: Session, clock: Clock, tmp_path: Path
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)
    bad = write_roster(tmp_path)
    text = (tmp_path / "roster.csv").read_text(encoding="utf-8")

    status, dry = upload(client, mine.id, robin, text)
    assert status == 200 and dry["applied"] is False
    assert {p["line"]: p["reason"] for p in dry["problems"]}.keys() == bad.keys()
    assert all(p["reason"].startswith(bad[p["line"]]) for p in dry["problems"])
    assert (dry["rows_read"], dry["to_import"], dry["counts"]["added"]) == (10_000, 9_900, 9_900)
    assert upload(client, mine.id, robin, text, "?apply=true")[0] == 422
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Participant)) == 1

    status, done = upload(client, mine.id, robin, text, "?apply=true&skip_bad_rows=true")
    assert status == 200 and done["applied"] is True
    assert done["counts"] == dry["counts"]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Participant)) == 1 + 9_900


def test_erasing_someone_takes_back_what_was_still_waiting_for_them(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)
    status, alex = post(
        client, "/api/v1/participants", robin, {"group_id": mine.id, "phone": "+12025550177"}
    )
    assert status == 201 and alex["invited"]

    assert call(client, "DELETE", f"/api/v1/participants/{alex['id']}", robin)[0] == 200

    session.expire_all()
    invitation = session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.INVITATION)
    ).one()
    assert (invitation.state, invitation.state_reason) == (OutboxState.CANCELED, None)
    assert invitation.participant_id is None and invitation.to_phone is None


def test_a_page_past_the_end_is_empty_however_far(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _, _, robin, _ = two_coordinators(session, clock)
    for path in ("/api/v1/participants", "/api/v1/memberships", "/api/v1/inbox"):
        for page in (2, 13137396988045045006336):
            reply = client.get(f"{path}?page={page}", headers={"Authorization": f"Bearer {robin}"})
            assert reply.status_code == 200 and reply.get_json() == [], (path, page)
    status, problem = get(client, "/api/v1/participants?page=0", robin)
    assert status == 422 and "page" in problem["details"]["query"]


def test_erasure_keeps_answers_about_meetings_held_and_drops_those_to_come(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    mine, _, robin, _ = two_coordinators(session, clock)
    make_schedule(session, mine)  # Tuesdays 18:30 in New York
    sam_id = sam(session).id
    text_in(client, "+12025550142", "C")  # for tonight, 3 March
    clock.now += timedelta(days=1)
    text_in(client, "+12025550142", "C")  # for next Tuesday, 10 March
    clock.now += timedelta(minutes=1)
    stats = f"/api/v1/groups/{mine.id}/stats"
    assert get(client, stats, robin)[1]["confirmations"] == 2

    assert call(client, "DELETE", f"/api/v1/participants/{sam_id}", robin)[0] == 200

    assert get(client, stats, robin)[1]["confirmations"] == 1
    session.expire_all()
    kept = session.execute(select(Rsvp.participant_id, Rsvp.occurrence_key)).all()
    assert [tuple(row) for row in kept] == [(None, "20260303T1830")]
