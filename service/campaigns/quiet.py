"""People who have gone quiet: members who have neither answered a meeting nor texted in a while.

So that a coordinator can reach out. Someone who joined within the period is not quiet yet,
and someone who opted out has said what they wanted: neither is listed.
"""

from __future__ import annotations

from collections.abc import Collection
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
    return gone_quiet_by_group(session, [group_id], weeks, now)[group_id]


def gone_quiet_by_group(
    session: Session, group_ids: Collection[int], weeks: int, now: datetime
) -> dict[int, list[QuietMember]]:
    """gone_quiet for each of these groups, in one query for all."""
    if not 1 <= weeks <= MAX_WEEKS:
        raise QuietError(f"weeks must be from 1 to {MAX_WEEKS}")
    since = now - timedelta(weeks=weeks)
    found: dict[int, list[QuietMember]] = {group_id: [] for group_id in group_ids}
    if not found:
        return found
    # Only each group's own answers and texts count: what a person does elsewhere is not shown.
    # Each is read once per group, grouped, rather than looked up member by member.
    answered = (
        select(Rsvp.participant_id, Rsvp.group_id, func.max(Rsvp.answered_at).label("at"))
        .where(Rsvp.group_id.in_(list(found)))
        .group_by(Rsvp.participant_id, Rsvp.group_id)
        .subquery()
    )
    texted = (
        select(
            InboundMessage.participant_id,
            InboundMessage.group_id,
            func.max(InboundMessage.received_at).label("at"),
        )
        .where(InboundMessage.group_id.in_(list(found)))
        .group_by(InboundMessage.participant_id, InboundMessage.group_id)
        .subquery()
    )
    rows = session.execute(
        select(Membership, Participant.phone, answered.c.at, texted.c.at)
        .join(Participant, Participant.id == Membership.participant_id)
        .outerjoin(
            answered,
            (answered.c.participant_id == Membership.participant_id)
            & (answered.c.group_id == Membership.group_id),
        )
        .outerjoin(
            texted,
            (texted.c.participant_id == Membership.participant_id)
            & (texted.c.group_id == Membership.group_id),
        )
        .where(
            Membership.group_id.in_(list(found)),
            Membership.status == MembershipStatus.ACTIVE,
            Participant.consent == ConsentState.GRANTED,
            Membership.created_at < since,
            func.coalesce(answered.c.at, Membership.created_at) < since,
            func.coalesce(texted.c.at, Membership.created_at) < since,
        )
        .order_by(Membership.created_at, Membership.id)
    ).all()
    for membership, phone, answered_at, texted_at in rows:
        found[membership.group_id].append(
            QuietMember(
                participant_id=membership.participant_id,
                name=membership.name,
                phone=phone,
                joined_at=membership.created_at,
                last_heard=max(
                    (t for t in (answered_at, texted_at) if t is not None), default=None
                ),
            )
        )
    return {
        group_id: sorted(
            members, key=lambda m: (m.last_heard is not None, m.last_heard or m.joined_at)
        )
        for group_id, members in found.items()
    }
