"""Consent: the append-only ledger and the participant's current word beside it."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from service.messages import outbox
from service.models import (
    ConsentChange,
    ConsentEvent,
    ConsentSource,
    ConsentState,
    MembershipStatus,
    OutboxMessage,
    OutboxState,
    Participant,
)
from service.text import said

MAX_NOTE = 500


def opt_out(
    session: Session,
    participant: Participant,
    *,
    source: ConsentSource,
    words: str | None,
    now: datetime,
    group_id: int | None = None,
) -> bool:
    """Revoke consent for every group and channel; return whether anything changed.

    group_id: the group whose door it came through, if any (its coordinator sees the words).
    """
    if not _change(session, participant, ConsentChange.OPT_OUT, source, words, now, group_id):
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
    group_id: int | None = None,
) -> bool:
    """Grant consent; return whether the ledger took a new entry: a change, or a group's own
    record of consent the person had given elsewhere.

    group_id: the group whose door it came through (a join code, a coordinator's note).
    """
    return _change(session, participant, ConsentChange.OPT_IN, source, words, now, group_id)


def _change(
    session: Session,
    participant: Participant,
    change: ConsentChange,
    source: ConsentSource,
    words: str | None,
    now: datetime,
    group_id: int | None,
) -> bool:
    state = ConsentState.REVOKED if change is ConsentChange.OPT_OUT else ConsentState.GRANTED
    if participant.consent is state:
        # Consent given elsewhere already: a group's own written record of it is still kept,
        # once, so each group holds its own evidence and none sees another's.
        own_record = change is ConsentChange.OPT_IN and group_id is not None
        if not own_record or _granted_in(session, participant.phone_hash, group_id):
            return False
    participant.consent = state
    session.add(
        ConsentEvent(
            participant_id=participant.id,
            phone_hash=participant.phone_hash,
            group_id=group_id,
            change=change,
            source=source,
            words=words,
            created_at=now,
        )
    )
    return True


def _granted_in(session: Session, phone_hash: str, group_id: int | None) -> bool:
    latest = session.scalars(
        select(ConsentEvent.change)
        .where(ConsentEvent.phone_hash == phone_hash, ConsentEvent.group_id == group_id)
        .order_by(ConsentEvent.created_at.desc(), ConsentEvent.id.desc())
        .limit(1)
    ).first()
    return latest is ConsentChange.OPT_IN


def seen_by(groups: Collection[int]) -> ColumnElement[bool]:
    """The ledger entries a coordinator of these groups sees: those that came through them, and
    those made everywhere (STOP, START, a carrier's report). Another group's are not shown, nor
    a note or import from before entries named their group (whose it was is unknown)."""
    return or_(
        ConsentEvent.group_id.in_(list(groups)),
        ConsentEvent.group_id.is_(None)
        & ConsentEvent.source.not_in([ConsentSource.COORDINATOR, ConsentSource.IMPORT]),
    )


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


class ConsentError(ValueError):
    """A user-facing reason a coordinator's change to someone's consent was refused."""


def opted_out_by_coordinator(
    session: Session, participant: Participant, groups: Collection[int] | None
) -> ConsentEvent | None:
    """The opt-out a coordinator of these groups (None: any, for an admin) recorded for the
    person, if it is the ledger's latest word for them: only such an opt-out may be undone by a
    coordinator. A person's own STOP is theirs to undo."""
    latest = session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.phone_hash == participant.phone_hash)
        .order_by(ConsentEvent.created_at.desc(), ConsentEvent.id.desc())
        .limit(1)
    ).first()
    if (
        latest is None
        or latest.change is not ConsentChange.OPT_OUT
        or latest.source is not ConsentSource.COORDINATOR
        or (groups is not None and latest.group_id not in groups)
    ):
        return None
    return latest


def record_opt_out(
    session: Session, participant: Participant, *, group_id: int, note: str, now: datetime
) -> bool:
    """Record an opt-out the person asked for in person or by phone, through group_id; return
    whether anything changed (False: they had opted out already)."""
    note = (note or "").strip()
    if not 0 < len(note) <= MAX_NOTE:
        raise ConsentError(
            said("say how and when they asked, in 1 to %(longest)d characters", longest=MAX_NOTE)
        )
    return opt_out(
        session,
        participant,
        source=ConsentSource.COORDINATOR,
        words=note,
        now=now,
        group_id=group_id,
    )


def undo_opt_out(
    session: Session,
    participant: Participant,
    *,
    groups: Collection[int] | None,
    note: str,
    now: datetime,
) -> None:
    """Undo a coordinator's opt-out (one recorded by mistake): the person's consent goes back to
    what it was before it. Their own STOP, or another group's note, is refused."""
    note = (note or "").strip()
    if not 0 < len(note) <= MAX_NOTE:
        raise ConsentError(
            said("say why it is undone, in 1 to %(longest)d characters", longest=MAX_NOTE)
        )
    recorded = opted_out_by_coordinator(session, participant, groups)
    if recorded is None:
        raise ConsentError(
            said(
                "only an opt-out a coordinator recorded can be undone here; "
                "a person's own opt-out is theirs to undo, by texting START"
            )
        )
    before = session.scalars(
        select(ConsentEvent.change)
        .where(ConsentEvent.phone_hash == participant.phone_hash, ConsentEvent.id != recorded.id)
        .where(ConsentEvent.created_at <= recorded.created_at)
        .order_by(ConsentEvent.created_at.desc(), ConsentEvent.id.desc())
        .limit(1)
    ).first()
    session.add(
        ConsentEvent(
            participant_id=participant.id,
            phone_hash=participant.phone_hash,
            group_id=recorded.group_id,
            change=ConsentChange.OPT_IN,
            source=ConsentSource.COORDINATOR,
            words=note,
            created_at=now,
        )
    )
    # A YES on record before it; or, where the ledger holds nothing older, an active membership
    # (which only consent makes).
    granted = before is ConsentChange.OPT_IN or (
        before is None and any(m.status is MembershipStatus.ACTIVE for m in participant.memberships)
    )
    participant.consent = ConsentState.GRANTED if granted else ConsentState.UNKNOWN
