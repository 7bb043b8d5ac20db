"""Calls' outcomes: what a call status callback means for its row, and ringing again."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.config import Settings
from service.messages.outbox import advance
from service.models import Channel, Group, OutboxKind, OutboxMessage, OutboxState

log = logging.getLogger(__name__)

# Twilio's CallStatus values, in our words; busy and no-answer are decided by retry_or_give_up.
CALL_STATUS = {
    "queued": OutboxState.SENT,
    "initiated": OutboxState.SENT,
    "ringing": OutboxState.SENT,
    "in-progress": OutboxState.SENT,
    "completed": OutboxState.DELIVERED,
    "failed": OutboxState.FAILED,
    "canceled": OutboxState.CANCELED,
}
UNANSWERED = {"busy": "the line was busy", "no-answer": "nobody answered"}
# Sent between meetings: to someone who takes calls, a short call that says the words.
BETWEEN_MEETINGS = (OutboxKind.ENCOURAGEMENT, OutboxKind.BROADCAST)
# A message left on an answering machine says to call back: calling back, the person hears it.
LEFT_FOR = timedelta(days=3)
MACHINE = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax")


def record_call_status(
    row: OutboxMessage,
    *,
    sid: str,
    status: str,
    answered_by: str | None,
    settings: Settings,
    moment: datetime,
) -> bool:
    """Apply a call status callback to its row; False when it is about an older attempt."""
    if row.provider_sid not in (None, sid):
        log.info("outbox %s: status %s for an earlier call %s; ignored", row.id, status, sid)
        return False
    row.provider_sid = sid
    if answered_by:
        row.answered_by = answered_by[:32]
    if status in UNANSWERED:
        retry_or_give_up(row, UNANSWERED[status], settings, moment)
        return True
    state = CALL_STATUS.get(status)
    if state is not None and advance(row, state, moment):
        log.info("outbox %s (call) is now %s", row.id, state.value)
    return True


def retry_or_give_up(row: OutboxMessage, reason: str, settings: Settings, moment: datetime) -> None:
    """A busy line or no answer: ring again after the spacing, if tries and time are left.

    Quiet hours are checked when the row comes due again, like any planned send: the call
    moves to an allowed time still before its expiry, or expires.
    """
    again = moment + timedelta(seconds=settings.call_retry_spacing)
    # A row still sending has a call its worker has not recorded yet: that call counts too.
    recorded = row.state is not OutboxState.SENDING
    calls = row.attempts + (0 if recorded else 1)
    tries_left = calls <= settings.call_retries
    in_time = row.expires_at is None or again < row.expires_at
    row.updated_at = moment
    if row.state not in (OutboxState.SENT, OutboxState.SENDING, OutboxState.UNKNOWN):
        return  # already settled (a late duplicate callback)
    if tries_left and in_time:
        row.state, row.due_at = OutboxState.QUEUED, again
        row.state_reason = f"{reason}; calling again"
        row.provider_sid = None  # the next call has a SID of its own
        if recorded:
            row.attempt_id = None  # else kept, so the worker's record still finds its row
        log.info("outbox %s: %s; calling again at %s", row.id, reason, again.isoformat())
        return
    row.state = OutboxState.UNDELIVERED
    row.state_reason = reason if in_time else f"{reason}, and it is too late to call again"


def messages_left(session: Session, participant_id: int, now: datetime) -> list[tuple[str, str]]:
    """The messages between meetings whose call reached only an answering machine in the last
    days, newest first (at most two), as (group's public name, words): the machine heard only
    that there was a message and to call back for it."""
    rows = session.execute(
        select(Group.public_name, OutboxMessage.body)
        .join(Group, Group.id == OutboxMessage.group_id)
        .where(
            OutboxMessage.participant_id == participant_id,
            OutboxMessage.channel == Channel.VOICE,
            OutboxMessage.kind.in_(BETWEEN_MEETINGS),
            OutboxMessage.voicemail_left.is_(True),
            OutboxMessage.body.is_not(None),
            OutboxMessage.sent_at >= now - LEFT_FOR,
        )
        .order_by(OutboxMessage.sent_at.desc(), OutboxMessage.id.desc())
        .limit(2)
    ).all()
    return [(group, body) for group, body in rows if body]
