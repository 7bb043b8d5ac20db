"""The People pages: the list, adding, a person's page and thread, removing, erasing, opt-outs a
person asked for by phone, and roster import; and the opt-out routes they share with the API
and the command line."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.messages.outbox import enqueue
from service.models import (
    Channel,
    ConsentChange,
    ConsentSource,
    ConsentState,
    InboundMessage,
    Membership,
    MembershipStatus,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Participant,
    Role,
)
from service.people import consent
from service.people.participants import joining
from tests.api import post, token_for
from tests.dashboard import csrf_token, sign_in, with_password
from tests.support import Clock, invoke, ledger, make_group, make_participant, reloaded, text_in


def _robin(session: Session, clock: Clock) -> None:
    with_password(session, "robin@example.org", clock)


def _form(client: FlaskClient, path: str, **data: object) -> dict[str, object]:
    return {"csrf_token": csrf_token(client, path), **data}


def _person_path(session: Session, phone: str, code: str) -> str:
    person = reloaded(session, phone)
    member = next(m for m in person.memberships if m.group.join_code == code)
    return f"/groups/{member.group_id}/people/{person.id}"


def test_the_list_shows_my_members_masked_with_plain_words_and_nothing_of_other_groups(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = make_group(session, "CIRCLE")
    harbor = make_group(session, "HARBOR", coordinator_email="kim@example.org")
    make_participant(session, "+12025550111", circle, name="Sam Circle")
    make_participant(session, "+12025550122", harbor, name="Vera Harbor")
    # Known to both groups, by different names: Robin sees only Circle's.
    make_participant(session, "+12025550133", circle, harbor, name="Alex Shared")
    shared = reloaded(session, "+12025550133")
    next(m for m in shared.memberships if m.group_id == harbor.id).name = "Alexandra H"
    session.commit()
    _robin(session, clock)
    sign_in(client, "robin@example.org")

    page = client.get("/people").text

    assert "Sam Circle" in page and "Alex Shared" in page
    assert "+1******0111" in page
    assert "2025550111" not in page
    assert "Said yes to messages" in page and "A member" in page and "Texts" in page
    for theirs in ("Vera", "Harbor", "Alexandra"):
        assert theirs not in page
    assert client.get(f"/people?group={harbor.id}").status_code == 404


def test_people_are_found_by_name_or_by_the_last_digits_of_their_number(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = make_group(session, "CIRCLE")
    make_participant(session, "+12025550111", circle, name="Sam Circle")
    make_participant(session, "+12025554567", circle, name="Dana Lee")
    _robin(session, clock)
    sign_in(client, "robin@example.org")

    by_name = client.get("/people?q=dana").text
    by_digits = client.get("/people?q=0111").text
    nobody = client.get("/people?q=%25").text

    assert "Dana Lee" in by_name and "Sam Circle" not in by_name
    assert "Sam Circle" in by_digits and "Dana Lee" not in by_digits
    assert "No one matches." in nobody


def test_someone_added_without_a_note_is_invited_and_with_a_note_is_a_member(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = make_group(session, "CIRCLE")
    _robin(session, clock)
    sign_in(client, "robin@example.org")
    base = {"group": circle.id, "language": "en", "timezone": "America/Chicago", "channel": "sms"}

    invited = client.post(
        "/people/add",
        data=_form(client, "/people/add", phone="(202) 555-0177", name="Jo", **base),
    )
    page = client.get(invited.headers["Location"]).text
    consented = client.post(
        "/people/add",
        data=_form(
            client,
            "/people/add",
            phone="+12025550188",
            name="Kai",
            consent_note="Signed form in the blue binder",
            **base,
        ),
    )

    assert invited.status_code == consented.status_code == 302
    jo, kai = reloaded(session, "+12025550177"), reloaded(session, "+12025550188")
    assert jo.memberships[0].status is MembershipStatus.PENDING
    assert jo.memberships[0].timezone == "America/Chicago"
    assert (
        session.scalar(select(OutboxMessage.kind).where(OutboxMessage.participant_id == jo.id))
        is OutboxKind.INVITATION
    )
    assert kai.memberships[0].status is MembershipStatus.ACTIVE
    assert ledger(session, kai) == [(ConsentChange.OPT_IN, ConsentSource.COORDINATOR)]
    assert "is invited by text to reply YES" in page
    assert "Invited, has not joined yet" in page


def test_a_bad_number_or_time_zone_re_renders_the_form_with_its_message_and_adds_no_one(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = make_group(session, "CIRCLE")
    _robin(session, clock)
    sign_in(client, "robin@example.org")
    base = {"group": circle.id, "language": "en", "channel": "sms"}

    bad_phone = client.post(
        "/people/add", data=_form(client, "/people/add", phone="12", timezone="UTC", **base)
    )
    bad_zone = client.post(
        "/people/add",
        data=_form(client, "/people/add", phone="+12025550177", timezone="Mars/Base", **base),
    )

    assert bad_phone.status_code == bad_zone.status_code == 422
    assert 'aria-invalid="true"' in bad_phone.text
    assert "is not a time zone" in bad_zone.text
    assert session.scalar(select(func.count()).select_from(Participant)) == 0


def test_another_coordinators_group_cannot_be_chosen_when_adding(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    make_group(session, "CIRCLE")
    harbor = make_group(session, "HARBOR", coordinator_email="kim@example.org")
    _robin(session, clock)
    sign_in(client, "robin@example.org")

    answer = client.post(
        "/people/add",
        data=_form(
            client,
            "/people/add",
            group=harbor.id,
            phone="+12025550177",
            language="en",
            timezone="UTC",
            channel="sms",
        ),
    )

    assert answer.status_code == 422
    assert session.scalar(select(func.count()).select_from(Membership)) == 0


def test_the_persons_thread_is_in_time_order_with_delivery_states_and_nothing_of_other_groups(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = make_group(session, "CIRCLE", timezone="America/Chicago")
    harbor = make_group(session, "HARBOR", coordinator_email="kim@example.org")
    sam = make_participant(
        session, "+12025550111", circle, harbor, name="Sam Circle", timezone="America/Chicago"
    )
    start = clock.now
    sent = [
        (OutboxKind.REMINDER, Channel.SMS, "Circle meets Tuesday", OutboxState.DELIVERED, 0),
        (OutboxKind.ENCOURAGEMENT, Channel.SMS, "Thinking of you", OutboxState.FAILED, 2),
        (OutboxKind.ONE_OFF, Channel.SMS, "Glad you wrote", OutboxState.QUEUED, 4),
        (OutboxKind.BROADCAST, Channel.VOICE, "No meeting Friday", OutboxState.SUPPRESSED, 5),
    ]
    for number, (kind, channel, body, state, hours) in enumerate(sent):
        row = enqueue(
            session,
            send_key=f"test-{number}",
            kind=kind,
            body=body,
            now=start,
            participant=sam,
            group_id=circle.id,
            to_phone=sam.phone,
            state=state,
            due_at=start + timedelta(hours=hours),
            channel=channel,
        )
        assert row is not None
        row.state_reason = "opted out" if state is OutboxState.SUPPRESSED else None
    enqueue(
        session,
        send_key="harbor-1",
        kind=OutboxKind.REMINDER,
        body="Harbor secret meeting",
        now=start,
        participant=sam,
        group_id=harbor.id,
        to_phone=sam.phone,
    )
    for group, body, hours in ((circle, "Can I bring a friend?", 3), (harbor, "Harbor words", 3)):
        session.add(
            InboundMessage(
                message_sid=f"SM{group.id:032d}",
                participant_id=sam.id,
                group_id=group.id,
                from_phone=sam.phone,
                body=body,
                intent="other",
                received_at=start + timedelta(hours=hours),
            )
        )
    session.commit()
    _robin(session, clock)
    sign_in(client, "robin@example.org")

    page = client.get(f"/groups/{circle.id}/people/{sam.id}").text

    words = ["Circle meets Tuesday", "Thinking of you", "Can I bring a friend?", "Glad you wrote"]
    positions = [page.index(w) for w in [*words, "Announcement call"]]
    assert positions == sorted(positions)
    for shown in ("Delivered", "Failed to send", "Waiting to go out", "Held back: they opted out"):
        assert shown in page
    assert "Reply from a coordinator" in page and "They wrote" in page
    assert "(America/Chicago)" in page
    assert "Harbor" not in page
    assert client.get(f"/groups/{harbor.id}/people/{sam.id}").status_code == 404


def test_the_persons_thread_shows_peerlines_automatic_answers_after_their_words(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = make_group(session, "CIRCLE")
    harbor = make_group(session, "HARBOR", coordinator_email="kim@example.org")
    sam = make_participant(session, "+12025550111", circle, name="Sam Circle")
    _robin(session, clock)
    assert text_in(client, sam.phone, "Can I bring a friend?").status_code == 200
    # What Sam wrote about Harbor, and Peerline's answer to it, are Harbor's alone.
    session.add(joining(sam, harbor.id, now=clock.now, name="Sam"))
    session.add(
        InboundMessage(
            message_sid="SM" + "7" * 32, participant_id=sam.id, group_id=harbor.id,
            from_phone=sam.phone, body="Harbor words", intent="message", received_at=clock.now,
        )
    )  # fmt: skip
    enqueue(
        session,
        send_key=f"reply:SM{'7' * 32}:0",
        kind=OutboxKind.REPLY,
        body="Harbor answer",
        participant=sam,
        to_phone=sam.phone,
        now=clock.now,
        state=OutboxState.SENT,
    )
    session.commit()
    sign_in(client, "robin@example.org")

    page = client.get(f"/groups/{circle.id}/people/{sam.id}").text

    asked = page.index("Can I bring a friend?")
    answered = page.index("Thanks, we got your message")  # as the inbox's message page shows it
    assert asked < answered
    assert "Automatic answer" in page
    assert "Harbor" not in page


def test_editing_a_persons_details_changes_this_groups_only(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = make_group(session, "CIRCLE")
    harbor = make_group(session, "HARBOR", coordinator_email="kim@example.org")
    sam = make_participant(session, "+12025550111", circle, harbor, name="Sam Circle")
    _robin(session, clock)
    sign_in(client, "robin@example.org")
    path = f"/groups/{circle.id}/people/{sam.id}"

    saved = client.post(
        path,
        data=_form(
            client, path, name="Samuel", language="es", timezone="America/Denver", channel="voice"
        ),
    )
    refused = client.post(
        path, data=_form(client, path, name="X", language="en", timezone="Nowhere", channel="sms")
    )

    assert saved.status_code == 302
    assert refused.status_code == 422 and "is not a time zone" in refused.text
    session.expire_all()
    ours = session.scalar(select(Membership).where(Membership.group_id == circle.id))
    theirs = session.scalar(select(Membership).where(Membership.group_id == harbor.id))
    assert ours is not None and theirs is not None
    assert (ours.name, ours.language, ours.timezone, ours.channel) == (
        "Samuel",
        "es",
        "America/Denver",
        Channel.VOICE,
    )
    assert (theirs.name, theirs.language, theirs.channel) == ("Sam Circle", "en", Channel.SMS)


def test_removing_someone_twice_leaves_them_out_of_the_group_once(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = make_group(session, "CIRCLE")
    make_participant(session, "+12025550111", circle)
    _robin(session, clock)
    sign_in(client, "robin@example.org")
    path = _person_path(session, "+12025550111", "CIRCLE")

    first = client.post(f"{path}/remove", data=_form(client, path))
    again = client.post(f"{path}/remove", data=_form(client, path))

    assert first.status_code == again.status_code == 302
    assert reloaded(session, "+12025550111").memberships[0].status is MembershipStatus.LEFT
    assert "Left the group" in client.get(path).text


def test_erasing_asks_first_naming_what_goes_then_forgets_the_number(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = make_group(session, "CIRCLE")
    sam = make_participant(session, "+12025550111", circle, name="Sam Circle")
    _robin(session, clock)
    sign_in(client, "robin@example.org")
    path = f"/groups/{circle.id}/people/{sam.id}"

    asked = client.get(f"{path}/erase")
    done = client.post(f"{path}/erase", data=_form(client, path))

    assert "their number +1******0111" in asked.text
    assert "This cannot be undone" in asked.text
    assert done.status_code == 302
    assert session.scalar(select(func.count()).select_from(Participant)) == 0
    assert "is erased from your groups" in client.get(done.headers["Location"]).text
    assert client.post(f"{path}/erase", data=_form(client, "/people")).status_code == 404


def test_a_recorded_opt_out_needs_a_note_stops_messages_and_can_be_undone(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = make_group(session, "CIRCLE")
    sam = make_participant(session, "+12025550111", circle)
    _robin(session, clock)
    sign_in(client, "robin@example.org")
    path = f"/groups/{circle.id}/people/{sam.id}"

    no_note = client.post(f"{path}/opt-out", data=_form(client, path, note=" "))
    recorded = client.post(f"{path}/opt-out", data=_form(client, path, note="Asked by phone"))
    twice = client.post(f"{path}/opt-out", data=_form(client, path, note="Asked by phone"))
    page = client.get(path).text
    undone = client.post(f"{path}/undo-opt-out", data=_form(client, path, note="Wrong person"))

    assert no_note.status_code == 422 and 'aria-invalid="true"' in no_note.text
    assert recorded.status_code == twice.status_code == undone.status_code == 302
    assert "Opted out: gets no messages" in page and "Asked by phone" in page
    assert "Undo the opt-out" in page
    person = reloaded(session, "+12025550111")
    assert person.consent is ConsentState.GRANTED
    assert ledger(session, person) == [
        (ConsentChange.OPT_OUT, ConsentSource.COORDINATOR),
        (ConsentChange.OPT_IN, ConsentSource.COORDINATOR),
    ]


def test_a_persons_own_stop_is_theirs_to_undo_and_the_page_offers_no_button(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = make_group(session, "CIRCLE")
    sam = make_participant(session, "+12025550111", circle)
    text_in(client, "+12025550111", "STOP")
    _robin(session, clock)
    sign_in(client, "robin@example.org")
    path = f"/groups/{circle.id}/people/{sam.id}"

    page = client.get(path).text
    forced = client.post(f"{path}/undo-opt-out", data=_form(client, path, note="Please"))

    assert "Only they can undo it, by texting START" in page
    assert "Undo the opt-out" not in page
    assert forced.status_code == 302
    assert "a person&#39;s own opt-out is theirs to undo" in client.get(path).text
    assert reloaded(session, "+12025550111").consent is ConsentState.REVOKED


ROSTER = "phone,name\n+12025550101,Ann One\nnot a number,Bad Row\n(202) 555-0102,Ben Two\n"


def _upload(client: FlaskClient, group_id: int, text: str, note: str = "") -> str:
    answer = client.post(
        "/people/import",
        data=_form(
            client,
            "/people/import",
            group=group_id,
            consent_note=note,
            roster=(io.BytesIO(text.encode()), "roster.csv"),
        ),
        content_type="multipart/form-data",
    )
    assert answer.status_code == 200, answer.text
    return answer.text


def _carried(page: str) -> str:
    found = re.search(r'name="roster" type="hidden" value="([^"]+)"', page) or re.search(
        r'type="hidden" name="roster" value="([^"]+)"', page
    )
    assert found is not None
    return found.group(1)


def test_a_roster_dry_run_lists_bad_rows_by_line_then_applies_the_good_ones(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = make_group(session, "CIRCLE")
    _robin(session, clock)
    sign_in(client, "robin@example.org")

    checked = _upload(client, circle.id, ROSTER, note="Forms in the office")
    carried = _carried(checked)
    refused = client.post(
        "/people/import/apply", data=_form(client, "/people/import", roster=carried)
    )
    applied = client.post(
        "/people/import/apply",
        data=_form(client, "/people/import", roster=carried, skip_bad_rows="y"),
    )
    again = client.post(
        "/people/import/apply",
        data=_form(client, "/people/import", roster=carried, skip_bad_rows="y"),
    )

    assert "<td>3</td>" in checked and "2 people would be added" in checked
    assert refused.status_code == applied.status_code == again.status_code == 302
    assert session.scalar(select(func.count()).select_from(Participant)) == 2
    statuses = set(session.scalars(select(Membership.status)))
    assert statuses == {MembershipStatus.ACTIVE}
    assert "2 already members" in client.get(again.headers["Location"]).text


def test_a_tampered_roster_or_one_for_another_group_imports_nothing(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = make_group(session, "CIRCLE")
    harbor = make_group(session, "HARBOR", coordinator_email="kim@example.org")
    _robin(session, clock)
    sign_in(client, "robin@example.org")
    carried = _carried(_upload(client, circle.id, "phone\n+12025550101\n"))

    tampered = client.post(
        "/people/import/apply", data=_form(client, "/people/import", roster=carried[:-2] + "xx")
    )
    theirs = client.post(
        "/people/import",
        data=_form(
            client,
            "/people/import",
            group=harbor.id,
            roster=(io.BytesIO(b"phone\n+12025550101\n"), "roster.csv"),
        ),
        content_type="multipart/form-data",
    )
    not_csv = client.post(
        "/people/import",
        data=_form(
            client,
            "/people/import",
            group=circle.id,
            roster=(io.BytesIO(b"\xff\xfe\x00bad"), "roster.csv"),
        ),
        content_type="multipart/form-data",
    )

    assert tampered.status_code == 302
    assert theirs.status_code == 422
    assert not_csv.status_code == 422 and "not UTF-8" in not_csv.text
    assert session.scalar(select(func.count()).select_from(Participant)) == 0


def test_the_api_records_an_opt_out_and_undoes_only_a_coordinators(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = make_group(session, "CIRCLE")
    harbor = make_group(session, "HARBOR", coordinator_email="kim@example.org")
    sam = make_participant(session, "+12025550111", circle)
    token = token_for(session, clock, "robin@example.org")

    no_note = post(client, f"/api/v1/participants/{sam.id}/opt-out", token, {"group_id": circle.id})
    theirs = post(
        client,
        f"/api/v1/participants/{sam.id}/opt-out",
        token,
        {"group_id": harbor.id, "note": "x"},
    )
    status, body = post(
        client,
        f"/api/v1/participants/{sam.id}/opt-out",
        token,
        {"group_id": circle.id, "note": "Asked at the meeting"},
    )
    undo_status, undone = post(
        client, f"/api/v1/participants/{sam.id}/undo-opt-out", token, {"note": "Mistake"}
    )
    again, _ = post(
        client, f"/api/v1/participants/{sam.id}/undo-opt-out", token, {"note": "Mistake"}
    )

    assert no_note[0] == 422 and theirs[0] == 404
    assert (status, body["consent"]) == (200, "revoked")
    assert (undo_status, undone["consent"]) == (200, "granted")
    assert again == 422


def test_the_command_line_records_an_opt_out_and_refuses_to_undo_a_persons_own(
    client: FlaskClient, runner: FlaskCliRunner, session: Session, clock: Clock
) -> None:
    circle = make_group(session, "CIRCLE")
    make_participant(session, "+12025550111", circle)
    make_participant(session, "+12025550122", circle)
    text_in(client, "+12025550122", "STOP")

    noted = invoke(
        runner,
        "participants",
        "opt-out",
        "--phone",
        "+12025550111",
        "--group",
        "circle",
        "--note",
        "Called the office",
    )
    undone = invoke(
        runner,
        "participants",
        "undo-opt-out",
        "--phone",
        "+12025550111",
        "--group",
        "CIRCLE",
        "--note",
        "Wrong person",
    )
    refused = invoke(
        runner,
        "participants",
        "undo-opt-out",
        "--phone",
        "+12025550122",
        "--group",
        "CIRCLE",
        "--note",
        "Please",
    )

    assert noted.exit_code == 0 and "+1******0111 is opted out" in noted.output
    assert undone.exit_code == 0
    assert refused.exit_code != 0 and "theirs to undo" in refused.output
    assert reloaded(session, "+12025550111").consent is ConsentState.GRANTED
    assert reloaded(session, "+12025550122").consent is ConsentState.REVOKED


def test_undoing_an_opt_out_brings_back_the_consent_they_had_before(
    session: Session, clock: Clock
) -> None:
    circle = make_group(session, "CIRCLE")
    sam = make_participant(
        session,
        "+12025550111",
        circle,
        consent=ConsentState.UNKNOWN,
        status=MembershipStatus.PENDING,
    )

    consent.record_opt_out(session, sam, group_id=circle.id, note="By phone", now=clock.now)
    consent.undo_opt_out(session, sam, groups=[circle.id], note="Mistake", now=clock.now)

    assert sam.consent is ConsentState.UNKNOWN


def test_a_roster_larger_than_a_webhook_is_checked_and_applied(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = make_group(session, "CIRCLE")
    _robin(session, clock)
    sign_in(client, "robin@example.org")
    rows = "".join(f"+1202555{n:04d},Person number {n} of the roster\n" for n in range(100, 2600))
    text = "phone,name\n" + rows
    assert len(text) > 64 * 1024

    carried = _carried(_upload(client, circle.id, text))
    applied = client.post(
        "/people/import/apply", data=_form(client, "/people/import", roster=carried)
    )

    assert applied.status_code == 302
    assert session.scalar(select(func.count()).select_from(Participant)) == 2500


def test_a_long_list_comes_in_pages_that_keep_the_search(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = make_group(session, "CIRCLE")
    for n in range(55):
        make_participant(session, f"+1202555{n:04d}", circle, name=f"Member {n:02d}")
    _robin(session, clock)
    sign_in(client, "robin@example.org")

    first = client.get("/people?q=member").text
    second = client.get("/people?q=member&page=2").text
    beyond = client.get("/people?q=member&page=99")

    assert "Member 00" in first and "Member 49" in first and "Member 50" not in first
    assert "Page 1 of 2" in first and "page=2" in first and "q=member" in first
    assert "Member 54" in second and "Member 00" not in second
    assert beyond.status_code == 200 and "Member 54" in beyond.text


def test_an_admin_sees_every_groups_members_and_erases_the_whole_person(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = make_group(session, "CIRCLE")
    harbor = make_group(session, "HARBOR", coordinator_email="kim@example.org")
    sam = make_participant(session, "+12025550111", circle, harbor, name="Sam Both")
    with_password(session, "admin@example.org", clock, role=Role.ADMIN)
    sign_in(client, "admin@example.org")

    listed = client.get("/people").text
    path = f"/groups/{harbor.id}/people/{sam.id}"
    erased = client.post(f"{path}/erase", data=_form(client, path))

    assert "Circle Group" in listed and "Harbor Group" in listed
    assert erased.status_code == 302
    assert session.scalar(select(func.count()).select_from(Membership)) == 0
