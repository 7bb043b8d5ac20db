"""The inbox: what people wrote that needs a human, urgent first, then what may ask to stop;
replies go by text."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask.views import MethodView
from flask_smorest import abort
from flask_smorest.pagination import PaginationParameters
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from service.campaigns.wording import WordingError
from service.clock import app_clock
from service.conversation import inbox
from service.db import get_session
from service.messages.segments import count_segments
from service.models import Coordinator, InboundMessage, Participant
from service.people.accounts import AccountError, set_daily_text
from service.people.participants import names_in
from service.phones import mask
from service.web.api.auth import (
    Cursor,
    Input,
    Keyset,
    WordsSchema,
    api_blueprint,
    audited,
    caller,
    id_field,
    my_group_ids,
    not_found,
    one_of_mine,
    page_of,
    refuse,
)

blp = api_blueprint("inbox", "Messages that need a human, and the coordinator's replies.")

INBOX_ORDER = Keyset(inbox.ORDER, descending=True, values=inbox.order_key)


class MessageSchema(Schema):
    id = fields.Integer()
    group_id = fields.Integer(allow_none=True)
    participant_id = fields.Integer(allow_none=True)
    name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True, metadata={"description": "Masked: +1******4567."})
    body = fields.String()
    urgent = fields.Boolean()
    maybe_stop = fields.Boolean(metadata={"description": inbox.MAYBE_STOP_NOTE})
    read = fields.Boolean()
    state = fields.String(
        validate=validate.OneOf([s.value for s in inbox.InboxState]),
        metadata={"description": "urgent, unread, read, replied or handled."},
    )
    received_at = fields.DateTime()
    handled_at = fields.DateTime(allow_none=True)
    body_removed_at = fields.DateTime(
        allow_none=True,
        metadata={"description": "When the retention period blanked body (then empty)."},
    )


class InboxQuery(Input):
    group_id = id_field(metadata={"description": "Only this group's messages."})
    after = Cursor(bool, bool, bool, datetime, int)
    unread = fields.Boolean(load_default=False, metadata={"description": "Only unread ones."})
    state = fields.Enum(
        inbox.InboxState,
        by_value=True,
        metadata={"description": "Only messages in this state; handled ones show only so."},
    )


class ReplySchema(Input):
    # No length here: the one rule for outgoing words measures the text once filled in.
    text = fields.String(
        required=True,
        validate=validate.Length(min=1),
        metadata={"description": "The answer; may use {{ first_name }} and {{ group }}."},
    )


class QueuedSchema(Schema):
    outbox_id = fields.Integer()
    state = fields.String(metadata={"description": "queued: the dispatcher sends it."})
    words = fields.Nested(WordsSchema, metadata={"description": "What the text costs."})


def _dump(messages: list[InboundMessage]) -> list[dict[str, Any]]:
    ids = {m.participant_id for m in messages if m.participant_id is not None}
    people = {
        p.id: p for p in get_session().scalars(select(Participant).where(Participant.id.in_(ids)))
    }
    known_as = names_in(get_session(), {m.group_id for m in messages if m.group_id is not None})
    states = inbox.states_of(get_session(), messages)
    dumped = []
    for m in messages:
        person = people.get(m.participant_id) if m.participant_id is not None else None
        phone = person.phone if person else m.from_phone
        dumped.append(
            {
                "id": m.id,
                "group_id": m.group_id,
                "participant_id": m.participant_id,
                "name": known_as.get((person.id, m.group_id or 0)) if person else None,
                "phone": mask(phone) if phone else None,
                "body": m.body,
                "urgent": m.urgent,
                "maybe_stop": inbox.may_ask_to_stop(m),
                "read": m.read,
                "state": states[m.id].value,
                "received_at": m.received_at,
                "handled_at": m.handled_at,
                "body_removed_at": m.body_removed_at,
            }
        )
    return dumped


def _message(message_id: int) -> InboundMessage:
    """One of the caller's messages; a stranger's (no group) is an admin's alone."""
    return one_of_mine(InboundMessage, message_id, "message")


@blp.route("")
class Inbox(MethodView):
    @blp.arguments(InboxQuery, location="query")
    @blp.response(200, MessageSchema(many=True))
    @blp.paginate(page_size=50, max_page_size=200)
    def get(
        self, query: dict[str, Any], pagination_parameters: PaginationParameters
    ) -> list[dict[str, Any]]:
        """Messages needing a human in the caller's groups: urgent first, then what may ask to
        stop, then unread before read, then newest."""
        visible = my_group_ids()
        groups: set[int] | None = visible
        if "group_id" in query:
            if visible is not None and query["group_id"] not in visible:
                not_found(f"group {query['group_id']}")
            groups = {query["group_id"]}
        state = query.get("state") or (inbox.InboxState.UNREAD if query["unread"] else None)
        found = inbox.listing(groups, state).order_by(None)
        return _dump(list(page_of(found, pagination_parameters, INBOX_ORDER, query.get("after"))))


class DailyTextSchema(Schema):
    on = fields.Boolean(metadata={"description": "Whether the daily text goes."})
    phone = fields.String(allow_none=True, metadata={"description": "Masked: +1******4567."})


class DailyTextInput(Input):
    on = fields.Boolean(required=True)
    phone = fields.String(
        validate=validate.Length(max=40),
        metadata={"description": "Your own phone; needed the first time it is turned on."},
    )


def _daily(coordinator: Coordinator) -> dict[str, Any]:
    return {
        "on": coordinator.daily_text,
        "phone": mask(coordinator.phone) if coordinator.phone else None,
    }


@blp.route("/daily-text")
class DailyText(MethodView):
    @blp.response(200, DailyTextSchema)
    def get(self) -> dict[str, Any]:
        """Whether the caller gets a daily text, to their own phone, saying how many replies
        wait (a count, never anyone's words or number)."""
        return _daily(caller())

    @blp.arguments(DailyTextInput)
    @blp.response(200, DailyTextSchema)
    @blp.alt_response(422, description="No phone, or not a phone number.")
    def put(self, body: dict[str, Any]) -> dict[str, Any]:
        """Turn the daily text about waiting replies on or off."""
        coordinator = caller()
        try:
            set_daily_text(coordinator, on=body["on"], phone=body.get("phone"))
        except AccountError as error:
            refuse(422, str(error), "phone")
        audited("coordinator.daily_text", "coordinator", coordinator.id)
        get_session().commit()
        return _daily(coordinator)


@blp.route("/<id:message_id>/read")
class Read(MethodView):
    @blp.response(200, MessageSchema)
    def post(self, message_id: int) -> dict[str, Any]:
        """Mark a message read."""
        message = _message(message_id)
        inbox.mark_read(message)
        audited("inbox.read", "inboundmessage", message.id)
        get_session().commit()
        return _dump([message])[0]


@blp.route("/<id:message_id>/handled")
class Handled(MethodView):
    @blp.response(200, MessageSchema)
    def post(self, message_id: int) -> dict[str, Any]:
        """Mark a message handled: it no longer waits (marking it again changes nothing)."""
        message = _message(message_id)
        inbox.mark_handled(message, app_clock()())
        audited("inbox.handled", "inboundmessage", message.id)
        get_session().commit()
        return _dump([message])[0]


@blp.route("/<id:message_id>/reply")
class Reply(MethodView):
    @blp.arguments(ReplySchema)
    @blp.response(202, QueuedSchema)
    @blp.alt_response(409, description="They opted out, or cannot be texted.")
    @blp.alt_response(422, description="The words cannot go: a variable, syntax or length.")
    def post(self, body: dict[str, Any], message_id: int) -> dict[str, Any]:
        """Answer by text through the outbox; refused when the person may not be texted."""
        session = get_session()
        message = _message(message_id)
        try:
            row = inbox.reply(session, message, body["text"], app_clock()())
        except inbox.InboxError as error:
            session.rollback()
            abort(409, message=f"Not sent: {error}.")
            raise  # abort raises; this line is never reached
        except WordingError as error:
            refuse(422, str(error), "text")
        audited("inbox.reply", "inboundmessage", message.id)
        session.commit()
        return {
            "outbox_id": row.id,
            "state": row.state.value,
            "words": count_segments(row.body or ""),
        }
