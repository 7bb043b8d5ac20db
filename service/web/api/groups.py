"""Groups: what a coordinator runs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.views import MethodView
from flask_smorest import Page
from flask_smorest.pagination import PaginationParameters
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import func, select

from service.campaigns.headcount import Headcount, PastMeeting, attendance, headcounts
from service.campaigns.stats import GroupStats, group_stats
from service.clock import app_clock
from service.db import get_session
from service.models import Group, Membership, MembershipStatus
from service.web.api.auth import (
    Input,
    api_blueprint,
    attributes,
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
    voice_fallback = fields.Boolean()
    voicemail_details = fields.Boolean()
    texts_between_meetings_to_callers = fields.Boolean(
        metadata={
            "description": "Encouragement and broadcasts go by text to members who take calls, "
            "when their number takes texts (a landline is always called)."
        }
    )
    active_members = fields.Integer(dump_only=True)


def _with_counts(groups: list[Group]) -> list[dict[str, Any]]:
    counts = dict(
        get_session()
        .execute(
            select(Membership.group_id, func.count())
            .where(
                Membership.group_id.in_([g.id for g in groups]),
                Membership.status == MembershipStatus.ACTIVE,
            )
            .group_by(Membership.group_id)
        )
        .all()
    )
    dumped = []
    for group in groups:
        row = attributes(group, GroupSchema)
        row["active_members"] = counts.get(group.id, 0)
        dumped.append(row)
    return dumped


@blp.route("")
class Groups(MethodView):
    @blp.response(200, GroupSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters: PaginationParameters) -> list[dict[str, Any]]:
        """The caller's groups, by join code."""
        query = mine(select(Group), Group.id).order_by(Group.join_code, Group.id)
        return _with_counts(list(page_of(query, pagination_parameters)))


@blp.route("/<id:group_id>")
class OneGroup(MethodView):
    @blp.response(200, GroupSchema)
    def get(self, group_id: int) -> dict[str, Any]:
        """One group; another coordinator's group is not found."""
        return _with_counts([my_group(group_id)])[0]


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
        until = query.get("until") or app_clock()()
        since = query.get("since") or until - timedelta(days=30)
        if since >= until:
            refuse(422, "since must be before until", "since")
        return group_stats(get_session(), group.id, since, until)
