"""The Groups pages: my groups, one group's settings, creating one (admins) and editing one.

Thin shells over create_group and update_group, the same as `peerline groups update` and the
API: the domain checks every value, and its refusal is shown beside the field it names. A
coordinator only ever reaches their own groups (admins: all); any other id answers 404.
"""

from __future__ import annotations

from datetime import time
from typing import Any

from babel import Locale
from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import BooleanField, Field, SelectField, StringField, TelField, TimeField
from wtforms.validators import InputRequired, Length

from service.clock import app_clock
from service.config import Settings
from service.conversation.groups import (
    DEFAULT_QUIET_HOURS,
    Change,
    GroupChanges,
    GroupError,
    active_member_counts,
    create_group,
    parse_quiet_hours,
    shown,
    update_group,
    zone_names,
)
from service.db import get_session
from service.messages.wording import LANGUAGES
from service.models import Coordinator, Group, Role
from service.web.dashboard import login
from service.web.dashboard.forms import form_status
from service.web.dashboard.translated import translated
from service.web.dashboard.views import bp

# Every setting, in the order a group is shown, with what it does in plain words.
SETTINGS = {
    "name": (_l("Internal name"), _l("Only coordinators see it; participants never do.")),
    "public_name": (
        _l("Public name"),
        _l("The only name participants see, in their texts and calls."),
    ),
    "join_code": (
        _l("Join code"),
        _l("What people text to join: 3 to 12 letters or digits. The old code stops working."),
    ),
    "keypad_code": (
        _l("Keypad code"),
        _l("What callers type on their phone's keypad: 4 to 8 digits, not starting with 0."),
    ),
    "timezone": (
        _l("Time zone"),
        _l("Meetings keep their local time in this zone, for example America/Chicago."),
    ),
    "language": (
        _l("Language"),
        _l("For members who join from now on; members already in keep theirs."),
    ),
    "quiet_hours": (
        _l("Quiet hours"),
        _l("No texts or calls between these times, in each person's own time zone."),
    ),
    "on_call_phone": (
        _l("On-call phone"),
        _l("Gets a text when an urgent message (crisis words) arrives."),
    ),
    "voicemail_details": (
        _l("Voicemail details"),
        _l("A voicemail may say the group's public name and where it meets."),
    ),
    "voice_fallback": (
        _l("Landline fallback"),
        _l("A member whose number is a landline gets a call instead of a text."),
    ),
    "texts_between_meetings_to_callers": (
        _l("Texts between meetings to callers"),
        _l("Members who take calls get encouragement and news by text, if they can take texts."),
    ),
}
RUNS_IT = _l("Who runs the group; they see it on their dashboard. An admin can hand it over.")
SWITCHES = ("voicemail_details", "voice_fallback", "texts_between_meetings_to_callers")


def _language_name(code: str) -> str:
    return str(Locale.parse(code).get_display_name(code) or code).capitalize()


class GroupForm(FlaskForm):  # type: ignore[misc]
    """Every setting a group has; the domain checks the values."""

    name = StringField(SETTINGS["name"][0], description=SETTINGS["name"][1])
    public_name = StringField(SETTINGS["public_name"][0], description=SETTINGS["public_name"][1])
    join_code = StringField(
        SETTINGS["join_code"][0],
        description=SETTINGS["join_code"][1],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    keypad_code = StringField(
        SETTINGS["keypad_code"][0],
        description=SETTINGS["keypad_code"][1],
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    timezone = StringField(
        SETTINGS["timezone"][0],
        description=SETTINGS["timezone"][1],
        render_kw={"list": "time-zones", "autocomplete": "off", "spellcheck": "false"},
    )
    language = SelectField(SETTINGS["language"][0], description=SETTINGS["language"][1])
    quiet_start = TimeField(_l("Quiet hours begin"), validators=[InputRequired()])
    quiet_end = TimeField(
        _l("Quiet hours end"),
        validators=[InputRequired()],
        description=SETTINGS["quiet_hours"][1],
    )
    on_call_phone = TelField(
        SETTINGS["on_call_phone"][0],
        validators=[Length(max=40)],
        description=SETTINGS["on_call_phone"][1],
        render_kw={"autocomplete": "off"},
    )
    voicemail_details = BooleanField(
        SETTINGS["voicemail_details"][0], description=SETTINGS["voicemail_details"][1]
    )
    voice_fallback = BooleanField(
        SETTINGS["voice_fallback"][0], description=SETTINGS["voice_fallback"][1]
    )
    texts_between_meetings_to_callers = BooleanField(
        SETTINGS["texts_between_meetings_to_callers"][0],
        description=SETTINGS["texts_between_meetings_to_callers"][1],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.language.choices = [(code, _language_name(code)) for code in LANGUAGES]


class NewGroupForm(GroupForm):
    coordinator = SelectField(
        _l("Coordinator"),
        coerce=int,
        description=_l("Who runs the group; they see it on their dashboard."),
    )


class EditGroupForm(GroupForm):
    no_on_call_phone = BooleanField(
        _l("Remove the on-call phone"),
        description=_l("Urgent messages will then alert nobody by text."),
    )


def _region() -> str:
    settings: Settings = current_app.extensions["peerline.settings"]
    return settings.default_region


def _actor() -> str:
    return f"web:{login.me().email}"


def _is_admin() -> bool:
    return login.me().role is Role.ADMIN


def _quiet_hours(form: GroupForm) -> str:
    start: time = form.quiet_start.data
    end: time = form.quiet_end.data
    return f"{start:%H:%M}-{end:%H:%M}"


def _spec(form: GroupForm, *, keep_blank_phone: bool) -> GroupChanges:
    """The form as the domain takes it; a blank keypad code keeps (or draws) one."""
    phone = (form.on_call_phone.data or "").strip()
    if isinstance(form, EditGroupForm) and form.no_on_call_phone.data:
        on_call: str | None = ""
    elif not phone and keep_blank_phone:
        on_call = None
    else:
        on_call = phone
    return GroupChanges(
        name=form.name.data or "",
        public_name=form.public_name.data or "",
        join_code=form.join_code.data or "",
        keypad_code=(form.keypad_code.data or "").strip() or None,
        timezone=(form.timezone.data or "").strip(),
        language=form.language.data,
        quiet_hours=_quiet_hours(form),
        on_call_phone=on_call,
        voice_fallback=bool(form.voice_fallback.data),
        voicemail_details=bool(form.voicemail_details.data),
        texts_between_meetings_to_callers=bool(form.texts_between_meetings_to_callers.data),
    )


def _refused(form: GroupForm, error: GroupError) -> None:
    """The domain's reason, on the field it names (quiet hours: on their first time)."""
    name = {"quiet_hours": "quiet_start"}.get(error.field or "", error.field or "")
    field: Field | None = getattr(form, name, None) if name else None
    message = translated(error)
    message = message[:1].upper() + message[1:]
    if field is None:
        form.form_errors.append(message)
    else:
        field.errors = [*field.errors, message]


def _said(change: Change) -> str:
    values = {"on": _("on"), "off": _("off"), "(none)": _("none")}
    return str(
        _(
            "%(setting)s: %(before)s → %(after)s",
            setting=SETTINGS[change.field][0],
            before=values.get(change.before, change.before),
            after=values.get(change.after, change.after),
        )
    )


def _page(template: str, form: GroupForm, **extra: Any) -> tuple[str, int]:
    return render_template(template, form=form, zones=zone_names(), **extra), form_status()


@bp.get("/groups", endpoint="groups")
def group_list() -> str:
    session = get_session()
    visible = login.visible()
    query = select(Group).order_by(Group.public_name, Group.id)
    if visible is not None:
        query = query.where(Group.id.in_(list(visible)))
    groups = list(session.scalars(query))
    members = active_member_counts(session, [g.id for g in groups])
    return render_template(
        "dashboard/groups/list.html", groups=groups, members=members, admin=_is_admin()
    )


@bp.get("/groups/<int:group_id>", endpoint="group")
def group_page(group_id: int) -> str:
    group = login.my_group(group_id)
    session = get_session()
    values = shown(group)
    for name in SWITCHES:
        values[name] = _("On") if getattr(group, name) else _("Off")
    values["language"] = _language_name(group.language)
    if not group.on_call_phone:
        values["on_call_phone"] = _("None")
    rows = [(name, *SETTINGS[name], values[name]) for name in SETTINGS]
    runs_it = session.get_one(Coordinator, group.coordinator_id)
    rows.insert(0, ("coordinator", _l("Coordinator"), RUNS_IT, f"{runs_it.name} ({runs_it.email})"))
    return render_template(
        "dashboard/groups/group.html",
        group=group,
        rows=rows,
        members=active_member_counts(session, [group.id]).get(group.id, 0),
    )


@bp.route("/groups/new", methods=["GET", "POST"], endpoint="group_new")
def new_group() -> Response | tuple[str, int]:
    if not _is_admin():
        abort(404)  # only admins create groups, as in the API
    session = get_session()
    coordinators = list(
        session.scalars(
            select(Coordinator).where(Coordinator.disabled.is_(False)).order_by(Coordinator.name)
        )
    )
    start, end = parse_quiet_hours(DEFAULT_QUIET_HOURS)
    form = NewGroupForm(data={"quiet_start": start, "quiet_end": end, "language": "en"})
    form.coordinator.choices = [(c.id, f"{c.name} ({c.email})") for c in coordinators]
    if not form.validate_on_submit():
        return _page("dashboard/groups/new.html", form)
    coordinator = session.get_one(Coordinator, form.coordinator.data)
    try:
        group, _warned = create_group(
            session,
            coordinator,
            _spec(form, keep_blank_phone=False),
            region=_region(),
            now=app_clock()(),
            actor=_actor(),
        )
    except GroupError as error:
        session.rollback()
        _refused(form, error)
        return _page("dashboard/groups/new.html", form)
    session.commit()
    flash(_("The group %(name)s is created.", name=group.public_name), "success")
    return redirect(url_for("dashboard.group", group_id=group.id))


@bp.route("/groups/<int:group_id>/edit", methods=["GET", "POST"], endpoint="group_edit")
def edit_group(group_id: int) -> Response | tuple[str, int]:
    group = login.my_group(group_id)
    session = get_session()
    form = EditGroupForm(
        data={
            "name": group.name,
            "public_name": group.public_name,
            "join_code": group.join_code,
            "keypad_code": group.keypad_code or "",
            "timezone": group.timezone,
            "language": group.language,
            "quiet_start": group.quiet_start,
            "quiet_end": group.quiet_end,
            "on_call_phone": "",  # never shown in full; left blank, it stays as it is
            **{name: getattr(group, name) for name in SWITCHES},
        }
    )
    phone = shown(group)["on_call_phone"] if group.on_call_phone else None  # masked
    extra = {"group": group, "phone": phone}
    if not form.validate_on_submit():
        return _page("dashboard/groups/edit.html", form, **extra)
    try:
        changed, _warned = update_group(
            session,
            group,
            _spec(form, keep_blank_phone=True),
            region=_region(),
            now=app_clock()(),
            actor=_actor(),
        )
    except GroupError as error:
        session.rollback()
        _refused(form, error)
        return _page("dashboard/groups/edit.html", form, **extra)
    session.commit()
    if changed:
        flash(_("Saved. What changed:"), "success")
        for change in changed:
            flash(_said(change), "success")
    else:
        flash(_("Nothing changed."), "info")
    return redirect(url_for("dashboard.group", group_id=group.id))
