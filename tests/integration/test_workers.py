"""Worker processes on one PostgreSQL outbox, sending to the local Twilio.

Each test runs real `peerline worker` processes; the local Twilio server counts what reaches
it, which is what would reach people's phones.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from service.models import OutboxMessage, OutboxState
from service.sending.dispatch import MAX_BATCH
from tests.twilio_fake import TwilioFakeServer
from tests.workers import Worker, all_settled, outbox_states, seed_due_texts, wait_for, worker_env

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

DELIVERED_ONCE = {OutboxState.SENT, OutboxState.RECONCILED}
# Each kill -9 round costs a few seconds, and each leaves a batch (up to MAX_BATCH rows) for
# recovery to look up in Twilio's list one by one: 4 rounds kill workers mid-send and, once
# the first leases lapse, mid-recovery too. PEERLINE_KILL_ROUNDS=50 runs the long version.
KILL_ROUNDS = int(os.environ.get("PEERLINE_KILL_ROUNDS", "4"))


def assert_each_phone_got_exactly_one(server: TwilioFakeServer, phones: list[str]) -> None:
    counts = Counter(str(m.params["To"]) for m in server.messages)
    duplicates = {to: n for to, n in counts.items() if n > 1}
    assert not duplicates, f"{len(duplicates)} people got a text twice"
    missing = set(phones) - set(counts)
    assert not missing, f"{len(missing)} people got nothing"
    assert len(server.messages) == len(phones)


def rows_match_the_server(url: str, server: TwilioFakeServer) -> None:
    """The rows recorded as sent carry exactly the SIDs of the messages the server holds."""
    engine = create_engine(url)
    with engine.connect() as conn:
        found = conn.execute(
            select(OutboxMessage.provider_sid, OutboxMessage.state).where(
                OutboxMessage.provider_sid.is_not(None)
            )
        ).all()
    engine.dispose()
    assert {state for _, state in found} <= DELIVERED_ONCE
    assert sorted(str(sid) for sid, _ in found) == sorted(m.sid for m in server.messages)


def claimed_since(url: str, moment: datetime) -> int:
    """Rows left in 'sending' by claims made since moment."""
    engine = create_engine(url)
    with engine.connect() as conn:
        found = conn.scalar(
            select(func.count()).where(
                OutboxMessage.state == OutboxState.SENDING, OutboxMessage.claimed_at >= moment
            )
        )
    engine.dispose()
    return int(found or 0)


# Ten batches of MAX_BATCH: every worker claims several while the others claim theirs, which is
# what SKIP LOCKED must keep apart; more texts would only make it longer (bench/ measures load).
MANY = 10 * MAX_BATCH


@pytest.mark.parametrize("workers", [2, 4])
def test_many_workers_send_two_thousand_texts_exactly_once(
    pg_url: str, twilio_server: TwilioFakeServer, tmp_path: Path, workers: int
) -> None:
    phones = seed_due_texts(pg_url, MANY)
    env = worker_env(pg_url, twilio_server)
    running = [Worker(env, tmp_path / f"worker-{n}.log") for n in range(workers)]
    try:
        wait_for(lambda: all_settled(pg_url), 180, "every row to be sent")
        assert [w.terminate() for w in running] == [0] * workers
    finally:
        for worker in running:
            worker.__exit__(None, None, None)

    assert_each_phone_got_exactly_one(twilio_server, phones)
    rows_match_the_server(pg_url, twilio_server)
    assert outbox_states(pg_url) == {OutboxState.SENT: MANY}


def test_kill_9_mid_batch_again_and_again_loses_nothing_and_sends_nothing_twice(
    pg_url: str, twilio_server: TwilioFakeServer, tmp_path: Path
) -> None:
    phones = seed_due_texts(pg_url, 150 * KILL_ROUNDS + 500)
    # A slower Twilio keeps batches in flight long enough for the kill to land inside one.
    twilio_server.delay(0.02)
    env = worker_env(pg_url, twilio_server)
    killed_with_rows_in_flight = 0
    for round_ in range(KILL_ROUNDS):
        before, started = len(twilio_server.messages), datetime.now(UTC)
        with Worker(env, tmp_path / f"killed-{round_}.log") as worker:
            wait_for(
                lambda before=before: len(twilio_server.messages) >= before + 40,  # type: ignore[misc]
                60,
                f"round {round_} to start sending",
            )
            worker.kill()
        killed_with_rows_in_flight += claimed_since(pg_url, started) > 0
    assert killed_with_rows_in_flight == KILL_ROUNDS, "each kill landed in the middle of a batch"

    twilio_server.clear_faults()
    survivors = [Worker(env, tmp_path / f"survivor-{n}.log") for n in range(2)]
    try:
        wait_for(lambda: all_settled(pg_url), 240, "recovery to settle every row")
        assert [w.terminate() for w in survivors] == [0, 0]
    finally:
        for worker in survivors:
            worker.__exit__(None, None, None)

    assert_each_phone_got_exactly_one(twilio_server, phones)
    rows_match_the_server(pg_url, twilio_server)
    states = outbox_states(pg_url)
    assert set(states) <= DELIVERED_ONCE, states
    assert states.get(OutboxState.RECONCILED, 0) > 0  # some were settled from Twilio's list


def test_two_workers_never_exceed_five_a_second_together(
    pg_url: str, twilio_server: TwilioFakeServer, tmp_path: Path
) -> None:
    phones = seed_due_texts(pg_url, 30)
    env = worker_env(pg_url, twilio_server, PEERLINE_SEND_RATE="5")
    running = [Worker(env, tmp_path / f"worker-{n}.log") for n in range(2)]
    try:
        wait_for(lambda: all_settled(pg_url), 60, "every row to be sent")
        assert [w.terminate() for w in running] == [0, 0]
    finally:
        for worker in running:
            worker.__exit__(None, None, None)

    assert_each_phone_got_exactly_one(twilio_server, phones)
    arrivals = sorted(m.received_at.timestamp() for m in twilio_server.messages)
    # Slots are granted 0.2 s apart, but a request can spend longer on its way on a loaded
    # machine and arrive closer to the next: over two seconds, that jitter can add one at most.
    busiest = max(
        sum(1 for later in arrivals[i:] if later - first < 2.0) for i, first in enumerate(arrivals)
    )
    assert busiest <= 2 * 5 + 1
    # 30 texts at 5 a second cannot all arrive in less than 29 slots' time (5.8 s); a slower
    # machine only makes it longer, so no upper bound on the clock is asserted here.
    assert arrivals[-1] - arrivals[0] >= 5.0


def test_sigterm_finishes_the_sends_in_flight_and_leaves_no_row_sending(
    pg_url: str, twilio_server: TwilioFakeServer, tmp_path: Path
) -> None:
    seed_due_texts(pg_url, 1000)
    twilio_server.delay(0.2)  # every send is in flight for a fifth of a second
    with Worker(worker_env(pg_url, twilio_server), tmp_path / "worker.log") as worker:
        wait_for(lambda: len(twilio_server.messages) >= 20, 60, "sending to start")
        before = len(twilio_server.messages)
        assert worker.terminate(timeout=120) == 0
    # It finished the batch in hand and claimed no other: counted, not timed, so that a loaded
    # machine cannot break it.
    assert len(twilio_server.messages) - before <= MAX_BATCH

    states = outbox_states(pg_url)
    assert OutboxState.SENDING not in states
    assert states.get(OutboxState.QUEUED, 0) > 0  # it stopped rather than sending everything
    # What reached Twilio is recorded as sent: nothing queued again will go twice.
    assert states.get(OutboxState.SENT) == len(twilio_server.messages)
    rows_match_the_server(pg_url, twilio_server)
