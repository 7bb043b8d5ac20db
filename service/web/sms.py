"""Twilio's text webhooks: an incoming text and a message's status, answered with TwiML."""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime

from flask import Blueprint, Response, abort, current_app, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from twilio.twiml.messaging_response import MessagingResponse

from service.clock import app_clock
from service.conversation.replies import Conversation, IncomingText, answer_without_database
from service.db import DATABASE_AWAY, get_session
from service.messages.outbox import PROVIDER_STATUS, advance
from service.models import OutboxMessage, Participant
from service.phones import is_e164, mask
from service.sending.provider_errors import apply_error_code
from service.web.journal import ANSWERED, REPLAY, Journal, JournalFull
from service.web.webhook import (
    MAX_FIELD,
    field,
    number,
    row_id,
    said,
    settings,
    sid,
    sid_elsewhere,
    signed,
    url_twilio_used,
)

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix="/twilio")

MAX_BODY = 1600


@bp.before_request
def _replay_leftovers() -> None:
    journal: Journal = current_app.extensions["peerline.journal"]
    journal.replay_leftovers(current_app._get_current_object())  # type: ignore[attr-defined]


def twiml(response: MessagingResponse) -> Response:
    return Response(str(response), mimetype="application/xml")


def _now() -> datetime:
    return app_clock()()


@bp.post("/sms")
@signed
def incoming_sms() -> Response:
    message_sid = sid("MessageSid", "message")
    sender = field("From", limit=16)
    body = said("Body", limit=MAX_BODY)
    if not is_e164(sender):
        abort(400, description="From is not an E.164 phone number")
    if any(len(v) > MAX_FIELD for v in request.form.values()):
        abort(400, description="a field is too long")

    session = get_session()
    replayed = request.environ.get(REPLAY)
    text = IncomingText(
        message_sid=message_sid,
        from_phone=sender,
        body=body,
        opt_out_type=field("OptOutType", required=False, limit=32) or None,
        answered=tuple(request.environ[ANSWERED]) if replayed else None,
    )
    try:
        replies = _handle(session, text)
    except DATABASE_AWAY as error:
        with contextlib.suppress(Exception):
            session.rollback()
        if replayed:
            raise  # still away: the replayer tries again later
        replies = _keep_for_later(text, error)

    reply = MessagingResponse()
    for words in replies:
        reply.message(words)
    # Alerts wait in the outbox for the dispatcher's next tick, a second away.
    return twiml(reply)


def _handle(session: Session, text: IncomingText) -> list[str]:
    config = settings()
    for attempt in (1, 2):
        conversation = Conversation(
            session=session,
            wording=current_app.extensions["peerline.wording"],
            hash_key=config.secret_key,
            now=_now(),
            crisis_words=config.crisis_words,
            public_url=config.public_url,
        )
        try:
            # The first try does not ask whether the MessageSid was seen: a retry of a text
            # already handled clashes on its unique MessageSid, and the second try asks.
            outcome = conversation.handle(text, seen_before=attempt == 2)
            session.commit()
            return outcome.replies
        except IntegrityError:
            # Another request got there first: the same MessageSid (Twilio's retry of a text
            # handled already, or racing the original) or the same new number joining twice at
            # once. Read again what it wrote.
            session.rollback()
            if attempt == 2:
                raise
            log.info("text %s raced another request; handling it again", text.message_sid)
    raise AssertionError("unreachable")


def _keep_for_later(text: IncomingText, error: Exception) -> list[str]:
    """The database cannot take the text: keep it in the journal, answer from its words."""
    try:
        replies = answer_without_database(
            text.body, current_app.extensions["peerline.wording"], settings().crisis_words
        )
    except Exception:  # the words are kept whatever happens to the answer
        log.exception("text %s: no answer could be worded without the database", text.message_sid)
        replies = []
    journal: Journal = current_app.extensions["peerline.journal"]
    try:
        entry = journal.append(
            url_twilio_used(),
            request.form,
            request.headers.get("X-Twilio-Signature", ""),
            answered=replies,
            now=_now(),
        )
    except (JournalFull, OSError):
        log.critical(
            "text %s from %s is LOST: the database is away (%s) and the journal cannot keep it",
            text.message_sid,
            mask(text.from_phone),
            type(error).__name__,
            exc_info=True,
        )
        return replies
    log.error(
        "the database is away (%s): text %s kept in the journal as %s",
        type(error).__name__,
        text.message_sid,
        entry.id,
    )
    journal.replay_in_background(current_app._get_current_object())  # type: ignore[attr-defined]
    return replies


@bp.post("/sms/status")
@signed
def sms_status() -> Response:
    message_sid = sid("MessageSid", "message")
    status = field("MessageStatus", limit=32)
    error_code = number("ErrorCode")

    session = get_session()
    named = row_id()
    row = session.get(OutboxMessage, named) if named is not None else None
    if row is not None and (
        row.provider_sid not in (None, message_sid) or sid_elsewhere(session, row, message_sid)
    ):
        log.warning("status callback for outbox %s names another message %s", named, message_sid)
        row = None
    if row is None:
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.provider_sid == message_sid))
    if row is None:
        log.info("status %s for unknown message %s; ignored", status, message_sid)
        return Response(status=200)

    moment = _now()
    if row.provider_sid is None:
        row.provider_sid = message_sid  # the callback beat our own record of the send
    state = PROVIDER_STATUS.get(status)
    if state is not None and advance(row, state, moment):
        log.info("outbox %s is now %s", row.id, state.value)
    if error_code:
        row.error_code = error_code
        participant = session.get(Participant, row.participant_id) if row.participant_id else None
        apply_error_code(session, participant, error_code, moment, row)
        if participant is not None:
            log.info("error %s for %s recorded", error_code, mask(participant.phone))
    session.commit()
    return Response(status=200)
