"""What the People pages show, read from one coordinator's groups only.

A person's other groups never show here, not even as a count: every query is held to the
groups given (a row of a group given), and words about consent are as those groups see it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from service.conversation.inbox import automatic_answers
from service.models import (
    ConsentEvent,
    ConsentState,
    Group,
    InboundMessage,
    Membership,
    MembershipStatus,
    OutboxMessage,
    Participant,
)
from service.people import consent

PAGE_SIZE = 50


@dataclass(frozen=True)
class Row:
    participant: Participant
    membership: Membership
    group: Group


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    total: int
    page: int
    pages: int


def members(
    session: Session,
    groups: Collection[int] | None,
    *,
    group_id: int | None,
    search: str,
    page: int,
) -> Page:
    """One row per membership in these groups (None: every group), searched by the group's name
    for the person or the last digits of their number."""
    query = (
        select(Participant, Membership, Group)
        .join(Membership, Membership.participant_id == Participant.id)
        .join(Group, Group.id == Membership.group_id)
    )
    if groups is not None:
        query = query.where(Membership.group_id.in_(list(groups)))
    if group_id is not None:
        query = query.where(Membership.group_id == group_id)
    words = " ".join(search.split())
    if words:
        digits = "".join(c for c in words if c.isdigit())
        escaped = words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        found: ColumnElement[bool] = Membership.name.ilike(f"%{escaped}%", escape="\\")
        if digits and len(digits) == len(words.replace(" ", "").lstrip("+").replace("-", "")):
            found = or_(found, Participant.phone.like(f"%{digits}"))
        query = query.where(found)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    rows = session.execute(
        query.order_by(Group.public_name, Group.id, Membership.name, Membership.id)
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    )
    return Page([Row(p, m, g) for p, m, g in rows], total, page, pages)


def membership(
    session: Session, groups: Collection[int] | None, group_id: int, participant_id: int
) -> Membership | None:
    """The person's membership in this group, if the group is one of these."""
    if groups is not None and group_id not in groups:
        return None
    return session.scalar(
        select(Membership).where(
            Membership.group_id == group_id, Membership.participant_id == participant_id
        )
    )


def consent_here(participant: Participant, member: Membership) -> ConsentState:
    """Consent as this group sees it: an opt-out holds everywhere; a YES said to another group
    is not a YES to this one."""
    if participant.consent is ConsentState.REVOKED:
        return ConsentState.REVOKED
    if member.status is MembershipStatus.ACTIVE:
        return participant.consent
    return ConsentState.UNKNOWN


def history(session: Session, participant: Participant, group_id: int) -> list[ConsentEvent]:
    """The consent ledger as it concerns this group (as the API's consent route reads it):
    its own entries with their words, those made everywhere without. Oldest first."""
    events = session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.phone_hash == participant.phone_hash, consent.seen_by([group_id]))
        .order_by(ConsentEvent.created_at, ConsentEvent.id)
    )
    return list(events)


@dataclass(frozen=True)
class Entry:
    at: datetime
    sent: OutboxMessage | None = None
    received: InboundMessage | None = None


def thread(session: Session, participant_id: int, group_id: int) -> list[Entry]:
    """Everything between the person and this group, in time order: what went (or goes) out
    to them, what they sent, and Peerline's automatic answers to it."""
    out = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.participant_id == participant_id, OutboxMessage.group_id == group_id
        )
    )
    came = list(
        session.scalars(
            select(InboundMessage).where(
                InboundMessage.participant_id == participant_id,
                InboundMessage.group_id == group_id,
            )
        )
    )
    answered = automatic_answers(session, participant_id, came)
    entries = [Entry(at=m.sent_at or m.due_at, sent=m) for m in [*out, *answered]]
    entries += [Entry(at=m.received_at, received=m) for m in came]
    # An automatic answer is stamped with the moment of the words it answers: words first.
    return sorted(entries, key=lambda e: (e.at, e.received is None))
