"""Enrolling one person in a group, changing their details, and taking them out of a group.

The command line and the API both come here, so a person added either way is treated the
same: someone who opted out stays opted out, a coordinator's note of written consent makes
them active, and anyone else is invited by text to reply YES.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.messages.outbox import withdraw
from service.messages.wording import LANGUAGES, Wording
from service.models import (
    Channel,
    ConsentSource,
    ConsentState,
    Group,
    Membership,
    MembershipStatus,
    OutboxMessage,
    Participant,
)
from service.people import audit, consent
from service.people.roster_import import invitation_text, invite
from service.phones import phone_hash

MAX_NAME = 120
MAX_NOTE = 500


class ParticipantError(ValueError):
    """A user-facing reason a change to a participant was refused."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Details:
    """What a coordinator may say about a person; None leaves a value as it is."""

    name: str | None = None
    language: str | None = None
    timezone: str | None = None
    channel: Channel | None = None


@dataclass(frozen=True)
class Enrolled:
    participant: Participant
    membership: Membership
    created: bool  # a new person, not one already known from another group
    opted_out: bool  # they had opted out: kept pending, only they can opt back in
    invitation: OutboxMessage | None  # the welcome text asking them to reply YES


def check_details(details: Details) -> None:
    if details.name is not None and len(details.name.strip()) > MAX_NAME:
        raise ParticipantError(f"a name has at most {MAX_NAME} characters", "name")
    if details.language is not None and details.language not in LANGUAGES:
        raise ParticipantError(f"language must be one of: {', '.join(LANGUAGES)}", "language")
    if details.timezone is not None:
        try:
            ZoneInfo(details.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ParticipantError(
                f"{details.timezone!r} is not a time zone such as America/New_York", "timezone"
            ) from None


def enrol(
    session: Session,
    group: Group,
    phone: str,
    details: Details,
    *,
    consent_note: str | None,
    secret_key: str,
    wording: Wording,
    now: datetime,
    actor: str,
) -> Enrolled:
    """Add the person with this E.164 number to group, creating them if they are new."""
    check_details(details)
    if consent_note is not None and not (0 < len(consent_note.strip()) <= MAX_NOTE):
        raise ParticipantError(
            f"say where the written consent is kept, in 1 to {MAX_NOTE} characters", "consent_note"
        )
    participant = session.scalar(select(Participant).where(Participant.phone == phone))
    created = participant is None
    if participant is None:
        hashed = phone_hash(phone, secret_key)
        participant = Participant(
            phone=phone,
            phone_hash=hashed,
            name=(details.name or "").strip() or None,
            language=details.language or group.language,
            timezone=details.timezone or group.timezone,
            channel=details.channel or Channel.SMS,
            created_at=now,
        )
        if consent.revoked_hash(session, hashed):
            participant.consent = ConsentState.REVOKED
        session.add(participant)
        session.flush()
    membership = session.scalar(
        select(Membership).where(
            Membership.participant_id == participant.id, Membership.group_id == group.id
        )
    )
    if membership is None:
        membership = Membership(participant_id=participant.id, group_id=group.id, created_at=now)
        session.add(membership)
    invitation = None
    opted_out = participant.consent is ConsentState.REVOKED
    if opted_out:
        membership.status = MembershipStatus.PENDING
    elif consent_note:
        consent.opt_in(
            session,
            participant,
            source=ConsentSource.COORDINATOR,
            words=consent_note.strip(),
            now=now,
        )
        membership.status = MembershipStatus.ACTIVE
    elif not (
        participant.consent is ConsentState.GRANTED and membership.status is MembershipStatus.ACTIVE
    ):
        membership.status = MembershipStatus.PENDING
        invitation = invite(
            session,
            participant,
            group,
            body=invitation_text(wording, group, participant.language),
            now=now,
        )
    membership.updated_at = now
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="participant.add",
        now=now,
        target_type="participant",
        target_id=participant.id,
        group=group.join_code,
        status=membership.status.value,
        consent_recorded=bool(consent_note) and not opted_out,
        **({"refused": "opted out"} if opted_out else {}),
    )
    return Enrolled(participant, membership, created, opted_out, invitation)


def update_details(
    session: Session, participant: Participant, details: Details, *, now: datetime, actor: str
) -> list[str]:
    """Change what was given; return the names of the fields that changed."""
    check_details(details)
    changed = []
    for field in ("name", "language", "timezone", "channel"):
        value = getattr(details, field)
        if field == "name" and value is not None:
            value = value.strip() or None
            if value == participant.name:
                continue
        elif value is None or value == getattr(participant, field):
            continue
        setattr(participant, field, value)
        changed.append(field)
    if changed:
        audit.record(
            session,
            actor=actor,
            action="participant.update",
            now=now,
            target_type="participant",
            target_id=participant.id,
            fields=changed,
        )
    return changed


def remove_from_group(
    session: Session, membership: Membership, *, now: datetime, actor: str
) -> int:
    """Take a person out of one group; texts planned for them there are withdrawn."""
    membership.status = MembershipStatus.LEFT
    membership.updated_at = now
    withdrawn = withdraw(
        session,
        (OutboxMessage.participant_id == membership.participant_id)
        & (OutboxMessage.group_id == membership.group_id),
        "removed from the group",
        now,
    )
    audit.record(
        session,
        actor=actor,
        action="membership.remove",
        now=now,
        target_type="membership",
        target_id=membership.id,
        participant=membership.participant_id,
        group=membership.group_id,
    )
    return withdrawn
