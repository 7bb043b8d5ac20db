"""Enrolling participants from a roster: a file read, checked, planned, then written.

Three steps, so that a dry run and a real import share everything but the writing: `parse`
(in `service.people.roster`) reads the file and says what is wrong with each bad row;
`plan_import` decides, for every number, what the import would do; `apply_import` does it in
the caller's transaction.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from itertools import islice
from typing import Any, TypeVar

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from service.messages.outbox import enqueue
from service.messages.segments import count_segments
from service.messages.wording import LANGUAGES, Wording
from service.models import (
    Base,
    ConsentChange,
    ConsentEvent,
    ConsentSource,
    ConsentState,
    Group,
    Membership,
    MembershipStatus,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Participant,
)
from service.people import consent
from service.people.roster import Parsed, Row
from service.phones import phone_hash

INVITATION_VALIDITY = timedelta(days=1)
_CHUNK = 1_000  # values per IN (...), rows per executemany: memory stays flat, limits far off


class Standing(enum.StrEnum):
    """Where a number in the file stands before the import."""

    NEW = "new"  # nobody has this number
    JOINING = "joining"  # a participant, not yet in this group
    MEMBER = "member"  # pending or active in this group already
    LEFT = "left"  # left this group (LEAVE): not brought back by an import
    OPTED_OUT = "opted_out"  # the ledger's latest word for the number is an opt-out


class Action(enum.StrEnum):
    NOTHING = "nothing"
    INVITE = "invite"  # pending until they reply YES to a welcome text
    RECORD_CONSENT = "record_consent"  # prior written consent: active at once
    HOLD = "hold"  # opted out: in the group as pending, sent nothing


@dataclass(frozen=True)
class Entry:
    row: Row
    standing: Standing
    action: Action
    phone_hash: str
    participant: Participant | None
    membership: Membership | None
    invited_today: bool = False  # the welcome text went (or waits) already: not queued again


@dataclass(frozen=True)
class ImportResult:
    # New to this group, whether or not the number is known elsewhere: an import says no more
    # about numbers in other groups than about new ones.
    added: int
    already_members: int
    kept_opted_out: int
    left_before: int  # left this group earlier; not re-added
    invited: int  # welcome texts queued
    consent_recorded: int  # this group's records of written consent, in the ledger

    def counts(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class ImportPlan:
    group: Group
    consent_note: str | None
    entries: list[Entry]

    def expected(self) -> ImportResult:
        """What applying this plan will do, as far as the database could tell when planning."""
        by_standing = {s: sum(e.standing is s for e in self.entries) for s in Standing}
        return ImportResult(
            added=by_standing[Standing.NEW] + by_standing[Standing.JOINING],
            already_members=by_standing[Standing.MEMBER],
            kept_opted_out=by_standing[Standing.OPTED_OUT],
            left_before=by_standing[Standing.LEFT],
            invited=sum(e.action is Action.INVITE and not e.invited_today for e in self.entries),
            # This group's own record of each person's written consent, whatever other groups
            # hold.
            consent_recorded=sum(e.action is Action.RECORD_CONSENT for e in self.entries),
        )


def plan_import(
    session: Session,
    group: Group,
    parsed: Parsed,
    *,
    consent_note: str | None,
    hash_key: str,
    now: datetime,
) -> ImportPlan:
    """Decide what importing parsed.rows into group does for each number; writes nothing."""
    hashes = {row.phone: phone_hash(row.phone, hash_key) for row in parsed.rows}
    phones = list(hashes)
    known = {
        p.phone: p
        for chunk in _chunks(phones)
        for p in session.scalars(select(Participant).where(Participant.phone.in_(chunk)))
    }
    memberships = {
        m.participant_id: m
        for chunk in _chunks([p.id for p in known.values()])
        for m in session.scalars(
            select(Membership).where(
                Membership.group_id == group.id, Membership.participant_id.in_(chunk)
            )
        )
    }
    revoked = _revoked(session, list(hashes.values()))
    keys = [invitation_key(group.id, p.id, now) for p in known.values()]
    invited_today = {
        key
        for chunk in _chunks(keys)
        for key in session.scalars(
            select(OutboxMessage.send_key).where(OutboxMessage.send_key.in_(chunk))
        )
    }

    entries = []
    for row in parsed.rows:
        hashed = hashes[row.phone]
        participant = known.get(row.phone)
        membership = memberships.get(participant.id) if participant else None
        opted_out = hashed in revoked or (
            participant is not None and participant.consent is ConsentState.REVOKED
        )
        if opted_out:
            standing, action = Standing.OPTED_OUT, Action.HOLD
        elif membership is not None and membership.status is MembershipStatus.LEFT:
            standing, action = Standing.LEFT, Action.NOTHING
        else:
            standing = (
                Standing.NEW
                if participant is None
                else Standing.JOINING
                if membership is None
                else Standing.MEMBER
            )
            settled = (
                membership is not None
                and membership.status is MembershipStatus.ACTIVE
                and participant is not None
                and participant.consent is ConsentState.GRANTED
            )
            if settled:
                action = Action.NOTHING
            elif consent_note:
                action = Action.RECORD_CONSENT
            else:
                action = Action.INVITE
        entries.append(
            Entry(
                row,
                standing,
                action,
                hashed,
                participant,
                membership,
                invited_today=participant is not None
                and invitation_key(group.id, participant.id, now) in invited_today,
            )
        )
    return ImportPlan(group=group, consent_note=consent_note, entries=entries)


T = TypeVar("T")


def _chunks(values: Iterable[T]) -> Iterator[list[T]]:
    items = iter(values)
    while chunk := list(islice(items, _CHUNK)):
        yield chunk


def _revoked(session: Session, hashes: list[str]) -> set[str]:
    """The hashes whose latest word in the ledger is an opt-out."""
    latest: dict[str, tuple[datetime, int, ConsentChange]] = {}
    for chunk in _chunks(hashes):
        events = session.execute(
            select(
                ConsentEvent.phone_hash,
                ConsentEvent.created_at,
                ConsentEvent.id,
                ConsentEvent.change,
            ).where(ConsentEvent.phone_hash.in_(chunk))
        )
        for hashed, created_at, event_id, change in events:
            if hashed not in latest or (created_at, event_id) > latest[hashed][:2]:
                latest[hashed] = (created_at, event_id, change)
    return {h for h, (_, _, change) in latest.items() if change is ConsentChange.OPT_OUT}


# -- applying -----------------------------------------------------------------------------------


def apply_import(
    session: Session, plan: ImportPlan, *, wording: Wording, now: datetime
) -> ImportResult:
    """Write the plan in the caller's transaction: all of it or, if anything fails, none.

    New rows go in a table at a time, a thousand to an executemany, not an object at a time:
    a roster is thousands of rows, and the future API calls this inside a request.
    """
    group = plan.group
    new = [e for e in plan.entries if e.participant is None]
    _insert(
        session,
        Participant,
        (
            {
                "phone": e.row.phone,
                "phone_hash": e.phone_hash,
                "name": e.row.name,
                "language": e.row.language,
                "timezone": e.row.timezone,
                "channel": e.row.channel,
                # The ledger already holds their opt-out; this keeps its latest word beside it.
                "consent": (
                    ConsentState.REVOKED
                    if e.standing is Standing.OPTED_OUT
                    else ConsentState.UNKNOWN
                ),
                "created_at": now,
            }
            for e in new
        ),
    )
    ids = {
        phone: participant_id
        for chunk in _chunks(e.row.phone for e in new)
        for phone, participant_id in session.execute(
            select(Participant.phone, Participant.id).where(Participant.phone.in_(chunk))
        )
    }

    def id_of(entry: Entry) -> int:
        return entry.participant.id if entry.participant else ids[entry.row.phone]

    def status_of(entry: Entry) -> MembershipStatus:
        if entry.action is Action.RECORD_CONSENT:
            return MembershipStatus.ACTIVE
        return MembershipStatus.PENDING

    acting = [e for e in plan.entries if e.action is not Action.NOTHING]
    _insert(
        session,
        Membership,
        (
            {
                "participant_id": id_of(e),
                "group_id": group.id,
                "status": status_of(e),
                "name": e.row.name,
                # How this group reaches them is the file's, never what another group set.
                "language": e.row.language,
                "timezone": e.row.timezone,
                "channel": e.row.channel,
                "created_at": now,
                "updated_at": now,
            }
            for e in acting
            if e.membership is None
        ),
    )
    for entry in acting:
        # An opted-out member's standing is left as it is: only they can change it.
        if entry.membership is not None and entry.action is not Action.HOLD:
            entry.membership.status = status_of(entry)
            entry.membership.updated_at = now

    for entry in plan.entries:
        if entry.membership is not None and entry.row.name:
            entry.membership.name = entry.row.name  # the file's name: this group's for them

    consenting = (id_of(e) for e in acting if e.action is Action.RECORD_CONSENT)
    recorded = sum(
        consent.opt_in(
            session,
            participant,
            source=ConsentSource.IMPORT,
            words=plan.consent_note,
            now=now,
            group_id=group.id,
        )
        for chunk in _chunks(consenting)
        for participant in session.scalars(select(Participant).where(Participant.id.in_(chunk)))
    )

    bodies = {lang: invitation_text(wording, group, lang) for lang in LANGUAGES}
    segments = {lang: count_segments(body).segments for lang, body in bodies.items()}

    def language_of(entry: Entry) -> str:
        return entry.membership.language if entry.membership else entry.row.language

    # The plan left out anyone invited today already, so a clash on a send key means someone
    # invited them meanwhile: the whole import fails, and can simply be run again.
    invited = _insert(
        session,
        OutboxMessage,
        (
            {
                "send_key": invitation_key(group.id, id_of(e), now),
                "kind": OutboxKind.INVITATION,
                "body": bodies[language_of(e)],
                "segments": segments[language_of(e)],
                "participant_id": id_of(e),
                "group_id": group.id,
                "state": OutboxState.QUEUED,
                "due_at": now,
                "expires_at": now + INVITATION_VALIDITY,
                "created_at": now,
                "updated_at": now,
            }
            for e in acting
            if e.action is Action.INVITE and not e.invited_today
        ),
    )
    session.flush()
    return replace(plan.expected(), invited=invited, consent_recorded=recorded)


def _insert(session: Session, model: type[Base], rows: Iterable[dict[str, Any]]) -> int:
    """Insert rows a chunk at a time, so memory holds one chunk's parameters, not all."""
    written = 0
    for chunk in _chunks(rows):
        session.execute(insert(model), chunk)
        written += len(chunk)
    return written


def invitation_text(wording: Wording, group: Group, language: str) -> str:
    """The welcome text asking someone a coordinator added to reply YES."""
    return wording.render(
        "invitation",
        language,
        coordinator=group.coordinator.name.split()[0],
        group=group.public_name,
    )


def invite(
    session: Session, participant: Participant, group: Group, *, body: str, now: datetime
) -> OutboxMessage | None:
    """Queue the welcome text; None if they were invited to this group today already."""
    return enqueue(
        session,
        send_key=invitation_key(group.id, participant.id, now),
        kind=OutboxKind.INVITATION,
        body=body,
        participant=participant,
        group_id=group.id,
        now=now,
        expires_at=now + INVITATION_VALIDITY,
    )


def invitation_key(group_id: int, participant_id: int, now: datetime) -> str:
    """One welcome text per person, group and day, however often they are added."""
    return f"invitation:{group_id}:{participant_id}:{now:%Y%m%d}"
