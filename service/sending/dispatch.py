"""The dispatcher: one per process, it takes batches of due rows through their steps (claim,
prepare, send, record) and sends on a pool of threads, under the sender's rate limit.

The steps themselves, and why each is where it is, are in `service.sending.steps`.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.clock import Clock, app_clock
from service.config import Settings
from service.db import sessions as app_sessions
from service.messages.outbox import (
    DEFAULT_VALIDITY,
)
from service.metrics import ProcessMetrics
from service.models import (
    Channel,
    Membership,
    OutboxKind,
    OutboxMessage,
    OutboxState,
    Participant,
)
from service.phones import mask
from service.sending.gateway import Gateway, GatewayError, OutgoingCall, OutgoingText, Receipt
from service.sending.rate_limit import RateLimiter
from service.sending.steps import (
    Attempt,
    Outcome,
    Ready,
    claim,
    claim_in_flight,
    prepare,
    record,
    refusal,
    settle,
)
from service.voice.calls import BETWEEN_MEETINGS

log = logging.getLogger(__name__)

MAX_BATCH = 200
# A claim is given back rather than sent when less than this, beyond the time a gateway call
# may take, is left of its lease: a worker never sends on a lease that may lapse mid-call.
LEASE_MARGIN = timedelta(seconds=2)
# A batch's last look at consent serves its rows for this long; older, it is read again (for
# all the rows still waiting) before the next call.
FRESH_LOOK = 0.25
# Slots a send may miss (a slow last look, a busy machine) before it goes back to the queue.
SLOT_TRIES = 3


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
        look = LastLook(self.last_look, ready, self.limiter.wall_clock)
        attempts = self._pool_map(lambda row: self.send(row, look), ready)
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

    def send(self, ready: Ready, look: LastLook | None = None) -> Attempt:
        """Hand one ready row to the gateway, unless something says it must not go now.

        look is the batch's last look at consent, shared by its send threads; without one the
        row is looked at on its own.
        """
        look = look or LastLook(self.last_look, [ready], self.limiter.wall_clock)
        try:
            return self._send(ready, look)
        finally:
            look.done(ready)

    def _send(self, ready: Ready, look: LastLook) -> Attempt:
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
            reason = look.refusal(ready)
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
        if reason is not None:
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
        """Ring the person; once answered, Twilio fetches what to say from /twilio/voice/reminder
        (or /twilio/voice/call-back, for a call back that asks a caller to confirm joining, or
        /twilio/voice/message, for encouragement or a broadcast)."""
        base = self.settings.public_url or ""
        page = (
            "call-back"
            if ready.kind is OutboxKind.INVITATION
            else "message"
            if ready.kind in BETWEEN_MEETINGS
            else "reminder"
        )
        return self.gateway.place_call(
            OutgoingCall(
                to=ready.to,
                url=f"{base}/twilio/voice/{page}?outbox={ready.id}",
                status_callback=f"{base}/twilio/voice/status?outbox={ready.id}" if base else None,
            )
        )

    def last_look(self, rows: list[Ready]) -> dict[int, str | None]:
        """Why each row may no longer go (a STOP or a leave since it was prepared), or None.

        One query for the lot (a batch's rows not yet handed over, by way of LastLook).
        """
        people = {r.participant_id for r in rows if r.participant_id is not None}
        if not people:
            return dict.fromkeys((r.id for r in rows), None)
        with self.sessions() as session:
            found = session.execute(
                select(Participant.id, Participant.consent, Membership.group_id, Membership.status)
                .outerjoin(Membership, Membership.participant_id == Participant.id)
                .where(Participant.id.in_(people))
            ).all()
        consent = {pid: state for pid, state, _, _ in found}
        member = {(pid, gid): status for pid, _, gid, status in found}
        return {r.id: refusal(r, consent, member) for r in rows}

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
            for row_id in ids:
                # Each row read again, and locked, as it is settled: a lookup can outlast the
                # lease, and a row another worker has taken over since is no longer ours to
                # write (settling it from what was read at the start could queue again a text
                # that worker has just sent).
                row = session.scalar(
                    select(OutboxMessage)
                    .where(OutboxMessage.id == row_id, OutboxMessage.attempt_id == claim_id)
                    .with_for_update()
                    .execution_options(populate_existing=True)
                )
                if row is None:
                    session.rollback()
                    continue
                outcome = settle(session, row, self.gateway, self.clock())
                if outcome is not None:
                    tally[outcome] += 1
                    self.metrics.outcomes.labels(outcome.value).inc()
                session.commit()
        return tally


class LastLook:
    """A batch's last look at consent, shared by its send threads.

    A row asks just before its call; when the look is older than FRESH_LOOK, whoever asks
    first reads it again for every row of the batch still waiting, in one query, while the
    others wait for it. However slow the batch, no text leaves more than FRESH_LOOK after its
    person's consent was read, and a batch reads at most one look per FRESH_LOOK it lasts
    (plus the first), not one per row.
    """

    def __init__(
        self,
        read: Callable[[list[Ready]], dict[int, str | None]],
        rows: list[Ready],
        wall_clock: Callable[[], float],
    ) -> None:
        self._read = read
        self._wall_clock = wall_clock
        self._waiting = {row.id: row for row in rows}
        self._refusals: dict[int, str | None] = {}
        self._taken = -math.inf
        self._lock = threading.Lock()

    def refusal(self, row: Ready) -> str | None:
        """Why row may not go now (a STOP, a leave), or None, from a look under FRESH_LOOK old."""
        with self._lock:
            if self._wall_clock() - self._taken > FRESH_LOOK or row.id not in self._refusals:
                # The time before the read: the look is at least this fresh.
                taken = self._wall_clock()
                self._refusals = self._read([*{**self._waiting, row.id: row}.values()])
                self._taken = taken
            return self._refusals.get(row.id)

    def done(self, row: Ready) -> None:
        """row has left (or will not go): later looks need not read its person."""
        with self._lock:
            self._waiting.pop(row.id, None)


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
