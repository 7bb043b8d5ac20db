"""Warnings for a meeting set wrong: a first date the rule skips, clock changes, the past."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.campaigns.meeting_warnings import move_warnings, schedule_warnings
from service.campaigns.recurrence import Change, Schedule, occurrences

CHICAGO, LONDON = "America/Chicago", "Europe/London"
# Tuesday 1 December 2026, 21:45 UTC: 3:45 PM in Chicago, 9:45 PM in London.
NOW = datetime(2026, 12, 1, 21, 45, tzinfo=UTC)


def starts(rule: str, first: datetime, timezone: str, key: str) -> datetime:
    """Where the recurrence really puts the meeting a key names, in the group's zone."""
    found = occurrences(
        Schedule(rule, first, timezone), [], first.replace(tzinfo=UTC) - timedelta(days=1),
        first.replace(tzinfo=UTC) + timedelta(days=400),
    )  # fmt: skip
    (meeting,) = [o for o in found if o.key == key]
    return meeting.local_start


@pytest.mark.parametrize(
    ("rule", "first", "timezone"),
    [
        ("FREQ=WEEKLY;BYDAY=TU", datetime(2026, 12, 8, 18, 30), CHICAGO),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", datetime(2026, 12, 1, 18, 30), CHICAGO),  # tonight
        ("FREQ=WEEKLY", datetime(2026, 12, 3, 19, 0), LONDON),
        ("FREQ=MONTHLY;BYDAY=1MO", datetime(2027, 1, 4, 18, 30), CHICAGO),
        ("FREQ=DAILY", datetime(2026, 12, 3, 1, 30), "Asia/Tokyo"),  # a zone without DST
    ],
)
def test_a_normal_schedule_gets_no_warning(rule: str, first: datetime, timezone: str) -> None:
    assert schedule_warnings(rule, first, timezone, NOW) == []


def test_a_first_date_the_rule_skips_names_the_real_first_meeting_and_the_next() -> None:
    warnings = schedule_warnings(
        "FREQ=WEEKLY;BYDAY=TU", datetime(2026, 12, 2, 18, 30), CHICAGO, NOW
    )

    assert warnings == [
        "The first date, Wednesday 2 December, is not a Tuesday: the first meeting will be "
        "Tuesday 8 December at 6:30 PM, then Tuesday 15 December and Tuesday 22 December."
    ]


@pytest.mark.parametrize(
    ("rule", "first", "expected"),
    [
        ("FREQ=WEEKLY;BYDAY=TU,TH", datetime(2026, 12, 2, 18, 30),
         "The first date, Wednesday 2 December, is not a Tuesday or a Thursday: the first "
         "meeting will be Thursday 3 December at 6:30 PM, then Tuesday 8 December and Thursday "
         "10 December."),
        ("FREQ=MONTHLY;BYDAY=1MO", datetime(2026, 12, 14, 18, 30),
         "The first date, Monday 14 December, is not one of the rule's dates: the first meeting "
         "will be Monday 4 January 2027 at 6:30 PM, then Monday 1 February 2027 and Monday 1 "
         "March 2027."),
        ("FREQ=WEEKLY;BYDAY=TU;BYHOUR=19", datetime(2026, 12, 8, 18, 30),
         "The first time, 6:30 PM on Tuesday 8 December, is not the rule's: the first meeting "
         "will be Tuesday 8 December at 7:30 PM, then Tuesday 15 December and Tuesday 22 "
         "December."),
    ],
)  # fmt: skip
def test_a_first_start_the_rule_does_not_give_says_which_meeting_comes_first(
    rule: str, first: datetime, expected: str
) -> None:
    assert schedule_warnings(rule, first, CHICAGO, NOW) == [expected]


def test_a_time_the_clocks_skip_in_chicago_starts_an_hour_later_as_the_warning_says() -> None:
    rule, first = "FREQ=WEEKLY;BYDAY=SU", datetime(2026, 12, 6, 2, 30)

    assert schedule_warnings(rule, first, CHICAGO, NOW) == [
        "Sunday 14 March 2027 at 2:30 AM does not exist in America/Chicago: the clocks go "
        "forward an hour that night, so the meeting will start at 3:30 AM (CDT)."
    ]
    assert starts(rule, first, CHICAGO, "20270314T0230").isoformat() == "2027-03-14T03:30:00-05:00"


def test_a_time_that_happens_twice_in_chicago_is_the_first_one_as_the_warning_says() -> None:
    rule, first = "FREQ=WEEKLY;BYDAY=SU", datetime(2026, 12, 6, 1, 30)

    assert schedule_warnings(rule, first, CHICAGO, NOW) == [
        "Sunday 7 November 2027 at 1:30 AM happens twice in America/Chicago: the clocks go back "
        "an hour that night; the meeting will be at the first 1:30 AM (CDT), not the second (CST)."
    ]
    assert starts(rule, first, CHICAGO, "20271107T0130").isoformat() == "2027-11-07T01:30:00-05:00"


def test_a_daily_meeting_in_london_at_half_past_one_warns_of_both_changes_in_the_year() -> None:
    rule, first = "FREQ=DAILY", datetime(2026, 12, 2, 1, 30)

    assert schedule_warnings(rule, first, LONDON, NOW) == [
        "Sunday 28 March 2027 at 1:30 AM does not exist in Europe/London: the clocks go forward "
        "an hour that night, so the meeting will start at 2:30 AM (BST).",
        "Sunday 31 October 2027 at 1:30 AM happens twice in Europe/London: the clocks go back an "
        "hour that night; the meeting will be at the first 1:30 AM (BST), not the second (GMT).",
    ]
    assert starts(rule, first, LONDON, "20270328T0130").isoformat() == "2027-03-28T02:30:00+01:00"
    assert starts(rule, first, LONDON, "20271031T0130").isoformat() == "2027-10-31T01:30:00+01:00"


def test_only_the_year_ahead_is_checked_for_clock_changes() -> None:
    # The second Sunday of March at 2:30 is in the gap every year: 2026's is past and 2028's
    # more than a year away, so only 2027's is named.
    warnings = schedule_warnings(
        "FREQ=YEARLY;BYMONTH=3;BYDAY=2SU", datetime(2026, 3, 8, 2, 30), CHICAGO, NOW
    )

    assert warnings == [
        "The first meeting, Sunday 8 March at 3:30 AM, is already past: reminders go only for "
        "meetings still ahead, the next being Sunday 14 March 2027 at 3:30 AM.",
        "Sunday 14 March 2027 at 2:30 AM does not exist in America/Chicago: the clocks go "
        "forward an hour that night, so the meeting will start at 3:30 AM (CDT).",
    ]


def test_a_first_meeting_in_the_gap_is_warned_too() -> None:
    assert schedule_warnings("FREQ=MONTHLY", datetime(2027, 3, 28, 1, 30), LONDON, NOW) == [
        "Sunday 28 March 2027 at 1:30 AM does not exist in Europe/London: the clocks go forward "
        "an hour that night, so the meeting will start at 2:30 AM (BST)."
    ]


def test_a_first_meeting_already_past_says_only_meetings_ahead_get_reminders() -> None:
    warnings = schedule_warnings(
        "FREQ=WEEKLY;BYDAY=TU", datetime(2026, 11, 3, 18, 30), CHICAGO, NOW
    )

    assert warnings == [
        "The first meeting, Tuesday 3 November at 6:30 PM, is already past: reminders go only "
        "for meetings still ahead, the next being Tuesday 1 December at 6:30 PM."
    ]


def test_a_schedule_wholly_past_says_no_reminders_will_be_sent() -> None:
    warnings = schedule_warnings(
        "FREQ=WEEKLY;BYDAY=TU;COUNT=2", datetime(2026, 11, 3, 18, 30), CHICAGO, NOW
    )

    assert warnings == [
        "The first meeting, Tuesday 3 November at 6:30 PM, is already past, and the rule has no "
        "meeting after now: no reminders will be sent."
    ]


def test_a_move_into_the_past_says_no_reminders_will_be_sent() -> None:
    assert move_warnings(datetime(2026, 11, 30, 19, 0), CHICAGO, NOW) == [
        "The new time, Monday 30 November at 7:00 PM, is already past: no reminders will be "
        "sent for this meeting."
    ]


@pytest.mark.parametrize(
    ("to", "timezone", "expected"),
    [
        (datetime(2027, 3, 14, 2, 30), CHICAGO,
         "Sunday 14 March 2027 at 2:30 AM does not exist in America/Chicago: the clocks go "
         "forward an hour that night, so the meeting will start at 3:30 AM (CDT)."),
        (datetime(2027, 11, 7, 1, 30), CHICAGO,
         "Sunday 7 November 2027 at 1:30 AM happens twice in America/Chicago: the clocks go back "
         "an hour that night; the meeting will be at the first 1:30 AM (CDT), not the second "
         "(CST)."),
        (datetime(2027, 3, 28, 1, 15), LONDON,
         "Sunday 28 March 2027 at 1:15 AM does not exist in Europe/London: the clocks go forward "
         "an hour that night, so the meeting will start at 2:15 AM (BST)."),
        (datetime(2027, 10, 31, 1, 45), LONDON,
         "Sunday 31 October 2027 at 1:45 AM happens twice in Europe/London: the clocks go back an "
         "hour that night; the meeting will be at the first 1:45 AM (BST), not the second "
         "(GMT)."),
    ],
)  # fmt: skip
def test_a_move_to_a_time_the_clocks_skip_or_pass_twice_says_which_time_it_gets(
    to: datetime, timezone: str, expected: str
) -> None:
    assert move_warnings(to, timezone, NOW) == [expected]


def test_a_move_to_an_ordinary_time_ahead_gets_no_warning() -> None:
    assert move_warnings(datetime(2026, 12, 9, 19, 0), CHICAGO, NOW) == []
    assert move_warnings(datetime(2026, 12, 1, 15, 46), CHICAGO, NOW) == []  # a minute from now


def test_a_time_at_the_end_of_the_calendar_gets_no_warning_rather_than_an_error() -> None:
    # Kept as before: Peerline accepts it; only such a time cannot be placed in UTC to compare.
    assert schedule_warnings("FREQ=DAILY", datetime(9999, 12, 31, 23, 59), CHICAGO, NOW) == []
    assert move_warnings(datetime(9999, 12, 31, 23, 59), CHICAGO, NOW) == []


def test_the_first_of_two_half_past_ones_is_kept_even_when_the_time_comes_marked_second() -> None:
    # fold=1 would read the second 1:30; placing always reads fold=0, as the warning promises.
    second = datetime(2027, 11, 7, 1, 30, fold=1)
    schedule = Schedule("FREQ=WEEKLY;BYDAY=SU", second, CHICAGO)
    moved = Change("20271114T0130", new_start=second)

    found = occurrences(
        schedule, [moved], datetime(2027, 11, 6, tzinfo=UTC), datetime(2027, 11, 8, tzinfo=UTC)
    )

    assert [o.starts_at.isoformat() for o in found] == [
        "2027-11-07T06:30:00+00:00",  # the first 1:30, on CDT: 06:30 UTC, not 07:30
        "2027-11-07T06:30:00+00:00",
    ]
    assert "the first 1:30 AM (CDT)" in move_warnings(second, CHICAGO, NOW)[0]
