"""A group's meetings: the recurring schedule, and cancelling or moving one meeting."""

from __future__ import annotations

from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from flask.views import MethodView
from flask_smorest import Page
from marshmallow import Schema, fields, validate

from service.campaigns.meeting_warnings import move_warnings, schedule_warnings
from service.campaigns.meetings import (
    LONGEST_MEETING,
    MAX_LOCATION,
    MeetingError,
    MeetingView,
    NoMeetings,
    cancel_meeting,
    move_meeting,
    schedule_meetings,
    schedule_of_group,
    upcoming,
)
from service.campaigns.rules import describe
from service.clock import app_clock
from service.db import get_session
from service.models import MeetingSchedule
from service.web.api.auth import Input, LocalDateTime, actor, api_blueprint, my_group, refuse

blp = api_blueprint("meetings", "When a group meets: its schedule, and single meetings changed.")


class ScheduleSchema(Input):
    rule = fields.String(
        required=True,
        validate=validate.Length(min=1, max=500),
        metadata={
            "description": 'An RFC 5545 RRULE, e.g. "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU" (every '
            'other Tuesday) or "FREQ=MONTHLY;BYDAY=1MO" (first Monday).'
        },
    )
    first = LocalDateTime(
        required=True,
        metadata={"description": "The first meeting, in the group's local time: 2026-03-03T18:30"},
    )
    duration_minutes = fields.Integer(
        load_default=90, validate=validate.Range(min=1, max=LONGEST_MEETING)
    )
    location = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=MAX_LOCATION)
    )
    timezone = fields.String(dump_only=True, metadata={"description": "The group's."})
    description = fields.String(
        dump_only=True,
        metadata={
            "description": "The schedule in plain words, as the dashboard and the command line "
            'say it: "every other Tuesday at 6:30 PM, from 15 December".'
        },
    )


_WARNINGS = (
    "Plain-English sentences about what was kept as given but may not be what was meant: a "
    "first date the rule does not give, a time the clocks skip or pass twice, a time already "
    "past (no reminders). Empty when there is nothing to say."
)


class ScheduledSchema(ScheduleSchema):
    withdrawn = fields.Integer(
        dump_only=True, metadata={"description": "Planned texts taken back to be planned again."}
    )
    warnings = fields.List(fields.String(), dump_only=True, metadata={"description": _WARNINGS})


class MeetingSchema(Schema):
    key = fields.String(metadata={"description": "Names the meeting, even once moved."})
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    location = fields.String(allow_none=True)
    cancelled = fields.Boolean()
    moved = fields.Boolean()
    coming = fields.Integer()
    not_coming = fields.Integer()


class MeetingsQuery(Input):
    days = fields.Integer(load_default=30, validate=validate.Range(min=1, max=366))


class MoveSchema(Input):
    to = LocalDateTime(
        allow_none=True, metadata={"description": "The new local start: 2026-03-05T19:00"}
    )
    location = fields.String(allow_none=True, validate=validate.Length(max=MAX_LOCATION))


class MeetingChangedSchema(Schema):
    key = fields.String()
    withdrawn = fields.Integer(metadata={"description": "Its reminders taken back."})


class MeetingMovedSchema(MeetingChangedSchema):
    warnings = fields.List(fields.String(), metadata={"description": _WARNINGS})


def _refused(error: MeetingError) -> NoReturn:
    if isinstance(error, NoMeetings) or error.field == "key":  # the path names no meeting
        refuse(404, f"{error}.")
    refuse(422, f"{error}.", error.field)


def _schedule(meeting: MeetingSchedule, timezone: str) -> dict[str, Any]:
    today = app_clock()().astimezone(ZoneInfo(timezone)).date()
    return {
        "rule": meeting.rrule,
        "first": meeting.first_start,
        "duration_minutes": meeting.duration_minutes,
        "location": meeting.location,
        "timezone": timezone,
        "description": describe(meeting.rrule, meeting.first_start, today),
    }


@blp.route("/<id:group_id>/schedule")
class GroupSchedule(MethodView):
    @blp.response(200, ScheduleSchema)
    def get(self, group_id: int) -> dict[str, Any]:
        """When the group meets; 404 until a schedule is set."""
        group = my_group(group_id)
        try:
            return _schedule(schedule_of_group(get_session(), group), group.timezone)
        except MeetingError as error:
            _refused(error)

    @blp.arguments(ScheduleSchema)
    @blp.response(200, ScheduledSchema)
    def put(self, body: dict[str, Any], group_id: int) -> dict[str, Any]:
        """Set or replace the schedule; changes to single meetings of the old one are dropped."""
        session = get_session()
        group = my_group(group_id)
        now = app_clock()()
        try:
            meeting, withdrawn = schedule_meetings(
                session,
                group,
                rule=body["rule"],
                first=body["first"],
                duration_minutes=body["duration_minutes"],
                location=body["location"],
                now=now,
                actor=actor(),
            )
        except MeetingError as error:
            _refused(error)
        session.commit()
        warnings = schedule_warnings(meeting.rrule, meeting.first_start, group.timezone, now)
        return {**_schedule(meeting, group.timezone), "withdrawn": withdrawn, "warnings": warnings}


@blp.route("/<id:group_id>/meetings")
class Meetings(MethodView):
    @blp.arguments(MeetingsQuery, location="query")
    @blp.response(200, MeetingSchema(many=True))
    @blp.paginate(Page, page_size=50, max_page_size=500)
    def get(self, query: dict[str, Any], group_id: int) -> list[MeetingView]:
        """The next `days` days of meetings, cancelled ones included, with answers so far."""
        group = my_group(group_id)
        try:
            return upcoming(get_session(), group, app_clock()(), query["days"])
        except MeetingError as error:
            _refused(error)


@blp.route("/<id:group_id>/meetings/<string:key>/cancel")
class CancelMeeting(MethodView):
    @blp.response(200, MeetingChangedSchema)
    def post(self, group_id: int, key: str) -> dict[str, Any]:
        """Cancel one meeting: its reminders are not sent."""
        session = get_session()
        group = my_group(group_id)
        try:
            withdrawn = cancel_meeting(session, group, key, now=app_clock()(), actor=actor())
        except MeetingError as error:
            _refused(error)
        session.commit()
        return {"key": key, "withdrawn": withdrawn}


@blp.route("/<id:group_id>/meetings/<string:key>/move")
class MoveMeeting(MethodView):
    @blp.arguments(MoveSchema)
    @blp.response(200, MeetingMovedSchema)
    def post(self, body: dict[str, Any], group_id: int, key: str) -> dict[str, Any]:
        """Move one meeting to another time and/or place; its reminders are planned again."""
        session = get_session()
        group = my_group(group_id)
        now, to = app_clock()(), body.get("to")
        try:
            withdrawn = move_meeting(
                session,
                group,
                key,
                to=to,
                location=body.get("location"),
                now=now,
                actor=actor(),
            )
        except MeetingError as error:
            _refused(error)
        session.commit()
        warnings = move_warnings(to, group.timezone, now) if to is not None else []
        return {"key": key, "withdrawn": withdrawn, "warnings": warnings}
