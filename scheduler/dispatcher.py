"""The dispatcher's tick: settle in-doubt rows, then send what is due, batch by batch."""

from __future__ import annotations

import logging

from flask import Flask

from service.sending.dispatch import dispatcher
from service.sending.steps import Outcome

log = logging.getLogger(__name__)


def dispatch_due(app: Flask, *, max_seconds: float = 30.0) -> int:
    """One tick; returns how many rows were sent, settled or put back in this tick.

    A tick runs until nothing is due, the rate limit is full, the process is stopping, or
    max_seconds have passed (the next tick carries on).
    """
    tally = dispatcher(app).drain(max_seconds=max_seconds)
    if tally:
        log.info(
            "dispatch: %s",
            ", ".join(f"{n} {outcome.value}" for outcome, n in sorted(tally.items())),
        )
    return sum(n for outcome, n in tally.items() if outcome is not Outcome.RELEASED)
