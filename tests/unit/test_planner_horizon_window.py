"""The planner's test of whether a reminder can have come into the horizon, in any zone: it may
say yes when no zone's reminder did, never no when one did (that reminder would be lost)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.campaigns.campaigns import Offset
from service.campaigns.planner import _may_fall_in

ZONES = [
    "Pacific/Kiritimati",  # UTC+14
    "Pacific/Pago_Pago",  # UTC-11
    "America/New_York",
    "Australia/Lord_Howe",  # a half-hour change of clocks
    "Europe/London",
    "Asia/Kolkata",
]
# Meetings around the changes of clocks in March (US, then Europe) and April (Lord Howe).
STARTS = [datetime(2026, 3, 8, 6, 30, tzinfo=UTC) + timedelta(hours=7 * n) for n in range(12)] + [
    datetime(2026, 3, 29, 0, 15, tzinfo=UTC),
    datetime(2026, 4, 4, 15, 0, tzinfo=UTC),
]
OFFSETS = ["2h", "1d2h30m", "1d@18:00", "0d@23:59", "0d@00:00", "3d@07:15", "60d@12:00"]
TICK = timedelta(minutes=1)


@pytest.mark.parametrize("text", OFFSETS)
def test_a_moment_that_came_into_the_horizon_is_never_ruled_out(text: str) -> None:
    offset = Offset.parse(text)
    for start in STARTS:
        for zone in ZONES:
            moment = offset.planned(start, zone)
            # A tick whose horizon moved from just before the moment to just after it.
            assert _may_fall_in(offset, start, moment - TICK, moment), (text, start, zone)
            assert _may_fall_in(offset, start, moment - timedelta(microseconds=1), moment)


def test_a_relative_offset_is_ruled_out_exactly_outside_its_window() -> None:
    offset = Offset.parse("2h")
    start = datetime(2026, 3, 10, 22, 30, tzinfo=UTC)
    moment = start - timedelta(hours=2)
    assert not _may_fall_in(offset, start, moment, moment + TICK)  # planned by the last tick
    assert not _may_fall_in(offset, start, moment - 2 * TICK, moment - TICK)  # not yet in reach


def test_a_wall_clock_offset_is_ruled_out_days_away() -> None:
    offset = Offset.parse("1d@18:00")
    start = datetime(2026, 3, 17, 22, 30, tzinfo=UTC)
    far = start - timedelta(days=5)
    assert not _may_fall_in(offset, start, far - TICK, far)
