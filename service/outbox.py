"""The outbox: every outgoing text is a row first, then one careful hand-over to the gateway."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service import consent
from service.gateway import (
    INVALID_TO,
    LANDLINE_OR_UNREACHABLE,
    NOT_MOBILE,
    UNSUBSCRIBED,
    Gateway,
    GatewayError,
    OutgoingText,
)
from service.models import (
    ConsentSource,
    ConsentState,
    Group,
    Membership,
    MembershipStatus,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Participant,
)
from service.phones import mask
from service.quiet_hours import QuietHours, place_encouragement
from service.segments import count_segments

log = logging.getLogger(__name__)

# How far along a row is; a status report never moves a row backwards.
_RANK = {
    OutboxState.QUEUED: 0,
    OutboxState.SENDING: 1,
    OutboxState.UNKNOWN: 1,
    OutboxState.SENT: 2,
    OutboxState.RECONCILED: 2,
    OutboxState.UNDELIVERED: 3,
    OutboxState.FAILED: 3,
    OutboxState.CANCELED: 3,
    OutboxState.DELIVERED: 4,
}

# Twilio's MessageStatus values, in our words.
PROVIDER_STATUS = {
    "accepted": OutboxState.SENT,
    "scheduled": OutboxState.SENT,
    "queued": OutboxState.SENT,
    "sending": OutboxState.SENT,
    "sent": OutboxState.SENT,
    "delivered": OutboxState.DELIVERED,
    "read": OutboxState.DELIVERED,
    "undelivered": OutboxState.UNDELIVERED,
    "failed": OutboxState.FAILED,
    "canceled": OutboxState.CANCELED,
}

DEFAULT_VALIDITY = timedelta(hours=4)

Composer = Callable[[Session, OutboxMessage, datetime], str]


def enqueue(
    session: Session,
    *,
    send_key: str,
    kind: OutboxKind,
    body: str,
    now: datetime,
    participant: Participant | None = None,
    group_id: int | None = None,
    to_phone: str | None = None,
    state: OutboxState = OutboxState.QUEUED,
    expires_at: datetime | None = None,
) -> OutboxMessage | None:
    """Add a row under send_key; return None when that key was planned already."""
    row = OutboxMessage(
        send_key=send_key,
        kind=kind,
        body=body,
        participant_id=participant.id if participant else None,
        group_id=group_id,
        to_phone=None if participant else to_phone,
        segments=count_segments(body).segments if body else 1,
        state=state,
        due_at=now,
        expires_at=expires_at,
        created_at=now,
        updated_at=now,
        sent_at=now if state is OutboxState.SENT else None,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


def withdraw(
    session: Session,
    condition: ColumnElement[bool],
    reason: str,
    now: datetime,
    state: OutboxState = OutboxState.CANCELED,
) -> int:
    """Take back rows still waiting that match condition; planning brings back wanted ones."""
    result = session.execute(
        update(OutboxMessage)
        .where(condition, OutboxMessage.state == OutboxState.QUEUED)
        .values(state=state, state_reason=reason, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def blocked_reason(session: Session, row: OutboxMessage, now: datetime) -> OutboxState | None:
    """Why row may not go out now (suppressed or expired), re-checked at the moment of sending."""
    if row.expires_at is not None and now >= row.expires_at:
        row.state_reason = "too late to be useful"
        return OutboxState.EXPIRED
    if row.participant_id is None:
        return None  # to a coordinator, not a participant
    participant = session.get(Participant, row.participant_id)
    if participant is None:
        row.state_reason = "participant deleted"
        return OutboxState.SUPPRESSED
    if participant.consent is ConsentState.REVOKED:
        row.state_reason = "opted out"
        return OutboxState.SUPPRESSED
    if row.kind is OutboxKind.INVITATION:
        return None
    if participant.consent is not ConsentState.GRANTED:
        row.state_reason = "no consent yet"
        return OutboxState.SUPPRESSED
    if row.group_id is not None:
        status = session.scalar(
            select(Membership.status).where(
                Membership.participant_id == participant.id, Membership.group_id == row.group_id
            )
        )
        if status is not MembershipStatus.ACTIVE:
            row.state_reason = "not an active member"
            return OutboxState.SUPPRESSED
    return None


_PLANNED = (OutboxKind.REMINDER, OutboxKind.ENCOURAGEMENT, OutboxKind.BROADCAST)


def _quiet_now(session: Session, row: OutboxMessage, moment: datetime) -> bool:
    """Hold back a planned text that would land in the person's quiet hours (after an outage,
    say): it waits for the next allowed moment still inside its window, or expires."""
    if row.kind not in _PLANNED or row.participant_id is None or row.group_id is None:
        return False
    participant = session.get_one(Participant, row.participant_id)
    group = session.get_one(Group, row.group_id)
    quiet = QuietHours(group.quiet_start, group.quiet_end)
    if not quiet.contains(moment, participant.timezone):
        return False
    window = (row.expires_at - moment) if row.expires_at else DEFAULT_VALIDITY
    placement = place_encouragement(moment, participant.timezone, quiet, window=window)
    if placement.send_at is None:
        row.state, row.state_reason = OutboxState.EXPIRED, "only quiet hours were left"
    else:
        row.due_at, row.state_reason = placement.send_at, "waiting out quiet hours"
    row.updated_at = moment
    return True


def deliver(
    session: Session,
    row_id: int,
    gateway: Gateway,
    *,
    callback_url: Callable[[OutboxMessage], str | None],
    now: Callable[[], datetime],
    compose: Composer | None = None,
) -> OutboxMessage | None:
    """Hand one queued row to the gateway at most once; commits before and after the hand-over.

    A campaign row has no words until now: compose writes them, in the person's language of
    this moment, and they are kept on the row as the record of what was sent.
    """
    row = session.get(OutboxMessage, row_id, with_for_update=True)
    if row is None or row.state is not OutboxState.QUEUED:
        session.rollback()
        return row
    moment = now()
    blocked = blocked_reason(session, row, moment)
    if blocked is not None:
        row.state = blocked
        row.updated_at = moment
        session.commit()
        return row
    if _quiet_now(session, row, moment):
        session.commit()
        return row
    phone = row.to_phone
    participant = session.get(Participant, row.participant_id) if row.participant_id else None
    if participant is not None:
        phone = participant.phone
    if phone is None:
        row.state, row.state_reason = OutboxState.FAILED, "no phone number"
        session.commit()
        return row
    if row.body is None:
        try:
            if compose is None:
                raise ValueError("no wording for this row")
            row.body = compose(session, row, moment)
        except ValueError as problem:
            row.state, row.state_reason = OutboxState.FAILED, str(problem)[:200]
            session.commit()
            return row
        row.segments = count_segments(row.body).segments
    row.state = OutboxState.SENDING
    row.attempt_id = str(uuid.uuid4())
    row.attempts += 1
    row.updated_at = moment
    # Committed before the request leaves: a crash now leaves a visible 'sending' row, never a
    # queued one that a second attempt would send again.
    session.commit()

    validity = (row.expires_at - moment) if row.expires_at else DEFAULT_VALIDITY
    text = OutgoingText(
        to=phone,
        body=row.body,
        status_callback=callback_url(row),
        validity_period=int(validity.total_seconds()),
    )
    try:
        receipt = gateway.send_text(text)
    except GatewayError as error:
        _record_failure(session, row, participant, error, now())
        session.commit()
        return row
    row.provider_sid = receipt.sid
    row.sent_at = now()
    advance(row, OutboxState.SENT, row.sent_at)
    session.commit()
    log.info("sent outbox %s to %s as %s", row.id, mask(phone), receipt.sid)
    return row


def _record_failure(
    session: Session,
    row: OutboxMessage,
    participant: Participant | None,
    error: GatewayError,
    moment: datetime,
) -> None:
    row.error_code = error.code
    row.updated_at = moment
    log.warning("outbox %s: %s (code %s)", row.id, error, error.code)
    if error.may_have_sent:
        row.state, row.state_reason = OutboxState.UNKNOWN, str(error)[:200]
        return
    if error.retryable:
        row.state, row.state_reason = OutboxState.QUEUED, str(error)[:200]
        row.due_at = moment + timedelta(seconds=min(300, 5 * 2 ** (row.attempts - 1)))
        return
    row.state, row.state_reason = OutboxState.FAILED, str(error)[:200]
    apply_error_code(session, participant, error.code, moment)


def apply_error_code(
    session: Session, participant: Participant | None, code: int | None, moment: datetime
) -> None:
    """Learn what a provider error says about the person: opted out, or a landline."""
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
        participant.landline = True
    elif code == INVALID_TO:
        log.warning(
            "participant %s has an invalid number %s", participant.id, mask(participant.phone)
        )


def advance(row: OutboxMessage, state: OutboxState, moment: datetime) -> bool:
    """Move row forward to state; a report older than what we know is ignored."""
    if _RANK.get(state, 0) <= _RANK.get(row.state, 0):
        return False
    row.state = state
    row.updated_at = moment
    return True
