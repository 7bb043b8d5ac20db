"""A group's Meetings page: its schedule in words, the next dates, cancel or move one, and
who answered for the past ones.

The page calls the domain functions the API's meetings routes and `peerline meetings` call,
and shows their warnings word for word.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import abort, flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from service.campaigns.headcount import attendance
from service.campaigns.meeting_warnings import move_warnings, schedule_warnings
from service.campaigns.meetings import (
    MeetingError,
    MeetingView,
    NoMeetings,
    cancel_meeting,
    move_meeting,
    schedule_meetings,
    schedule_of_group,
    upcoming,
)
from service.campaigns.recurrence import place
from service.campaigns.rules import Often, Plan, RuleError, describe, read, rule_of
from service.clock import app_clock
from service.db import get_session
from service.models import Group, MeetingSchedule
from service.web.dashboard import login
from service.web.dashboard.forms import form_status
from service.web.dashboard.meeting_forms import MoveForm, ScheduleForm
from service.web.dashboard.translated import translated
from service.web.dashboard.views import bp

NEXT_DATES = 6  # dates listed under the schedule
LISTED = 10  # upcoming meetings listed with cancel and move
AHEAD_DAYS = 400  # far enough for a monthly rule's next dates
PAST_WEEKS = 8
# The domain's field names, as the schedule form calls them.
_FIELDS = {"rule": "often", "first": "start", "duration_minutes": "duration"}


@dataclass(frozen=True)
class Shown:
    """A meeting as the page lists it: the domain's view and its time in words."""

    meeting: MeetingView
    when: str


def _actor() -> str:
    return f"web:{login.me().email}"


def _when(moment: datetime, timezone: str) -> str:
    """ "Tuesday 8 December 2026 at 6:30 PM" in the group's zone."""
    local = moment.astimezone(ZoneInfo(timezone))
    locale = get_locale() or "en"
    day = format_datetime(local, "EEEE d MMMM y", tzinfo=local.tzinfo, locale=locale)
    clock = format_datetime(local, "h:mm a", tzinfo=local.tzinfo, locale=locale)
    return str(_("%(day)s at %(time)s", day=day, time=clock))


def _schedule_of(group: Group) -> MeetingSchedule | None:
    try:
        return schedule_of_group(get_session(), group)
    except NoMeetings:
        return None


def _page(group: Group, form: ScheduleForm | None = None) -> tuple[str, int]:
    session = get_session()
    now = app_clock()()
    zone = ZoneInfo(group.timezone)
    schedule = _schedule_of(group)
    said, coming, past = None, [], []
    if schedule is not None:
        said = describe(schedule.rrule, schedule.first_start, now.astimezone(zone).date())
        coming = [
            Shown(meeting, _when(meeting.starts_at, group.timezone))
            for meeting in upcoming(session, group, now, AHEAD_DAYS)
        ]
        past = attendance(session, group, now, PAST_WEEKS) or []
    if form is None:
        form = ScheduleForm(formdata=None, obj=_plan_form(schedule))
    return render_template(
        "dashboard/meetings/meetings.html",
        group=group,
        schedule=schedule,
        said=said,
        next_dates=[shown for shown in coming if not shown.meeting.cancelled][:NEXT_DATES],
        listed=coming[:LISTED],
        past=past,
        when=lambda moment: _when(moment, group.timezone),
        past_weeks=PAST_WEEKS,
        form=form,
    ), form_status()


def _plan_form(schedule: MeetingSchedule | None) -> Any:
    """The form's starting values: the schedule's own choices when it can be put in words."""
    plan = None if schedule is None else read(schedule.rrule, schedule.first_start)
    if schedule is None or plan is None:
        return None
    return _Filled(plan, schedule)


class _Filled:
    """The stored schedule as the form's fields name it."""

    def __init__(self, plan: Plan, schedule: MeetingSchedule) -> None:
        self.often = plan.often.value
        self.days = list(plan.days)
        self.weeks = plan.weeks if plan.often is Often.EVERY_N_WEEKS else 2
        self.nth, self.day_of_month = plan.nth, plan.day_of_month
        self.at, self.start, self.until = plan.at, plan.start, plan.until
        self.duration, self.location = schedule.duration_minutes, schedule.location


@bp.get("/meetings")
def meetings_index() -> str:
    """Each of the coordinator's groups with its schedule in words, leading to its page."""
    session = get_session()
    today = app_clock()()
    query = select(Group).order_by(Group.public_name, Group.id)
    visible = login.visible()
    if visible is not None:
        query = query.where(Group.id.in_(visible))
    rows = []
    for group in session.scalars(query):
        schedule = _schedule_of(group)
        local = today.astimezone(ZoneInfo(group.timezone)).date()
        said = None if schedule is None else describe(schedule.rrule, schedule.first_start, local)
        rows.append((group, said))
    return render_template("dashboard/meetings/index.html", rows=rows)


@bp.get("/groups/<int:group_id>/meetings")
def meetings(group_id: int) -> tuple[str, int]:
    return _page(login.my_group(group_id))


@bp.post("/groups/<int:group_id>/meetings/schedule")
def meetings_schedule(group_id: int) -> Response | tuple[str, int]:
    group = login.my_group(group_id)
    form = ScheduleForm()
    if not form.validate():
        return _page(group, form)
    session = get_session()
    now = app_clock()()
    plan = Plan(
        Often(form.often.data),
        form.at.data,
        form.start.data,
        tuple(form.days.data or ()),
        form.weeks.data or 0,
        form.nth.data,
        form.day_of_month.data or 0,
        form.until.data,
    )
    try:
        rule, first = rule_of(plan)
        meeting, _withdrawn = schedule_meetings(
            session,
            group,
            rule=rule,
            first=first,
            duration_minutes=form.duration.data,
            location=form.location.data or None,
            now=now,
            actor=_actor(),
        )
    except (RuleError, MeetingError) as error:
        session.rollback()
        field = getattr(form, _FIELDS.get(str(error.field), str(error.field)), form.often)
        field.errors = [*field.errors, translated(error)]
        return _page(group, form)
    session.commit()
    today = now.astimezone(ZoneInfo(group.timezone)).date()
    flash(_("Saved: the group meets %(said)s.", said=describe(rule, first, today)), "success")
    for warning in schedule_warnings(meeting.rrule, meeting.first_start, group.timezone, now):
        flash(translated(warning), "warning")
    return redirect(url_for("dashboard.meetings", group_id=group.id))


@bp.post("/groups/<int:group_id>/meetings/<key>/cancel")
def meetings_cancel(group_id: int, key: str) -> Response:
    group = login.my_group(group_id)
    session = get_session()
    try:
        cancel_meeting(session, group, key, now=app_clock()(), actor=_actor())
    except MeetingError:
        abort(404)  # no schedule, or no such meeting: the address names nothing
    session.commit()
    flash(_("The meeting is cancelled; its reminders will not go out."), "success")
    return redirect(url_for("dashboard.meetings", group_id=group.id))


@bp.route("/groups/<int:group_id>/meetings/<key>/move", methods=["GET", "POST"])
def meetings_move(group_id: int, key: str) -> Response | tuple[str, int]:
    group = login.my_group(group_id)
    session = get_session()
    now = app_clock()()
    meeting = _one(group, key, now)
    local = meeting.starts_at.astimezone(ZoneInfo(group.timezone))
    form = MoveForm(data={"day": local.date(), "at": local.time(), "location": meeting.location})
    if form.validate_on_submit():
        to = datetime.combine(form.day.data, form.at.data)
        location = form.location.data or None
        try:
            move_meeting(session, group, key, to=to, location=location, now=now, actor=_actor())
        except MeetingError as error:
            session.rollback()
            field = form.at if error.field == "to" else form.location
            field.errors = [*field.errors, translated(error)]
        else:
            session.commit()
            flash(_("The meeting is moved to %(when)s.", when=_when_wall(to, group)), "success")
            for warning in move_warnings(to, group.timezone, now):
                flash(translated(warning), "warning")
            return redirect(url_for("dashboard.meetings", group_id=group.id))
    return render_template(
        "dashboard/meetings/move.html",
        group=group,
        form=form,
        meeting=meeting,
        when=_when(meeting.starts_at, group.timezone),
    ), form_status()


def _when_wall(wall: datetime, group: Group) -> str:
    return _when(place(wall, group.timezone), group.timezone)


def _one(group: Group, key: str, now: datetime) -> MeetingView:
    """The group's upcoming meeting with this key, or 404."""
    try:
        found = upcoming(get_session(), group, now, AHEAD_DAYS)
    except MeetingError:
        abort(404)
    for meeting in found:
        if meeting.key == key:
            return meeting
    abort(404)
