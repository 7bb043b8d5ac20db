"""Campaigns pages: a group's reminders, encouragement and broadcasts, listed, made and changed.

A thin shell: the form's plain durations and days become the offsets, cadence and times that
`peerline campaigns` and the API take, and the same domain functions check and save them
(create_campaign, update_campaign, set_campaign_status, delete_campaign, preview_draft_as).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import select
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from service.campaigns.campaigns import (
    CampaignChanges,
    CampaignError,
    CampaignSpec,
    Offset,
    OffsetError,
    create_campaign,
    delete_campaign,
    live_campaigns,
    set_campaign_status,
    update_campaign,
)
from service.campaigns.preview import PreviewSummary, preview_draft_as, summary
from service.campaigns.wording import (
    WordingError,
    check_template,
    discretion_warnings,
    split_topic_words,
)
from service.clock import app_clock
from service.db import get_session
from service.messages.wording import LANGUAGES
from service.models import Campaign, CampaignKind, CampaignStatus, Group
from service.text import Said
from service.web.dashboard import login
from service.web.dashboard.translated import translated
from service.web.dashboard.views import bp

OFFSET_ROWS = 3  # "number unit before" rows on the form
AT_ROWS = 2  # "days before at a time" rows
PREVIEW_DAYS = 14
PREVIEW_SAMPLE = 20  # the preview's first sends, worded; the rest are counted
UNITS = {"m": _l("minutes"), "h": _l("hours"), "d": _l("days")}
WEEKDAYS = {
    "MO": _l("Monday"),
    "TU": _l("Tuesday"),
    "WE": _l("Wednesday"),
    "TH": _l("Thursday"),
    "FR": _l("Friday"),
    "SA": _l("Saturday"),
    "SU": _l("Sunday"),
}
LANGUAGE_NAMES = {"en": _l("English"), "es": _l("Spanish")}
KIND_NAMES = {
    CampaignKind.REMINDER: _l("Reminder"),
    CampaignKind.ENCOURAGEMENT: _l("Encouragement"),
    CampaignKind.BROADCAST: _l("Broadcast"),
}
_USED_FORMS = "peerline_used_campaign_forms"  # forms already saved, so a second post is harmless
_WEEKLY = re.compile(r"FREQ=WEEKLY;BYDAY=((?:MO|TU|WE|TH|FR|SA|SU)(?:,(?:MO|TU|WE|TH|FR|SA|SU))*)")


class FormError(ValueError):
    """Something on the form that cannot even be put to the domain (a date that is no date)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def _my_campaign(campaign_id: int) -> tuple[Campaign, Group]:
    """A campaign of one of the coordinator's groups, not deleted, or 404."""
    found = get_session().scalar(live_campaigns().where(Campaign.id == campaign_id))
    if found is None:
        abort(404)
    return found, login.my_group(found.group_id)


# --- Plain words for what a campaign does ---------------------------------------------------


def _duration(minutes: int) -> str:
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = []
    if days:
        parts.append(ngettext("%(num)d day", "%(num)d days", days))
    if hours:
        parts.append(ngettext("%(num)d hour", "%(num)d hours", hours))
    if minutes:
        parts.append(ngettext("%(num)d minute", "%(num)d minutes", minutes))
    return _and(parts)


def _and(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return str(_("%(first)s and %(last)s", first=", ".join(parts[:-1]), last=parts[-1]))


def offset_words(text: str) -> str:
    """ "2h" as "2 hours before", "1d@18:00" as "the day before at 18:00"."""
    try:
        offset = Offset.parse(text)
    except OffsetError:
        return text
    if offset.before is not None:
        return str(_("%(span)s before", span=_duration(int(offset.before.total_seconds() // 60))))
    at = f"{offset.at:%H:%M}"
    if offset.days_before == 0:
        return str(_("the same day at %(time)s", time=at))
    if offset.days_before == 1:
        return str(_("the day before at %(time)s", time=at))
    return str(_("%(num)d days before at %(time)s", num=offset.days_before, time=at))


def describe(campaign: Campaign, group: Group) -> str:
    """What a campaign does, in a coordinator's words."""
    if campaign.kind is CampaignKind.REMINDER:
        words = str(
            _("%(when)s each meeting", when=_and([offset_words(o) for o in campaign.offsets]))
        )
        return words + (str(_(", asking C/N")) if campaign.rsvp else "")
    if campaign.kind is CampaignKind.ENCOURAGEMENT:
        at = f"{campaign.cadence_time:%H:%M}"
        if campaign.stages:
            days = _and([str(day) for day in campaign.stages])
            return str(_("%(days)s days after joining, at %(time)s their time", days=days, time=at))
        if campaign.cadence == "FREQ=DAILY":
            return str(_("every day at %(time)s, each person's time", time=at))
        if match := _WEEKLY.fullmatch(campaign.cadence or ""):
            days = _and([str(WEEKDAYS[day]) for day in match.group(1).split(",")])
            return str(_("every %(days)s at %(time)s, each person's time", days=days, time=at))
        return str(_("on its own schedule at %(time)s, each person's time", time=at))
    assert campaign.send_at is not None
    local = campaign.send_at.astimezone(ZoneInfo(group.timezone))
    return str(
        _("once, %(when)s (%(zone)s time)", when=f"{local:%a %Y-%m-%d %H:%M}", zone=group.timezone)
    )


# --- The form ------------------------------------------------------------------------------


@dataclass
class Draft:
    """The form as the coordinator filled it in (strings, as typed)."""

    kind: CampaignKind
    values: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str, default: Any = "") -> Any:
        return self.values.get(name, default)


def _draft_of(campaign: Campaign, group: Group) -> Draft:
    """A saved campaign as its form shows it."""
    values: dict[str, Any] = {"name": campaign.name, "rsvp": campaign.rsvp}
    relative = [o for o in campaign.offsets if "@" not in o]
    at_day = [o for o in campaign.offsets if "@" in o]
    for index, text in enumerate(relative[:OFFSET_ROWS]):
        before = Offset.parse(text).before
        assert before is not None
        minutes = int(before.total_seconds() // 60)
        number, unit = (
            (minutes // 1440, "d")
            if minutes % 1440 == 0
            else (minutes // 60, "h")
            if minutes % 60 == 0
            else (minutes, "m")
        )
        values[f"offset_number_{index}"], values[f"offset_unit_{index}"] = str(number), unit
    for index, text in enumerate(at_day[:AT_ROWS]):
        offset = Offset.parse(text)
        values[f"at_days_{index}"] = str(offset.days_before)
        values[f"at_time_{index}"] = f"{offset.at:%H:%M}"
    if campaign.kind is CampaignKind.ENCOURAGEMENT:
        for language, text in campaign.wording.items():
            values[f"pool_{language}"] = text
        values["at"] = f"{campaign.cadence_time:%H:%M}"
        values["window_hours"] = str(campaign.window_minutes // 60)
        if campaign.stages:
            values["mode"] = "stages"
            values["stages"] = ", ".join(str(day) for day in campaign.stages)
        elif campaign.cadence == "FREQ=DAILY":
            values["mode"] = "daily"
        elif match := _WEEKLY.fullmatch(campaign.cadence or ""):
            values["mode"], values["weekdays"] = "weekly", match.group(1).split(",")
        else:
            values["mode"], values["cadence"] = "own", campaign.cadence
    else:
        for language, text in campaign.wording.items():
            values[f"wording_{language}"] = text
    if campaign.send_at is not None:
        local = campaign.send_at.astimezone(ZoneInfo(group.timezone))
        values["send_date"], values["send_time"] = f"{local:%Y-%m-%d}", f"{local:%H:%M}"
    return Draft(campaign.kind, values)


def _draft_from(kind: CampaignKind, form: MultiDict[str, str]) -> Draft:
    values: dict[str, Any] = {name: form.get(name, "").strip() for name in form}
    values["rsvp"] = form.get("rsvp") == "yes"
    values["weekdays"] = [day for day in form.getlist("weekdays") if day in WEEKDAYS]
    for language in LANGUAGES:  # kept as typed: lines and spaces matter
        values[f"wording_{language}"] = form.get(f"wording_{language}", "")
        values[f"pool_{language}"] = form.get(f"pool_{language}", "")
    return Draft(kind, values)


def _offsets(draft: Draft) -> list[str]:
    offsets = []
    for index in range(OFFSET_ROWS):
        number = draft.get(f"offset_number_{index}")
        if number:
            unit = draft.get(f"offset_unit_{index}")
            if unit not in UNITS:
                raise FormError(_("Choose minutes, hours or days."), "offsets")
            offsets.append(f"{number}{unit}")
    for index in range(AT_ROWS):
        at = draft.get(f"at_time_{index}")
        if at:
            offsets.append(f"{draft.get(f'at_days_{index}') or '1'}d@{at}")
    return offsets


def _time(text: str, where: str) -> time | None:
    if not text:
        return None
    try:
        return time.fromisoformat(text).replace(second=0, microsecond=0)
    except ValueError:
        raise FormError(_("Write a time of day as HH:MM, e.g. 18:00."), where) from None


def _cadence(draft: Draft) -> tuple[str | None, list[int]]:
    mode = draft.get("mode")
    if mode == "stages":
        try:
            stages = [int(day) for day in re.split(r"[,\s]+", draft.get("stages")) if day]
        except ValueError:
            raise FormError(
                _("Write whole days since joining, e.g. 1, 3, 7, 14."), "stages"
            ) from None
        if not stages:
            raise FormError(_("Write at least one day since joining, e.g. 1, 3, 7."), "stages")
        return None, stages
    if mode == "daily":
        return "FREQ=DAILY", []
    if mode == "own" and draft.get("cadence"):
        return str(draft.get("cadence")), []
    if not draft.get("weekdays"):
        raise FormError(_("Choose at least one day of the week."), "cadence")
    return "FREQ=WEEKLY;BYDAY=" + ",".join(d for d in WEEKDAYS if d in draft.get("weekdays")), []


def _send_at(draft: Draft, group: Group) -> datetime | None:
    day, at = draft.get("send_date"), draft.get("send_time")
    if not day and not at:
        return None
    try:
        moment = datetime.combine(date.fromisoformat(day), time.fromisoformat(at))
    except ValueError:
        raise FormError(_("Give a date and a time, or neither to send now."), "send_at") from None
    return moment.replace(tzinfo=ZoneInfo(group.timezone))


def _pools(draft: Draft, *, all_languages: bool) -> dict[str, list[str]]:
    pools = {}
    for language in LANGUAGES:
        text = draft.get(f"pool_{language}")
        if text.strip() or (all_languages and text):
            pools[language] = [line for line in text.splitlines() if line.strip()]
    return pools


def _wording(draft: Draft) -> dict[str, str]:
    return {language: draft.get(f"wording_{language}") for language in LANGUAGES}


def _window(draft: Draft) -> int:
    text = draft.get("window_hours") or "12"
    if not text.isdigit():
        raise FormError(_("Write a whole number of hours."), "window_hours")
    return int(text)


def _spec(draft: Draft, group: Group) -> CampaignSpec:
    spec = CampaignSpec(kind=draft.kind, name=draft.get("name"))
    if draft.kind is CampaignKind.REMINDER:
        spec.offsets, spec.rsvp = _offsets(draft), draft.get("rsvp")
        spec.wording = {k: v for k, v in _wording(draft).items() if v.strip()}
    elif draft.kind is CampaignKind.ENCOURAGEMENT:
        spec.pools = _pools(draft, all_languages=False)
        spec.cadence, spec.stages = _cadence(draft)
        spec.at, spec.window_hours = _time(draft.get("at"), "at"), _window(draft)
    else:
        spec.wording = {k: v for k, v in _wording(draft).items() if v.strip()}
        spec.send_at = _send_at(draft, group)
    return spec


def _changes(draft: Draft, group: Group, campaign: Campaign) -> CampaignChanges:
    changes = CampaignChanges(name=draft.get("name"))
    if draft.kind is CampaignKind.REMINDER:
        changes.offsets, changes.rsvp = _offsets(draft), draft.get("rsvp")
        changes.wording = _wording(draft)
    elif draft.kind is CampaignKind.ENCOURAGEMENT:
        changes.pools = _pools(draft, all_languages=True) or None
        changes.cadence, stages = _cadence(draft)
        changes.stages = stages or None
        changes.at, changes.window_hours = _time(draft.get("at"), "at"), _window(draft)
    else:
        changes.wording = _wording(draft)
        send_at = _send_at(draft, group)
        shown = _draft_of(campaign, group)
        if (draft.get("send_date"), draft.get("send_time")) != (
            shown.get("send_date"),
            shown.get("send_time"),
        ):
            changes.send_at = send_at  # as the form showed it (to the minute): left as it is
    return changes


def _render_form(
    group: Group,
    draft: Draft,
    *,
    campaign: Campaign | None = None,
    errors: dict[str | None, str] | None = None,
    shown: PreviewSummary | None = None,
    status: int = 200,
) -> tuple[str, int]:
    return render_template(
        "dashboard/campaigns/form.html",
        group=group,
        draft=draft,
        campaign=campaign,
        errors=errors or {},
        shown=shown,
        preview_days=PREVIEW_DAYS,
        offset_rows=OFFSET_ROWS,
        at_rows=AT_ROWS,
        units=UNITS,
        weekdays=WEEKDAYS,
        languages=LANGUAGES,
        language_names=LANGUAGE_NAMES,
        kind_names=KIND_NAMES,
        form_id=request.form.get("form_id") or uuid.uuid4().hex,
    ), status


def _save_or_preview(
    group: Group, draft: Draft, campaign: Campaign | None
) -> Response | tuple[str, int]:
    """Preview or save the posted form; a refusal re-renders it with the field's message."""
    db = get_session()
    now = app_clock()()
    topic_words = split_topic_words(draft.get("topic_words"))
    try:
        if request.form.get("action") == "preview":
            counted = summary(PREVIEW_SAMPLE)
            if campaign is None:
                shown = preview_draft_as(
                    counted, db, group, now, PREVIEW_DAYS, spec=_spec(draft, group)
                )
            else:
                shown = preview_draft_as(
                    counted,
                    db,
                    group,
                    now,
                    PREVIEW_DAYS,
                    campaign_id=campaign.id,
                    changes=_changes(draft, group, campaign),
                )
            return _render_form(group, draft, campaign=campaign, shown=shown)
        actor = f"web:{login.me().email}"
        if campaign is None:
            campaign, warnings, _words = create_campaign(
                db, group, _spec(draft, group), now=now, actor=actor, topic_words=topic_words
            )
        else:
            edit = update_campaign(
                db,
                campaign,
                _changes(draft, group, campaign),
                now=now,
                actor=actor,
                topic_words=topic_words,
            )
            warnings = edit.warnings
    except (CampaignError, FormError) as error:
        db.rollback()
        return _render_form(
            group, draft, campaign=campaign, errors={error.field: translated(error)}, status=422
        )
    db.commit()
    session[_USED_FORMS] = [*session.get(_USED_FORMS, [])[-20:], request.form.get("form_id", "")]
    flash(_("“%(name)s” is saved.", name=campaign.name), "success")
    for warning in warnings:
        flash(_plain(warning), "warning")
    return redirect(url_for("dashboard.group_campaigns", group_id=group.id))


def _plain(warning: str) -> str:
    """A domain warning as the form names its field: "wording.es: ..." as "Spanish wording: ..."."""
    where, _colon, rest = warning.partition(": ")
    kind, _dot, language = where.partition(".")
    if language in LANGUAGE_NAMES and kind in ("wording", "pool"):
        label = _("Wording in %(language)s", language=LANGUAGE_NAMES[language])
        if kind == "pool":
            label = _("Messages in %(language)s", language=LANGUAGE_NAMES[language])
        # The sentence after the field's name, as said, so that it is translated too.
        sentence = warning.values.get("warning", rest) if isinstance(warning, Said) else rest
        return f"{label}: {translated(sentence)}"
    return translated(warning)


def _already_saved() -> bool:
    return bool(request.form.get("form_id")) and request.form.get("form_id") in session.get(
        _USED_FORMS, []
    )


# --- Routes --------------------------------------------------------------------------------


@bp.get("/campaigns")
def campaign_groups() -> str:
    query = select(Group).order_by(Group.public_name, Group.id)
    mine = login.visible()
    if mine is not None:
        query = query.where(Group.id.in_(list(mine)))
    groups = list(get_session().scalars(query))
    return render_template("dashboard/campaigns/groups.html", groups=groups)


@bp.get("/groups/<int:group_id>/campaigns")
def group_campaigns(group_id: int) -> str:
    group = login.my_group(group_id)
    rows = get_session().scalars(
        live_campaigns().where(Campaign.group_id == group.id).order_by(Campaign.id)
    )
    return render_template(
        "dashboard/campaigns/list.html",
        group=group,
        campaigns=[(c, describe(c, group)) for c in rows],
        kind_names=KIND_NAMES,
    )


@bp.route("/groups/<int:group_id>/campaigns/new/<kind>", methods=["GET", "POST"])
def new_campaign(group_id: int, kind: str) -> Response | tuple[str, int]:
    group = login.my_group(group_id)
    try:
        chosen = CampaignKind(kind)
    except ValueError:
        abort(404)
    if request.method == "GET":
        defaults = {"rsvp": True, "mode": "weekly", "weekdays": ["WE"], "at": "12:00"}
        return _render_form(group, Draft(chosen, {**defaults, "window_hours": "12"}))
    if _already_saved():
        return redirect(url_for("dashboard.group_campaigns", group_id=group.id))
    return _save_or_preview(group, _draft_from(chosen, request.form), None)


@bp.route("/campaigns/<int:campaign_id>", methods=["GET", "POST"])
def edit_campaign(campaign_id: int) -> Response | tuple[str, int]:
    found, group = _my_campaign(campaign_id)
    if request.method == "GET":
        return _render_form(group, _draft_of(found, group), campaign=found)
    return _save_or_preview(group, _draft_from(found.kind, request.form), found)


@bp.post("/campaigns/<int:campaign_id>/pause")
def pause_campaign(campaign_id: int) -> Response:
    return _set(campaign_id, CampaignStatus.PAUSED)


@bp.post("/campaigns/<int:campaign_id>/resume")
def resume_campaign(campaign_id: int) -> Response:
    return _set(campaign_id, CampaignStatus.ACTIVE)


def _set(campaign_id: int, status: CampaignStatus) -> Response:
    found, group = _my_campaign(campaign_id)
    db = get_session()
    if found.status is not status:  # posted twice: the second changes nothing
        set_campaign_status(db, found, status, now=app_clock()(), actor=f"web:{login.me().email}")
        db.commit()
    if status is CampaignStatus.PAUSED:
        flash(
            _(
                "“%(name)s” is paused: nothing more of it goes until you resume it.",
                name=found.name,
            ),
            "success",
        )
    else:
        flash(_("“%(name)s” is running again.", name=found.name), "success")
    return redirect(url_for("dashboard.group_campaigns", group_id=group.id))


@bp.route(
    "/campaigns/<int:campaign_id>/delete", methods=["GET", "POST"], endpoint="delete_campaign"
)
def delete_page(campaign_id: int) -> Response | str:
    found, group = _my_campaign(campaign_id)
    if request.method == "GET":
        return render_template(
            "dashboard/campaigns/delete.html",
            campaign=found,
            group=group,
            what=describe(found, group),
        )
    db = get_session()
    withdrawn = delete_campaign(db, found, now=app_clock()(), actor=f"web:{login.me().email}")
    db.commit()
    flash(
        ngettext(
            "“%(name)s” is deleted; %(num)d planned text is taken back.",
            "“%(name)s” is deleted; %(num)d planned texts are taken back.",
            withdrawn,
            name=found.name,
        ),
        "success",
    )
    return redirect(url_for("dashboard.group_campaigns", group_id=group.id))


@bp.post("/groups/<int:group_id>/campaigns/wording-check")
def wording_check(group_id: int) -> str:
    """The live count under a wording box: characters, segments, encoding, and refusals."""
    group = login.my_group(group_id)
    language = request.form.get("language", "en")
    language = language if language in LANGUAGES else "en"
    kind = request.form.get("kind", "reminder")
    pool = kind == CampaignKind.ENCOURAGEMENT.value
    text = request.form.get(f"{'pool' if pool else 'wording'}_{language}", "")
    # The group's own topic words, and any the coordinator adds on the form.
    topic_words = [*group.topic_words, *split_topic_words(request.form.get("topic_words", ""))]
    checks: list[tuple[str, Any, str | None]] = []  # (label, Checked or None, refusal)
    texts = [line for line in text.splitlines() if line.strip()] if pool else [text]
    for number, line in enumerate(texts, start=1):
        label = str(_("Line %(num)d", num=number)) if pool else ""
        if not line.strip():
            continue
        try:
            checked = check_template(line, meeting=kind == "reminder", language=language)
        except WordingError as error:
            checks.append((label, None, translated(error)))
        else:
            checks.append((label, checked, None))
    warnings = discretion_warnings(text, internal_name=group.name, topic_words=topic_words)
    return render_template(
        "dashboard/campaigns/_check.html",
        checks=checks,
        warnings=warnings,
        empty=not text.strip(),
        code=lambda ch: f"{ord(ch):04X}",
    )
