"""A group's meetings: rule patterns, single changes, DST in five zones, refused schedules."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from service.campaigns.recurrence import (
    Change,
    Occurrence,
    Schedule,
    ScheduleError,
    next_occurrence,
    occurrences,
    validate,
)

CHICAGO = "America/Chicago"
TUESDAYS = Schedule("FREQ=WEEKLY;BYDAY=TU", datetime(2026, 6, 2, 18, 30), CHICAGO, location="Hall")
JUNE = (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def keys(found: list[Occurrence]) -> list[str]:
    return [occurrence.key for occurrence in found]


def local_starts(found: list[Occurrence]) -> list[str]:
    return [occurrence.local_start.isoformat() for occurrence in found]


@pytest.mark.parametrize(
    ("rule", "first_start", "window_end", "expected"),
    [
        pytest.param(
            "FREQ=WEEKLY;BYDAY=TU",
            datetime(2026, 6, 2, 18, 30),
            utc(2026, 7, 1),
            ["20260602T1830", "20260609T1830", "20260616T1830", "20260623T1830", "20260630T1830"],
            id="weekly",
        ),
        pytest.param(
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
            datetime(2026, 6, 2, 18, 30),
            utc(2026, 7, 1),
            ["20260602T1830", "20260616T1830", "20260630T1830"],
            id="every other week",
        ),
        pytest.param(
            "FREQ=MONTHLY;BYDAY=1MO",
            datetime(2026, 6, 1, 19, 0),
            utc(2026, 10, 1),
            ["20260601T1900", "20260706T1900", "20260803T1900", "20260907T1900"],
            id="first Monday",
        ),
        pytest.param(
            "FREQ=MONTHLY;BYDAY=-1FR",
            datetime(2026, 6, 26, 12, 0),
            utc(2026, 10, 1),
            ["20260626T1200", "20260731T1200", "20260828T1200", "20260925T1200"],
            id="last Friday",
        ),
        pytest.param(
            "FREQ=MONTHLY;BYMONTHDAY=15",
            datetime(2026, 6, 15, 10, 0),
            utc(2026, 10, 1),
            ["20260615T1000", "20260715T1000", "20260815T1000", "20260915T1000"],
            id="monthly by date",
        ),
        pytest.param(
            "FREQ=WEEKLY;BYDAY=TU;COUNT=3",
            datetime(2026, 6, 2, 18, 30),
            utc(2026, 10, 1),
            ["20260602T1830", "20260609T1830", "20260616T1830"],
            id="COUNT",
        ),
        pytest.param(
            "FREQ=WEEKLY;BYDAY=TU;UNTIL=20260616T183000",
            datetime(2026, 6, 2, 18, 30),
            utc(2026, 10, 1),
            ["20260602T1830", "20260609T1830", "20260616T1830"],
            id="UNTIL local, inclusive",
        ),
        pytest.param(
            "FREQ=WEEKLY;BYDAY=TU;UNTIL=20260616T233000Z",
            datetime(2026, 6, 2, 18, 30),
            utc(2026, 10, 1),
            ["20260602T1830", "20260609T1830", "20260616T1830"],
            id="UNTIL in UTC is 18:30 CDT",
        ),
        pytest.param(
            "FREQ=WEEKLY;BYDAY=TU;UNTIL=20260616T232900Z",
            datetime(2026, 6, 2, 18, 30),
            utc(2026, 10, 1),
            ["20260602T1830", "20260609T1830"],
            id="UNTIL in UTC a minute early",
        ),
        pytest.param(
            "FREQ=WEEKLY;BYDAY=TU;UNTIL=20260616",
            datetime(2026, 6, 2, 18, 30),
            utc(2026, 10, 1),
            ["20260602T1830", "20260609T1830", "20260616T1830"],
            id="UNTIL a bare date keeps that day",
        ),
        pytest.param(
            "RRULE:freq=weekly;byday=tu;count=2",
            datetime(2026, 6, 2, 18, 30),
            utc(2026, 10, 1),
            ["20260602T1830", "20260609T1830"],
            id="prefix and lower case",
        ),
    ],
)
def test_patterns_give_these_meetings(
    rule: str, first_start: datetime, window_end: datetime, expected: list[str]
) -> None:
    schedule = Schedule(rule, first_start, CHICAGO)
    found = occurrences(schedule, [], utc(2026, 6, 1), window_end)
    assert keys(found) == expected
    # No DST change inside these windows: Chicago is on CDT, UTC-5, throughout.
    wall_times = [datetime.strptime(key, "%Y%m%dT%H%M") for key in expected]
    assert [o.starts_at for o in found] == [
        w.replace(tzinfo=UTC) + timedelta(hours=5) for w in wall_times
    ]
    assert all(o.ends_at - o.starts_at == timedelta(minutes=90) for o in found)


def test_window_includes_its_start_and_excludes_its_end() -> None:
    found = occurrences(TUESDAYS, [], utc(2026, 6, 9, 23, 30), utc(2026, 6, 23, 23, 30))
    assert keys(found) == ["20260609T1830", "20260616T1830"]


def test_a_first_start_the_rule_does_not_give_is_not_a_meeting() -> None:
    # Monday 1 June at 18:30, every Tuesday, twice: the Tuesdays 2 and 9 June.
    schedule = Schedule("FREQ=WEEKLY;BYDAY=TU;COUNT=2", datetime(2026, 6, 1, 18, 30), CHICAGO)
    assert keys(occurrences(schedule, [], *JUNE)) == ["20260602T1830", "20260609T1830"]


def test_a_year_of_a_schedule_begun_ten_years_ago() -> None:
    schedule = Schedule("FREQ=WEEKLY;BYDAY=TU", datetime(2016, 1, 5, 18, 30), CHICAGO)
    found = occurrences(schedule, [], utc(2026, 1, 1), utc(2027, 1, 1))
    assert len(found) == 52
    assert (found[0].key, found[-1].key) == ("20260106T1830", "20261229T1830")


def test_a_cancelled_meeting_is_left_out_unless_asked_for() -> None:
    changes = [Change("20260609T1830", cancelled=True)]
    assert keys(occurrences(TUESDAYS, changes, *JUNE)) == [
        "20260602T1830",
        "20260616T1830",
        "20260623T1830",
        "20260630T1830",
    ]
    listed = occurrences(TUESDAYS, changes, *JUNE, include_cancelled=True)
    assert [(o.key, o.cancelled) for o in listed[:3]] == [
        ("20260602T1830", False),
        ("20260609T1830", True),
        ("20260616T1830", False),
    ]


def test_a_moved_meeting_keeps_its_key_and_takes_its_new_time_and_place() -> None:
    # Tuesday the 9th moves to Saturday the 20th at 10:00, in room 5.
    moved = Change("20260609T1830", new_start=datetime(2026, 6, 20, 10, 0), new_location="Room 5")
    found = occurrences(TUESDAYS, [moved], *JUNE)
    assert keys(found) == [
        "20260602T1830",
        "20260616T1830",
        "20260609T1830",
        "20260623T1830",
        "20260630T1830",
    ]
    assert found[2] == Occurrence(
        key="20260609T1830",
        starts_at=utc(2026, 6, 20, 15, 0),
        ends_at=utc(2026, 6, 20, 16, 30),
        local_start=datetime.fromisoformat("2026-06-20T10:00:00-05:00"),
        location="Room 5",
        moved=True,
    )
    assert (found[0].location, found[0].moved) == ("Hall", False)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        pytest.param(utc(2026, 6, 9), utc(2026, 6, 11), [], id="old time's window: not there"),
        pytest.param(utc(2026, 6, 20), utc(2026, 6, 21), ["20260609T1830"], id="new time's window"),
        pytest.param(
            utc(2026, 6, 19), utc(2026, 6, 24), ["20260609T1830", "20260623T1830"], id="wider"
        ),
    ],
)
def test_a_moved_meeting_counts_by_its_new_time(
    start: datetime, end: datetime, expected: list[str]
) -> None:
    moved = Change("20260609T1830", new_start=datetime(2026, 6, 20, 10, 0))
    assert keys(occurrences(TUESDAYS, [moved], start, end)) == expected


def test_a_meeting_moved_in_from_far_outside_the_window_is_found() -> None:
    moved = Change("20260602T1830", new_start=datetime(2026, 9, 30, 18, 30))
    found = occurrences(TUESDAYS, [moved], utc(2026, 9, 30), utc(2026, 10, 1))
    assert keys(found) == ["20260602T1830"]
    assert found[0].starts_at == utc(2026, 9, 30, 23, 30)


def test_a_new_place_alone_marks_the_meeting_moved() -> None:
    found = occurrences(TUESDAYS, [Change("20260602T1830", new_location="Room 5")], *JUNE)
    assert (found[0].starts_at, found[0].location, found[0].moved) == (
        utc(2026, 6, 2, 23, 30),
        "Room 5",
        True,
    )


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(Change("20260610T1830", cancelled=True), id="no meeting that day"),
        pytest.param(
            Change("20260609T1900", new_start=datetime(2026, 6, 12, 9, 0)), id="not at that time"
        ),
        pytest.param(Change("next week", new_start=datetime(2026, 6, 12, 9, 0)), id="not a key"),
    ],
)
def test_a_change_to_no_meeting_of_the_rule_is_ignored(change: Change) -> None:
    assert occurrences(TUESDAYS, [change], *JUNE) == occurrences(TUESDAYS, [], *JUNE)


@pytest.mark.parametrize(
    ("schedule", "changes", "after", "expected"),
    [
        pytest.param(TUESDAYS, [], utc(2026, 6, 3), "20260609T1830", id="next Tuesday"),
        pytest.param(TUESDAYS, [], utc(2026, 6, 9, 23, 30), "20260616T1830", id="strictly after"),
        pytest.param(
            TUESDAYS,
            [Change("20260609T1830", cancelled=True)],
            utc(2026, 6, 3),
            "20260616T1830",
            id="skips a cancelled one",
        ),
        pytest.param(
            TUESDAYS,
            [Change("20260616T1830", new_start=datetime(2026, 6, 4, 12, 0))],
            utc(2026, 6, 3),
            "20260616T1830",
            id="a meeting moved earlier comes first",
        ),
        pytest.param(
            Schedule("FREQ=YEARLY", datetime(2026, 6, 2, 18, 30), CHICAGO),
            [],
            utc(2026, 6, 3),
            "20270602T1830",
            id="a year away",
        ),
        pytest.param(
            Schedule("FREQ=WEEKLY;COUNT=2", datetime(2026, 6, 2, 18, 30), CHICAGO),
            [],
            utc(2026, 6, 10),
            None,
            id="the rule has ended",
        ),
        pytest.param(
            Schedule("FREQ=WEEKLY;COUNT=2", datetime(2026, 6, 2, 18, 30), CHICAGO),
            [Change("20260609T1830", new_start=datetime(2028, 1, 4, 18, 30))],
            utc(2026, 6, 10),
            "20260609T1830",
            id="the last meeting moved long after the rule's end",
        ),
    ],
)
def test_next_occurrence(
    schedule: Schedule, changes: list[Change], after: datetime, expected: str | None
) -> None:
    found = next_occurrence(schedule, changes, after)
    assert (found.key if found else None) == expected


@pytest.mark.parametrize(
    ("zone", "rule", "first_start", "expected"),
    [
        pytest.param(
            "America/New_York",
            "FREQ=DAILY;COUNT=3",
            datetime(2026, 3, 7, 18, 30),
            ["2026-03-07T18:30:00-05:00", "2026-03-08T18:30:00-04:00", "2026-03-09T18:30:00-04:00"],
            id="New York spring forward",
        ),
        pytest.param(
            "America/New_York",
            "FREQ=DAILY;COUNT=3",
            datetime(2026, 10, 31, 18, 30),
            ["2026-10-31T18:30:00-04:00", "2026-11-01T18:30:00-05:00", "2026-11-02T18:30:00-05:00"],
            id="New York fall back",
        ),
        pytest.param(
            "America/New_York",
            "FREQ=WEEKLY;BYDAY=TU;COUNT=2",
            datetime(2026, 3, 3, 18, 30),
            ["2026-03-03T18:30:00-05:00", "2026-03-10T18:30:00-04:00"],
            id="New York weekly across the change",
        ),
        pytest.param(
            "America/Los_Angeles",
            "FREQ=DAILY;COUNT=3",
            datetime(2026, 3, 7, 18, 30),
            ["2026-03-07T18:30:00-08:00", "2026-03-08T18:30:00-07:00", "2026-03-09T18:30:00-07:00"],
            id="Los Angeles spring forward",
        ),
        pytest.param(
            "America/Los_Angeles",
            "FREQ=DAILY;COUNT=3",
            datetime(2026, 10, 31, 18, 30),
            ["2026-10-31T18:30:00-07:00", "2026-11-01T18:30:00-08:00", "2026-11-02T18:30:00-08:00"],
            id="Los Angeles fall back",
        ),
        pytest.param(
            "Europe/London",
            "FREQ=DAILY;COUNT=3",
            datetime(2026, 3, 28, 18, 30),
            ["2026-03-28T18:30:00+00:00", "2026-03-29T18:30:00+01:00", "2026-03-30T18:30:00+01:00"],
            id="London spring forward",
        ),
        pytest.param(
            "Europe/London",
            "FREQ=DAILY;COUNT=3",
            datetime(2026, 10, 24, 18, 30),
            ["2026-10-24T18:30:00+01:00", "2026-10-25T18:30:00+00:00", "2026-10-26T18:30:00+00:00"],
            id="London fall back",
        ),
        pytest.param(
            "Australia/Sydney",
            "FREQ=DAILY;COUNT=3",
            datetime(2026, 10, 3, 18, 30),
            ["2026-10-03T18:30:00+10:00", "2026-10-04T18:30:00+11:00", "2026-10-05T18:30:00+11:00"],
            id="Sydney spring forward",
        ),
        pytest.param(
            "Australia/Sydney",
            "FREQ=DAILY;COUNT=3",
            datetime(2026, 4, 4, 18, 30),
            ["2026-04-04T18:30:00+11:00", "2026-04-05T18:30:00+10:00", "2026-04-06T18:30:00+10:00"],
            id="Sydney fall back",
        ),
        pytest.param(
            "Australia/Adelaide",
            "FREQ=DAILY;COUNT=3",
            datetime(2026, 10, 3, 18, 30),
            ["2026-10-03T18:30:00+09:30", "2026-10-04T18:30:00+10:30", "2026-10-05T18:30:00+10:30"],
            id="Adelaide spring forward",
        ),
        pytest.param(
            "Australia/Adelaide",
            "FREQ=DAILY;COUNT=3",
            datetime(2026, 4, 4, 18, 30),
            ["2026-04-04T18:30:00+10:30", "2026-04-05T18:30:00+09:30", "2026-04-06T18:30:00+09:30"],
            id="Adelaide fall back",
        ),
    ],
)
def test_meetings_keep_their_wall_time_and_change_offset_on_the_right_day(
    zone: str, rule: str, first_start: datetime, expected: list[str]
) -> None:
    found = occurrences(Schedule(rule, first_start, zone), [], utc(2026, 1, 1), utc(2027, 1, 1))
    assert local_starts(found) == expected
    assert [o.starts_at for o in found] == [
        datetime.fromisoformat(e).astimezone(UTC) for e in expected
    ]


@pytest.mark.parametrize(
    ("zone", "first_start", "expected"),
    [
        # The middle day's wall time does not exist: it moves forward by the gap.
        pytest.param(
            "America/New_York",
            datetime(2026, 3, 7, 2, 30),
            ["2026-03-07T02:30:00-05:00", "2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00"],
            id="New York gap",
        ),
        pytest.param(
            "America/Los_Angeles",
            datetime(2026, 3, 7, 2, 30),
            ["2026-03-07T02:30:00-08:00", "2026-03-08T03:30:00-07:00", "2026-03-09T02:30:00-07:00"],
            id="Los Angeles gap",
        ),
        pytest.param(
            "Europe/London",
            datetime(2026, 3, 28, 1, 30),
            ["2026-03-28T01:30:00+00:00", "2026-03-29T02:30:00+01:00", "2026-03-30T01:30:00+01:00"],
            id="London gap",
        ),
        pytest.param(
            "Australia/Sydney",
            datetime(2026, 10, 3, 2, 30),
            ["2026-10-03T02:30:00+10:00", "2026-10-04T03:30:00+11:00", "2026-10-05T02:30:00+11:00"],
            id="Sydney gap",
        ),
        pytest.param(
            "Australia/Adelaide",
            datetime(2026, 10, 3, 2, 30),
            ["2026-10-03T02:30:00+09:30", "2026-10-04T03:30:00+10:30", "2026-10-05T02:30:00+10:30"],
            id="Adelaide gap",
        ),
        # The middle day's wall time happens twice: the first, still on summer time, is taken.
        pytest.param(
            "America/New_York",
            datetime(2026, 10, 31, 1, 30),
            ["2026-10-31T01:30:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"],
            id="New York overlap",
        ),
        pytest.param(
            "America/Los_Angeles",
            datetime(2026, 10, 31, 1, 30),
            ["2026-10-31T01:30:00-07:00", "2026-11-01T01:30:00-07:00", "2026-11-02T01:30:00-08:00"],
            id="Los Angeles overlap",
        ),
        pytest.param(
            "Europe/London",
            datetime(2026, 10, 24, 1, 30),
            ["2026-10-24T01:30:00+01:00", "2026-10-25T01:30:00+01:00", "2026-10-26T01:30:00+00:00"],
            id="London overlap",
        ),
        pytest.param(
            "Australia/Sydney",
            datetime(2026, 4, 4, 2, 30),
            ["2026-04-04T02:30:00+11:00", "2026-04-05T02:30:00+11:00", "2026-04-06T02:30:00+10:00"],
            id="Sydney overlap",
        ),
        pytest.param(
            "Australia/Adelaide",
            datetime(2026, 4, 4, 2, 30),
            ["2026-04-04T02:30:00+10:30", "2026-04-05T02:30:00+10:30", "2026-04-06T02:30:00+09:30"],
            id="Adelaide overlap",
        ),
    ],
)
def test_wall_times_that_do_not_exist_or_happen_twice(
    zone: str, first_start: datetime, expected: list[str]
) -> None:
    schedule = Schedule("FREQ=DAILY;COUNT=3", first_start, zone)
    found = occurrences(schedule, [], utc(2026, 1, 1), utc(2027, 1, 1))
    assert local_starts(found) == expected
    assert [o.starts_at for o in found] == [
        datetime.fromisoformat(e).astimezone(UTC) for e in expected
    ]
    # The key stays the rule's wall time, also on the day it could not be kept.
    day = first_start.date()
    assert keys(found) == [f"{day + timedelta(days=n):%Y%m%d}T{first_start:%H%M}" for n in range(3)]


def test_a_meeting_pushed_out_of_the_gap_counts_by_its_real_start() -> None:
    schedule = Schedule("FREQ=DAILY", datetime(2026, 3, 7, 2, 30), "America/New_York")
    # From 03:00 EDT: the 02:30 meeting, held at 03:30 that day, is inside the window.
    found = occurrences(schedule, [], utc(2026, 3, 8, 7, 0), utc(2026, 3, 8, 8, 0))
    assert [(o.key, o.starts_at) for o in found] == [("20260308T0230", utc(2026, 3, 8, 7, 30))]


def test_a_meeting_across_the_fall_back_lasts_its_duration() -> None:
    schedule = Schedule("FREQ=DAILY;COUNT=1", datetime(2026, 11, 1, 1, 0), "America/New_York")
    (found,) = occurrences(schedule, [], utc(2026, 11, 1), utc(2026, 11, 2))
    assert (found.starts_at, found.ends_at) == (utc(2026, 11, 1, 5, 0), utc(2026, 11, 1, 6, 30))
    assert (
        found.ends_at.astimezone(found.local_start.tzinfo).isoformat()
        == "2026-11-01T01:30:00-05:00"
    )


def test_a_move_into_a_gap_moves_forward_too() -> None:
    schedule = Schedule("FREQ=WEEKLY;BYDAY=SU", datetime(2026, 3, 1, 10, 0), "America/New_York")
    moved = Change("20260308T1000", new_start=datetime(2026, 3, 8, 2, 30))
    (found,) = occurrences(schedule, [moved], utc(2026, 3, 8), utc(2026, 3, 9))
    assert found.local_start.isoformat() == "2026-03-08T03:30:00-04:00"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("FREQ=WEEKLY;BYDAY=XX", "the rule could not be read: invalid 'BYDAY': XX"),
        ("FREQ=WEEKLY;COLOUR=RED", "the rule could not be read: unknown parameter 'COLOUR'"),
        ("FREQ=WEEKLY;UNTIL=SOON", "the rule could not be read: invalid 'UNTIL': SOON"),
        ("FREQ=WEEKLY;BYDAY", "each part of the rule must be NAME=VALUE"),
        ("FREQ=WEEKLY;;", "each part of the rule must be NAME=VALUE"),
        ("", "each part of the rule must be NAME=VALUE"),
        ("FREQ=WEEKLY; BYDAY=TU", "the rule must be one RRULE value on one line"),
        ("FREQ=WEEKLY\nEXDATE:20260609T183000", "the rule must be one RRULE value on one line"),
        ("FREQ=HOURLY", "meetings repeat at most daily; FREQ=HOURLY is not allowed"),
        ("FREQ=MINUTELY", "meetings repeat at most daily; FREQ=MINUTELY is not allowed"),
        ("FREQ=SECONDLY", "meetings repeat at most daily; FREQ=SECONDLY is not allowed"),
        ("BYDAY=TU", "the rule needs FREQ=DAILY, WEEKLY, MONTHLY or YEARLY"),
        ("FREQ=FORTNIGHTLY", "the rule needs FREQ=DAILY, WEEKLY, MONTHLY or YEARLY"),
        ("FREQ=WEEKLY;UNTIL=20260101T000000", "the rule gives no meeting at all"),
        ("FREQ=WEEKLY;COUNT=0", "the rule gives no meeting at all"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "the rule gives no meeting at all"),
        ("DTSTART:20260602T183000\nRRULE:FREQ=WEEKLY", "the rule must not contain DTSTART"),
        ("DTSTART=20260602T183000;FREQ=WEEKLY", "the rule must not contain DTSTART"),
        ("FREQ=WEEKLY;BYSECOND=0,30", "BYSECOND is not allowed"),
        ("FREQ=WEEKLY;INTERVAL=0", "INTERVAL must be 1 or more"),
        ("FREQ=WEEKLY;INTERVAL=-2", "INTERVAL must be 1 or more"),
        ("FREQ=WEEKLY;COUNT=3;UNTIL=20261231T000000", "may end with COUNT or with UNTIL, not both"),
    ],
)
def test_validate_refuses_a_bad_rule(rule: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=re.escape(message)):
        validate(replace(TUESDAYS, rrule=rule))


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        pytest.param(
            replace(TUESDAYS, first_start=datetime(2026, 6, 2, 18, 30, tzinfo=UTC)),
            "the first meeting's time must be a local wall-clock time, without a time zone",
            id="first start in a zone",
        ),
        pytest.param(
            replace(TUESDAYS, first_start=datetime(2026, 6, 2, 18, 30, 15)),
            "meetings start on a whole minute",
            id="first start with seconds",
        ),
        pytest.param(
            replace(TUESDAYS, timezone="Mars/Olympus_Mons"),
            "unknown time zone 'Mars/Olympus_Mons'; use an IANA name such as America/New_York",
            id="unknown zone",
        ),
        pytest.param(
            replace(TUESDAYS, timezone="America"), "unknown time zone 'America'", id="zone folder"
        ),
        pytest.param(replace(TUESDAYS, timezone=""), "unknown time zone ''", id="no zone"),
        pytest.param(
            replace(TUESDAYS, duration=timedelta(0)),
            "a meeting must last more than 0 minutes and at most 24 hours",
            id="no duration",
        ),
        pytest.param(
            replace(TUESDAYS, duration=timedelta(minutes=-30)),
            "a meeting must last more than 0 minutes and at most 24 hours",
            id="negative duration",
        ),
        pytest.param(
            replace(TUESDAYS, duration=timedelta(hours=24, minutes=1)),
            "a meeting must last more than 0 minutes and at most 24 hours",
            id="over a day",
        ),
    ],
)
def test_validate_refuses_a_bad_schedule(schedule: Schedule, message: str) -> None:
    with pytest.raises(ScheduleError, match=re.escape(message)):
        validate(schedule)


def test_validate_accepts_a_good_schedule_and_occurrences_refuse_a_bad_one() -> None:
    validate(TUESDAYS)
    with pytest.raises(ScheduleError, match="at most daily"):
        occurrences(replace(TUESDAYS, rrule="FREQ=HOURLY"), [], *JUNE)


def test_a_move_given_in_a_zone_is_refused() -> None:
    moved = Change("20260609T1830", new_start=datetime(2026, 6, 10, 18, 30, tzinfo=UTC))
    with pytest.raises(ScheduleError, match="new time must be a local wall-clock time"):
        occurrences(TUESDAYS, [moved], *JUNE)


def test_a_naive_window_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        occurrences(TUESDAYS, [], datetime(2026, 6, 1), datetime(2026, 7, 1))
