"""Dispatch: claim due rows, check them, hand each to the gateway once, record what happened.

One row's path, and why each step is where it is:

1. claim: one statement moves a batch of due rows from queued to sending, with an attempt id
   and a lease, and commits. `FOR UPDATE SKIP LOCKED` on PostgreSQL lets any number of
   workers claim side by side; SQLite's single writer makes the statement one claimer.
2. prepare: expiry, consent, membership, a pause and quiet hours are checked, and campaign
   rows are worded; the words are committed on the row before anything leaves, so that a
   later lookup can recognise the message.
3. send, on a pool of threads: a slot under the sender's rate limit, a last look at consent
   (a STOP may have arrived a moment ago), then the gateway call.
4. record: the MessageSid or the error, written only while the attempt id is still ours.

A worker that dies between 1 and 4 leaves rows in sending. When their lease ends, any worker
looks them up in Twilio's message list (reconcile) and re-queues only a row Twilio has no
record of; `unknown` rows (a timeout, a 5xx) are settled the same way, unless a status
callback settles them first.
"""

from __future__ import annotations

import enum
import logging
import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import ColumnElement, Select, and_, bindparam, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from service.calls import apply_error_code
from service.clock import Clock, app_clock
from service.composer import compose
from service.config import Settings
from service.db import sessions as app_sessions
from service.gateway import Gateway, GatewayError, OutgoingCall, OutgoingText, Receipt
from service.metrics import ProcessMetrics
from service.models import (
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
from service.outbox import (
    DEFAULT_VALIDITY,
    PROVIDER_STATUS,
    MembershipStatuses,
    blocked_reason,
    hold_for_quiet_hours,
)
from service.phones import mask
from service.rate_limit import RateLimiter
from service.segments import count_segments

log = logging.getLogger(__name__)

MAX_BATCH = 200
RECONCILE_BATCH = 50
# A claim is given back rather than sent when less than this, beyond the time a gateway call
# may take, is left of its lease: a worker never sends on a lease that may lapse mid-call.
LEASE_MARGIN = timedelta(seconds=2)
# How far back a lookup reads, beyond the claim, for clocks that disagree a little.
LOOKUP_SLACK = timedelta(minutes=5)
LOOKUP_RETRY = timedelta(minutes=1)
# A batch's last look at consent serves its rows for this long; a row that waited longer (for
# its rate slot, say) is looked at again just before its call.
FRESH_LOOK = 0.25
# Slots a send may miss (a slow last look, a busy machine) before it goes back to the queue.
SLOT_TRIES = 3


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
    body: str  # for a call, the reminder sentence the call will speak
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


class Dispatcher:
    """Sends an app's due outbox rows; one per process, shared by its ticks and commands."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.settings: Settings = app.extensions["peerline.settings"]
        self.gateway: Gateway = app.extensions["peerline.gateway"]
        self.metrics: ProcessMetrics = app.extensions["peerline.metrics"]
        self.sessions: sessionmaker[Session] = app_sessions(app)
        self.clock: Clock = app_clock(app)
        self.limiter = RateLimiter(self.sessions, self.settings.send_rate)
        self.call_limiter = RateLimiter(self.sessions, self.settings.call_rate)
        self.stopping = threading.Event()
        self.lease = timedelta(seconds=self.settings.send_lease)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    # -- the loop ------------------------------------------------------------------------------

    def drain(self, *, max_seconds: float = 30.0) -> Counter[Outcome]:
        """Settle leases, then send batches while rows are due and progress is made."""
        tally: Counter[Outcome] = Counter()
        started = self.clock()
        tally.update(self.reconcile())
        while not self.stopping.is_set():
            batch = self.run_batch()
            tally.update(batch)
            if not batch or batch[Outcome.RELEASED]:
                break  # nothing due, or the rate limit is full for now
            if (self.clock() - started).total_seconds() >= max_seconds:
                break
        return tally

    def run_batch(self, ids: Iterable[int] | None = None) -> Counter[Outcome]:
        """Claim (the given queued rows, or the most overdue), prepare, send and record."""
        claim_id = str(uuid.uuid4())
        limit = self.limiter.batch_size(MAX_BATCH)
        tally: Counter[Outcome] = Counter()
        with self.sessions() as session:
            claimed = claim(session, self.clock(), claim_id, self.lease, limit=limit, ids=ids)
            session.commit()
            if not claimed:
                return tally
            ready, settled = prepare(session, claimed, claim_id, self.clock())
            session.commit()
        tally.update(settled)
        looked_at = self.limiter.wall_clock()
        refusals = self.last_look(ready)
        attempts = self._pool_map(lambda row: self.send(row, refusals, looked_at), ready)
        # An error may mean telling a coordinator, in words from the app's wording.
        with self.app.app_context(), self.sessions() as session:
            record(session, attempts, claim_id, self.clock(), self.retry_at, self.lease)
            session.commit()
        for attempt in attempts:
            tally[attempt.outcome] += 1
            self.metrics.outcomes.labels(attempt.outcome.value).inc()
            if attempt.handed_at is not None and attempt.outcome in (Outcome.SENT, Outcome.UNKNOWN):
                lateness = (attempt.handed_at - attempt.ready.due_at).total_seconds()
                self.metrics.lateness.observe(max(0.0, lateness))
        for outcome, n in settled.items():
            self.metrics.outcomes.labels(outcome.value).inc(n)
        return tally

    def _pool_map(self, work: Callable[[Ready], Attempt], items: list[Ready]) -> list[Attempt]:
        if len(items) <= 1 or self.settings.send_threads == 1:
            return [work(item) for item in items]
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    self.settings.send_threads, thread_name_prefix="peerline-send"
                )
        return list(self._pool.map(work, items))

    def close(self) -> None:
        self.stopping.set()
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    # -- one send ------------------------------------------------------------------------------

    def send(
        self, ready: Ready, refusals: dict[int, str | None] | None = None, looked_at: float = 0.0
    ) -> Attempt:
        """Hand one ready row to the gateway, unless something says it must not go now.

        refusals is the batch's last look, taken at looked_at (the limiter's clock); without
        one, or when it is older than FRESH_LOOK, the row is looked at again on its own.
        """
        refusals = refusals or {}
        if self.stopping.is_set():
            return Attempt(ready, Outcome.RELEASED, reason="worker stopping")
        calling = ready.channel is Channel.VOICE
        limiter = self.call_limiter if calling else self.limiter
        sender = f"calls:{self.gateway.sender}" if calling else self.gateway.sender
        for _ in range(SLOT_TRIES):
            slot = limiter.wait_for_slot(sender, 1 if calling else ready.segments)
            if slot is None:
                return Attempt(ready, Outcome.RELEASED, reason="sender's rate limit is full")
            if self.stopping.is_set():
                return Attempt(ready, Outcome.RELEASED, reason="worker stopping")
            if limiter.wall_clock() - looked_at > FRESH_LOOK:
                refusals, looked_at = self.last_look([ready]), limiter.wall_clock()
            if limiter.on_time(slot):
                break
        else:
            return Attempt(ready, Outcome.RELEASED, reason="too slow to keep a rate slot")
        moment = self.clock()
        if (
            moment + timedelta(seconds=self.settings.twilio_timeout) + LEASE_MARGIN
            >= ready.lease_until
        ):
            log.warning("outbox %s: too little of its lease is left to send; given back", ready.id)
            return Attempt(ready, Outcome.RELEASED, reason="lease too short to send safely")
        if reason := refusals.get(ready.id):
            return Attempt(ready, Outcome.SUPPRESSED, reason=reason)
        try:
            receipt = self.place_call(ready) if calling else self.send_text(ready, moment)
        except GatewayError as error:
            outcome = (
                Outcome.UNKNOWN
                if error.may_have_sent
                else Outcome.RETRY
                if error.retryable
                else Outcome.FAILED
            )
            log.warning(
                "outbox %s to %s: %s (code %s)", ready.id, mask(ready.to), error, error.code
            )
            return Attempt(ready, outcome, error=error, handed_at=moment)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("sent outbox %s to %s as %s", ready.id, mask(ready.to), receipt.sid)
        return Attempt(ready, Outcome.SENT, receipt=receipt, handed_at=moment)

    def send_text(self, ready: Ready, moment: datetime) -> Receipt:
        validity = (ready.expires_at - moment) if ready.expires_at else DEFAULT_VALIDITY
        return self.gateway.send_text(
            OutgoingText(
                to=ready.to,
                body=ready.body,
                status_callback=self.callback_url(ready.id),
                validity_period=max(1, int(validity.total_seconds())),
            )
        )

    def place_call(self, ready: Ready) -> Receipt:
        """Ring the person; Twilio fetches what to say from /twilio/voice/reminder once answered."""
        base = self.settings.public_url or ""
        return self.gateway.place_call(
            OutgoingCall(
                to=ready.to,
                url=f"{base}/twilio/voice/reminder?outbox={ready.id}",
                status_callback=f"{base}/twilio/voice/status?outbox={ready.id}" if base else None,
            )
        )

    def last_look(self, rows: list[Ready]) -> dict[int, str | None]:
        """Why each row may no longer go (a STOP or a leave since it was prepared), or None.

        One query for the lot: it runs as the batch starts sending and again, for one row,
        when that row waited for its rate slot longer than FRESH_LOOK.
        """
        people = {r.participant_id for r in rows if r.participant_id is not None}
        if not people:
            return {}
        with self.sessions() as session:
            found = session.execute(
                select(Participant.id, Participant.consent, Membership.group_id, Membership.status)
                .outerjoin(Membership, Membership.participant_id == Participant.id)
                .where(Participant.id.in_(people))
            ).all()
        consent = {pid: state for pid, state, _, _ in found}
        member = {(pid, gid): status for pid, _, gid, status in found}
        return {r.id: _refusal(r, consent, member) for r in rows}

    def callback_url(self, row_id: int) -> str | None:
        """Where Twilio reports on a row; it names the row, so even a lost SID is found."""
        if self.settings.public_url is None:
            return None
        return f"{self.settings.public_url}/twilio/sms/status?outbox={row_id}"

    def retry_at(self, attempts: int, moment: datetime) -> datetime:
        """Backoff for a send Twilio surely did not act on: 5 s, 10 s, ... up to 5 min, jittered."""
        base = min(300.0, 5.0 * 2 ** max(0, attempts - 1))
        return moment + timedelta(seconds=base * random.uniform(0.8, 1.2))

    # -- leases and unknowns -------------------------------------------------------------------

    def reconcile(self) -> Counter[Outcome]:
        """Settle rows whose worker died mid-send, and unknown rows, from Twilio's records."""
        tally: Counter[Outcome] = Counter()
        claim_id = str(uuid.uuid4())
        now = self.clock()
        with self.app.app_context(), self.sessions() as session:
            ids = claim_in_flight(session, now, claim_id, self.lease)
            session.commit()
            if not ids:
                return tally
            for row in session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.id.in_(ids), OutboxMessage.attempt_id == claim_id
                )
            ):
                outcome = settle(session, row, self.gateway, self.clock())
                if outcome is not None:
                    tally[outcome] += 1
                    self.metrics.outcomes.labels(outcome.value).inc()
                session.commit()
        return tally


# Written out rather than bound, so the planner can match the partial indexes' own predicates
# (ix_outbox_messages_due, ix_outbox_messages_in_flight) even in a prepared, generic plan.
QUEUED_ROWS = text("outbox_messages.state = 'queued'")
IN_FLIGHT_ROWS = text("outbox_messages.state IN ('sending', 'unknown')")


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


def _refusal(
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
    memberships = {
        (pid, gid): status
        for pid, gid, status in session.execute(
            select(Membership.participant_id, Membership.group_id, Membership.status).where(
                Membership.participant_id.in_(people_ids), Membership.group_id.in_(group_ids)
            )
        )
    }
    ready: list[Ready] = []
    settled: Counter[Outcome] = Counter()
    for row in rows:
        outcome = _check(session, row, moment, memberships)
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
    del groups  # held until here so that lookups by id did not reload them
    return ready, settled


def _check(
    session: Session, row: OutboxMessage, moment: datetime, memberships: MembershipStatuses
) -> Outcome | None:
    """Settle row if it may not go now; None when it is ready, worded, to go."""
    participant = session.get(Participant, row.participant_id) if row.participant_id else None
    # Reminders reach people the way they ask for now; everything else is a text.
    wanted = participant.channel if participant and row.kind is OutboxKind.REMINDER else None
    if (wanted or Channel.SMS) is not row.channel and row.campaign_id is not None:
        row.body = None  # worded for the other channel: word it again for this one
    row.channel = wanted or Channel.SMS
    blocked = blocked_reason(session, row, moment, memberships)
    if blocked is not None:
        row.state = blocked
        return Outcome.EXPIRED if blocked is OutboxState.EXPIRED else Outcome.SUPPRESSED
    if hold_for_quiet_hours(session, row, moment):
        return Outcome.EXPIRED if row.state is OutboxState.EXPIRED else Outcome.DEFERRED
    if (participant.phone if participant else row.to_phone) is None:
        row.state, row.state_reason = OutboxState.FAILED, "no phone number"
        return Outcome.FAILED
    if row.body is None:
        try:
            row.body = compose(session, row, moment)
        except ValueError as problem:
            row.state, row.state_reason = OutboxState.FAILED, str(problem)[:200]
            return Outcome.FAILED
        row.segments = count_segments(row.body).segments if row.channel is Channel.SMS else 1
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
    sent = [a for a in attempts if a.outcome is Outcome.SENT]
    if sent:
        # The common case, written in one executemany rather than through the ORM.
        table = OutboxMessage.metadata.tables[OutboxMessage.__tablename__]
        c = table.c
        result = session.execute(
            update(table)
            .where(
                c.id == bindparam("row_id"),
                c.attempt_id == claim_id,
                c.state == OutboxState.SENDING,
            )
            .values(
                state=OutboxState.SENT,
                provider_sid=bindparam("sid"),
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
        if (result.rowcount or 0) not in (-1, len(sent)):  # type: ignore[attr-defined]
            log.warning(
                "%d sent row(s) were taken over before their results were written: "
                "they are settled from Twilio's records",
                len(sent) - result.rowcount,  # type: ignore[attr-defined]
            )
    others = [a for a in attempts if a.outcome is not Outcome.SENT]
    if not others:
        return
    rows = {
        row.id: row
        for row in session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.id.in_([a.ready.id for a in others]),
                OutboxMessage.attempt_id == claim_id,
                OutboxMessage.state == OutboxState.SENDING,
            )
        )
    }
    for attempt in others:
        row = rows.get(attempt.ready.id)
        if row is None:
            # Our lease lapsed and another worker took the row over: it reconciles from Twilio.
            log.warning("outbox %s was taken over before its result was written", attempt.ready.id)
            continue
        _apply(session, row, attempt, moment, retry_at, lookup_after)


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
    if outcome is Outcome.SENT:
        assert attempt.receipt is not None
        row.state = OutboxState.SENT
        row.provider_sid = attempt.receipt.sid
        row.sent_at = attempt.handed_at
        return
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


def dispatcher(app: Flask) -> Dispatcher:
    """The app's one dispatcher, made on first use."""
    found: Dispatcher | None = app.extensions.get("peerline.dispatcher")
    if found is None:
        found = app.extensions["peerline.dispatcher"] = Dispatcher(app)
    return found


def send_now(app: Flask, row_ids: Iterable[int]) -> list[OutboxMessage]:
    """Send the given queued rows at once (a coordinator's command), and return them after.

    Rows the sender's rate limit cannot let out soon stay queued for the worker.
    """
    ids = list(row_ids)
    work = dispatcher(app)
    for start in range(0, len(ids), MAX_BATCH):
        pending = ids[start : start + MAX_BATCH]
        while pending:
            tally = work.run_batch(pending)
            if not tally or tally[Outcome.RELEASED]:
                break
            with work.sessions() as session:
                pending = list(
                    session.scalars(
                        select(OutboxMessage.id).where(
                            OutboxMessage.id.in_(pending),
                            OutboxMessage.state == OutboxState.QUEUED,
                            OutboxMessage.due_at <= work.clock(),
                        )
                    )
                )
    with work.sessions() as session:
        return list(
            session.scalars(
                select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)
            )
        )
