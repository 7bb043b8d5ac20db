"""Enrolling one person in a group, changing their details, and taking them out of a group.

The command line and the API both come here, so a person added either way is treated the
same: someone who opted out stays opted out, a coordinator's note of written consent makes
them active, and anyone else is invited by text to reply YES.
"""

from __future__ import annotations

from collections.abc import Collection
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
from service.text import said

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
    added: bool  # new in this group (False: a member of it already); nothing about other groups
    opted_out: bool  # they had opted out: kept pending, only they can opt back in
    invitation: OutboxMessage | None  # the welcome text asking them to reply YES


REACH = ("language", "timezone", "channel")  # how a group reaches a person


def choose(
    participant: Participant,
    *,
    language: str | None = None,
    timezone: str | None = None,
    channel: Channel | None = None,
) -> None:
    """The person's own choice (by text or keypad, or what their number turned out to be): it
    holds for them and in every group they are in. None leaves a value as it is."""
    chosen = {"language": language, "timezone": timezone, "channel": channel}
    for target in (participant, *participant.memberships):
        for field, value in chosen.items():
            if value is not None:
                setattr(target, field, value)


def _set_reach(membership: Membership, details: Details) -> None:
    for field in REACH:
        value = getattr(details, field)
        if value is not None:
            setattr(membership, field, value)


def joining(
    participant: Participant, group_id: int, *, now: datetime, name: str | None = None
) -> Membership:
    """A new membership that reaches the person as they chose: their own language, time zone
    and channel. (A coordinator's enrolment sets the group's own instead.)"""
    return Membership(
        participant_id=participant.id,
        group_id=group_id,
        name=name,
        language=participant.language or "en",
        timezone=participant.timezone,
        channel=participant.channel or Channel.SMS,
        created_at=now,
    )


def name_in(session: Session, participant_id: int, group_id: int | None) -> str | None:
    """The name a group knows the person by; None when it gave none (or there is no group)."""
    if group_id is None:
        return None
    return session.scalar(
        select(Membership.name).where(
            Membership.participant_id == participant_id, Membership.group_id == group_id
        )
    )


def names_in(
    session: Session, group_ids: Collection[int], participant_ids: Collection[int] | None = None
) -> dict[tuple[int, int], str]:
    """Each (participant, group)'s name for the person, for the groups given (and only these
    participants, when given: a page of rows needs its own people, not the whole roster)."""
    query = select(Membership.participant_id, Membership.group_id, Membership.name).where(
        Membership.group_id.in_(list(group_ids)), Membership.name.is_not(None)
    )
    if participant_ids is not None:
        query = query.where(Membership.participant_id.in_(list(participant_ids)))
    return {(pid, gid): name or "" for pid, gid, name in session.execute(query)}


def first_word(name: str | None) -> str | None:
    return name.split()[0] if name and name.split() else None


def check_details(details: Details) -> None:
    if details.name is not None and len(details.name.strip()) > MAX_NAME:
        raise ParticipantError(
            said("a name has at most %(longest)d characters", longest=MAX_NAME), "name"
        )
    if details.language is not None and details.language not in LANGUAGES:
        raise ParticipantError(
            said("language must be one of: %(languages)s", languages=", ".join(LANGUAGES)),
            "language",
        )
    if details.timezone is not None:
        try:
            ZoneInfo(details.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ParticipantError(
                said("%(zone)r is not a time zone such as America/New_York", zone=details.timezone),
                "timezone",
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
            said(
                "say where the written consent is kept, in 1 to %(longest)d characters",
                longest=MAX_NOTE,
            ),
            "consent_note",
        )
    name = (details.name or "").strip() or None
    # The same steps for a number known elsewhere as for a new one, so that neither the answer
    # nor the time it takes says which it was.
    hashed = phone_hash(phone, secret_key)
    revoked = consent.revoked_hash(session, hashed)
    participant = session.scalar(select(Participant).where(Participant.phone_hash == hashed))
    if participant is None:
        participant = Participant(
            phone=phone,
            phone_hash=hashed,
            name=name,
            language=details.language or group.language,
            timezone=details.timezone or group.timezone,
            channel=details.channel or Channel.SMS,
            consent=ConsentState.REVOKED if revoked else ConsentState.UNKNOWN,
            created_at=now,
        )
        session.add(participant)
        session.flush()
    membership = session.scalar(
        select(Membership).where(
            Membership.participant_id == participant.id, Membership.group_id == group.id
        )
    )
    added = membership is None
    if membership is None:
        # This group reaches them as its coordinator says, or as the group does: never as
        # another group set, which would tell this one that the number is known elsewhere.
        membership = Membership(
            participant_id=participant.id,
            group_id=group.id,
            name=name,
            language=details.language or group.language,
            timezone=details.timezone or group.timezone,
            channel=details.channel or Channel.SMS,
            created_at=now,
        )
        session.add(membership)
    else:
        _set_reach(membership, details)
        if name is not None:
            membership.name = name
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
            group_id=group.id,
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
            body=invitation_text(wording, group, membership.language),
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
    return Enrolled(participant, membership, added, opted_out, invitation)


def update_details(
    session: Session,
    participant: Participant,
    details: Details,
    *,
    groups: Collection[int] | None,
    now: datetime,
    actor: str,
) -> list[str]:
    """Change what was given; return the names of the fields that changed.

    A name is the given groups' name for the person (None: every group's, and the one texts
    use where a group has none). Language, time zone and channel change how the given groups
    reach the person (None: every group), and the person's own choice too when the given groups
    are all the groups they are in.
    """
    check_details(details)
    changed = []
    if details.name is not None:
        name = details.name.strip() or None
        renamed = False
        for membership in participant.memberships:
            if (groups is None or membership.group_id in groups) and membership.name != name:
                membership.name = name
                renamed = True
        if groups is None and participant.name != name:
            participant.name = name
            renamed = True
        if renamed:
            changed.append("name")
    mine = [m for m in participant.memberships if groups is None or m.group_id in groups]
    # The person's own choice changes only for someone who speaks for every group they are in:
    # otherwise it would change how another group reaches them.
    everywhere = groups is None or all(
        m.group_id in groups
        for m in participant.memberships
        if m.status is not MembershipStatus.LEFT
    )
    for field in REACH:
        value = getattr(details, field)
        if value is None:
            continue
        targets: list[Participant | Membership] = [*mine, *([participant] if everywhere else [])]
        moved = [t for t in targets if getattr(t, field) != value]
        for target in moved:
            setattr(target, field, value)
        if moved:
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
