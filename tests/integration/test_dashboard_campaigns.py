"""The dashboard's Campaigns pages: reminders, encouragement and broadcasts, in plain words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.models import Campaign, CampaignKind, CampaignStatus, Group, OutboxMessage
from tests.api import token_for
from tests.dashboard import csrf_token, sign_in, with_password
from tests.support import Clock, invoke, make_group, make_participant, make_schedule


def _robin(session: Session, clock: Clock) -> Group:
    circle = make_group(session, "CIRCLE", coordinator_email="robin@example.org")
    make_schedule(session, circle)
    make_participant(session, "+12025550111", circle, name="Sam Circle")
    with_password(session, "robin@example.org", clock)
    return circle


def _signed_in(client: FlaskClient, session: Session, clock: Clock) -> tuple[Group, str]:
    circle = _robin(session, clock)
    sign_in(client, "robin@example.org")
    return circle, csrf_token(client, f"/groups/{circle.id}/campaigns/new/reminder")


def _campaigns(session: Session) -> list[Campaign]:
    session.expire_all()
    return list(session.scalars(select(Campaign).order_by(Campaign.id)))


def test_a_reminder_made_of_plain_durations_is_saved_and_listed_in_words(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle, token = _signed_in(client, session, clock)

    saved = client.post(
        f"/groups/{circle.id}/campaigns/new/reminder",
        data={
            "csrf_token": token,
            "name": "Before meetings",
            "offset_number_0": "2",
            "offset_unit_0": "h",
            "at_days_0": "1",
            "at_time_0": "18:00",
            "rsvp": "yes",
            "action": "save",
        },
    )

    assert saved.status_code == 302
    [campaign] = _campaigns(session)
    assert (campaign.kind, campaign.offsets, campaign.rsvp) == (
        CampaignKind.REMINDER,
        ["2h", "1d@18:00"],
        True,
    )
    listed = client.get(f"/groups/{circle.id}/campaigns").text
    assert "2 hours before and the day before at 18:00 each meeting, asking C/N" in listed
    assert "Running" in listed


def test_a_refused_offset_shows_by_its_field_and_saves_nothing(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle, token = _signed_in(client, session, clock)

    refused = client.post(
        f"/groups/{circle.id}/campaigns/new/reminder",
        data={
            "csrf_token": token,
            "name": "Soon",
            "offset_number_0": "0",
            "offset_unit_0": "h",
            "action": "save",
        },
    )

    assert refused.status_code == 422  # the form again, with the message by its field
    assert 'id="offsets-error"' in refused.text
    assert "an offset is more than 0" in refused.text
    assert _campaigns(session) == []


def test_an_unknown_variable_is_refused_naming_it_live_and_on_save(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle, token = _signed_in(client, session, clock)
    words = "Hi {{ nickname }}, see you {{ meeting_when }}"

    live = client.post(
        f"/groups/{circle.id}/campaigns/wording-check",
        data={"csrf_token": token, "kind": "reminder", "language": "en", "wording_en": words},
    )
    saved = client.post(
        f"/groups/{circle.id}/campaigns/new/reminder",
        data={
            "csrf_token": token,
            "name": "Own words",
            "offset_number_0": "2",
            "offset_unit_0": "h",
            "wording_en": words,
            "action": "save",
        },
    )

    assert live.status_code == 200
    assert "Unknown variable {{ nickname }}" in live.text
    assert saved.status_code == 422
    assert 'id="wording-en-error"' in saved.text
    assert "Unknown variable {{ nickname }}" in saved.text
    assert _campaigns(session) == []


def test_the_live_count_shows_characters_segments_and_the_character_that_forces_ucs2(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle, token = _signed_in(client, session, clock)

    plain = client.post(
        f"/groups/{circle.id}/campaigns/wording-check",
        data={"csrf_token": token, "kind": "broadcast", "language": "en", "wording_en": "See you"},
    )
    emoji = client.post(
        f"/groups/{circle.id}/campaigns/wording-check",
        data={"csrf_token": token, "kind": "broadcast", "language": "es", "wording_es": "Hola 🙂"},
    )
    form = client.get(f"/groups/{circle.id}/campaigns/new/broadcast").text

    assert "7 characters, 1 segment, GSM-7" in plain.text
    assert "UCS-2" in emoji.text and "U+1F642" in emoji.text
    assert 'hx-trigger="keyup changed delay:400ms"' in form
    assert 'aria-live="polite"' in form


def test_wording_naming_the_internal_name_or_a_topic_word_is_warned_of_but_saved(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle, token = _signed_in(client, session, clock)
    words = "The Circle recovery group meets today about grief"

    live = client.post(
        f"/groups/{circle.id}/campaigns/wording-check",
        data={
            "csrf_token": token,
            "kind": "broadcast",
            "language": "en",
            "wording_en": words,
            "topic_words": "grief, loss",
        },
    )
    saved = client.post(
        f"/groups/{circle.id}/campaigns/new/broadcast",
        data={
            "csrf_token": token,
            "name": "Heads up",
            "wording_en": words,
            "topic_words": "grief",
            "action": "save",
        },
        follow_redirects=True,
    )

    assert "internal name &#39;Circle recovery group&#39;" in live.text
    assert "topic word &#39;grief&#39;" in live.text
    assert saved.status_code == 200
    assert "Wording in English: This text names the group&#39;s internal name" in saved.text
    assert "topic word" in saved.text
    assert [c.name for c in _campaigns(session)] == ["Heads up"]


def test_the_api_warns_of_the_internal_name_in_a_campaigns_words(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = _robin(session, clock)
    token = token_for(session, clock, "robin@example.org")

    made = client.post(
        "/api/v1/campaigns",
        json={
            "group_id": circle.id,
            "kind": "broadcast",
            "name": "Heads up",
            "wording": {"en": "Circle Recovery Group meets today"},
        },
        headers={"Authorization": f"Bearer {token}"},
    )

    assert made.status_code == 201
    assert any("internal name" in w for w in made.get_json()["warnings"])


def test_a_preview_of_an_unsaved_reminder_says_when_in_whose_zone_and_saves_nothing(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle, token = _signed_in(client, session, clock)

    shown = client.post(
        f"/groups/{circle.id}/campaigns/new/reminder",
        data={
            "csrf_token": token,
            "name": "Before meetings",
            "offset_number_0": "2",
            "offset_unit_0": "h",
            "rsvp": "yes",
            "action": "preview",
        },
    )

    assert shown.status_code == 200
    # It is noon in New York; today's meeting is at 18:30 there: two hours before is 16:30.
    assert "Tue 2026-03-03 16:30 (America/New_York time)" in shown.text
    assert "Tue 2026-03-10 16:30 (America/New_York time)" in shown.text
    assert "1 person" in shown.text
    assert "Reply C to confirm" in shown.text
    assert _campaigns(session) == []
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_the_preview_of_a_large_group_counts_every_send_and_words_only_the_first(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    """Thirty people, two meetings in the fortnight: sixty texts counted, hour by hour, and
    only the first twenty worded, not every one."""
    circle, token = _signed_in(client, session, clock)
    for n in range(29):
        make_participant(session, f"+1202555{n:04d}", circle, name=f"Person{n} Rivera")

    shown = client.post(
        f"/groups/{circle.id}/campaigns/new/reminder",
        data={"csrf_token": token, "name": "Before meetings", "offset_number_0": "2",
              "offset_unit_0": "h", "action": "preview"},
    )  # fmt: skip

    assert shown.status_code == 200
    assert "60 texts, 0 calls, to 30 people." in shown.text
    assert "The first 20 texts and calls, when, and to how many people" in shown.text
    hours = shown.text.split("Hour by hour, where they live")[1].split("</table>")[0]
    assert hours.count("<tr>") == 3  # the heading, tonight's hour and next week's
    assert "Tue 2026-03-03 16:00 (America/New_York time)</td>\n      <td>30</td>" in hours
    sample = shown.text.split("The first 20 texts and calls")[1].split("</table>")[0]
    assert sample.count("1 person") == 20  # each person's own name in their words
    assert "Hi Person28," not in sample and "Hi Sam," in sample
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_an_encouragement_is_weekly_on_a_weekday_with_a_pool_one_per_line(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle, token = _signed_in(client, session, clock)

    client.post(
        f"/groups/{circle.id}/campaigns/new/encouragement",
        data={
            "csrf_token": token,
            "name": "Midweek",
            "mode": "weekly",
            "weekdays": ["WE", "FR"],
            "at": "09:30",
            "window_hours": "6",
            "pool_en": "Thinking of you.\nYou are not alone.\n",
            "action": "save",
        },
    )

    [campaign] = _campaigns(session)
    assert campaign.cadence == "FREQ=WEEKLY;BYDAY=WE,FR"
    assert campaign.wording == {"en": "Thinking of you.\nYou are not alone."}
    listed = client.get(f"/groups/{circle.id}/campaigns").text
    assert "every Wednesday and Friday at 09:30, each person&#39;s time" in listed


def test_encouragement_by_days_since_joining_refuses_words_that_are_not_days(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle, token = _signed_in(client, session, clock)
    form = {
        "csrf_token": token,
        "name": "Welcome",
        "mode": "stages",
        "at": "12:00",
        "pool_en": "Welcome!",
        "action": "save",
    }

    refused = client.post(
        f"/groups/{circle.id}/campaigns/new/encouragement", data={**form, "stages": "soon"}
    )
    saved = client.post(
        f"/groups/{circle.id}/campaigns/new/encouragement", data={**form, "stages": "7, 1 3"}
    )

    assert refused.status_code == 422 and 'id="stages-error"' in refused.text
    assert saved.status_code == 302
    assert [c.stages for c in _campaigns(session)] == [[1, 3, 7]]


def test_a_broadcast_goes_at_a_date_and_time_in_the_groups_zone_and_not_in_the_past(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle, token = _signed_in(client, session, clock)
    form = {
        "csrf_token": token,
        "name": "Snow",
        "wording_en": "No meeting today.",
        "action": "save",
    }

    past = client.post(
        f"/groups/{circle.id}/campaigns/new/broadcast",
        data={**form, "send_date": "2026-03-01", "send_time": "09:00"},
    )
    later = client.post(
        f"/groups/{circle.id}/campaigns/new/broadcast",
        data={**form, "send_date": "2026-03-05", "send_time": "18:00"},
    )

    assert past.status_code == 422 and 'id="send_at-error"' in past.text
    assert "has passed" in past.text
    assert later.status_code == 302
    [campaign] = _campaigns(session)
    assert campaign.send_at is not None
    assert campaign.send_at.replace(tzinfo=UTC) == datetime(2026, 3, 5, 23, 0, tzinfo=UTC)


def test_a_new_campaign_form_posted_twice_makes_one_campaign(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle, token = _signed_in(client, session, clock)
    form = {
        "csrf_token": token,
        "form_id": "same-form",
        "name": "Snow",
        "wording_en": "No meeting today.",
        "action": "save",
    }

    first = client.post(f"/groups/{circle.id}/campaigns/new/broadcast", data=form)
    second = client.post(f"/groups/{circle.id}/campaigns/new/broadcast", data=form)

    assert (first.status_code, second.status_code) == (302, 302)
    assert len(_campaigns(session)) == 1


def test_a_campaign_is_changed_previewed_paused_resumed_and_deleted_after_a_confirm(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle, token = _signed_in(client, session, clock)
    client.post(
        f"/groups/{circle.id}/campaigns/new/reminder",
        data={
            "csrf_token": token,
            "name": "Before",
            "offset_number_0": "2",
            "offset_unit_0": "h",
            "action": "save",
        },
    )
    [campaign] = _campaigns(session)
    page = f"/campaigns/{campaign.id}"
    assert 'value="2"' in client.get(page).text
    change = {"csrf_token": token, "name": "Day before", "at_days_0": "1", "at_time_0": "18:00"}

    previewed = client.post(page, data={**change, "action": "preview"})
    assert previewed.status_code == 200
    assert "Mon 2026-03-09 18:00 (America/New_York time)" in previewed.text
    assert _campaigns(session)[0].offsets == ["2h"]

    assert client.post(page, data={**change, "action": "save"}).status_code == 302
    assert (_campaigns(session)[0].name, _campaigns(session)[0].offsets) == (
        "Day before",
        ["1d@18:00"],
    )

    client.post(f"{page}/pause", data={"csrf_token": token})
    client.post(f"{page}/pause", data={"csrf_token": token})  # twice: harmless
    assert _campaigns(session)[0].status is CampaignStatus.PAUSED
    assert "Paused" in client.get(f"/groups/{circle.id}/campaigns").text
    client.post(f"{page}/resume", data={"csrf_token": token})
    assert _campaigns(session)[0].status is CampaignStatus.ACTIVE

    confirm = client.get(f"{page}/delete")
    assert "Yes, delete it" in confirm.text
    assert _campaigns(session)[0].deleted_at is None
    client.post(f"{page}/delete", data={"csrf_token": token})
    assert _campaigns(session)[0].deleted_at is not None
    assert client.get(page).status_code == 404
    assert "This group has no campaigns yet." in client.get(f"/groups/{circle.id}/campaigns").text


def test_a_groups_topic_words_are_set_from_the_command_line_and_warned_of_on_every_door(
    client: FlaskClient, runner: FlaskCliRunner, session: Session, clock: Clock
) -> None:
    circle, token = _signed_in(client, session, clock)

    set_words = invoke(runner, "groups", "update", "CIRCLE", "--topic-words", "grief, Loss")
    cli_made = invoke(
        runner, "campaigns", "create", "--group", "CIRCLE", "--kind", "broadcast",
        "--name", "Room", "--wording-en", "Our loss group meets in room 7.",
    )  # fmt: skip
    api = client.post(
        "/api/v1/campaigns",
        json={
            "group_id": circle.id,
            "kind": "broadcast",
            "name": "Heads up",
            "wording": {"en": "About grief, tonight"},
        },
        headers={"Authorization": f"Bearer {token_for(session, clock, 'robin@example.org')}"},
    )
    live = client.post(
        f"/groups/{circle.id}/campaigns/wording-check",
        data={"csrf_token": token, "kind": "broadcast", "language": "en", "wording_en": "Grief"},
    )

    assert set_words.exit_code == 0, set_words.output
    assert "topic words: grief, Loss" in set_words.output
    assert cli_made.exit_code == 0, cli_made.output
    assert "topic word 'Loss'" in cli_made.output
    assert api.status_code == 201
    assert any("topic word 'grief'" in w for w in api.get_json()["warnings"])
    assert "topic word &#39;grief&#39;" in live.text
    assert len(_campaigns(session)) == 2  # warned of, and saved


def test_a_groups_topic_words_are_read_and_changed_by_the_api(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = _robin(session, clock)
    auth = {"Authorization": f"Bearer {token_for(session, clock, 'robin@example.org')}"}

    changed = client.patch(
        f"/api/v1/groups/{circle.id}",
        json={"topic_words": ["grief", " grief ", "loss"]},
        headers=auth,
    )
    too_long = client.patch(
        f"/api/v1/groups/{circle.id}", json={"topic_words": ["x" * 61]}, headers=auth
    )
    read = client.get(f"/api/v1/groups/{circle.id}", headers=auth)

    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["topic_words"] == ["grief", "loss"]
    assert too_long.status_code == 422
    assert read.get_json()["topic_words"] == ["grief", "loss"]


def test_the_api_previews_a_campaign_not_yet_saved_and_a_change_not_yet_made(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = _robin(session, clock)
    auth = {"Authorization": f"Bearer {token_for(session, clock, 'robin@example.org')}"}
    reminder = {"group_id": circle.id, "kind": "reminder", "name": "Before", "offsets": ["2h"]}

    draft = client.post("/api/v1/campaigns/preview?days=8", json=reminder, headers=auth)
    refused = client.post(
        "/api/v1/campaigns/preview", json={**reminder, "offsets": ["soon"]}, headers=auth
    )
    made = client.post("/api/v1/campaigns", json=reminder, headers=auth).get_json()
    changed = client.post(
        f"/api/v1/campaigns/{made['id']}/preview", json={"offsets": ["1d@18:00"]}, headers=auth
    )

    assert draft.status_code == 200, draft.get_json()
    assert [line["local"] for line in draft.get_json()] == [
        "Tue 2026-03-03 16:30",
        "Tue 2026-03-10 16:30",
    ]
    assert refused.status_code == 422
    assert "soon" in refused.get_json()["details"]["json"]["offsets"][0]
    assert [line["local"] for line in changed.get_json()] == ["Mon 2026-03-09 18:00"]
    assert [c.offsets for c in _campaigns(session)] == [["2h"]]  # the change was not made


def test_the_api_checks_words_before_they_are_saved(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle = _robin(session, clock)
    auth = {"Authorization": f"Bearer {token_for(session, clock, 'robin@example.org')}"}
    check = {"group_id": circle.id, "kind": "broadcast", "language": "es"}

    emoji = client.post(
        "/api/v1/campaigns/wording-check",
        json={**check, "text": "Hola 🙂 grief", "topic_words": ["grief"]},
        headers=auth,
    )
    unknown = client.post(
        "/api/v1/campaigns/wording-check",
        json={**check, "text": "See you {{ meeting_when }}"},
        headers=auth,
    )

    assert emoji.status_code == 200
    answer = emoji.get_json()
    assert (answer["words"]["encoding"], answer["words"]["ucs2_character"]) == ("UCS-2", "🙂")
    assert any("topic word 'grief'" in w for w in answer["warnings"])
    assert unknown.status_code == 422
    assert "{{ meeting_when }}" in unknown.get_json()["details"]["json"]["text"][0]


def test_a_broadcast_whose_time_has_passed_can_still_be_renamed_and_keeps_its_time(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle, token = _signed_in(client, session, clock)
    clock.now = clock.now + timedelta(seconds=17)  # sent "now": seconds the form does not show
    client.post(
        f"/groups/{circle.id}/campaigns/new/broadcast",
        data={"csrf_token": token, "name": "Snow", "wording_en": "No meeting.", "action": "save"},
    )
    [campaign] = _campaigns(session)
    went_at = campaign.send_at
    clock.now = clock.now + timedelta(minutes=20)  # it went; still signed in
    form = client.get(f"/campaigns/{campaign.id}").text
    assert 'value="2026-03-03"' in form and 'value="12:00"' in form  # New York time

    renamed = client.post(
        f"/campaigns/{campaign.id}",
        data={
            "csrf_token": token,
            "name": "Snow day",
            "send_date": "2026-03-03",
            "send_time": "12:00",
            "wording_en": "No meeting.",
            "action": "save",
        },
    )

    assert renamed.status_code == 302
    [campaign] = _campaigns(session)
    assert (campaign.name, campaign.send_at) == ("Snow day", went_at)


def test_an_encouragements_days_are_changed_from_its_page(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    circle, token = _signed_in(client, session, clock)
    made = {
        "csrf_token": token,
        "name": "Midweek",
        "mode": "weekly",
        "weekdays": ["WE"],
        "at": "12:00",
        "pool_en": "Thinking of you.",
        "action": "save",
    }
    client.post(f"/groups/{circle.id}/campaigns/new/encouragement", data=made)
    [campaign] = _campaigns(session)
    assert 'value="WE" checked' in client.get(f"/campaigns/{campaign.id}").text

    changed = client.post(f"/campaigns/{campaign.id}", data={**made, "mode": "daily"})

    assert changed.status_code == 302
    assert _campaigns(session)[0].cadence == "FREQ=DAILY"
    assert "every day at 12:00" in client.get(f"/groups/{circle.id}/campaigns").text
