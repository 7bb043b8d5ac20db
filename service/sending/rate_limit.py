"""One rate limit per sender, held in the database so that every worker process shares it.

Twilio counts segments: a long code sends one a second, and what is sent faster waits in
Twilio's queue, where it can expire. Each send reserves its slot by moving the sender's
`next_at` on by segments / rate in one atomic UPDATE (virtual scheduling, as in GCRA), then
waits for the slot. Nothing is reserved more than `horizon` seconds ahead, so a row that
cannot go soon goes back to the queue rather than sitting in a worker.

A second is counted as slightly more than a second (`headroom`), and a slot the worker
reaches late is given up and reserved again: a thread that wakes late, next to one on time,
must not squeeze more than the limit into one real second at Twilio's end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import case, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from service.models import SendBudget

HEADROOM = 1.15  # a limit of r per second spaces slots 1.15 / r apart
LATE_TOLERANCE = 0.02  # seconds a slot may be missed by and still be used


class RateLimiter:
    """Slots for sends, shared through the send_budgets table; rate None means no limit."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        rate: float | None,
        *,
        horizon: float = 2.0,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.sessions = sessions
        self.rate = rate
        self.horizon = horizon
        self.wall_clock = wall_clock
        self.sleep = sleep
        self._known: set[str] = set()
        self._lock = threading.Lock()

    def batch_size(self, ceiling: int) -> int:
        """How many rows one claim should take: what the limit lets out within the horizon."""
        if self.rate is None:
            return ceiling
        return max(1, min(ceiling, int(self.rate * self.horizon / HEADROOM)))

    def reserve(self, sender: str, segments: int) -> float | None:
        """The wall-clock moment a send of segments may start, or None if none is free soon."""
        now = self.wall_clock()
        if self.rate is None:
            return now
        self._ensure(sender)
        cost = max(1, segments) * HEADROOM / self.rate
        budget = SendBudget.__table__.c
        with self.sessions() as session:
            end = session.scalar(
                update(SendBudget)
                .where(budget.sender == sender, budget.next_at <= now + self.horizon)
                .values(next_at=case((budget.next_at > now, budget.next_at), else_=now) + cost)
                .returning(budget.next_at)
            )
            session.commit()
        return None if end is None else float(end) - cost

    def wait_for_slot(self, sender: str, segments: int) -> float | None:
        """Block until a reserved slot comes, and return it; None when none is free soon.

        The caller checks on_time(slot) just before the request leaves: work done after the
        wait (a last look at consent) can make the send late for its slot.
        """
        slot = self.reserve(sender, segments)
        if slot is None:
            return None
        delay = slot - self.wall_clock()
        if delay > 0:
            self.sleep(delay)
        return slot

    def on_time(self, slot: float) -> bool:
        """Whether a send may still use its slot; a late one leaves it spent and takes another."""
        return self.rate is None or self.wall_clock() - slot <= LATE_TOLERANCE

    def _ensure(self, sender: str) -> None:
        with self._lock:
            if sender in self._known:
                return
        with self.sessions() as session:
            try:
                session.execute(insert(SendBudget).values(sender=sender, next_at=0.0))
                session.commit()
            except IntegrityError:
                session.rollback()  # another worker made it first
        with self._lock:
            self._known.add(sender)
