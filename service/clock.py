"""The app's clock: real time in production, a movable one in tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask, current_app

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def app_clock(app: Flask | None = None) -> Clock:
    clock: Clock = (app or current_app).extensions["peerline.clock"]
    return clock
