"""Forgetting a person: their number, name and words go; the counts they were part of stay.

What remains is what statistics need and what keeps a promise: outbox rows keep their kind,
group, state and times (no words, no number); inbox rows keep their group, intent and time;
the consent ledger keeps its dated changes and the keyed hash of the number, so a number that
opted out stays opted out if it is ever imported or texts again; answers about meetings already
held stay, unattributed, in those meetings' headcounts and the group's stats. Memberships and
answers about meetings to come go with the person.

A coordinator erases a person as their own groups knew them: when no other group holds the
person, that is the whole person; when another does, the person stays there, untouched, and the
coordinator learns nothing of it (the answer counts what the coordinator's groups held either
way). An admin erases the whole person.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Select, case, delete, func, or_, select, update
from sqlalchemy.orm import Session

from service.messages.outbox import withdraw
from service.models import (
    ConsentEvent,
    Group,
    InboundMessage,
    Membership,
    OutboxMessage,
    Participant,
    Rsvp,
)
from service.people.consent import seen_by

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
    _keep_past_answers(session, pid, now)
    # The database's own cascade takes memberships along.
    session.execute(delete(Participant).where(Participant.id == pid))
    session.expunge(participant)
    log.info("participant %s erased", pid)
    return Erased(
        texts_out=int(outbox.rowcount or 0),  # type: ignore[attr-defined]
        texts_in=int(inbox.rowcount or 0),  # type: ignore[attr-defined]
        ledger_entries=int(ledger.rowcount or 0),  # type: ignore[attr-defined]
    )


def erase_in_groups(
    session: Session, participant: Participant, group_ids: Collection[int], now: datetime
) -> Erased:
    """A coordinator's erasure: the person as these groups knew them (the whole person when no
    other group holds them). The counts are these groups' either way."""
    pid, groups = participant.id, list(group_ids)
    counted = Erased(
        texts_out=_rows(
            session,
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.participant_id == pid, OutboxMessage.group_id.in_(groups)),
        ),
        texts_in=_rows(
            session,
            select(func.count())
            .select_from(InboundMessage)
            .where(InboundMessage.participant_id == pid, InboundMessage.group_id.in_(groups)),
        ),
        ledger_entries=int(
            session.scalar(
                select(func.count())
                .select_from(ConsentEvent)
                .where(ConsentEvent.phone_hash == participant.phone_hash, seen_by(groups))
            )
            or 0
        ),
    )
    elsewhere = session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(Membership.participant_id == pid, Membership.group_id.not_in(groups))
    )
    if not elsewhere:
        erase_participant(session, participant, now)
        return counted
    in_these = OutboxMessage.participant_id == pid, OutboxMessage.group_id.in_(groups)
    withdraw(session, in_these[0] & in_these[1], "erased", now)
    session.execute(
        update(OutboxMessage)
        .where(*in_these)
        .values(
            body=case((OutboxMessage.campaign_id.is_(None), ""), else_=None),
            participant_id=None,
            state_reason=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(InboundMessage)
        .where(InboundMessage.participant_id == pid, InboundMessage.group_id.in_(groups))
        .values(body="", from_phone=None, participant_id=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(ConsentEvent)
        .where(ConsentEvent.phone_hash == participant.phone_hash, ConsentEvent.group_id.in_(groups))
        .values(words=None)
        .execution_options(synchronize_session=False)
    )
    _keep_past_answers(session, pid, now, groups)
    session.execute(
        delete(Membership).where(Membership.participant_id == pid, Membership.group_id.in_(groups))
    )
    session.expire(participant)
    log.info("participant %s erased from %d group(s)", pid, len(groups))
    return counted


def _rows(session: Session, query: Select[int]) -> int:
    return int(session.scalar(query) or 0)


def _keep_past_answers(
    session: Session, pid: int, now: datetime, groups: Collection[int] | None = None
) -> None:
    """Unattribute answers about meetings already held; drop those about meetings to come."""
    query = (
        select(Rsvp.id, Rsvp.occurrence_key, Group.timezone)
        .join(Group, Group.id == Rsvp.group_id)
        .where(Rsvp.participant_id == pid)
    )
    if groups is not None:
        query = query.where(Rsvp.group_id.in_(list(groups)))
    answers = session.execute(query).all()
    # A key is the meeting's local wall time, 20260303T1830: it sorts as the times do.
    to_come = [
        i for i, key, zone in answers if key >= f"{now.astimezone(ZoneInfo(zone)):%Y%m%dT%H%M}"
    ]
    session.execute(delete(Rsvp).where(Rsvp.id.in_(to_come)))
    session.execute(
        update(Rsvp)
        .where(Rsvp.id.in_([i for i, _, _ in answers]))
        .values(participant_id=None)
        .execution_options(synchronize_session=False)
    )
