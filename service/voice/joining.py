"""Joining a group by keypad: at once, while the caller waits; or, when the database was away as
they typed their group's code, by a call back that asks them to confirm.

A join never becomes active without the person's own key: the code alone makes a pending
membership and queues the call back; only 1 on that call (or on a later call of theirs) joins.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from service.messages.outbox import enqueue, withdraw
from service.messages.wording import Wording
from service.models import (
    Channel,
    ConsentSource,
    ConsentState,
    Group,
    Membership,
    MembershipStatus,
    OutboxKind,
    OutboxMessage,
    Participant,
)
from service.people import consent
from service.people.participants import joining
from service.phones import mask

log = logging.getLogger(__name__)

# A call back is useful while the caller still remembers calling; busy lines and unanswered
# calls ring again within this (PEERLINE_CALL_RETRIES), never in their quiet hours.
CALL_BACK_VALIDITY = timedelta(days=1)


def join_by_keypad(
    session: Session, participant: Participant, group: Group, *, words: str, now: datetime
) -> None:
    """They pressed 1 to join group: their consent, given by keypad, and an active membership.
    An invitation to it still waiting (a call back, say) has nothing left to ask."""
    consent.opt_in(
        session, participant, source=ConsentSource.KEYPAD, words=words, now=now, group_id=group.id
    )
    membership = _membership(session, participant, group) or _new_membership(
        session, participant, group, now
    )
    membership.status = MembershipStatus.ACTIVE
    membership.updated_at = now
    withdraw(
        session,
        and_(
            OutboxMessage.participant_id == participant.id,
            OutboxMessage.group_id == group.id,
            OutboxMessage.kind == OutboxKind.INVITATION,
        ),
        "joined",
        now,
    )


def decline_join(session: Session, participant: Participant, group: Group, now: datetime) -> None:
    """They pressed 2 on the call back: the pending join ends, so no later YES can revive it."""
    membership = _membership(session, participant, group)
    if membership is not None and membership.status is MembershipStatus.PENDING:
        membership.status = MembershipStatus.LEFT
        membership.updated_at = now


def ask_by_call_back(
    session: Session,
    *,
    phone: str,
    phone_hash: str,
    group: Group,
    language: str,
    call_sid: str,
    wording: Wording,
    now: datetime,
) -> OutboxMessage | None:
    """A caller typed group's code while the database was away: a pending join, and a call
    back (a landline can take it) that asks them to confirm.

    Once per call, however often it is replayed: the call back's send key names the call, and
    once it exists nothing here changes again. None when nothing is to be asked: they are a
    member already, or they stopped us (no call goes to a number that did).
    """
    key = f"call-back:{call_sid}:{group.id}"
    if session.scalar(select(OutboxMessage.id).where(OutboxMessage.send_key == key)) is not None:
        return None
    participant = session.scalar(select(Participant).where(Participant.phone == phone))
    if participant is None:
        if consent.revoked_hash(session, phone_hash):
            log.info("%s typed a code but had stopped us: no call back", mask(phone))
            return None
        participant = Participant(
            phone=phone,
            phone_hash=phone_hash,
            language=language,
            timezone=group.timezone,
            channel=Channel.VOICE,  # they chose the phone: reminders come as calls
            created_at=now,
        )
        session.add(participant)
        session.flush()
    if participant.consent is ConsentState.REVOKED:
        log.info("%s typed a code but had stopped us: no call back", mask(phone))
        return None
    membership = _membership(session, participant, group) or _new_membership(
        session, participant, group, now
    )
    if membership.status is MembershipStatus.ACTIVE and participant.consent is ConsentState.GRANTED:
        return None
    membership.status = MembershipStatus.PENDING
    membership.updated_at = now
    return enqueue(
        session,
        send_key=key,
        kind=OutboxKind.INVITATION,
        channel=Channel.VOICE,
        body=wording.render("voice/call_back", participant.language, group=group.public_name),
        participant=participant,
        group_id=group.id,
        now=now,
        expires_at=now + CALL_BACK_VALIDITY,
    )


def pending_join(participant: Participant) -> Membership | None:
    """The newest join the person has not yet confirmed, if they have given no consent yet."""
    if participant.consent is ConsentState.GRANTED:
        return None
    pending = [m for m in participant.memberships if m.status is MembershipStatus.PENDING]
    return max(pending, key=lambda m: (m.updated_at, m.id)) if pending else None


def _membership(session: Session, participant: Participant, group: Group) -> Membership | None:
    return session.scalar(
        select(Membership).where(
            Membership.participant_id == participant.id, Membership.group_id == group.id
        )
    )


def _new_membership(
    session: Session, participant: Participant, group: Group, now: datetime
) -> Membership:
    membership = joining(participant, group.id, now=now)  # as the caller chose to be reached
    session.add(membership)
    return membership
