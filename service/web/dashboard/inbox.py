"""The dashboard's Inbox: the replies that wait for a human in the coordinator's groups, one
message with the person's recent thread, a reply by text, and marking it handled.

The pages call the same functions as `peerline inbox` and /api/v1/inbox
(service.conversation.inbox); numbers are masked and names are the group's own for the person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from service.campaigns.wording import WordingError, check_template
from service.clock import app_clock
from service.conversation import inbox
from service.db import get_session
from service.messages.segments import count_segments
from service.models import Coordinator, Group, InboundMessage, Participant
from service.people import audit
from service.people.accounts import AccountError, set_daily_text
from service.people.participants import name_in, names_in
from service.phones import mask
from service.web.dashboard import login
from service.web.dashboard.forms import DailyTextForm, ReplyForm
from service.web.dashboard.translated import translated
from service.web.dashboard.views import bp

PAGE_SIZE = 50


def local_time(moment: datetime, zone: str) -> str:
    """A moment in a zone, with the zone named: "Tue 1 Dec 2026, 6:30 PM (America/Chicago)"."""
    local = moment.astimezone(ZoneInfo(zone))
    shown = format_datetime(
        local, "EEE d MMM y, h:mm a", tzinfo=local.tzinfo, locale=str(get_locale() or "en")
    )
    return f"{shown} ({zone})"


def one_group(groups: list[Group], group_id: str | None) -> Group | None:
    """The group a filter names, if it is one of the coordinator's; another's is a 404."""
    if not group_id:
        return None
    found = next((g for g in groups if str(g.id) == group_id), None)
    if found is None:
        abort(404)
    return found


def page_number() -> int:
    number = request.args.get("page", "1")
    return int(number) if number.isdigit() and 0 < int(number) < 100_000 else 1


def state_words() -> dict[inbox.InboxState, str]:
    return {
        inbox.InboxState.URGENT: _("Urgent"),
        inbox.InboxState.UNREAD: _("Unread"),
        inbox.InboxState.READ: _("Read"),
        inbox.InboxState.REPLIED: _("Replied"),
        inbox.InboxState.HANDLED: _("Handled"),
    }


@dataclass(frozen=True)
class Row:
    message: InboundMessage
    state: inbox.InboxState
    who: str
    group: Group | None
    when: str


def _rows(messages: list[InboundMessage]) -> list[Row]:
    session = get_session()
    groups = {
        g.id: g
        for g in session.scalars(
            select(Group).where(Group.id.in_({m.group_id for m in messages if m.group_id}))
        )
    }
    people = {
        p.id: p
        for p in session.scalars(
            select(Participant).where(
                Participant.id.in_({m.participant_id for m in messages if m.participant_id})
            )
        )
    }
    known_as = names_in(session, set(groups))
    states = inbox.states_of(session, messages)
    rows = []
    for m in messages:
        group = groups.get(m.group_id) if m.group_id is not None else None
        person = people.get(m.participant_id) if m.participant_id is not None else None
        phone = person.phone if person else m.from_phone
        number = mask(phone) if phone else _("(erased)")
        name = known_as.get((person.id, m.group_id or 0)) if person else None
        rows.append(
            Row(
                message=m,
                state=states[m.id],
                who=f"{name} {number}" if name else number,
                group=group,
                when=local_time(m.received_at, group.timezone if group else "UTC"),
            )
        )
    return rows


@bp.get("/inbox")
def inbox_page() -> str:
    coordinator = login.me()
    form = DailyTextForm(on=coordinator.daily_text)
    return _inbox_page(form)


def _inbox_page(form: DailyTextForm) -> str:
    session = get_session()
    groups = login.my_groups()
    group = one_group(groups, request.args.get("group"))
    chosen = request.args.get("state", "")
    state = next((s for s in inbox.InboxState if s.value == chosen), None)
    visible = login.visible()
    ids = {group.id} if group is not None else visible
    query = inbox.listing(ids, state)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    page = page_number()
    found = list(session.scalars(query.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)))
    coordinator: Coordinator = login.me()
    return render_template(
        "dashboard/inbox/list.html",
        daily=form,
        phone=mask(coordinator.phone) if coordinator.phone else None,
        rows=_rows(found),
        groups=groups,
        group=group,
        state=state,
        states=state_words(),
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        coordinator=coordinator,
    )


@bp.post("/inbox/daily-text")
def inbox_daily_text() -> Response | tuple[str, int]:
    """Turn the coordinator's daily text about waiting replies on or off."""
    session = get_session()
    coordinator = login.me()
    form = DailyTextForm()
    if form.validate_on_submit():
        try:
            set_daily_text(coordinator, on=form.on.data, phone=form.phone.data)
        except AccountError as error:
            session.rollback()
            form.phone.errors = [translated(error).capitalize() + "."]
        else:
            audit.record(
                session,
                actor=f"web:{coordinator.email}",
                action="coordinator.daily_text",
                now=app_clock()(),
                target_type="coordinator",
                target_id=coordinator.id,
            )
            session.commit()
            if coordinator.daily_text:
                flash(_("You will get a daily text when replies are waiting."), "success")
            else:
                flash(_("No daily text any more."), "success")
            return redirect(url_for("dashboard.inbox_page"))
    return _inbox_page(form), 422


def _message(message_id: int) -> InboundMessage:
    """One of the coordinator's messages; another's (or a stranger's, for all but an admin)
    is a 404."""
    session = get_session()
    message = session.get(InboundMessage, message_id)
    visible = login.visible()
    if message is None or (visible is not None and message.group_id not in visible):
        abort(404)
    return message


def _audited(action: str, message: InboundMessage) -> None:
    coordinator = login.me()
    audit.record(
        get_session(),
        actor=f"web:{coordinator.email}",
        action=action,
        now=app_clock()(),
        target_type="inboundmessage",
        target_id=message.id,
    )


def _message_page(message: InboundMessage, form: ReplyForm, refused: str | None = None) -> str:
    session = get_session()
    [row] = _rows([message])
    zone = row.group.timezone if row.group else "UTC"
    thread = [(said, local_time(said.at, zone)) for said in inbox.recent_thread(session, message)]
    person = session.get(Participant, message.participant_id) if message.participant_id else None
    if form.answered.data is None:
        form.answered.data = inbox.answers(session, message)
    return render_template(
        "dashboard/inbox/message.html",
        row=row,
        states=state_words(),
        thread=thread,
        person=person,
        known_as=name_in(session, person.id, message.group_id) if person else None,
        maybe_stop=inbox.may_ask_to_stop(message),
        form=form,
        refused=refused,
    )


@bp.get("/inbox/<int:message_id>")
def inbox_message(message_id: int) -> str:
    session = get_session()
    message = _message(message_id)
    if not message.read:
        inbox.mark_read(message)
        _audited("inbox.read", message)
        session.commit()
    return _message_page(message, ReplyForm())


@bp.post("/inbox/<int:message_id>/reply")
def inbox_reply(message_id: int) -> Response | tuple[str, int] | str:
    session = get_session()
    message = _message(message_id)
    form = ReplyForm()
    if not form.validate_on_submit():
        return _message_page(message, form), 422
    try:
        row = inbox.reply(
            session, message, form.text.data, app_clock()(), answered_before=form.answered.data
        )
    except WordingError as error:
        session.rollback()
        form.text.errors = [translated(error)]
        return _message_page(message, form), 422
    except inbox.InboxError as error:
        session.rollback()
        return _message_page(message, form, refused=translated(error)), 409
    _audited("inbox.reply", message)
    session.commit()
    flash(
        _("Your reply is on its way: %(cost)s", cost=count_segments(row.body or "").summary()),
        "success",
    )
    return redirect(url_for("dashboard.inbox_message", message_id=message.id))


@bp.post("/inbox/<int:message_id>/count")
def inbox_count(message_id: int) -> str:
    """The reply's cost as it is typed (an htmx fragment), checked as a sent reply is."""
    _message(message_id)
    text = request.form.get("text", "")
    if not text.strip():
        return render_template("dashboard/inbox/_count.html", summary=None, problem=None)
    try:
        checked = check_template(text, meeting=False)
    except WordingError as error:
        return render_template(
            "dashboard/inbox/_count.html", summary=None, problem=translated(error)
        )
    return render_template("dashboard/inbox/_count.html", summary=checked.summary, problem=None)


@bp.post("/inbox/<int:message_id>/handled")
def inbox_handled(message_id: int) -> Response:
    session = get_session()
    message = _message(message_id)
    if message.handled_at is None:
        inbox.mark_handled(message, app_clock()())
        _audited("inbox.handled", message)
        session.commit()
    flash(_("The message is marked handled."), "success")
    return redirect(url_for("dashboard.inbox_page"))
