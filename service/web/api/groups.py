"""Groups: what a coordinator runs."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from flask import current_app
from flask.views import MethodView
from flask_smorest import Page, abort
from flask_smorest.pagination import PaginationParameters
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select

from service.campaigns.headcount import Headcount, PastMeeting, attendance, headcounts
from service.campaigns.quiet import MAX_WEEKS, QuietMember, gone_quiet
from service.campaigns.stats import DayStats, GroupStats, daily_stats, group_stats
from service.clock import app_clock
from service.config import Settings
from service.conversation.groups import (
    MAX_NAME,
    MAX_PUBLIC_NAME,
    MAX_TOPIC_WORD,
    MAX_TOPIC_WORDS,
    CodeTaken,
    GroupChanges,
    GroupError,
    active_member_counts,
    create_group,
    update_group,
    warnings,
)
from service.db import get_session
from service.messages.wording import LANGUAGES
from service.models import Coordinator, Group, Role
from service.people.accounts import AccountError, find_coordinator
from service.phones import mask
from service.web.api.auth import (
    Input,
    actor,
    api_blueprint,
    attributes,
    caller,
    id_field,
    mine,
    my_group,
    page_of,
    refuse,
)

blp = api_blueprint("groups", "Groups the caller coordinates (all of them, for an admin).")


class GroupSchema(Schema):
    id = fields.Integer(dump_only=True)
    join_code = fields.String(metadata={"description": "What participants text to join."})
    keypad_code = fields.String(allow_none=True, metadata={"description": "What callers type."})
    name = fields.String(metadata={"description": "Internal: coordinators only."})
    public_name = fields.String(metadata={"description": "The only name participants see."})
    timezone = fields.String()
    language = fields.String()
    quiet_start = fields.Time()
    quiet_end = fields.Time()
    voice_fallback = fields.Boolean(
        metadata={"description": "Call, instead of text, a member whose number is a landline."}
    )
    voicemail_details = fields.Boolean(
        metadata={"description": "A voicemail may say the public name and the meeting place."}
    )
    quiet_hours = fields.String(
        metadata={"description": "quiet_start-quiet_end, e.g. 21:00-08:00."}
    )
    on_call_phone = fields.String(
        allow_none=True,
        metadata={"description": "Texted when an urgent message (crisis words) arrives."},
    )
    coordinator_id = fields.Integer()
    texts_between_meetings_to_callers = fields.Boolean(
        metadata={
            "description": "Encouragement and broadcasts go by text to members who take calls, "
            "when their number takes texts (a landline is always called)."
        }
    )
    topic_words = fields.List(
        fields.String(),
        metadata={"description": "Internal: words a lock screen should not show."},
    )
    active_members = fields.Integer(dump_only=True)
    warnings = fields.List(
        fields.String(),
        metadata={"description": "e.g. no on-call phone: urgent messages alert nobody by text."},
    )


def _with_counts(groups: list[Group]) -> list[dict[str, Any]]:
    counts = active_member_counts(get_session(), [g.id for g in groups])
    dumped = []
    for group in groups:
        row = attributes(group, GroupSchema)
        row["active_members"] = counts.get(group.id, 0)
        row["quiet_hours"] = f"{group.quiet_start:%H:%M}-{group.quiet_end:%H:%M}"
        row["warnings"] = warnings(group)
        dumped.append(row)
    return dumped


class GroupChangesSchema(Input):
    """A group's settings; in a PATCH, only those given change.

    Codes, zone, quiet hours and number are checked by the domain, as on the command line.
    """

    name = fields.String(
        validate=validate.Length(min=1, max=MAX_NAME),
        metadata={"description": "Internal: coordinators only."},
    )
    public_name = fields.String(
        validate=validate.Length(min=1, max=MAX_PUBLIC_NAME),
        metadata={"description": "The only name participants see."},
    )
    join_code = fields.String(
        metadata={
            "description": "What participants text to join: 3-12 letters or digits, not a word "
            "such as STOP or HELP; kept upper-case. The old code no longer joins.",
            "example": "CIRCLE",
        },
    )
    keypad_code = fields.String(
        metadata={
            "description": "What callers type: 4-8 digits, not 0 first.",
            "example": "482913",
        },
    )
    timezone = fields.String(
        metadata={
            "description": "An IANA time zone; meetings keep their wall-clock time there, and "
            "planned reminders move with them.",
            "example": "America/Chicago",
        },
    )
    language = fields.String(
        validate=validate.OneOf(LANGUAGES),
        metadata={"description": "For members who join from now on; members in keep theirs."},
    )
    quiet_hours = fields.String(
        metadata={
            "description": "No texts or calls then, where each participant lives: HH:MM-HH:MM.",
            "example": "21:00-08:00",
        },
    )
    on_call_phone = fields.String(
        allow_none=True,
        metadata={
            "description": "Texted when an urgent message (crisis words) arrives; null for none.",
            "example": "+12025550100",
        },
    )
    voice_fallback = fields.Boolean(
        metadata={"description": "Call, instead of text, a member whose number is a landline."}
    )
    voicemail_details = fields.Boolean(
        metadata={"description": "A voicemail may say the public name and the meeting place."}
    )
    texts_between_meetings_to_callers = fields.Boolean(
        metadata={
            "description": "Encouragement and broadcasts go by text to members who take calls, "
            "when their number takes texts (a landline is always called)."
        }
    )
    topic_words = fields.List(
        fields.String(validate=validate.Length(min=1, max=MAX_TOPIC_WORD)),
        validate=validate.Length(max=MAX_TOPIC_WORDS),
        metadata={
            "description": "Internal: words a lock screen should not show, e.g. what the group "
            "is about; campaign wording with one (or with the internal name) is warned of. "
            "[] for none.",
            "example": ["grief", "bereavement"],
        },
    )


class NewGroupSchema(GroupChangesSchema):
    """A group an admin creates for a coordinator, named by id or by email."""

    coordinator_id = id_field()
    coordinator_email = fields.String(validate=validate.Length(min=1, max=254))

    def on_bind_field(self, field_name: str, field_obj: fields.Field[Any]) -> None:
        # Required here, optional in a PATCH.
        if field_name in ("name", "public_name", "join_code", "timezone"):
            field_obj.required = True

    @validates_schema
    def _coordinator(self, data: dict[str, Any], **_: Any) -> None:
        if ("coordinator_id" in data) == ("coordinator_email" in data):
            raise ValidationError(
                "give the coordinator's id or email (one of them)", "coordinator_id"
            )


class GroupChangedSchema(GroupSchema):
    changed = fields.List(
        fields.String(),
        metadata={"description": "What changed, e.g. 'time zone: America/New_York -> ...'."},
    )


def _changes(body: dict[str, Any]) -> GroupChanges:
    given = dict(body)
    given.pop("coordinator_id", None)
    given.pop("coordinator_email", None)
    if "on_call_phone" in given and given["on_call_phone"] is None:
        given["on_call_phone"] = ""  # null: no on-call phone
    return GroupChanges(**given)


def _region() -> str:
    settings: Settings = current_app.extensions["peerline.settings"]
    return settings.default_region


def _refused(error: GroupError) -> NoReturn:
    """409 for a code another group has (which group is not said), 422 for anything else."""
    status = 409 if isinstance(error, CodeTaken) else 422
    refuse(status, f"{str(error).rstrip('.')}.", error.field)


def _admins_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse anyone but an admin before the body is read."""

    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if caller().role is not Role.ADMIN:
            abort(
                403,
                message="Only an admin may create a group; a coordinator asks an admin for one.",
            )
        return view(*args, **kwargs)

    return checked


def _coordinator(body: dict[str, Any]) -> Coordinator:
    session = get_session()
    if "coordinator_id" in body:
        found = session.get(Coordinator, body["coordinator_id"])
        if found is None:
            refuse(422, f"No coordinator has the id {body['coordinator_id']}.", "coordinator_id")
        return found
    try:
        return find_coordinator(session, body["coordinator_email"])
    except AccountError as error:
        refuse(422, f"{str(error).split(';')[0]}.", "coordinator_email")


@blp.route("")
class Groups(MethodView):
    @blp.response(200, GroupSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters: PaginationParameters) -> list[dict[str, Any]]:
        """The caller's groups, by join code."""
        query = mine(select(Group), Group.id).order_by(Group.join_code, Group.id)
        return _with_counts(list(page_of(query, pagination_parameters)))

    @_admins_only
    @blp.arguments(NewGroupSchema)
    @blp.response(201, GroupSchema)
    @blp.alt_response(403, description="The caller is not an admin.")
    @blp.alt_response(409, description="The join code or keypad code is taken.")
    @blp.alt_response(422, description="A bad code, time zone, number or quiet hours.")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a group for a coordinator (admins only); a keypad code is drawn if not given.

        `warnings` says what to fix, e.g. a group without an on-call phone, whose urgent
        messages alert nobody by text.
        """
        session = get_session()
        coordinator = _coordinator(body)
        try:
            group, _ = create_group(
                session,
                coordinator,
                _changes(body),
                region=_region(),
                now=app_clock()(),
                actor=actor(),
            )
        except GroupError as error:
            _refused(error)
        session.commit()
        return _with_counts([group])[0]


@blp.route("/<id:group_id>")
class OneGroup(MethodView):
    @blp.response(200, GroupSchema)
    def get(self, group_id: int) -> dict[str, Any]:
        """One group; another coordinator's group is not found."""
        return _with_counts([my_group(group_id)])[0]

    @blp.arguments(GroupChangesSchema)
    @blp.response(200, GroupChangedSchema)
    @blp.alt_response(409, description="The join code or keypad code is taken.")
    @blp.alt_response(422, description="A bad code, time zone, number or quiet hours.")
    def patch(self, body: dict[str, Any], group_id: int) -> dict[str, Any]:
        """Correct a group: only the fields given change, all or none.

        A new time zone or new quiet hours move the texts and calls not yet sent; after a new
        join code the old one no longer joins; a new language is for members who join from now
        on. `warnings` says what to fix (no on-call phone: urgent messages alert nobody).
        """
        session = get_session()
        group = my_group(group_id)
        try:
            changed, _ = update_group(
                session, group, _changes(body), region=_region(), now=app_clock()(), actor=actor()
            )
        except GroupError as error:
            _refused(error)
        session.commit()
        return {**_with_counts([group])[0], "changed": [str(c) for c in changed]}


class HeadcountQuery(Input):
    days = fields.Integer(load_default=14, validate=validate.Range(min=1, max=366))


class HeadcountSchema(Schema):
    key = fields.String(metadata={"description": "The meeting's key, e.g. 20260317T1830."})
    starts_at = fields.DateTime()
    coming = fields.Integer()
    not_coming = fields.Integer()
    no_answer = fields.Integer(metadata={"description": "Active members yet to answer."})


@blp.route("/<id:group_id>/headcount")
class GroupHeadcount(MethodView):
    @blp.arguments(HeadcountQuery, location="query")
    @blp.response(200, HeadcountSchema(many=True))
    @blp.paginate(Page, page_size=50, max_page_size=500)
    def get(self, query: dict[str, Any], group_id: int) -> list[Headcount]:
        """Who is coming to each of the group's meetings in the next `days` days."""
        return headcounts(get_session(), my_group(group_id), app_clock()(), query["days"]) or []


class AttendanceQuery(Input):
    weeks = fields.Integer(load_default=8, validate=validate.Range(min=1, max=520))


class PastMeetingSchema(Schema):
    key = fields.String(metadata={"description": "The meeting's key, e.g. 20260303T1830."})
    starts_at = fields.DateTime(metadata={"description": "When it began, in the group's zone."})
    cancelled = fields.Boolean()
    coming = fields.Integer()
    not_coming = fields.Integer()
    no_answer = fields.Integer(
        metadata={"description": "Members active now who had joined before it and gave no answer."}
    )
    coming_names = fields.List(
        fields.String(), metadata={"description": "As the group knows them; erased: no name."}
    )
    not_coming_names = fields.List(fields.String())
    no_answer_names = fields.List(
        fields.String(), metadata={"description": "Those counted in no_answer, named as above."}
    )


@blp.route("/<id:group_id>/attendance")
class GroupAttendance(MethodView):
    @blp.arguments(AttendanceQuery, location="query")
    @blp.response(200, PastMeetingSchema(many=True))
    @blp.paginate(Page, page_size=50, max_page_size=500)
    def get(self, query: dict[str, Any], group_id: int) -> list[PastMeeting]:
        """Who answered for each of the group's meetings that began in the last `weeks` weeks."""
        return attendance(get_session(), my_group(group_id), app_clock()(), query["weeks"]) or []


class StatsQuery(Input):
    since = fields.AwareDateTime(
        metadata={"description": "From (ISO 8601); 30 days ago if absent."}
    )
    until = fields.AwareDateTime(metadata={"description": "Up to, not including; now if absent."})

    @validates_schema
    def _period(self, data: dict[str, Any], **_: Any) -> None:
        if "since" in data and "until" in data and data["since"] >= data["until"]:
            raise ValidationError("until must be after since", "until")


class StatsSchema(Schema):
    since = fields.DateTime()
    until = fields.DateTime()
    sent = fields.Integer(metadata={"description": "Texts and calls handed to Twilio."})
    delivered = fields.Integer()
    failed = fields.Integer(metadata={"description": "Failed or undelivered."})
    suppressed = fields.Integer(metadata={"description": "Held back when due: no consent, ..."})
    expired = fields.Integer(metadata={"description": "Too late to be useful: not sent."})
    opted_out = fields.Integer(metadata={"description": "Members who opted out."})
    confirmations = fields.Integer(metadata={"description": "'Coming' answers."})
    declines = fields.Integer(metadata={"description": "'Not coming' answers."})


@blp.route("/<id:group_id>/stats")
class GroupStatistics(MethodView):
    @blp.arguments(StatsQuery, location="query")
    @blp.response(200, StatsSchema)
    def get(self, query: dict[str, Any], group_id: int) -> GroupStats:
        """What the group's messages came to over a period (the last 30 days by default)."""
        group = my_group(group_id)
        since, until = _period(query, group.timezone)
        return group_stats(get_session(), group, since, until)


def _period(query: dict[str, Any], zone: str) -> tuple[datetime, datetime]:
    """The period a query asks for, the last 30 days by default; refused (422) if since is not
    before until, or if the period's days in the group's zone fall outside the calendar."""
    try:
        until = query.get("until") or app_clock()()
        since = query.get("since") or until - timedelta(days=30)
        for moment in (since, until):
            moment.astimezone(ZoneInfo(zone))
    except OverflowError:
        refuse(422, "the period's days must fall within the years 1 to 9999", "since")
    if since >= until:
        refuse(422, "since must be before until", "since")
    return since, until


# A day-by-day count is a row a day: a year and a month of them at most (the retention's 400).
MAX_DAILY = timedelta(days=400)


class DaySchema(Schema):
    day = fields.Date(metadata={"description": "A calendar day in the group's time zone."})
    sent = fields.Integer()
    delivered = fields.Integer()
    failed = fields.Integer(metadata={"description": "Failed or undelivered."})
    opted_out = fields.Integer(metadata={"description": "Members who opted out that day."})


@blp.route("/<id:group_id>/stats/daily")
class GroupDailyStatistics(MethodView):
    @blp.arguments(StatsQuery, location="query")
    @blp.response(200, DaySchema(many=True))
    def get(self, query: dict[str, Any], group_id: int) -> list[DayStats]:
        """The same counts per day in the group's zone (the last 30 days by default), for at
        most 400 days: a row a day, so a longer period is refused (422)."""
        group = my_group(group_id)
        since, until = _period(query, group.timezone)
        if until - since > MAX_DAILY:
            refuse(422, f"a day-by-day count covers at most {MAX_DAILY.days} days", "since")
        return daily_stats(get_session(), group, since, until)


class QuietQuery(Input):
    weeks = fields.Integer(
        load_default=4,
        validate=validate.Range(min=1, max=MAX_WEEKS),
        metadata={"description": "Silent for at least this many weeks (4 if absent)."},
    )


class QuietSchema(Schema):
    participant_id = fields.Integer()
    name = fields.String(allow_none=True, metadata={"description": "The group's name for them."})
    phone = fields.Function(lambda m: mask(m.phone), metadata={"description": "Masked."})
    joined_at = fields.DateTime()
    last_heard = fields.DateTime(
        allow_none=True, metadata={"description": "Their last answer or text here; null: never."}
    )


@blp.route("/<id:group_id>/quiet")
class GroupQuiet(MethodView):
    @blp.arguments(QuietQuery, location="query")
    @blp.response(200, QuietSchema(many=True))
    def get(self, query: dict[str, Any], group_id: int) -> list[QuietMember]:
        """Members who have neither answered a meeting nor texted for some weeks."""
        group = my_group(group_id)
        return gone_quiet(get_session(), group.id, query["weeks"], app_clock()())
