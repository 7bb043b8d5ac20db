"""Forgetting a person: their number, name and words go; the counts they were part of stay.

What remains is what statistics need and what keeps a promise: outbox rows keep their kind,
group, state and times (no words, no number); inbox rows keep their group, intent and time;
the consent ledger keeps its dated changes and the keyed hash of the number, so a number that
opted out stays opted out if it is ever imported or texts again. Memberships and RSVPs go
with the person.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, delete, or_, update
from sqlalchemy.orm import Session

from service.models import ConsentEvent, InboundMessage, OutboxMessage, Participant
from service.outbox import withdraw

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Erased:
    texts_out: int
    texts_in: int
    ledger_entries: int


def erase_participant(session: Session, participant: Participant, now: datetime) -> Erased:
    """Purge participant in the caller's transaction; the caller commits."""
    pid, phone = participant.id, participant.phone
    # Nothing still waiting may go to a number that is no longer on record.
    withdraw(session, OutboxMessage.participant_id == pid, "erased", now)
    outbox = session.execute(
        update(OutboxMessage)
        .where(or_(OutboxMessage.participant_id == pid, OutboxMessage.to_phone == phone))
        .values(
            # A campaign row may have no words; a one-off keeps an empty string (never NULL).
            body=case((OutboxMessage.campaign_id.is_(None), ""), else_=None),
            to_phone=None,
            participant_id=None,
            state_reason=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    inbox = session.execute(
        update(InboundMessage)
        .where(or_(InboundMessage.participant_id == pid, InboundMessage.from_phone == phone))
        .values(body="", from_phone=None, participant_id=None)
        .execution_options(synchronize_session=False)
    )
    ledger = session.execute(
        update(ConsentEvent)
        .where(ConsentEvent.participant_id == pid)
        .values(words=None, participant_id=None)
        .execution_options(synchronize_session=False)
    )
    # The database's own cascades take memberships and RSVPs along.
    session.execute(delete(Participant).where(Participant.id == pid))
    session.expunge(participant)
    log.info("participant %s erased", pid)
    return Erased(
        texts_out=int(outbox.rowcount or 0),  # type: ignore[attr-defined]
        texts_in=int(inbox.rowcount or 0),  # type: ignore[attr-defined]
        ledger_entries=int(ledger.rowcount or 0),  # type: ignore[attr-defined]
    )
