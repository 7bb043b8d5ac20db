"""People who have gone quiet: members who have neither answered a meeting nor texted in a while.

So that a coordinator can reach out. Someone who joined within the period is not quiet yet,
and someone who opted out has said what they wanted: neither is listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.models import (
    ConsentState,
    InboundMessage,
    Membership,
    MembershipStatus,
    Participant,
    Rsvp,
)

MAX_WEEKS = 52


class QuietError(ValueError):
    """A period that cannot be asked for."""


@dataclass(frozen=True)
class QuietMember:
    participant_id: int
    name: str | None  # the group's name for them
    phone: str  # full: callers mask it wherever it is shown
    joined_at: datetime
    last_heard: datetime | None  # their last answer or text, in this group; None: never


def gone_quiet(session: Session, group_id: int, weeks: int, now: datetime) -> list[QuietMember]:
    """The group's active members silent for weeks, longest silent first (one query)."""
    if not 1 <= weeks <= MAX_WEEKS:
        raise QuietError(f"weeks must be from 1 to {MAX_WEEKS}")
    since = now - timedelta(weeks=weeks)
    # Only this group's answers and texts count: what a person does elsewhere is not shown.
    answered = (
        select(func.max(Rsvp.answered_at))
        .where(Rsvp.participant_id == Membership.participant_id, Rsvp.group_id == group_id)
        .scalar_subquery()
    )
    texted = (
        select(func.max(InboundMessage.received_at))
        .where(
            InboundMessage.participant_id == Membership.participant_id,
            InboundMessage.group_id == group_id,
        )
        .scalar_subquery()
    )
    rows = session.execute(
        select(Membership, Participant.phone, answered.label("answered"), texted.label("texted"))
        .join(Participant, Participant.id == Membership.participant_id)
        .where(
            Membership.group_id == group_id,
            Membership.status == MembershipStatus.ACTIVE,
            Participant.consent == ConsentState.GRANTED,
            Membership.created_at < since,
            func.coalesce(answered, Membership.created_at) < since,
            func.coalesce(texted, Membership.created_at) < since,
        )
        .order_by(Membership.created_at, Membership.id)
    ).all()
    found = [
        QuietMember(
            participant_id=membership.participant_id,
            name=membership.name,
            phone=phone,
            joined_at=membership.created_at,
            last_heard=max((t for t in (answered_at, texted_at) if t is not None), default=None),
        )
        for membership, phone, answered_at, texted_at in rows
    ]
    return sorted(found, key=lambda m: (m.last_heard is not None, m.last_heard or m.joined_at))
