"""Groups: what a coordinator runs."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate
from sqlalchemy import func, select

from service.api.auth import api_blueprint, mine, not_found
from service.clock import app_clock
from service.db import get_session
from service.headcount import Headcount, headcounts
from service.models import Group, Membership, MembershipStatus

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
        row = {c: getattr(group, c) for c in GroupSchema().fields if hasattr(group, c)}
        row["active_members"] = counts.get(group.id, 0)
        dumped.append(row)
    return dumped


@blp.route("")
class Groups(MethodView):
    @blp.response(200, GroupSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The caller's groups, by join code."""
        groups = get_session().scalars(mine(select(Group), Group.id).order_by(Group.join_code))
        return _with_counts(list(groups))


@blp.route("/<int:group_id>")
class OneGroup(MethodView):
    @blp.response(200, GroupSchema)
    def get(self, group_id: int) -> dict[str, Any]:
        """One group; another coordinator's group is not found."""
        group = get_session().scalar(mine(select(Group).where(Group.id == group_id), Group.id))
        if group is None:
            not_found(f"group {group_id}")
        return _with_counts([group])[0]


class HeadcountQuery(Schema):
    days = fields.Integer(load_default=14, validate=validate.Range(min=1, max=366))


class HeadcountSchema(Schema):
    key = fields.String(metadata={"description": "The meeting's key, e.g. 20260317T1830."})
    starts_at = fields.DateTime()
    coming = fields.Integer()
    not_coming = fields.Integer()
    no_answer = fields.Integer(metadata={"description": "Active members yet to answer."})


@blp.route("/<int:group_id>/headcount")
class GroupHeadcount(MethodView):
    @blp.arguments(HeadcountQuery, location="query")
    @blp.response(200, HeadcountSchema(many=True))
    def get(self, query: dict[str, Any], group_id: int) -> list[Headcount]:
        """Who is coming to each of the group's meetings in the next `days` days."""
        session = get_session()
        group = session.scalar(mine(select(Group).where(Group.id == group_id), Group.id))
        if group is None:
            not_found(f"group {group_id}")
        return headcounts(session, group, app_clock()(), query["days"]) or []
