"""The outbox: every outgoing text is a row first, then one careful hand-over to the gateway."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.messages.quiet_hours import QuietHours, place_encouragement
from service.messages.segments import count_segments
from service.metrics import note_settled
from service.models import (
    Channel,
    ConsentState,
    Group,
    Membership,
    MembershipStatus,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Participant,
    PlanChange,
)

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
    due_at: datetime | None = None,
    expires_at: datetime | None = None,
    channel: Channel = Channel.SMS,
    new_key: bool = False,
) -> OutboxMessage | None:
    """Add a row under send_key, due now unless due_at says later; return None when that key
    was planned already.

    new_key: the caller knows no row can hold send_key yet (it is made of something unique
    the same transaction writes), so the row is added without a savepoint (two round trips
    on PostgreSQL); a clash is then the caller's IntegrityError.
    """
    row = OutboxMessage(
        send_key=send_key,
        kind=kind,
        channel=channel,
        body=body,
        participant_id=participant.id if participant else None,
        group_id=group_id,
        to_phone=None if participant else to_phone,
        segments=count_segments(body).segments if body and channel is Channel.SMS else 1,
        state=state,
        due_at=due_at or now,
        expires_at=expires_at,
        created_at=now,
        updated_at=now,
        sent_at=now if state is OutboxState.SENT else None,
    )
    if new_key:
        session.add(row)
        return row
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
    *,
    replan: bool = True,
) -> int:
    """Take back rows still waiting that match condition; planning brings back wanted ones.

    A campaign's row taken back leaves a note for the planner (replan), which otherwise skips a
    campaign whose inputs did not change and would never bring the row back; the planner's own
    withdrawals, which follow from what it planned from, leave none.
    """
    taken = session.execute(
        update(OutboxMessage)
        .where(condition, OutboxMessage.state == OutboxState.QUEUED)
        .values(state=state, state_reason=reason, updated_at=now)
        .returning(OutboxMessage.kind, OutboxMessage.group_id, OutboxMessage.campaign_id)
        .execution_options(synchronize_session=False)
    ).all()
    kinds = Counter(kind for kind, _, _ in taken)
    for kind, n in kinds.items():
        note_settled(session, state, kind, n)
    if replan:
        groups = {group for _, group, campaign in taken if campaign is not None and group}
        if groups:
            session.execute(insert(PlanChange), [{"group_id": group} for group in sorted(groups)])
    return kinds.total()


Memberships = Mapping[tuple[int, int], Membership]  # by (participant, group)


def membership_of(
    session: Session, participant_id: int, group_id: int, memberships: Memberships | None = None
) -> Membership | None:
    """The person's membership of the group, from memberships a batch loaded when given."""
    if memberships is not None:
        return memberships.get((participant_id, group_id))
    return session.scalar(
        select(Membership).where(
            Membership.participant_id == participant_id, Membership.group_id == group_id
        )
    )


def blocked_reason(
    session: Session,
    row: OutboxMessage,
    now: datetime,
    memberships: Memberships | None = None,
) -> OutboxState | None:
    """Why row may not go out now (suppressed or expired), re-checked at the moment of sending.

    memberships, when given, holds the (participant, group) memberships a batch loaded at once.
    """
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
    if participant.number_invalid:
        row.state_reason = "Twilio said the number is not valid"
        return OutboxState.SUPPRESSED
    if participant.landline and row.channel is Channel.SMS:
        row.state_reason = "the number cannot take texts"
        return OutboxState.SUPPRESSED
    if row.kind is OutboxKind.INVITATION:
        return None
    if participant.consent is not ConsentState.GRANTED:
        row.state_reason = "no consent yet"
        return OutboxState.SUPPRESSED
    if (
        row.kind is OutboxKind.ENCOURAGEMENT
        and participant.encouragement_paused_until is not None
        and participant.encouragement_paused_until > now
    ):
        row.state_reason = "encouragement paused"
        return OutboxState.SUPPRESSED
    if row.group_id is not None:
        membership = membership_of(session, participant.id, row.group_id, memberships)
        if membership is None or membership.status is not MembershipStatus.ACTIVE:
            row.state_reason = "not an active member"
            return OutboxState.SUPPRESSED
    return None


# Sends nobody is waiting for this minute: they wait out the person's quiet hours. (A reply,
# an alert, a coordinator's one-off text go when they are sent.)
_PLANNED = (
    OutboxKind.REMINDER,
    OutboxKind.ENCOURAGEMENT,
    OutboxKind.BROADCAST,
    OutboxKind.INVITATION,  # an imported roster can take hours to invite at 1 text a second
)


def hold_for_quiet_hours(
    session: Session, row: OutboxMessage, moment: datetime, memberships: Memberships | None = None
) -> bool:
    """Hold back a planned text that would land in the person's quiet hours (after an outage,
    say): it goes back to the queue for the next allowed moment inside its window, or expires.
    The hours are the group's, in the person's zone as the group has it."""
    if row.kind not in _PLANNED or row.participant_id is None or row.group_id is None:
        return False
    membership = membership_of(session, row.participant_id, row.group_id, memberships)
    zone = (membership or session.get_one(Participant, row.participant_id)).timezone
    group = session.get_one(Group, row.group_id)
    quiet = QuietHours(group.quiet_start, group.quiet_end)
    if not quiet.contains(moment, zone):
        return False
    window = (row.expires_at - moment) if row.expires_at else DEFAULT_VALIDITY
    placement = place_encouragement(moment, zone, quiet, window=window)
    if placement.send_at is None:
        row.state, row.state_reason = OutboxState.EXPIRED, "only quiet hours were left"
    else:
        row.state, row.due_at = OutboxState.QUEUED, placement.send_at
        row.state_reason = "waiting out quiet hours"
    row.updated_at = moment
    return True


def advance(row: OutboxMessage, state: OutboxState, moment: datetime) -> bool:
    """Move row forward to state; a report older than what we know is ignored."""
    if _RANK.get(state, 0) <= _RANK.get(row.state, 0):
        return False
    row.state = state
    row.updated_at = moment
    return True
