"""The People pages: members of a coordinator's groups, a person's page and thread, adding,
removing, erasing, opt-outs a person asked for by phone, and roster import.

Thin shells over the same domain functions as `peerline participants` and /api/v1/participants.
Every id in a URL that is not the coordinator's answers 404; numbers are masked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from service.clock import app_clock
from service.config import Settings
from service.db import get_session
from service.models import (
    Channel,
    ConsentChange,
    ConsentSource,
    ConsentState,
    Group,
    MembershipStatus,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Participant,
)
from service.people import audit, consent
from service.people.erasure import erase_in_groups, erase_participant
from service.people.participants import (
    Details,
    ParticipantError,
    enrol,
    remove_from_group,
    update_details,
)
from service.people.roster import RosterError, parse
from service.people.roster_import import apply_import, plan_import
from service.phones import InvalidPhone, mask, normalize
from service.web.dashboard import login, people_read
from service.web.dashboard.forms import form_status
from service.web.dashboard.people_forms import (
    AddForm,
    ApplyForm,
    DetailsForm,
    NoteForm,
    UploadForm,
)
from service.web.dashboard.translated import translated
from service.web.dashboard.views import bp

ROSTER_SALT = "peerline.dashboard.roster"
ROSTER_MAX_AGE = 60 * 60  # an hour from the dry run to applying it
ROSTER_MAX_BYTES = 16 * 1024 * 1024  # as the API's import takes
ROSTER_PAGES = frozenset({"dashboard.people_import", "dashboard.people_import_apply"})


@bp.url_value_preprocessor
def _larger_rosters(endpoint: str | None, _values: dict[str, Any] | None) -> None:
    # Before the CSRF check reads the form: a roster (or the dry run's page carrying it on) is
    # larger than the app's limit, which is sized for Twilio's webhooks.
    if endpoint in ROSTER_PAGES:
        request.max_content_length = ROSTER_MAX_BYTES
        request.max_form_memory_size = ROSTER_MAX_BYTES


def _actor() -> str:
    return f"web:{login.me().email}"


def _settings() -> Settings:
    settings: Settings = current_app.extensions["peerline.settings"]
    return settings


def _when(moment: datetime, zone: str) -> str:
    """A moment in a zone, with the zone named: "Tue 3 Mar 2026, 12:00 PM (America/New_York)"."""
    local = moment.astimezone(ZoneInfo(zone))
    shown = format_datetime(local, "EEE d MMM y, h:mm a", tzinfo=local.tzinfo, locale=get_locale())
    return f"{shown} ({zone})"


def _status(status: MembershipStatus) -> str:
    return str(
        {
            MembershipStatus.ACTIVE: _("A member"),
            MembershipStatus.PENDING: _("Invited, has not joined yet"),
            MembershipStatus.LEFT: _("Left the group"),
        }[status]
    )


def _consent(state: ConsentState) -> str:
    return str(
        {
            ConsentState.GRANTED: _("Said yes to messages"),
            ConsentState.UNKNOWN: _("Has not said yes yet"),
            ConsentState.REVOKED: _("Opted out: gets no messages"),
        }[state]
    )


def _channel(channel: Channel) -> str:
    return str(_("Texts") if channel is Channel.SMS else _("Phone calls"))


def _kind(message: OutboxMessage) -> str:
    call = message.channel is Channel.VOICE
    words = {
        OutboxKind.REMINDER: (_("Reminder"), _("Reminder call")),
        OutboxKind.ENCOURAGEMENT: (_("Encouragement"), _("Encouragement call")),
        OutboxKind.BROADCAST: (_("Announcement"), _("Announcement call")),
        OutboxKind.ONE_OFF: (_("Reply from a coordinator"), _("Call from a coordinator")),
        OutboxKind.REPLY: (_("Automatic answer"), _("Automatic answer")),
        OutboxKind.INVITATION: (_("Invitation to join"), _("Invitation call")),
        OutboxKind.ALERT: (_("Alert"), _("Alert call")),
    }[message.kind]
    return str(words[1] if call else words[0])


def _delivery(message: OutboxMessage) -> str:
    call = message.channel is Channel.VOICE
    if call and message.state in (OutboxState.DELIVERED, OutboxState.SENT):
        if message.voicemail_left:
            return str(_("Call answered by voicemail; a message was left"))
        if message.answered_by == "human":
            return str(_("Call answered"))
    if message.state is OutboxState.SUPPRESSED:
        held = {
            "opted out": _("Held back: they opted out"),
            "Twilio said the number is not valid": _("Held back: the number is not valid"),
            "the number cannot take texts": _("Held back: the number cannot take texts"),
            "no consent yet": _("Held back: they had not said yes yet"),
            "encouragement paused": _("Held back: they paused encouragement"),
            "not an active member": _("Held back: they were not a member then"),
        }
        return str(held.get(message.state_reason or "", _("Held back")))
    if message.state is OutboxState.CANCELED and message.state_reason == "removed from the group":
        return str(_("Withdrawn: they were taken out of the group"))
    return str(
        {
            OutboxState.QUEUED: _("Waiting to go out"),
            OutboxState.SENDING: _("Going out now"),
            OutboxState.SENT: _("Sent; no delivery report yet"),
            OutboxState.DELIVERED: _("Delivered"),
            OutboxState.UNDELIVERED: _("Could not be delivered"),
            OutboxState.FAILED: _("Failed to send"),
            OutboxState.SUPPRESSED: _("Held back: they opted out"),
            OutboxState.EXPIRED: _("Not sent: it could no longer arrive in time"),
            OutboxState.CANCELED: _("Withdrawn before it went out"),
            OutboxState.UNKNOWN: _("Not known whether it went out"),
            OutboxState.RECONCILED: _("Sent (confirmed later)"),
        }[message.state]
    )


def _change(change: ConsentChange, source: ConsentSource) -> str:
    said = change is ConsentChange.OPT_IN
    return str(
        {
            ConsentSource.KEYWORD: _("Said yes by text") if said else _("Opted out by text"),
            ConsentSource.KEYPAD: _("Said yes on a call") if said else _("Opted out on a call"),
            ConsentSource.COORDINATOR: (
                _("A coordinator recorded their consent")
                if said
                else _("A coordinator recorded their opt-out")
            ),
            ConsentSource.PROVIDER_ERROR: (
                _("The phone company reported the number reachable again")
                if said
                else _("The phone company reported the number blocked or gone")
            ),
            ConsentSource.IMPORT: _("Consent recorded with a roster") if said else _("Opted out"),
        }[source]
    )


WORDS = {
    "when": _when,
    "status_words": _status,
    "consent_words": _consent,
    "channel_words": _channel,
    "kind_words": _kind,
    "delivery_words": _delivery,
    "change_words": _change,
    "mask": mask,
}


def _render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(f"dashboard/people/{template}", **WORDS, **context), status


@bp.get("/people", endpoint="people")
def people_list() -> tuple[str, int]:
    groups = login.my_groups()
    group_id = request.args.get("group", type=int)
    if group_id is not None:
        login.my_group(group_id)
    search = request.args.get("q", "")[:100]
    page = people_read.members(
        get_session(),
        login.visible(),
        group_id=group_id,
        search=search,
        page=request.args.get("page", 1, type=int),
    )
    return _render(
        "list.html",
        groups=groups,
        group_id=group_id,
        search=search,
        page=page,
        consent_here=people_read.consent_here,
    )


@bp.route("/people/add", methods=["GET", "POST"], endpoint="people_add")
def people_add() -> Response | tuple[str, int]:
    groups = login.my_groups()
    form = AddForm()
    form.group.choices = [(g.id, g.public_name) for g in groups]
    if request.method == "GET":
        chosen = request.args.get("group", type=int)
        first = next((g for g in groups if g.id == chosen), groups[0] if groups else None)
        if first is not None:
            form.group.data = first.id
            form.timezone.data = form.timezone.data or first.timezone
            form.language.data = first.language
    if form.validate_on_submit():
        group = login.my_group(form.group.data)
        session = get_session()
        try:
            phone = normalize(form.phone.data, _settings().default_region)
        except InvalidPhone as error:
            form.phone.errors = [translated(error)]
            return _render("add.html", 422, form=form)
        try:
            enrolled = enrol(
                session,
                group,
                phone,
                Details(
                    name=form.name.data or None,
                    language=form.language.data,
                    timezone=form.timezone.data.strip(),
                    channel=Channel(form.channel.data),
                ),
                consent_note=(form.consent_note.data or "").strip() or None,
                secret_key=_settings().secret_key,
                wording=current_app.extensions["peerline.wording"],
                now=app_clock()(),
                actor=_actor(),
            )
        except ParticipantError as error:
            session.rollback()
            field = getattr(form, error.field or "phone", form.phone)
            field.errors = [translated(error)]
            return _render("add.html", 422, form=form)
        session.commit()
        person = enrolled.participant
        if enrolled.opted_out:
            flash(
                _(
                    "%(phone)s had opted out: added as not joined yet. Only they can opt back in, "
                    "by texting START.",
                    phone=mask(person.phone),
                ),
                "info",
            )
        elif enrolled.invitation is not None:
            flash(
                _("%(phone)s is invited by text to reply YES.", phone=mask(person.phone)), "success"
            )
        else:
            flash(_("%(phone)s is a member.", phone=mask(person.phone)), "success")
        return redirect(url_for("dashboard.person", group_id=group.id, participant_id=person.id))
    return _render("add.html", form_status(), form=form)


def _person(group_id: int, participant_id: int) -> tuple[Group, Participant, Any]:
    group = login.my_group(group_id)
    member = people_read.membership(get_session(), login.visible(), group_id, participant_id)
    if member is None:
        abort(404)
    return group, member.participant, member


def _person_page(
    group_id: int,
    participant_id: int,
    *,
    details: DetailsForm | None = None,
    note: NoteForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    session = get_session()
    group, person, member = _person(group_id, participant_id)
    if details is None:
        details = DetailsForm(
            formdata=None,
            name=member.name,
            language=member.language,
            timezone=member.timezone,
            channel=member.channel.value,
        )
    undoable = consent.opted_out_by_coordinator(session, person, [group.id]) is not None
    return _render(
        "person.html",
        status,
        group=group,
        person=person,
        member=member,
        state=people_read.consent_here(person, member),
        undoable=undoable,
        details=details,
        note=note or NoteForm(formdata=None),
        history=people_read.history(session, person, group.id),
        thread=people_read.thread(session, person.id, group.id),
    )


@bp.get("/groups/<int:group_id>/people/<int:participant_id>", endpoint="person")
def person_page(group_id: int, participant_id: int) -> tuple[str, int]:
    return _person_page(group_id, participant_id)


@bp.post("/groups/<int:group_id>/people/<int:participant_id>", endpoint="person_save")
def person_save(group_id: int, participant_id: int) -> Response | tuple[str, int]:
    group, person, _member = _person(group_id, participant_id)
    form = DetailsForm()
    if not form.validate():
        return _person_page(group_id, participant_id, details=form, status=422)
    session = get_session()
    try:
        changed = update_details(
            session,
            person,
            Details(
                name=form.name.data or "",
                language=form.language.data,
                timezone=form.timezone.data.strip(),
                channel=Channel(form.channel.data),
            ),
            groups={group.id},
            now=app_clock()(),
            actor=_actor(),
        )
    except ParticipantError as error:
        session.rollback()
        getattr(form, error.field or "name", form.name).errors = [translated(error)]
        return _person_page(group_id, participant_id, details=form, status=422)
    session.commit()
    flash(_("Saved.") if changed else _("Nothing had changed."), "success")
    return redirect(url_for("dashboard.person", group_id=group_id, participant_id=participant_id))


@bp.post("/groups/<int:group_id>/people/<int:participant_id>/remove", endpoint="person_remove")
def person_remove(group_id: int, participant_id: int) -> Response:
    _grp, person, member = _person(group_id, participant_id)
    session = get_session()
    if member.status is not MembershipStatus.LEFT:
        remove_from_group(session, member, now=app_clock()(), actor=_actor())
        session.commit()
    flash(_("%(phone)s has left the group.", phone=mask(person.phone)), "success")
    return redirect(url_for("dashboard.person", group_id=group_id, participant_id=participant_id))


@bp.route(
    "/groups/<int:group_id>/people/<int:participant_id>/erase",
    methods=["GET", "POST"],
    endpoint="person_erase",
)
def person_erase(group_id: int, participant_id: int) -> Response | tuple[str, int]:
    group, person, member = _person(group_id, participant_id)
    if request.method == "GET":
        return _render("erase.html", group=group, person=person, member=member)
    session = get_session()
    visible = login.visible()
    now = app_clock()()
    audit.record(
        session,
        actor=_actor(),
        action="participant.erase",
        now=now,
        target_type="participant",
        target_id=person.id,
    )
    shown = mask(person.phone)
    if visible is None:
        erase_participant(session, person, now)
    else:
        erase_in_groups(session, person, visible, now)
    session.commit()
    flash(_("%(phone)s is erased from your groups.", phone=shown), "success")
    return redirect(url_for("dashboard.people", group=group.id))


@bp.post("/groups/<int:group_id>/people/<int:participant_id>/opt-out", endpoint="person_opt_out")
def person_opt_out(group_id: int, participant_id: int) -> Response | tuple[str, int]:
    group, person, _member = _person(group_id, participant_id)
    form = NoteForm()
    if not form.validate():
        return _person_page(group_id, participant_id, note=form, status=422)
    session = get_session()
    try:
        changed = consent.record_opt_out(
            session, person, group_id=group.id, note=form.note.data, now=app_clock()()
        )
    except consent.ConsentError as error:
        session.rollback()
        form.note.errors = [translated(error)]
        return _person_page(group_id, participant_id, note=form, status=422)
    if changed:
        audit.record(
            session,
            actor=_actor(),
            action="participant.opt_out",
            now=app_clock()(),
            target_type="participant",
            target_id=person.id,
            group=group.join_code,
        )
    session.commit()
    flash(_("Their opt-out is recorded: nothing more goes out to them."), "success")
    return redirect(url_for("dashboard.person", group_id=group_id, participant_id=participant_id))


@bp.post(
    "/groups/<int:group_id>/people/<int:participant_id>/undo-opt-out",
    endpoint="person_undo_opt_out",
)
def person_undo_opt_out(group_id: int, participant_id: int) -> Response | tuple[str, int]:
    group, person, _member = _person(group_id, participant_id)
    form = NoteForm()
    if not form.validate():
        return _person_page(group_id, participant_id, note=form, status=422)
    session = get_session()
    try:
        consent.undo_opt_out(
            session, person, groups=[group.id], note=form.note.data, now=app_clock()()
        )
    except consent.ConsentError as error:
        session.rollback()
        flash(translated(error), "error")
        return redirect(
            url_for("dashboard.person", group_id=group_id, participant_id=participant_id)
        )
    audit.record(
        session,
        actor=_actor(),
        action="participant.undo_opt_out",
        now=app_clock()(),
        target_type="participant",
        target_id=person.id,
    )
    session.commit()
    flash(_("The opt-out is undone."), "success")
    return redirect(url_for("dashboard.person", group_id=group_id, participant_id=participant_id))


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_settings().secret_key, salt=ROSTER_SALT)


def _read_roster(group: Group, text: str) -> Any:
    return parse(
        text,
        default_region=_settings().default_region,
        default_timezone=group.timezone,
        default_language=group.language,
    )


@bp.route("/people/import", methods=["GET", "POST"], endpoint="people_import")
def people_import() -> tuple[str, int]:
    groups = login.my_groups()
    form = UploadForm()
    form.group.choices = [(g.id, g.public_name) for g in groups]
    if request.method == "GET":
        form.group.data = request.args.get("group", type=int)
        return _render("import.html", form=form)
    if not form.validate_on_submit():
        return _render("import.html", 422, form=form)
    group = login.my_group(form.group.data)
    try:
        # The file lives only in this request; the dry run's page carries it on, signed.
        text = form.roster.data.read().decode("utf-8-sig")
        parsed = _read_roster(group, text)
    except UnicodeDecodeError:
        form.roster.errors = [_("The file is not UTF-8 text: save it as CSV UTF-8.")]
        return _render("import.html", 422, form=form)
    except RosterError as error:
        form.roster.errors = [_("The file is not a roster: %(why)s.", why=translated(error))]
        return _render("import.html", 422, form=form)
    session = get_session()
    note = " ".join((form.consent_note.data or "").split()) or None
    plan = plan_import(
        session,
        group,
        parsed,
        consent_note=note,
        hash_key=_settings().secret_key,
        now=app_clock()(),
    )
    session.rollback()  # a dry run writes nothing
    carried = _serializer().dumps({"group": group.id, "note": note, "csv": text})
    return _render(
        "import_check.html",
        group=group,
        parsed=parsed,
        counts=plan.expected().counts(),
        note=note,
        apply=ApplyForm(formdata=None, roster=carried),
    )


@bp.post("/people/import/apply", endpoint="people_import_apply")
def people_import_apply() -> Response | tuple[str, int]:
    form = ApplyForm()
    try:
        carried = _serializer().loads(form.roster.data or "", max_age=ROSTER_MAX_AGE)
    except BadSignature:
        flash(_("That check has expired: upload the file again."), "error")
        return redirect(url_for("dashboard.people_import"))
    group = login.my_group(int(carried["group"]))
    parsed = _read_roster(group, carried["csv"])
    if parsed.problems and not form.skip_bad_rows.data:
        flash(
            _(
                "Nothing was imported: the file has bad rows. Tick the box to skip them, or fix "
                "the file and upload it again."
            ),
            "error",
        )
        return redirect(url_for("dashboard.people_import", group=group.id))
    session = get_session()
    now = app_clock()()
    plan = plan_import(
        session,
        group,
        parsed,
        consent_note=carried["note"],
        hash_key=_settings().secret_key,
        now=now,
    )
    try:
        result = apply_import(
            session, plan, wording=current_app.extensions["peerline.wording"], now=now
        )
        audit.record(
            session,
            actor=_actor(),
            action="participants.import",
            now=now,
            target_type="group",
            target_id=group.id,
            rows=parsed.rows_read,
            bad_rows_skipped=len(parsed.problems),
            **result.counts(),
        )
        session.commit()
    except IntegrityError:
        session.rollback()
        flash(_("Someone added some of these numbers meanwhile; nothing was imported."), "error")
        return redirect(url_for("dashboard.people_import", group=group.id))
    counts = result.counts()
    flash(
        _(
            "Imported: %(added)d added, %(invited)d invited to reply YES, %(members)d already "
            "members, %(kept)d kept opted out.",
            added=counts["added"],
            invited=counts["invited"],
            members=counts["already_members"],
            kept=counts["kept_opted_out"],
        ),
        "success",
    )
    return redirect(url_for("dashboard.people", group=group.id))
