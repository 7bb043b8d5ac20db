"""What went, or will go, to the caller's groups: every text and call, with its state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, current_app, stream_with_context
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import func, select

from service.db import get_session
from service.models import Channel, OutboxKind, OutboxMessage, OutboxState, Participant
from service.phones import mask
from service.web import sends
from service.web.api.auth import (
    Cursor,
    Input,
    Keyset,
    api_blueprint,
    attributes,
    filtered,
    id_field,
    one_of_mine,
    page_of,
)

blp = api_blueprint("outbox", "Every planned, sent or held-back text and call.")

# Latest due first, read backwards through ix_outbox_messages_latest.
LATEST_FIRST = Keyset((OutboxMessage.due_at, OutboxMessage.id), descending=True)


class OutboxSchema(Schema):
    id = fields.Integer()
    kind = fields.String(validate=validate.OneOf([k.value for k in OutboxKind]))
    channel = fields.String(validate=validate.OneOf([c.value for c in Channel]))
    group_id = fields.Integer(allow_none=True)
    campaign_id = fields.Integer(allow_none=True)
    participant_id = fields.Integer(allow_none=True)
    to = fields.String(allow_none=True, metadata={"description": "Masked: +1******4567."})
    occurrence_key = fields.String(allow_none=True, metadata={"description": "Its meeting."})
    body = fields.String(
        allow_none=True, metadata={"description": "None: worded when it goes (campaigns)."}
    )
    segments = fields.Integer()
    state = fields.String(validate=validate.OneOf([s.value for s in OutboxState]))
    state_reason = fields.String(allow_none=True, metadata={"description": "Why held back."})
    error_code = fields.Integer(allow_none=True, metadata={"description": "Twilio's."})
    attempts = fields.Integer()
    due_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    sent_at = fields.DateTime(allow_none=True)
    updated_at = fields.DateTime()


class OutboxQuery(Input):
    state = fields.List(
        fields.String(validate=validate.OneOf([s.value for s in OutboxState])),
        metadata={"description": "One or more states (repeat the parameter)."},
    )
    group_id = id_field()
    campaign_id = id_field()
    participant_id = id_field()
    kind = fields.String(validate=validate.OneOf([k.value for k in OutboxKind]))
    since = fields.AwareDateTime(metadata={"description": "Due at or after (ISO 8601, with zone)."})
    until = fields.AwareDateTime(metadata={"description": "Due before."})
    after = Cursor(datetime, int)
    format = fields.String(
        load_default="json",
        validate=validate.OneOf(["json", "csv"]),
        metadata={
            "description": "csv: every matching row (no paging) as text/csv, streamed: times "
            "in each group's zone, numbers masked, names as the group knows them, and what "
            "happened in plain words."
        },
    )

    @validates_schema
    def _period(self, data: dict[str, Any], **_: Any) -> None:
        if "since" in data and "until" in data and data["since"] >= data["until"]:
            raise ValidationError("until must be after since", "until")


def _dump(rows: list[OutboxMessage]) -> list[dict[str, Any]]:
    ids = {r.participant_id for r in rows if r.participant_id is not None}
    phones = dict(
        get_session()
        .execute(select(Participant.id, Participant.phone).where(Participant.id.in_(ids)))
        .all()
    )
    dumped = []
    for row in rows:
        item = attributes(row, OutboxSchema, skip=("to",))
        phone = phones.get(row.participant_id) if row.participant_id else row.to_phone
        item["to"] = mask(phone) if phone else None
        dumped.append(item)
    return dumped


@blp.route("")
class Outbox(MethodView):
    @blp.arguments(OutboxQuery, location="query")
    @blp.response(200, OutboxSchema(many=True))
    @blp.doc(responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}})
    @blp.paginate(page_size=50, max_page_size=500)
    def get(
        self, query: dict[str, Any], pagination_parameters: PaginationParameters
    ) -> list[dict[str, Any]]:
        """Texts and calls of the caller's groups, latest due first, filtered as asked."""
        as_csv = query.pop("format") == "csv"
        after = query.pop("after", None)
        rows = filtered(OutboxMessage, query, when=OutboxMessage.due_at)
        if as_csv:
            rows = LATEST_FIRST.ordered(rows)
            pagination_parameters.item_count = get_session().scalar(
                select(func.count()).select_from(rows.order_by(None).subquery())
            )
            app = current_app._get_current_object()  # type: ignore[attr-defined]
            # flask-smorest passes a Response through as it is.
            return Response(  # type: ignore[return-value]
                stream_with_context(sends.csv_lines(app, rows)),
                mimetype="text/csv",
                headers={"Content-Disposition": 'attachment; filename="peerline-sends.csv"'},
            )
        return _dump(list(page_of(rows, pagination_parameters, LATEST_FIRST, after)))


@blp.route("/<id:message_id>")
class OneMessage(MethodView):
    @blp.response(200, OutboxSchema)
    def get(self, message_id: int) -> dict[str, Any]:
        """One text or call."""
        row = one_of_mine(OutboxMessage, message_id, "message")
        return _dump([row])[0]
