"""The audit log: which coordinator did what, and when; for admins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters
from marshmallow import Schema, fields, validate

from service.models import AuditEntry
from service.people import audit
from service.web.api.auth import (
    Cursor,
    Input,
    Keyset,
    api_blueprint,
    id_field,
    page_of,
    require_admin,
)

blp = api_blueprint("audit", "Who did what, when: admins only.")

NEWEST_FIRST = Keyset((AuditEntry.created_at, AuditEntry.id), descending=True)


class AuditSchema(Schema):
    id = fields.Integer()
    actor = fields.String(metadata={"description": "api:<email> or cli:<system user>."})
    action = fields.String(metadata={"description": "e.g. participant.add, meetings.cancel."})
    target_type = fields.String(allow_none=True)
    target_id = fields.Integer(allow_none=True)
    details = fields.Dict()
    created_at = fields.DateTime()


class AuditQuery(Input):
    actor = fields.String(validate=validate.Length(max=120))
    action = fields.String(validate=validate.Length(max=60))
    target_type = fields.String(validate=validate.Length(max=40))
    target_id = id_field()
    since = fields.AwareDateTime()
    until = fields.AwareDateTime()
    after = Cursor(datetime, int)


@blp.route("")
class AuditLog(MethodView):
    @blp.arguments(AuditQuery, location="query")
    @blp.response(200, AuditSchema(many=True))
    @blp.alt_response(403, description="The caller is not an admin.")
    @blp.paginate(page_size=50, max_page_size=500)
    def get(
        self, query: dict[str, Any], pagination_parameters: PaginationParameters
    ) -> list[AuditEntry]:
        """The audit log, newest first, filtered as asked."""
        require_admin()
        after = query.pop("after", None)
        entries = audit.entries(**query).order_by(None)
        return list(page_of(entries, pagination_parameters, NEWEST_FIRST, after))
