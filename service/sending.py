"""Sending rows right away, outside the scheduler: replies' alerts and coordinators' one-offs."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from flask import Flask

from service.clock import app_clock
from service.composer import compose
from service.config import Settings
from service.db import sessions
from service.gateway import Gateway
from service.models import OutboxMessage
from service.outbox import deliver

log = logging.getLogger(__name__)


def status_callback(settings: Settings) -> Callable[[OutboxMessage], str | None]:
    """The URL Twilio reports a row's delivery to; it names the row, so even a lost SID is found."""

    def url(row: OutboxMessage) -> str | None:
        if settings.public_url is None:
            return None
        return f"{settings.public_url}/twilio/sms/status?outbox={row.id}"

    return url


def send_now(app: Flask, row_ids: Iterable[int]) -> list[OutboxMessage]:
    """Deliver the given queued rows one by one, each in its own transactions."""
    settings: Settings = app.extensions["peerline.settings"]
    gateway: Gateway = app.extensions["peerline.gateway"]
    clock = app_clock(app)
    results = []
    with app.app_context(), sessions(app)() as session:
        for row_id in row_ids:
            row = deliver(
                session,
                row_id,
                gateway,
                callback_url=status_callback(settings),
                now=clock,
                compose=compose,
            )
            if row is not None:
                results.append(row)
    return results
