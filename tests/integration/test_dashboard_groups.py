"""The dashboard's Groups pages: the list, a group's settings, creating (admins) and editing."""

from __future__ import annotations

import html
import re
from datetime import time
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.models import AuditEntry, Group, MembershipStatus, Role
from tests.dashboard import csrf_token, sign_in, with_password
from tests.support import Clock, make_group, make_participant

ON_CALL = "+12025550100"


def _robin_and_kim(session: Session, clock: Clock) -> tuple[Group, Group]:
    """Robin runs Circle (two active members, one who left; no on-call phone); Kim runs Harbor."""
    circle = make_group(session, "CIRCLE", coordinator_email="robin@example.org")
    harbor = make_group(
        session, "HARBOR", coordinator_email="kim@example.org", on_call_phone=ON_CALL
    )
    make_participant(session, "+12025550111", circle, name="Sam")
    make_participant(session, "+12025550112", circle, name="Ana")
    make_participant(session, "+12025550113", circle, name="Lee", status=MembershipStatus.LEFT)
    make_participant(session, "+12025550122", harbor, name="Vera")
    with_password(session, "robin@example.org", clock)
    with_password(session, "kim@example.org", clock)
    return circle, harbor


def _admin(session: Session, clock: Clock) -> None:
    with_password(session, "ada@example.org", clock, role=Role.ADMIN)


def _form_of(group: Group, **changes: Any) -> dict[str, Any]:
    """The edit form as the page fills it in (the on-call phone left blank: kept)."""
    form: dict[str, Any] = {
        "name": group.name,
        "public_name": group.public_name,
        "join_code": group.join_code,
        "keypad_code": group.keypad_code or "",
        "timezone": group.timezone,
        "language": group.language,
        "quiet_start": f"{group.quiet_start:%H:%M}",
        "quiet_end": f"{group.quiet_end:%H:%M}",
        "on_call_phone": "",
    }
    for name in ("voicemail_details", "voice_fallback", "texts_between_meetings_to_callers"):
        if getattr(group, name):
            form[name] = "y"
    form.update(changes)
    return {name: value for name, value in form.items() if value is not None}


def _post(client: FlaskClient, path: str, data: dict[str, Any]) -> Any:
    return client.post(path, data={"csrf_token": csrf_token(client, path), **data})


def _fresh(session: Session, group_id: int) -> Group:
    session.expire_all()
    return session.get_one(Group, group_id)


def _text(answer: Any) -> str:
    return html.unescape(answer.text)


def test_a_coordinator_lists_their_own_groups_with_members_and_a_missing_on_call_phone_marked(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _robin_and_kim(session, clock)
    sign_in(client, "robin@example.org")

    page = client.get("/groups")

    assert page.status_code == 200
    row = page.text.split("Circle Group")[1].split("</tr>")[0]
    assert "CIRCLE" in row and "America/<wbr>New_York" in row
    assert "<td>2</td>" in row  # the member who left is not counted
    assert "No on-call phone" in row
    assert "Harbor" not in page.text and "HARBOR" not in page.text
    assert "Create a group" not in page.text


def test_an_admin_lists_every_group_and_may_create_one(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _robin_and_kim(session, clock)
    _admin(session, clock)
    sign_in(client, "ada@example.org")

    page = client.get("/groups")

    assert "Circle Group" in page.text and "Harbor Group" in page.text
    harbor_row = page.text.split("Harbor Group")[1].split("</tr>")[0]
    assert "On-call phone set" in harbor_row and "No on-call phone" not in harbor_row
    assert "Create a group" in page.text


def test_a_groups_page_shows_every_setting_in_plain_words_with_the_phone_masked(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _, harbor = _robin_and_kim(session, clock)
    sign_in(client, "kim@example.org")

    page = client.get(f"/groups/{harbor.id}")

    text = _text(page)
    for shown in (
        "Harbor recovery group",
        "Harbor Group",
        "HARBOR",
        harbor.keypad_code or "(no keypad code)",
        "America/New_York",
        "English",
        "21:00-08:00",
        "+1******0100",
        "Landline fallback",
        "Voicemail details",
        "Texts between meetings to callers",
        "A member whose number is a landline gets a call instead of a text.",
        "1 active member",
    ):
        assert shown in text, shown
    assert ON_CALL not in text
    assert "No on-call phone" not in text


def test_a_group_without_an_on_call_phone_is_warned_of_on_its_page_its_form_and_today(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle, _ = _robin_and_kim(session, clock)
    sign_in(client, "robin@example.org")

    pages = [client.get(f"/groups/{circle.id}"), client.get(f"/groups/{circle.id}/edit")]
    today = client.get("/")

    for page in pages:  # once on each: the group's page used to say it twice
        assert "No on-call phone." in page.text
        assert "alerts nobody by text" in page.text
        assert page.text.lower().count("no on-call phone") == 1
    assert "No on-call phone:" in today.text and "urgent messages alert nobody" in today.text
    assert f"/groups/{circle.id}/edit" in today.text


def test_today_has_no_on_call_warning_for_a_group_that_has_one(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _robin_and_kim(session, clock)
    sign_in(client, "kim@example.org")

    assert "No on-call phone" not in client.get("/").text


def test_editing_every_setting_saves_it_and_shows_what_changed(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle, _ = _robin_and_kim(session, clock)
    sign_in(client, "robin@example.org")
    form = _form_of(
        circle,
        name="Circle grief group",
        public_name="Thursday Circle",
        join_code="thursday",
        keypad_code="482913",
        timezone="America/Chicago",
        language="es",
        quiet_start="22:00",
        quiet_end="07:30",
        on_call_phone="(202) 555-0177",
        voicemail_details="y",
        voice_fallback="y",
        texts_between_meetings_to_callers="y",
    )

    saved = _post(client, f"/groups/{circle.id}/edit", form)
    shown = client.get(saved.headers["Location"])

    assert saved.status_code == 302
    group = _fresh(session, circle.id)
    assert (group.name, group.public_name, group.join_code, group.keypad_code) == (
        "Circle grief group",
        "Thursday Circle",
        "THURSDAY",
        "482913",
    )
    assert (group.timezone, group.language) == ("America/Chicago", "es")
    assert (group.quiet_start, group.quiet_end) == (time(22, 0), time(7, 30))
    assert group.on_call_phone == "+12025550177"
    assert group.voicemail_details and group.voice_fallback
    assert group.texts_between_meetings_to_callers
    text = _text(shown)
    assert "Saved. What changed:" in text
    assert "Time zone: America/New_York → America/Chicago" in text
    assert "Join code: CIRCLE → THURSDAY" in text
    assert "Quiet hours: 21:00-08:00 → 22:00-07:30" in text
    assert "On-call phone: none → +1******0177" in text
    assert "Landline fallback: off → on" in text
    assert "+12025550177" not in text
    assert "No on-call phone" not in text
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "group.update")).one()
    assert audit.actor == "web:robin@example.org"


def test_an_edit_posted_twice_changes_nothing_the_second_time(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle, _ = _robin_and_kim(session, clock)
    sign_in(client, "robin@example.org")
    form = _form_of(circle, timezone="Europe/Madrid")

    _post(client, f"/groups/{circle.id}/edit", form)
    client.get(f"/groups/{circle.id}")
    again = _post(client, f"/groups/{circle.id}/edit", form)
    shown = client.get(again.headers["Location"])

    assert again.status_code == 302
    assert "Nothing changed." in shown.text
    assert _fresh(session, circle.id).timezone == "Europe/Madrid"


def test_a_taken_join_code_is_refused_on_its_field_saying_only_that_it_is_taken(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle, _ = _robin_and_kim(session, clock)
    sign_in(client, "robin@example.org")
    before = _form_of(_fresh(session, circle.id))

    answer = _post(
        client, f"/groups/{circle.id}/edit", _form_of(circle, join_code="harbor", name="New name")
    )

    assert answer.status_code == 422
    error = answer.text.split('id="join_code-error"')[1].split("</small>")[0]
    assert "The code HARBOR is taken; choose another join code" in error
    assert "Harbor Group" not in answer.text and "Harbor recovery" not in answer.text
    field = re.search(r'<input[^>]*id="join_code"[^>]*>', answer.text)
    assert field is not None and 'aria-invalid="true"' in field.group(0)
    assert _form_of(_fresh(session, circle.id)) == before  # nothing saved, not even the name


def test_a_taken_keypad_code_is_refused_on_its_field(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle, harbor = _robin_and_kim(session, clock)
    harbor.keypad_code = "555123"
    session.commit()
    sign_in(client, "robin@example.org")

    answer = _post(client, f"/groups/{circle.id}/edit", _form_of(circle, keypad_code="555123"))

    assert answer.status_code == 422
    assert "is taken" in answer.text.split('id="keypad_code-error"')[1].split("</small>")[0]
    assert _fresh(session, circle.id).keypad_code != "555123"


def test_bad_values_are_refused_on_their_own_fields_and_change_nothing(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle, _ = _robin_and_kim(session, clock)
    sign_in(client, "robin@example.org")
    before = _form_of(_fresh(session, circle.id))
    cases = {
        "timezone": {"timezone": "Mars/Olympus"},
        "quiet_start": {"quiet_start": "09:00", "quiet_end": "09:00"},
        "on_call_phone": {"on_call_phone": "12"},
        "join_code": {"join_code": "STOP"},
        "keypad_code": {"keypad_code": "0123"},
        "public_name": {"public_name": "   "},
        "quiet_end": {"quiet_end": "25:99"},
        "language": {"language": "xx"},
    }

    for field, change in cases.items():
        answer = _post(client, f"/groups/{circle.id}/edit", _form_of(circle, **change))

        assert answer.status_code == 422, field
        assert f'id="{field}-error"' in answer.text, field
    assert _form_of(_fresh(session, circle.id)) == before


def test_a_blank_on_call_phone_keeps_it_and_the_remove_box_takes_it_away(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _, harbor = _robin_and_kim(session, clock)
    sign_in(client, "kim@example.org")

    form = client.get(f"/groups/{harbor.id}/edit")
    kept = _post(client, f"/groups/{harbor.id}/edit", _form_of(harbor))
    still = _fresh(session, harbor.id).on_call_phone
    removed = _post(client, f"/groups/{harbor.id}/edit", _form_of(harbor, no_on_call_phone="y"))
    page = client.get(removed.headers["Location"])

    assert "+1******0100" in _text(form) and ON_CALL not in form.text
    assert kept.status_code == 302 and still == ON_CALL
    assert _fresh(session, harbor.id).on_call_phone is None
    assert "No on-call phone." in page.text


def test_a_coordinator_sees_no_create_page_and_cannot_post_one(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle, _ = _robin_and_kim(session, clock)
    sign_in(client, "robin@example.org")
    token = csrf_token(client, "/groups")
    new = _form_of(circle, join_code="NEWONE", keypad_code="")

    shown = client.get("/groups/new")
    posted = client.post("/groups/new", data={"csrf_token": token, **new})

    assert (shown.status_code, posted.status_code) == (404, 404)
    assert session.scalar(select(func.count()).select_from(Group)) == 2


def test_an_admin_creates_a_group_that_its_coordinator_then_sees(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _robin_and_kim(session, clock)
    _admin(session, clock)
    sign_in(client, "ada@example.org")
    robin_id = session.scalar(select(Group.coordinator_id).where(Group.join_code == "CIRCLE"))
    form = {
        "coordinator": str(robin_id),
        "name": "Tuesday evening grief group",
        "public_name": "Tuesday Group",
        "join_code": "tuesday",
        "keypad_code": "",
        "timezone": "America/Chicago",
        "language": "en",
        "quiet_start": "21:00",
        "quiet_end": "08:00",
        "on_call_phone": "",
        "voice_fallback": "y",
    }

    page = client.get("/groups/new")
    created = _post(client, "/groups/new", form)
    twice = _post(client, "/groups/new", form)

    assert page.status_code == 200 and "Robin" in page.text
    assert created.status_code == 302
    group = session.scalar(select(Group).where(Group.join_code == "TUESDAY"))
    assert group is not None and group.coordinator_id == robin_id
    assert group.keypad_code and group.voice_fallback and group.on_call_phone is None
    its_page = client.get(created.headers["Location"]).text
    assert "No on-call phone." in its_page
    assert "Robin Coordinator (robin@example.org)" in its_page  # who runs it, said back
    assert twice.status_code == 422 and "is taken" in twice.text  # posted again: no second group
    assert session.scalar(select(func.count()).select_from(Group)) == 3
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/groups")})
    sign_in(client, "robin@example.org")
    assert "Tuesday Group" in client.get("/groups").text


def test_a_new_group_missing_its_time_zone_is_refused_on_that_field(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _robin_and_kim(session, clock)
    _admin(session, clock)
    sign_in(client, "ada@example.org")
    robin_id = session.scalar(select(Group.coordinator_id).where(Group.join_code == "CIRCLE"))

    answer = _post(
        client,
        "/groups/new",
        {
            "coordinator": str(robin_id),
            "name": "Some group",
            "public_name": "Some Group",
            "join_code": "SOME",
            "timezone": "",
            "language": "en",
            "quiet_start": "21:00",
            "quiet_end": "08:00",
        },
    )

    assert answer.status_code == 422
    assert 'id="timezone-error"' in answer.text
    assert session.scalar(select(func.count()).select_from(Group)) == 2
