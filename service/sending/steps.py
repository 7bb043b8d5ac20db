"""A due row's path through dispatch, one step at a time, and why each step is where it is.

1. claim: one statement moves a batch of due rows from queued to sending, with an attempt id
   and a lease, and commits. `FOR UPDATE SKIP LOCKED` on PostgreSQL lets any number of
   workers claim side by side; SQLite's single writer makes the statement one claimer.
2. prepare: expiry, consent, membership, a pause and quiet hours are checked, and campaign
   rows are worded; the words are committed on the row before anything leaves, so that a
   later lookup can recognise the message.
3. send, by the dispatcher on a pool of threads: a slot under the sender's rate limit, a
   last look at consent (a STOP may have arrived a moment ago), then the gateway call.
4. record: the MessageSid or the error, written only while the attempt id is still ours.
   A status callback can arrive first and move the row on; the record then keeps the state
   the callback reached and still writes the SID, sent_at and the attempt.

A worker that dies between 1 and 4 leaves rows in sending. When their lease ends, any worker
looks them up in Twilio's message list (reconcile) and re-queues only a row Twilio has no
record of; `unknown` rows (a timeout, a 5xx) are settled the same way, unless a status
callback settles them first.
"""

from __future__ import annotations

import enum
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, bindparam, case, select, update
from sqlalchemy.orm import Session

from service.campaigns.composer import Meetings, compose
from service.messages.outbox import (
    PROVIDER_STATUS,
    Memberships,
    blocked_reason,
    hold_for_quiet_hours,
    membership_of,
)
from service.messages.segments import count_segments
from service.metrics import note_settled
from service.models import (
    IN_FLIGHT_ROWS,
    QUEUED_ROWS,
    Campaign,
    CampaignStatus,
    Channel,
    ConsentState,
    Group,
    Membership,
    MembershipStatus,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Participant,
)
from service.phones import mask
from service.sending.gateway import Gateway, GatewayError, OutgoingText, Receipt
from service.sending.provider_errors import apply_error_code
from service.voice.calls import BETWEEN_MEETINGS

log = logging.getLogger(__name__)

RECONCILE_BATCH = 50
# How far back a lookup reads, beyond the claim, for clocks that disagree a little.
LOOKUP_SLACK = timedelta(minutes=5)
LOOKUP_RETRY = timedelta(minutes=1)


class Outcome(enum.StrEnum):
    SENT = "sent"
    RETRY = "retry"  # rate limited or never connected: queued again with backoff
    UNKNOWN = "unknown"  # may have reached Twilio: looked up later, never resent blindly
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    EXPIRED = "expired"
    DEFERRED = "deferred"  # quiet hours: queued again for an allowed moment
    RELEASED = "released"  # given back unsent (rate limit full, shutting down, lease short)
    RECONCILED = "reconciled"  # found in Twilio's message list
    REQUEUED = "requeued"  # proven not sent: queued again


@dataclass(frozen=True)
class Ready:
    """A claimed, checked and worded row, ready for the gateway."""

    id: int
    to: str
    body: str  # for a call, the sentence the call will speak (a reminder, a call back's question)
    segments: int
    kind: OutboxKind
    channel: Channel
    participant_id: int | None
    group_id: int | None
    due_at: datetime
    expires_at: datetime | None
    lease_until: datetime


@dataclass(frozen=True)
class Attempt:
    """What happened when a Ready row met the gateway (or did not)."""

    ready: Ready
    outcome: Outcome
    receipt: Receipt | None = None
    error: GatewayError | None = None
    handed_at: datetime | None = None
    reason: str | None = None


def due_rows(
    session: Session, now: datetime, *, limit: int, ids: Iterable[int] | None = None
) -> Select[int]:
    """The ids of queued rows due by now (or of the given ones), oldest first, for claiming."""
    wanted: ColumnElement[bool]
    if ids is None:
        wanted = and_(OutboxMessage.due_at <= now, OutboxMessage.kind != OutboxKind.REPLY)
    else:
        wanted = OutboxMessage.id.in_(list(ids))
    query = (
        select(OutboxMessage.id)
        .where(QUEUED_ROWS, wanted)
        .order_by(OutboxMessage.due_at, OutboxMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return query


def refusal(
    row: Ready,
    consent: dict[int, ConsentState],
    member: dict[tuple[int, int], MembershipStatus],
) -> str | None:
    if row.participant_id is None:
        return None
    state = consent.get(row.participant_id)
    if state is None:
        return "participant deleted"
    if state is ConsentState.REVOKED:
        return "opted out"
    if row.kind is OutboxKind.INVITATION:
        return None
    if state is not ConsentState.GRANTED:
        return "no consent yet"
    if row.group_id is not None and member.get((row.participant_id, row.group_id)) is not (
        MembershipStatus.ACTIVE
    ):
        return "not an active member"
    return None


def claim(
    session: Session,
    now: datetime,
    claim_id: str,
    lease: timedelta,
    *,
    limit: int,
    ids: Iterable[int] | None = None,
) -> list[int]:
    """Move up to limit due queued rows (or the given ones) to sending, under claim_id."""
    chosen = due_rows(session, now, limit=limit, ids=ids)
    return _take(
        session,
        chosen,
        state=OutboxState.SENDING,
        attempt_id=claim_id,
        claimed_at=now,
        lease_until=now + lease,
        updated_at=now,
    )


def _take(session: Session, chosen: Select[int], **values: object) -> list[int]:
    """Set values on the chosen rows in one statement (chosen is locked with SKIP LOCKED on
    PostgreSQL), returning their ids: no two workers ever take the same row."""
    result = session.scalars(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(chosen.scalar_subquery()))
        .values(**values)
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(result.all())


def prepare(
    session: Session, ids: list[int], claim_id: str, moment: datetime
) -> tuple[list[Ready], Counter[Outcome]]:
    """Check and word claimed rows; those that may not go now are settled here.

    The batch's people, groups and memberships are read in three queries up front; the
    lists are kept alive here so the session's identity map answers every later lookup.
    """
    rows = list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.attempt_id == claim_id)
            .order_by(OutboxMessage.due_at, OutboxMessage.id)
        )
    )
    people_ids = {row.participant_id for row in rows if row.participant_id is not None}
    group_ids = {row.group_id for row in rows if row.group_id is not None}
    people = {
        p.id: p for p in session.scalars(select(Participant).where(Participant.id.in_(people_ids)))
    }
    groups = list(session.scalars(select(Group).where(Group.id.in_(group_ids))))
    campaign_ids = {row.campaign_id for row in rows if row.campaign_id is not None}
    campaigns = list(session.scalars(select(Campaign).where(Campaign.id.in_(campaign_ids))))
    memberships = {
        (m.participant_id, m.group_id): m
        for m in session.scalars(
            select(Membership).where(
                Membership.participant_id.in_(people_ids), Membership.group_id.in_(group_ids)
            )
        )
    }
    # Read afresh for each batch, so a meeting moved or cancelled a moment ago is seen.
    meetings = Meetings(session)
    ready: list[Ready] = []
    settled: Counter[Outcome] = Counter()
    for row in rows:
        outcome = _check(session, row, moment, memberships, meetings)
        if outcome is not None:
            row.attempt_id = row.lease_until = None
            row.updated_at = moment
            settled[outcome] += 1
            continue
        participant = people.get(row.participant_id) if row.participant_id else None
        assert row.body is not None and row.lease_until is not None  # _check saw to both
        ready.append(
            Ready(
                id=row.id,
                to=participant.phone if participant else row.to_phone or "",
                body=row.body,
                segments=row.segments,
                kind=row.kind,
                channel=row.channel,
                participant_id=row.participant_id,
                group_id=row.group_id,
                due_at=row.due_at,
                expires_at=row.expires_at,
                lease_until=row.lease_until,
            )
        )
    del groups, campaigns  # held until here so that lookups by id did not reload them
    return ready, settled


def _check(
    session: Session,
    row: OutboxMessage,
    moment: datetime,
    memberships: Memberships,
    meetings: Meetings,
) -> Outcome | None:
    """Settle row if it may not go now; None when it is ready, worded, to go."""
    participant = session.get(Participant, row.participant_id) if row.participant_id else None
    membership = (
        membership_of(session, row.participant_id, row.group_id, memberships)
        if row.participant_id is not None and row.group_id is not None
        else None
    )
    # Reminders reach people the way their group does now; so do encouragement and broadcasts,
    # unless the group texts them to a caller whose phone takes texts. An invitation goes as it
    # was made (a call back to a caller is a call); everything else is a text.
    wanted = Channel.SMS
    if membership is not None and row.kind is OutboxKind.REMINDER:
        wanted = membership.channel
    elif membership is not None and row.kind in BETWEEN_MEETINGS:
        wanted = _between_meetings(session, membership, participant)
    elif row.kind is OutboxKind.INVITATION:
        wanted = row.channel
    if wanted is not row.channel:
        if row.campaign_id is not None:
            row.body = None  # worded for the other channel: word it again for this one
        row.channel = wanted  # only when it changes: a row set at all is flushed and counted
    withdrawn = _campaign_withdrawn(session, row)
    if withdrawn is not None:
        # Paused or deleted while a planner, elsewhere, was writing this row: not sent. Cancelled,
        # so that resuming the campaign plans it again.
        row.state, row.state_reason = OutboxState.CANCELED, withdrawn
        return Outcome.SUPPRESSED
    blocked = blocked_reason(session, row, moment, memberships)
    if blocked is not None:
        row.state = blocked
        return Outcome.EXPIRED if blocked is OutboxState.EXPIRED else Outcome.SUPPRESSED
    if hold_for_quiet_hours(session, row, moment, memberships):
        return Outcome.EXPIRED if row.state is OutboxState.EXPIRED else Outcome.DEFERRED
    if (participant.phone if participant else row.to_phone) is None:
        row.state, row.state_reason = OutboxState.FAILED, "no phone number"
        return Outcome.FAILED
    if row.body is None:
        try:
            row.body = compose(session, row, moment, meetings=meetings, memberships=memberships)
        except ValueError as problem:
            row.state, row.state_reason = OutboxState.FAILED, str(problem)[:200]
            return Outcome.FAILED
        row.segments = count_segments(row.body).segments if row.channel is Channel.SMS else 1
    return None


def _between_meetings(
    session: Session, membership: Membership, participant: Participant | None
) -> Channel:
    """How encouragement and broadcasts reach a member: a caller is called, unless the group
    texts callers between meetings and their number takes texts (a landline never does)."""
    if membership.channel is not Channel.VOICE:
        return membership.channel
    group = session.get_one(Group, membership.group_id)
    texts = participant is not None and not participant.landline
    return Channel.SMS if group.texts_between_meetings_to_callers and texts else Channel.VOICE


def _campaign_withdrawn(session: Session, row: OutboxMessage) -> str | None:
    """Why the row's campaign no longer wants it sent, if it does not."""
    if row.campaign_id is None:
        return None
    campaign = session.get(Campaign, row.campaign_id)
    if campaign is None or campaign.deleted_at is not None:
        return "campaign deleted"
    if campaign.status is CampaignStatus.PAUSED:
        return "campaign paused"
    return None


def record(
    session: Session,
    attempts: list[Attempt],
    claim_id: str,
    moment: datetime,
    retry_at: Callable[[int, datetime], datetime],
    lookup_after: timedelta,
) -> None:
    """Write each attempt's result on its row, if the row is still this claim's.

    An unknown row waits lookup_after for its status callback before Twilio's list is read.
    """
    sent = [a for a in attempts if a.outcome is Outcome.SENT and a.receipt is not None]
    if sent:
        _record_sent(session, sent, claim_id, moment)
    others = [a for a in attempts if a.outcome is not Outcome.SENT]
    if not others:
        return
    rows = {
        row.id: row
        for row in session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.id.in_([a.ready.id for a in others]),
                OutboxMessage.attempt_id == claim_id,
            )
        )
    }
    for attempt in others:
        row = rows.get(attempt.ready.id)
        if row is None:
            # Our lease lapsed and another worker took the row over: it reconciles from Twilio.
            log.warning("outbox %s was taken over before its result was written", attempt.ready.id)
            continue
        if row.state is not OutboxState.SENDING:
            # Only a status callback moves a row on before its worker's record: Twilio has it.
            if attempt.outcome is Outcome.UNKNOWN:
                row.attempts += 1
                row.sent_at = row.sent_at or attempt.handed_at
                row.lease_until = None
                row.updated_at = moment
                note_settled(session, OutboxState.SENT, row.kind)
            continue
        _apply(session, row, attempt, moment, retry_at, lookup_after)


def _record_sent(session: Session, sent: list[Attempt], claim_id: str, moment: datetime) -> None:
    """Write the SID, the hand-over time and the attempt on rows Twilio accepted.

    A status callback may have got there first and moved the row on (to delivered, say): its
    state is kept, and the worker's facts are written all the same. A call a callback already
    queued again (busy, no answer) keeps its SID empty for the next call. Written in one
    executemany rather than through the ORM: this is the common case.
    """
    table = OutboxMessage.metadata.tables[OutboxMessage.__tablename__]
    c = table.c
    sending = c.state == OutboxState.SENDING
    requeued = c.state == OutboxState.QUEUED
    result = session.execute(
        update(table)
        .where(c.id == bindparam("row_id"), c.attempt_id == claim_id)
        .values(
            state=case((sending, OutboxState.SENT), else_=c.state),
            provider_sid=case((requeued, c.provider_sid), else_=bindparam("sid")),
            sent_at=bindparam("handed_at"),
            attempts=c.attempts + 1,
            lease_until=None,
            updated_at=moment,
        ),
        [
            {"row_id": a.ready.id, "sid": a.receipt.sid, "handed_at": a.handed_at}
            for a in sent
            if a.receipt is not None
        ],
    )
    written = Counter(a.ready.kind for a in sent)
    if (result.rowcount or 0) not in (-1, len(sent)):  # type: ignore[attr-defined]
        log.warning(
            "%d sent row(s) were taken over before their results were written: "
            "they are settled from Twilio's records",
            len(sent) - result.rowcount,  # type: ignore[attr-defined]
        )
        written = Counter(
            session.scalars(
                select(OutboxMessage.kind).where(
                    OutboxMessage.id.in_([a.ready.id for a in sent]),
                    OutboxMessage.attempt_id == claim_id,
                )
            )
        )
    # Every row handed over counts as sent once, here, whichever way its callbacks came.
    for kind, n in written.items():
        note_settled(session, OutboxState.SENT, kind, n)


def _apply(
    session: Session,
    row: OutboxMessage,
    attempt: Attempt,
    moment: datetime,
    retry_at: Callable[[int, datetime], datetime],
    lookup_after: timedelta,
) -> None:
    row.updated_at = moment
    row.lease_until = None
    outcome = attempt.outcome
    if outcome is Outcome.RELEASED:
        row.state, row.state_reason, row.attempt_id = OutboxState.QUEUED, attempt.reason, None
        return
    if outcome is Outcome.SUPPRESSED:
        row.state, row.state_reason = OutboxState.SUPPRESSED, attempt.reason
        return
    row.attempts += 1
    error = attempt.error
    assert error is not None
    row.error_code = error.code
    row.state_reason = str(error)[:200]
    if outcome is Outcome.UNKNOWN:
        row.state = OutboxState.UNKNOWN
        row.sent_at = attempt.handed_at
        row.lease_until = moment + lookup_after
        return
    if outcome is Outcome.RETRY:
        again = retry_at(row.attempts, moment)
        if row.expires_at is not None and again >= row.expires_at:
            row.state, row.state_reason = OutboxState.EXPIRED, "could not be sent in time"
        else:
            row.state, row.due_at = OutboxState.QUEUED, again
        return
    row.state = OutboxState.FAILED
    participant = session.get(Participant, row.participant_id) if row.participant_id else None
    apply_error_code(session, participant, error.code, moment, row)


def claim_in_flight(session: Session, now: datetime, claim_id: str, lease: timedelta) -> list[int]:
    """Take over sending rows whose lease ran out, and unknown rows due a lookup."""
    chosen = (
        select(OutboxMessage.id)
        .where(IN_FLIGHT_ROWS, OutboxMessage.lease_until <= now)
        .order_by(OutboxMessage.lease_until)
        .limit(RECONCILE_BATCH)
    )
    if session.get_bind().dialect.name == "postgresql":
        chosen = chosen.with_for_update(skip_locked=True)
    return _take(session, chosen, attempt_id=claim_id, lease_until=now + lease, updated_at=now)


def settle(
    session: Session, row: OutboxMessage, gateway: Gateway, moment: datetime
) -> Outcome | None:
    """Decide an in-doubt row from the provider's records; None while they cannot be read."""
    participant = session.get(Participant, row.participant_id) if row.participant_id else None
    phone = participant.phone if participant else row.to_phone
    if row.body is None or phone is None:
        # Never worded, so never handed over: the worker died before its gateway call.
        return _requeue(row, moment, "claimed by a worker that stopped before sending")
    since = (row.claimed_at or row.created_at) - LOOKUP_SLACK
    try:
        if row.channel is Channel.VOICE:
            found = gateway.lookup_call(phone, since)
        else:
            found = gateway.lookup(OutgoingText(to=phone, body=row.body), since)
    except GatewayError as error:
        log.warning("outbox %s: lookup failed (%s); trying again later", row.id, error)
        row.lease_until = moment + LOOKUP_RETRY
        return None
    if found is None:
        log.info("outbox %s to %s was never received: queued again", row.id, mask(phone))
        return _requeue(row, moment, "Twilio has no record of it")
    taken = session.scalar(
        select(OutboxMessage.id).where(
            OutboxMessage.provider_sid == found.sid, OutboxMessage.id != row.id
        )
    )
    if taken is not None:
        log.warning("outbox %s: Twilio's match %s belongs to outbox %s", row.id, found.sid, taken)
        row.lease_until = moment + LOOKUP_RETRY
        return None
    state = PROVIDER_STATUS.get(found.status, OutboxState.SENT)
    row.state = OutboxState.RECONCILED if state is OutboxState.SENT else state
    row.state_reason = "found in Twilio's message list"
    row.provider_sid = found.sid
    row.sent_at = row.sent_at or row.claimed_at
    row.lease_until = None
    row.updated_at = moment
    if found.error_code is not None:
        row.error_code = found.error_code
        apply_error_code(session, participant, found.error_code, moment, row)
    log.info("outbox %s reconciled as %s (%s)", row.id, found.sid, found.status)
    return Outcome.RECONCILED


def _requeue(row: OutboxMessage, moment: datetime, why: str) -> Outcome:
    row.lease_until = row.attempt_id = None
    row.updated_at = moment
    if row.expires_at is not None and moment >= row.expires_at:
        row.state, row.state_reason = OutboxState.EXPIRED, f"{why}, and it is too late now"
        return Outcome.EXPIRED
    row.state, row.state_reason, row.due_at = OutboxState.QUEUED, why, moment
    return Outcome.REQUEUED
