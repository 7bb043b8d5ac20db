"""Quiet hours: where they fall, how reminders and encouragement move, what expires."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.messages.quiet_hours import (
    Placement,
    QuietHours,
    place_encouragement,
    place_reminder,
    still_sendable,
)

CHICAGO = "America/Chicago"
NEW_YORK = "America/New_York"
NIGHTS = QuietHours()  # 21:00-08:00
LUNCH = QuietHours(time(13, 0), time(14, 0))
NEVER = QuietHours(time(9, 0), time(9, 0))
MOVED = "moved out of quiet hours (21:00-08:00 America/Chicago)"
AHEAD = "moved ahead of quiet hours (21:00-08:00 America/Chicago)"
TOO_LATE = "expired: no allowed time before the meeting"


def chicago(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(CHICAGO))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("quiet", "zone", "moment", "expected"),
    [
        pytest.param(NIGHTS, CHICAGO, chicago(2026, 6, 10, 12, 0), False, id="noon"),
        pytest.param(NIGHTS, CHICAGO, chicago(2026, 6, 10, 20, 59, 59), False, id="20:59:59"),
        pytest.param(NIGHTS, CHICAGO, chicago(2026, 6, 10, 21, 0), True, id="start is quiet"),
        pytest.param(NIGHTS, CHICAGO, chicago(2026, 6, 11, 0, 0), True, id="midnight"),
        pytest.param(NIGHTS, CHICAGO, chicago(2026, 6, 11, 7, 59), True, id="07:59"),
        pytest.param(NIGHTS, CHICAGO, chicago(2026, 6, 11, 8, 0), False, id="end is not quiet"),
        pytest.param(LUNCH, CHICAGO, chicago(2026, 6, 10, 12, 59), False, id="lunch 12:59"),
        pytest.param(LUNCH, CHICAGO, chicago(2026, 6, 10, 13, 0), True, id="lunch 13:00"),
        pytest.param(LUNCH, CHICAGO, chicago(2026, 6, 10, 13, 59), True, id="lunch 13:59"),
        pytest.param(LUNCH, CHICAGO, chicago(2026, 6, 10, 14, 0), False, id="lunch 14:00"),
        pytest.param(LUNCH, CHICAGO, chicago(2026, 6, 10, 23, 0), False, id="lunch, at night"),
        pytest.param(NEVER, CHICAGO, chicago(2026, 6, 10, 9, 0), False, id="start == end, 09:00"),
        pytest.param(NEVER, CHICAGO, chicago(2026, 6, 10, 3, 0), False, id="start == end, 03:00"),
        # 8 March 2026: New York skips from 02:00 to 03:00, so a boundary at 02:30 is 03:30 EDT
        # (07:30 UTC): 03:15 EDT is still quiet, or not yet quiet.
        pytest.param(QuietHours(time(21, 0), time(2, 30)), NEW_YORK, utc(2026, 3, 8, 7, 15), True,
                     id="end in the gap: 03:15"),
        pytest.param(QuietHours(time(21, 0), time(2, 30)), NEW_YORK, utc(2026, 3, 8, 7, 30), False,
                     id="end in the gap: 03:30"),
        pytest.param(QuietHours(time(2, 30), time(6, 0)), NEW_YORK, utc(2026, 3, 8, 7, 15), False,
                     id="start in the gap: 03:15"),
        pytest.param(QuietHours(time(2, 30), time(6, 0)), NEW_YORK, utc(2026, 3, 8, 7, 30), True,
                     id="start in the gap: 03:30"),
    ],
)  # fmt: skip
def test_contains(quiet: QuietHours, zone: str, moment: datetime, expected: bool) -> None:
    assert quiet.contains(moment, zone) is expected


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("America/New_York", False),  # 09:00
        ("America/Los_Angeles", True),  # 06:00
        ("Europe/London", False),  # 14:00
        ("Asia/Kolkata", False),  # 18:30
        ("Australia/Adelaide", True),  # 22:30
        ("Australia/Sydney", True),  # 23:00
    ],
)
def test_the_same_instant_is_quiet_for_some_participants_only(zone: str, expected: bool) -> None:
    assert NIGHTS.contains(utc(2026, 6, 10, 13, 0), zone) is expected


@pytest.mark.parametrize(
    ("planned", "meeting", "send_at", "reason"),
    [
        pytest.param(
            chicago(2026, 6, 10, 12, 0), chicago(2026, 6, 10, 18, 30), chicago(2026, 6, 10, 12, 0),
            None, id="allowed: as planned",
        ),
        pytest.param(
            chicago(2026, 6, 10, 20, 59), chicago(2026, 6, 10, 21, 30),
            chicago(2026, 6, 10, 20, 59), None, id="20:59 is allowed",
        ),
        pytest.param(
            chicago(2026, 6, 9, 22, 0), chicago(2026, 6, 10, 9, 0), chicago(2026, 6, 10, 8, 0),
            MOVED, id="22:00 for a 09:00 meeting: 08:00",
        ),
        pytest.param(
            chicago(2026, 6, 10, 7, 59), chicago(2026, 6, 10, 8, 1), chicago(2026, 6, 10, 8, 0),
            MOVED, id="one minute to spare",
        ),
        pytest.param(
            chicago(2026, 6, 9, 22, 0), chicago(2026, 6, 10, 0, 0), chicago(2026, 6, 9, 20, 59),
            AHEAD, id="2 h before midnight: 20:59",
        ),
        pytest.param(
            chicago(2026, 6, 9, 21, 0), chicago(2026, 6, 9, 23, 0), chicago(2026, 6, 9, 20, 59),
            AHEAD, id="planned at quiet start: 20:59",
        ),
        pytest.param(
            chicago(2026, 6, 10, 0, 30), chicago(2026, 6, 10, 7, 30), chicago(2026, 6, 9, 20, 59),
            AHEAD, id="7 h before 07:30: 20:59 the evening before",
        ),
        pytest.param(
            chicago(2026, 6, 10, 7, 0), chicago(2026, 6, 10, 7, 30), None,
            TOO_LATE, id="30 min before 07:30: expired, 20:59 is ten hours early",
        ),
        pytest.param(
            chicago(2026, 6, 10, 5, 30), chicago(2026, 6, 10, 7, 30), None,
            TOO_LATE, id="2 h before 07:30: expired",
        ),
        pytest.param(
            chicago(2026, 6, 10, 7, 59), chicago(2026, 6, 10, 8, 0), None,
            TOO_LATE, id="meeting at quiet end",
        ),
        pytest.param(
            chicago(2026, 6, 10, 18, 30), chicago(2026, 6, 10, 18, 30), None,
            "expired: planned at or after the meeting start", id="planned at the start",
        ),
        pytest.param(
            chicago(2026, 6, 10, 22, 0), chicago(2026, 6, 10, 18, 30), None,
            "expired: planned at or after the meeting start", id="planned after the start",
        ),
    ],
)  # fmt: skip
def test_place_reminder(
    planned: datetime, meeting: datetime, send_at: datetime | None, reason: str | None
) -> None:
    placement = place_reminder(planned, meeting, CHICAGO, NIGHTS)
    assert placement == Placement(
        send_at=send_at,
        expires_at=meeting,
        moved=reason is not None and send_at is not None,
        expired=send_at is None,
        reason=reason,
    )
    assert placement.expires_at is not None and placement.expires_at.tzinfo is UTC
    assert placement.send_at is None or placement.send_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("planned", "meeting", "send_at"),
    [
        pytest.param(chicago(2026, 6, 10, 13, 30), chicago(2026, 6, 10, 15, 0),
                     chicago(2026, 6, 10, 14, 0), id="after lunch"),
        pytest.param(chicago(2026, 6, 10, 13, 10), chicago(2026, 6, 10, 14, 0),
                     chicago(2026, 6, 10, 12, 59), id="before lunch"),
        pytest.param(chicago(2026, 6, 10, 13, 50), chicago(2026, 6, 10, 14, 0), None,
                     id="expired over lunch"),
    ],
)  # fmt: skip
def test_place_reminder_with_quiet_hours_inside_one_day(
    planned: datetime, meeting: datetime, send_at: datetime | None
) -> None:
    assert place_reminder(planned, meeting, CHICAGO, LUNCH).send_at == send_at


@pytest.mark.parametrize(
    ("zone", "quiet", "planned", "meeting", "send_at"),
    [
        # 8 March 2026, New York springs forward: quiet ends at 08:00 EDT, 12:00 UTC (not 13:00).
        pytest.param(NEW_YORK, NIGHTS, utc(2026, 3, 8, 6, 0), utc(2026, 3, 8, 14, 0),
                     utc(2026, 3, 8, 12, 0), id="New York spring morning"),
        # ... and begins at 21:00 EDT, so 20:59 EDT is 00:59 UTC.
        pytest.param(NEW_YORK, NIGHTS, utc(2026, 3, 9, 1, 30), utc(2026, 3, 9, 3, 0),
                     utc(2026, 3, 9, 0, 59), id="New York spring evening"),
        # 1 November 2026, New York falls back: quiet ends at 08:00 EST, 13:00 UTC.
        pytest.param(NEW_YORK, NIGHTS, utc(2026, 11, 1, 10, 0), utc(2026, 11, 1, 15, 0),
                     utc(2026, 11, 1, 13, 0), id="New York fall morning"),
        # 25 October 2026, London falls back: 08:00 GMT is 08:00 UTC; the day before, 07:00.
        pytest.param("Europe/London", NIGHTS, utc(2026, 10, 25, 5, 0), utc(2026, 10, 25, 10, 0),
                     utc(2026, 10, 25, 8, 0), id="London fall morning"),
        pytest.param("Europe/London", NIGHTS, utc(2026, 10, 24, 5, 0), utc(2026, 10, 24, 10, 0),
                     utc(2026, 10, 24, 7, 0), id="London the day before"),
        # 4 October 2026, Adelaide springs forward at 02:00 ACST to 03:00 ACDT (+10:30).
        pytest.param("Australia/Adelaide", NIGHTS, utc(2026, 10, 3, 16, 0),
                     utc(2026, 10, 4, 0, 0), utc(2026, 10, 3, 21, 30), id="Adelaide spring"),
        # A quiet end of 02:30 falls in New York's gap and moves forward to 03:30 EDT.
        pytest.param(NEW_YORK, QuietHours(time(21, 0), time(2, 30)), utc(2026, 3, 8, 6, 0),
                     utc(2026, 3, 8, 14, 0), utc(2026, 3, 8, 7, 30), id="quiet end in the gap"),
    ],
)  # fmt: skip
def test_place_reminder_on_dst_days(
    zone: str, quiet: QuietHours, planned: datetime, meeting: datetime, send_at: datetime
) -> None:
    assert place_reminder(planned, meeting, zone, quiet).send_at == send_at


@pytest.mark.parametrize(
    ("planned", "window", "quiet", "send_at", "reason"),
    [
        pytest.param(chicago(2026, 6, 10, 12, 0), timedelta(hours=12), NIGHTS,
                     chicago(2026, 6, 10, 12, 0), None, id="allowed: as planned"),
        pytest.param(chicago(2026, 6, 9, 23, 0), timedelta(hours=12), NIGHTS,
                     chicago(2026, 6, 10, 8, 0), MOVED, id="23:00: 08:00 next day"),
        pytest.param(chicago(2026, 6, 9, 23, 0), timedelta(hours=6), NIGHTS, None,
                     "expired: quiet hours (21:00-08:00 America/Chicago) outlast its 6 h window",
                     id="23:00 with a 6 h window: expired"),
        pytest.param(chicago(2026, 6, 10, 7, 30), timedelta(minutes=31), NIGHTS,
                     chicago(2026, 6, 10, 8, 0), MOVED, id="a minute inside the window"),
        pytest.param(chicago(2026, 6, 10, 7, 30), timedelta(minutes=30), NIGHTS, None,
                     "expired: quiet hours (21:00-08:00 America/Chicago) outlast its 0.5 h window",
                     id="the window closes as quiet hours end"),
        pytest.param(chicago(2026, 6, 10, 13, 15), timedelta(hours=12), LUNCH,
                     chicago(2026, 6, 10, 14, 0),
                     "moved out of quiet hours (13:00-14:00 America/Chicago)", id="after lunch"),
        pytest.param(chicago(2026, 6, 10, 3, 0), timedelta(hours=12), NEVER,
                     chicago(2026, 6, 10, 3, 0), None, id="no quiet hours"),
    ],
)  # fmt: skip
def test_place_encouragement(
    planned: datetime,
    window: timedelta,
    quiet: QuietHours,
    send_at: datetime | None,
    reason: str | None,
) -> None:
    assert place_encouragement(planned, CHICAGO, quiet, window) == Placement(
        send_at=send_at,
        expires_at=planned + window,
        moved=reason is not None and send_at is not None,
        expired=send_at is None,
        reason=reason,
    )


def test_a_dst_day_whose_allowed_time_is_lost_to_the_gap_moves_to_the_next_day() -> None:
    # Allowed only 02:30-03:15 each day; on 8 March New York's clock skips 02:00-03:00, so quiet
    # lasts until 03:30 EDT and has begun again at 03:15: the next allowed time is 9 March 02:30.
    quiet = QuietHours(time(3, 15), time(2, 30))
    placement = place_encouragement(utc(2026, 3, 8, 6, 0), NEW_YORK, quiet, timedelta(days=2))
    assert placement.send_at == utc(2026, 3, 9, 6, 30)
    assert quiet.contains(utc(2026, 3, 8, 7, 30), NEW_YORK)


def test_encouragement_waits_for_each_participants_own_morning() -> None:
    planned = utc(2026, 6, 10, 3, 0)  # 23:00 in New York, 04:00 in London, 13:00 in Sydney
    assert place_encouragement(planned, NEW_YORK, NIGHTS).send_at == utc(2026, 6, 10, 12, 0)
    assert place_encouragement(planned, "Europe/London", NIGHTS).send_at == utc(2026, 6, 10, 7, 0)
    assert place_encouragement(planned, "Australia/Sydney", NIGHTS).send_at == planned


def test_after_three_hours_down_stale_reminders_expire_and_encouragement_goes() -> None:
    down_at, back_at = chicago(2026, 6, 10, 15, 0), chicago(2026, 6, 10, 18, 0)
    meeting = chicago(2026, 6, 10, 17, 30)
    reminder = place_reminder(chicago(2026, 6, 10, 16, 0), meeting, CHICAGO, NIGHTS)
    later_meeting = chicago(2026, 6, 10, 19, 0)
    next_reminder = place_reminder(chicago(2026, 6, 10, 17, 0), later_meeting, CHICAGO, NIGHTS)
    encouragement = place_encouragement(chicago(2026, 6, 10, 15, 30), CHICAGO, NIGHTS)
    assert reminder.send_at is not None and down_at < reminder.send_at < back_at

    assert still_sendable(back_at, reminder.expires_at, CHICAGO, NIGHTS) == "expired"
    assert still_sendable(back_at, next_reminder.expires_at, CHICAGO, NIGHTS) is None
    assert still_sendable(back_at, encouragement.expires_at, CHICAGO, NIGHTS) is None


@pytest.mark.parametrize(
    ("now", "expires_at", "expected"),
    [
        pytest.param(chicago(2026, 6, 10, 12, 0), chicago(2026, 6, 10, 18, 30), None, id="go"),
        pytest.param(chicago(2026, 6, 10, 12, 0), None, None, id="no expiry"),
        pytest.param(chicago(2026, 6, 10, 18, 30), chicago(2026, 6, 10, 18, 30), "expired",
                     id="at the expiry: too late"),
        pytest.param(chicago(2026, 6, 10, 18, 29), chicago(2026, 6, 10, 18, 30), None,
                     id="a minute before the expiry"),
        pytest.param(chicago(2026, 6, 10, 22, 0), chicago(2026, 6, 11, 10, 0), "quiet hours",
                     id="quiet now, still time later"),
        pytest.param(chicago(2026, 6, 10, 22, 0), None, "quiet hours", id="quiet, no expiry"),
        pytest.param(chicago(2026, 6, 10, 22, 0), chicago(2026, 6, 10, 21, 30), "expired",
                     id="quiet and expired: expired"),
    ],
)  # fmt: skip
def test_still_sendable(now: datetime, expires_at: datetime | None, expected: str | None) -> None:
    assert still_sendable(now, expires_at, CHICAGO, NIGHTS) == expected


def test_a_naive_moment_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        NIGHTS.contains(datetime(2026, 6, 10, 22, 0), CHICAGO)


ZONES = st.sampled_from(
    [
        "America/New_York",
        "America/Los_Angeles",
        "America/Chicago",
        "Europe/London",
        "Australia/Sydney",
        "Australia/Adelaide",
        "Asia/Kolkata",
    ]
)
MOMENTS = st.datetimes(datetime(2025, 1, 1), datetime(2028, 12, 31), timezones=st.just(UTC))
WALL_TIMES = st.builds(time, st.integers(0, 23), st.sampled_from([0, 1, 15, 30, 59]))
QUIETS = st.builds(QuietHours, WALL_TIMES, WALL_TIMES)
MICROSECOND = timedelta(microseconds=1)


@settings(max_examples=500, deadline=None)
@given(
    planned=MOMENTS,
    lead=st.timedeltas(timedelta(0), timedelta(days=3)),
    zone=ZONES,
    quiet=QUIETS,
)
def test_a_placed_reminder_is_never_quiet_never_late_never_twice_as_early(
    planned: datetime, lead: timedelta, zone: str, quiet: QuietHours
) -> None:
    meeting = planned + lead
    placement = place_reminder(planned, meeting, zone, quiet)
    assert placement.expires_at == meeting
    if placement.send_at is None:
        assert placement.expired
        assert lead == timedelta(0) or quiet.contains(planned, zone)
        return
    send_at = placement.send_at
    assert not quiet.contains(send_at, zone)
    assert planned - lead <= send_at < meeting
    assert placement.moved == (send_at != planned)
    if not quiet.contains(planned, zone):
        assert send_at == planned
    elif send_at > planned:
        assert quiet.contains(send_at - MICROSECOND, zone)  # the first allowed moment after
    else:
        assert quiet.contains(send_at + timedelta(minutes=1), zone)  # the last allowed minute


@settings(max_examples=500, deadline=None)
@given(
    planned=MOMENTS,
    window=st.timedeltas(timedelta(0), timedelta(days=2)),
    zone=ZONES,
    quiet=QUIETS,
)
def test_placed_encouragement_is_never_quiet_and_never_past_its_window(
    planned: datetime, window: timedelta, zone: str, quiet: QuietHours
) -> None:
    placement = place_encouragement(planned, zone, quiet, window)
    assert placement.expires_at == planned + window
    if placement.send_at is None:
        assert placement.expired
        assert window == timedelta(0) or quiet.contains(planned, zone)
        return
    send_at = placement.send_at
    assert not quiet.contains(send_at, zone)
    assert planned <= send_at < planned + window
    assert placement.moved == (send_at != planned)
    if send_at > planned:
        assert quiet.contains(send_at - MICROSECOND, zone)  # the first allowed moment
