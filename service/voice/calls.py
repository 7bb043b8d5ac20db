"""Calls and what providers tell us: a call's outcome on its row, errors, the landline fallback."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy.orm import Session

from service import consent
from service.config import Settings
from service.gateway import INVALID_TO, LANDLINE_OR_UNREACHABLE, NOT_MOBILE, UNSUBSCRIBED
from service.models import (
    Channel,
    ConsentSource,
    Group,
    MembershipStatus,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Participant,
)
from service.outbox import advance, enqueue
from service.phones import mask
from service.wording import Wording

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
    tries_left = row.attempts <= settings.call_retries
    in_time = row.expires_at is None or again < row.expires_at
    row.updated_at = moment
    if row.state not in (OutboxState.SENT, OutboxState.SENDING, OutboxState.UNKNOWN):
        return  # already settled (a late duplicate callback)
    if tries_left and in_time:
        row.state, row.due_at = OutboxState.QUEUED, again
        row.state_reason = f"{reason}; calling again"
        row.provider_sid = None  # the next call has a SID of its own
        row.attempt_id = None
        log.info("outbox %s: %s; calling again at %s", row.id, reason, again.isoformat())
        return
    row.state = OutboxState.UNDELIVERED
    row.state_reason = reason if in_time else f"{reason}, and it is too late to call again"


def landline_fallback(
    session: Session, participant: Participant, row: OutboxMessage | None, moment: datetime
) -> None:
    """A text failed because the number is a landline: call instead where the group allows it,
    and tell the group's coordinator either way."""
    if participant.channel is Channel.VOICE:
        return
    groups = [m.group for m in participant.memberships if m.status is not MembershipStatus.LEFT]
    switch = any(group.voice_fallback for group in groups)
    if switch:
        participant.channel = Channel.VOICE
        log.info("%s cannot take texts: switched to calls", mask(participant.phone))
        useful = row is not None and (row.expires_at is None or row.expires_at > moment)
        if row is not None and row.kind is OutboxKind.REMINDER and useful:
            enqueue_call_instead(session, row, moment)
    for group in groups:
        notify_coordinator(session, group, participant, switched=switch, moment=moment)


def enqueue_call_instead(session: Session, row: OutboxMessage, moment: datetime) -> None:
    """The same reminder again, as a call, worded when it goes."""
    call = OutboxMessage(
        send_key=f"{row.send_key}:call"[:200],
        kind=row.kind,
        channel=Channel.VOICE,
        participant_id=row.participant_id,
        group_id=row.group_id,
        campaign_id=row.campaign_id,
        occurrence_key=row.occurrence_key,
        body=None if row.campaign_id is not None else row.body,
        state=OutboxState.QUEUED,
        due_at=moment,
        expires_at=row.expires_at,
        created_at=moment,
        updated_at=moment,
    )
    with session.begin_nested():
        session.add(call)


def notify_coordinator(
    session: Session, group: Group, participant: Participant, *, switched: bool, moment: datetime
) -> None:
    """A text to the group's on-call phone, naming the person only by the last digits."""
    if not group.on_call_phone:
        log.warning(
            "%s in %s cannot take texts and %s has no on-call phone to tell",
            mask(participant.phone),
            group.join_code,
            group.join_code,
        )
        return
    wording: Wording = current_app.extensions["peerline.wording"]
    who = participant.name.split()[0] if participant.name else "A participant"
    body = wording.render(
        "landline_notice",
        group.language,
        participant=f"{who} ({mask(participant.phone)[-4:]})",
        group=group.public_name,
        switched=switched,
    )
    enqueue(
        session,
        send_key=f"landline:{participant.id}:{group.id}",
        kind=OutboxKind.ALERT,
        body=body,
        group_id=group.id,
        to_phone=group.on_call_phone,
        now=moment,
    )


def apply_error_code(
    session: Session,
    participant: Participant | None,
    code: int | None,
    moment: datetime,
    row: OutboxMessage | None = None,
) -> None:
    """Learn what a provider error says about the person: opted out, a landline, a bad number.

    row is the text that failed, which a landline fallback sends again as a call.
    """
    if participant is None or code is None:
        return
    if code == UNSUBSCRIBED:
        consent.opt_out(
            session,
            participant,
            source=ConsentSource.PROVIDER_ERROR,
            words=f"Twilio error {code}",
            now=moment,
        )
    elif code in (NOT_MOBILE, LANDLINE_OR_UNREACHABLE):
        newly = not participant.landline
        participant.landline = True
        if newly:
            landline_fallback(session, participant, row, moment)
    elif code == INVALID_TO:
        participant.number_invalid = True
        log.warning(
            "participant %s has an invalid number %s", participant.id, mask(participant.phone)
        )
