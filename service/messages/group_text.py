"""A coordinator's one-off text to a whole group: each member's copy waits for their morning.

Quiet hours hold for every text a coordinator sends to a group, as for reminders: a member
for whom it is night now gets the text when their quiet hours end, with the usual four hours
to be useful after that. Only a coordinator who says so explicitly (`at_night`) sends it at
once to everyone. Consent is checked again as each copy goes. Each copy is worded for its
member when it is queued (their name in the group, in the group's language for them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.messages.outbox import DEFAULT_VALIDITY, enqueue
from service.messages.quiet_hours import QuietHours, next_allowed
from service.models import (
    Group,
    Membership,
    MembershipStatus,
    OutboxKind,
    OutboxMessage,
    Participant,
)


@dataclass
class GroupText:
    """The copies of one group text: those going now, and those waiting for the morning."""

    now: list[OutboxMessage] = field(default_factory=list)
    waiting: list[OutboxMessage] = field(default_factory=list)

    @property
    def rows(self) -> list[OutboxMessage]:
        return self.now + self.waiting


def members_at_night(session: Session, group: Group, moment: datetime) -> int:
    """How many of the group's active members are in their quiet hours at moment."""
    quiet = QuietHours(group.quiet_start, group.quiet_end)
    return sum(quiet.contains(moment, m.timezone) for _, m in active_members(session, group))


def text_group(
    session: Session,
    group: Group,
    word: Callable[[Membership], str],
    *,
    key: str,
    now: datetime,
    at_night: bool = False,
) -> GroupText:
    """Queue a text worded by word for every active member of group, once per key; the caller
    commits."""
    quiet = QuietHours(group.quiet_start, group.quiet_end)
    queued = GroupText()
    for person, membership in active_members(session, group):
        due = now if at_night else next_allowed(now, membership.timezone, quiet)
        row = enqueue(
            session,
            send_key=f"one-off:{group.id}:{key}:{person.id}",
            kind=OutboxKind.ONE_OFF,
            body=word(membership),
            participant=person,
            group_id=group.id,
            now=now,
            due_at=due,
            expires_at=due + DEFAULT_VALIDITY,
        )
        if row is not None:
            (queued.now if due <= now else queued.waiting).append(row)
    return queued


def active_members(session: Session, group: Group) -> list[tuple[Participant, Membership]]:
    """The group's active members, each with their membership (zone, language, name)."""
    rows = session.execute(
        select(Participant, Membership)
        .join(Membership)
        .where(Membership.group_id == group.id, Membership.status == MembershipStatus.ACTIVE)
        .order_by(Participant.id)
    )
    return [(person, membership) for person, membership in rows]
