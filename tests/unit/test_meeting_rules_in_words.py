"""A schedule chosen in words becomes a rule, and any stored rule reads back in words."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.campaigns.meeting_warnings import schedule_warnings
from service.campaigns.recurrence import Schedule, rule_walls, validate
from service.campaigns.rules import NTHS, Often, Plan, RuleError, describe, read, rule_of

TODAY = date(2026, 12, 1)  # a Tuesday
MON, TUE, WED, THU = 0, 1, 2, 3


@pytest.mark.parametrize(
    ("plan", "rule", "first", "words"),
    [
        (
            Plan(Often.EVERY_N_WEEKS, time(18, 30), date(2026, 12, 15), (TUE,), weeks=2),
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
            datetime(2026, 12, 15, 18, 30),
            "every other Tuesday at 6:30 PM, from 15 December",
        ),
        (
            Plan(Often.NTH_WEEKDAY, time(19), date(2026, 12, 1), (THU,), nth=-1),
            "FREQ=MONTHLY;BYDAY=-1TH",
            datetime(2026, 12, 31, 19, 0),
            "the last Thursday of every month at 7:00 PM, from 31 December",
        ),
        (
            Plan(Often.WEEKLY, time(18), date(2026, 12, 2), (WED, MON), until=date(2027, 6, 30)),
            "FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20270630",
            datetime(2026, 12, 2, 18, 0),
            "every week on Monday and Wednesday at 6:00 PM, from 2 December, until 30 June 2027",
        ),
        (
            Plan(Often.WEEKLY, time(9, 5), date(2027, 1, 4), (MON,)),
            "FREQ=WEEKLY;BYDAY=MO",
            datetime(2027, 1, 4, 9, 5),
            "every Monday at 9:05 AM, from 4 January 2027",
        ),
        (
            Plan(Often.EVERY_N_WEEKS, time(12), date(2026, 12, 1), (TUE, THU), weeks=3),
            "FREQ=WEEKLY;INTERVAL=3;BYDAY=TU,TH",
            datetime(2026, 12, 1, 12, 0),
            "every 3 weeks on Tuesday and Thursday at 12:00 PM, from 1 December",
        ),
        (
            Plan(Often.NTH_WEEKDAY, time(0, 30), date(2026, 12, 1), (MON,), nth=1),
            "FREQ=MONTHLY;BYDAY=1MO",
            datetime(2026, 12, 7, 0, 30),
            "the first Monday of every month at 12:30 AM, from 7 December",
        ),
        (
            Plan(Often.MONTHLY_DATE, time(10), date(2026, 12, 16), day_of_month=15),
            "FREQ=MONTHLY;BYMONTHDAY=15",
            datetime(2027, 1, 15, 10, 0),
            "the 15th of every month at 10:00 AM, from 15 January 2027",
        ),
        (
            Plan(Often.MONTHLY_DATE, time(19), date(2027, 1, 1), day_of_month=31),
            "FREQ=MONTHLY;BYMONTHDAY=31",
            datetime(2027, 1, 31, 19, 0),
            "the 31st of every month at 7:00 PM, from 31 January 2027 "
            "(skipped in months without that date)",
        ),
    ],
)
def test_a_plan_becomes_a_rule_that_reads_back_in_the_same_words(
    plan: Plan, rule: str, first: datetime, words: str
) -> None:
    assert rule_of(plan) == (rule, first)
    assert describe(rule, first, TODAY) == words
    # Read back, the plan starts on its first meeting and gives the same rule again.
    assert read(rule, first) == replace(plan, start=first.date(), days=tuple(sorted(plan.days)))
    assert rule_of(replace(plan, start=first.date())) == (rule, first)


def test_a_from_date_that_is_no_meeting_day_starts_on_the_next_one_without_a_warning() -> None:
    rule, first = rule_of(Plan(Often.WEEKLY, time(18, 30), date(2026, 12, 7), (TUE,)))

    assert first == datetime(2026, 12, 8, 18, 30)  # Monday the 7th: Tuesday the 8th
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert schedule_warnings(rule, first, "America/Chicago", now) == []


@pytest.mark.parametrize(
    ("rule", "first", "words"),
    [
        # Rules written by hand on the command line or through the API, in their other forms.
        ("FREQ=WEEKLY", datetime(2026, 12, 8, 18, 30), "every Tuesday at 6:30 PM, from 8 December"),
        (
            "RRULE:freq=weekly;byday=tu",
            datetime(2026, 12, 8, 18, 30),
            "every Tuesday at 6:30 PM, from 8 December",
        ),
        (
            "FREQ=WEEKLY;INTERVAL=4;BYDAY=FR",
            datetime(2026, 12, 4, 8),
            "every fourth Friday at 8:00 AM, from 4 December",
        ),
        (
            "FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2",
            datetime(2026, 12, 8, 18),
            "the second Tuesday of every month at 6:00 PM, from 8 December",
        ),
        (
            "FREQ=MONTHLY",
            datetime(2026, 12, 3, 18),
            "the 3rd of every month at 6:00 PM, from 3 December",
        ),
        (
            "FREQ=WEEKLY;BYDAY=TU;UNTIL=20270105T183000",
            datetime(2026, 12, 8, 18, 30),
            "every Tuesday at 6:30 PM, from 8 December, until 5 January 2027",
        ),
        (
            "FREQ=WEEKLY;BYDAY=TU;UNTIL=20270105T120000",
            datetime(2026, 12, 8, 18, 30),
            "every Tuesday at 6:30 PM, from 8 December, until 4 January 2027",
        ),
    ],
)
def test_rules_set_by_hand_read_in_plain_words(rule: str, first: datetime, words: str) -> None:
    assert describe(rule, first, TODAY) == words


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=DAILY",
        "FREQ=YEARLY;BYMONTH=3",
        "FREQ=WEEKLY;BYDAY=TU;COUNT=10",
        "FREQ=WEEKLY;BYDAY=TU;UNTIL=20270105T000000Z",
        "FREQ=MONTHLY;INTERVAL=2;BYDAY=1MO",
        "FREQ=MONTHLY;BYDAY=1MO,3MO",
        "FREQ=MONTHLY;BYDAY=5MO",
        "FREQ=WEEKLY;BYDAY=1TU",
        "FREQ=WEEKLY;BYDAY=TU;WKST=SU",
        "FREQ=WEEKLY;BYDAY=TU;BYDAY=WE",
        "FREQ=WEEKLY;BYDAY=TU;BYHOUR=9,18",
    ],
)
def test_a_rule_no_plan_can_say_gets_the_fallback_sentence_never_the_rule(rule: str) -> None:
    first = datetime(2026, 12, 8, 18, 30)

    words = describe(rule, first, TODAY)

    assert read(rule, first) is None
    assert words == (
        "on a schedule set by hand that this page cannot put in words, from 8 December at 6:30 PM"
    )


@pytest.mark.parametrize(
    ("plan", "field"),
    [
        (Plan(Often.WEEKLY, time(18), TODAY), "days"),
        (Plan(Often.EVERY_N_WEEKS, time(18), TODAY, (TUE,), weeks=1), "weeks"),
        (Plan(Often.EVERY_N_WEEKS, time(18), TODAY, (TUE,), weeks=53), "weeks"),
        (Plan(Often.NTH_WEEKDAY, time(18), TODAY, (TUE, WED)), "days"),
        (Plan(Often.NTH_WEEKDAY, time(18), TODAY, (TUE,), nth=5), "nth"),
        (Plan(Often.MONTHLY_DATE, time(18), TODAY, day_of_month=32), "day_of_month"),
        (Plan(Often.WEEKLY, time(18), TODAY, (TUE,), until=TODAY - timedelta(days=1)), "until"),
        # The calendar ends before the next Tuesday.
        (Plan(Often.WEEKLY, time(18), date(9999, 12, 29), (TUE,)), "start"),
        # From a Wednesday until the next Monday: no Tuesday between.
        (Plan(Often.WEEKLY, time(18), date(2026, 12, 2), (TUE,), until=date(2026, 12, 7)), "until"),
    ],
)
def test_a_plan_that_makes_no_schedule_names_the_choice_to_fix(plan: Plan, field: str) -> None:
    with pytest.raises(RuleError) as refused:
        rule_of(plan)

    assert refused.value.field == field


@pytest.mark.parametrize(
    "plan",
    [
        # The only meeting is on the last day, after midnight.
        Plan(Often.WEEKLY, time(18, 30), date(2026, 12, 2), (TUE,), until=date(2026, 12, 8)),
        Plan(
            Often.MONTHLY_DATE,
            time(0, 1),
            date(2040, 12, 2),
            day_of_month=1,
            until=date(2041, 1, 1),
        ),
    ],
)
def test_the_last_day_keeps_its_meeting(plan: Plan) -> None:
    rule, first = rule_of(plan)

    assert first == datetime.combine(plan.until or plan.start, plan.at)
    assert [*rule_walls(Schedule(rule, first, "America/Chicago"), first)] == [first]


PLANS = st.builds(
    Plan,
    often=st.sampled_from(Often),
    at=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    start=st.dates(date(2020, 1, 1), date(2040, 12, 31)),
    days=st.lists(st.integers(0, 6), min_size=1, max_size=7, unique=True).map(tuple),
    weeks=st.integers(2, 52),
    nth=st.sampled_from(NTHS),
    day_of_month=st.integers(1, 31),
    until=st.none() | st.dates(date(2041, 1, 1), date(2045, 12, 31)),
)


@given(PLANS)
def test_any_plan_reads_back_as_itself_and_its_meetings_are_the_ones_asked_for(
    plan: Plan,
) -> None:
    if plan.often is Often.NTH_WEEKDAY:
        plan = replace(plan, days=plan.days[:1])

    rule, first = rule_of(plan)

    validate(Schedule(rule, first, "America/Chicago"))
    again = read(rule, first)
    assert again is not None
    assert rule_of(again) == (rule, first)
    assert describe(rule, first).startswith(describe(*rule_of(again)))
    assert first.date() >= plan.start and first.time() == plan.at
    for meeting in islice(rule_walls(Schedule(rule, first, "America/Chicago"), first), 12):
        assert meeting.time() == plan.at
        if plan.often in (Often.WEEKLY, Often.EVERY_N_WEEKS):
            assert meeting.weekday() in plan.days
        elif plan.often is Often.NTH_WEEKDAY:
            assert meeting.weekday() == plan.days[0]
            week = (meeting.day - 1) // 7 + 1
            last = (meeting + timedelta(days=7)).month != meeting.month
            assert week == plan.nth or (plan.nth == -1 and last)
        else:
            assert meeting.day == plan.day_of_month
    assert next(rule_walls(Schedule(rule, first, "America/Chicago"), first)) == first
