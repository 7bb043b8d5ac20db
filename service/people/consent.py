"""Consent: the append-only ledger and the participant's current word beside it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.messages import outbox
from service.models import (
    ConsentChange,
    ConsentEvent,
    ConsentSource,
    ConsentState,
    OutboxMessage,
    OutboxState,
    Participant,
)


def opt_out(
    session: Session,
    participant: Participant,
    *,
    source: ConsentSource,
    words: str | None,
    now: datetime,
) -> bool:
    """Revoke consent for every group and channel; return whether anything changed."""
    if not _change(session, participant, ConsentChange.OPT_OUT, source, words, now):
        return False
    # Nothing planned for them may go out, whatever the dispatcher's timing.
    outbox.withdraw(
        session,
        OutboxMessage.participant_id == participant.id,
        "opted out",
        now,
        state=OutboxState.SUPPRESSED,
    )
    return True


def opt_in(
    session: Session,
    participant: Participant,
    *,
    source: ConsentSource,
    words: str | None,
    now: datetime,
) -> bool:
    """Grant consent; return whether anything changed."""
    return _change(session, participant, ConsentChange.OPT_IN, source, words, now)


def _change(
    session: Session,
    participant: Participant,
    change: ConsentChange,
    source: ConsentSource,
    words: str | None,
    now: datetime,
) -> bool:
    state = ConsentState.REVOKED if change is ConsentChange.OPT_OUT else ConsentState.GRANTED
    if participant.consent is state:
        return False
    participant.consent = state
    session.add(
        ConsentEvent(
            participant_id=participant.id,
            phone_hash=participant.phone_hash,
            change=change,
            source=source,
            words=words,
            created_at=now,
        )
    )
    return True


def opt_out_stranger(
    session: Session, phone_hash: str, *, source: ConsentSource, words: str | None, now: datetime
) -> bool:
    """Record that a number we do not know asked for no messages, so it stays that way."""
    if revoked_hash(session, phone_hash):
        return False
    session.add(
        ConsentEvent(
            phone_hash=phone_hash,
            change=ConsentChange.OPT_OUT,
            source=source,
            words=words,
            created_at=now,
        )
    )
    return True


def revoked_hash(session: Session, phone_hash: str) -> bool:
    """Whether the ledger's latest word for this number is an opt-out."""
    latest = session.scalars(
        select(ConsentEvent.change)
        .where(ConsentEvent.phone_hash == phone_hash)
        .order_by(ConsentEvent.created_at.desc(), ConsentEvent.id.desc())
        .limit(1)
    ).first()
    return latest is ConsentChange.OPT_OUT
