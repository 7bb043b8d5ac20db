"""A schedule in the words coordinators use, turned into an RRULE and back again.

`rule_of` turns the choices of the dashboard's form (how often, which days, a time, from,
until) into the RRULE and first start that `meetings.schedule_meetings` takes; `read` is the
reverse for the rules it can phrase, and `describe` says any stored rule in plain words, with
a plain fallback for one set by hand that it cannot phrase. Nothing here touches a database.

- The first start is the rule's first meeting on or after "from", so a "from" that is not a
  meeting day (a Monday for "every Tuesday") never makes a warning about the first date.
- "Until" is a bare date: the meetings of that day are kept (see recurrence).
- A monthly date past the 28th is skipped in the months that do not have it (RFC 5545).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from babel.dates import format_date
from dateutil.rrule import rrule, rrulestr

from service.text import said

DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")  # in Python's weekday() order
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
NTHS = (1, 2, 3, 4, -1)  # the Nth weekday of the month; -1 is the last
_NTH_WORDS = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}
_INTERVAL_WORDS = {2: "other", 3: "third", 4: "fourth"}
MAX_WEEKS = 52


class Often(enum.StrEnum):
    """How often a group meets, as the form asks it."""

    WEEKLY = "weekly"
    EVERY_N_WEEKS = "every_n_weeks"
    NTH_WEEKDAY = "nth_weekday"
    MONTHLY_DATE = "monthly_date"


class RuleError(ValueError):
    """A choice that makes no schedule; field names the form's input that is wrong."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Plan:
    """A schedule as a coordinator chooses it; days are weekday numbers, Monday 0."""

    often: Often
    at: time
    start: date  # "from": the first meeting is the rule's first on or after it
    days: tuple[int, ...] = ()  # WEEKLY and EVERY_N_WEEKS: one or more; NTH_WEEKDAY: one
    weeks: int = 1  # EVERY_N_WEEKS: 2 or more
    nth: int = 1  # NTH_WEEKDAY: one of NTHS
    day_of_month: int = 1  # MONTHLY_DATE: 1 to 31
    until: date | None = None  # the last day with a meeting, if the schedule ends


def rule_of(plan: Plan) -> tuple[str, datetime]:
    """The RRULE and the first meeting's naive local start for this plan; RuleError if none."""
    parts = _parts(plan)
    if plan.until is not None:
        if plan.until < plan.start:
            raise RuleError(said("the last day cannot be before the first"), "until")
        parts.append(f"UNTIL={plan.until:%Y%m%d}")
    rule = ";".join(parts)
    dtstart = datetime.combine(plan.start, plan.at.replace(second=0, microsecond=0))
    recurrence = rrulestr(rule, dtstart=dtstart)
    assert isinstance(recurrence, rrule)  # one RRULE, never a rule set
    if plan.until is not None:
        # The schedule reads a bare UNTIL as the whole day (recurrence._until); dateutil reads
        # it as midnight, which would leave out a meeting on the last day.
        recurrence = recurrence.replace(until=datetime.combine(plan.until, time.max))
    first = recurrence.after(dtstart, inc=True)
    if first is None and plan.until is None:
        raise RuleError(said("no meeting falls on or after this date"), "start")
    if first is None:
        raise RuleError(said("no meeting falls between the first and the last day"), "until")
    return rule, first


def _parts(plan: Plan) -> list[str]:
    days = sorted(set(plan.days))
    if any(day not in range(7) for day in days):
        raise RuleError(said("choose days of the week"), "days")
    if plan.often in (Often.WEEKLY, Often.EVERY_N_WEEKS):
        if not days:
            raise RuleError(said("choose at least one day of the week"), "days")
        byday = "BYDAY=" + ",".join(DAYS[day] for day in days)
        if plan.often is Often.WEEKLY:
            return ["FREQ=WEEKLY", byday]
        if not 2 <= plan.weeks <= MAX_WEEKS:
            raise RuleError(said("every 2 to %(most)d weeks", most=MAX_WEEKS), "weeks")
        return ["FREQ=WEEKLY", f"INTERVAL={plan.weeks}", byday]
    if plan.often is Often.NTH_WEEKDAY:
        if len(days) != 1:
            raise RuleError(said("choose one day of the week"), "days")
        if plan.nth not in NTHS:
            raise RuleError(said("choose the first to the fourth, or the last"), "nth")
        return ["FREQ=MONTHLY", f"BYDAY={plan.nth}{DAYS[days[0]]}"]
    if not 1 <= plan.day_of_month <= 31:
        raise RuleError(said("a day of the month is from 1 to 31"), "day_of_month")
    return ["FREQ=MONTHLY", f"BYMONTHDAY={plan.day_of_month}"]


def read(rule: str, first: datetime) -> Plan | None:
    """The plan that gives this rule from this first start, or None when no plan can say it."""
    parts = _split(rule)
    if parts is None:
        return None
    freq, interval = parts.pop("FREQ", None), parts.pop("INTERVAL", "1")
    try:
        until = _until(parts.pop("UNTIL", None), first.time())
    except ValueError:  # in UTC, or unreadable
        return None
    if not interval.isdigit() or int(interval) < 1:
        return None
    weeks, at, start = int(interval), first.time(), first.date()
    byday = parts.pop("BYDAY", None)
    if freq == "WEEKLY" and not parts:
        days = [first.weekday()] if byday is None else _plain_days(byday)
        if not days or weeks > MAX_WEEKS:
            return None
        often = Often.WEEKLY if weeks == 1 else Often.EVERY_N_WEEKS
        return Plan(often, at, start, tuple(sorted(set(days))), weeks, until=until)
    if freq != "MONTHLY" or weeks != 1:
        return None
    if byday is not None:
        nth = _nth_day(byday, parts.pop("BYSETPOS", None))
        if nth is None or parts:
            return None
        return Plan(Often.NTH_WEEKDAY, at, start, (nth[1],), nth=nth[0], until=until)
    monthday = parts.pop("BYMONTHDAY", str(first.day))
    if parts or not monthday.isdigit() or not 1 <= int(monthday) <= 31:
        return None
    return Plan(Often.MONTHLY_DATE, at, start, day_of_month=int(monthday), until=until)


def describe(rule: str, first: datetime, today: date | None = None) -> str:
    """The schedule in plain words: "every other Tuesday at 6:30 PM, from 15 December".

    The year is said when it is not today's (always, without today).
    """
    plan = read(rule, first)
    if plan is None:
        return (
            f"on a schedule set by hand that this page cannot put in words, "
            f"from {_day(first.date(), today)} at {_clock(first.time())}"
        )
    words = f"{_how(plan)} at {_clock(plan.at)}, from {_day(plan.start, today)}"
    if plan.until is not None:
        words += f", until {_day(plan.until, today)}"
    if plan.often is Often.MONTHLY_DATE and plan.day_of_month > 28:
        words += " (skipped in months without that date)"
    return words


def _how(plan: Plan) -> str:
    names = [DAY_NAMES[day] for day in plan.days]
    if plan.often is Often.NTH_WEEKDAY:
        return f"the {_NTH_WORDS[plan.nth]} {names[0]} of every month"
    if plan.often is Often.MONTHLY_DATE:
        return f"the {_ordinal(plan.day_of_month)} of every month"
    if plan.often is Often.WEEKLY:
        return f"every {names[0]}" if len(names) == 1 else f"every week on {_and(names)}"
    every = _INTERVAL_WORDS.get(plan.weeks)
    if len(names) == 1 and every is not None:
        return f"every {every} {names[0]}"
    return f"every {plan.weeks} weeks on {_and(names)}"


def _split(rule: str) -> dict[str, str] | None:
    body = rule.strip().upper().removeprefix("RRULE:")
    pairs = [pair.partition("=") for pair in body.split(";") if pair]
    if not pairs or not all(name and value for name, _, value in pairs):
        return None
    parts = {name: value for name, _, value in pairs}
    return parts if len(parts) == len(pairs) else None  # a part given twice is not read


def _until(value: str | None, at: time) -> date | None:
    """The last day with a meeting; ValueError for an UNTIL not read here (in UTC, unreadable)."""
    if value is None:
        return None
    if "T" not in value:
        return datetime.strptime(value, "%Y%m%d").date()
    moment = datetime.strptime(value, "%Y%m%dT%H%M%S")
    # A local end at or after the meeting's time keeps that day's meeting; an earlier one ends
    # the day before.
    return moment.date() if moment.time() >= at else moment.date() - timedelta(days=1)


def _plain_days(byday: str) -> list[int]:
    days = byday.split(",")
    return [DAYS.index(day) for day in days] if all(day in DAYS for day in days) else []


def _nth_day(byday: str, setpos: str | None) -> tuple[int, int] | None:
    """(nth, weekday) of BYDAY=2TU, BYDAY=-1TH, or BYDAY=TU;BYSETPOS=2; else None."""
    day, number = byday[-2:], byday[:-2] or setpos
    if day not in DAYS or number is None or (byday[:-2] and setpos is not None):
        return None
    try:
        nth = int(number)
    except ValueError:
        return None
    return (nth, DAYS.index(day)) if nth in NTHS else None


def _and(names: list[str]) -> str:
    return f"{', '.join(names[:-1])} and {names[-1]}" if len(names) > 1 else names[0]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _clock(at: time) -> str:
    return f"{at.hour % 12 or 12}:{at.minute:02d} {'AM' if at.hour < 12 else 'PM'}"


def _day(day: date, today: date | None) -> str:
    pattern = "d MMMM" if today is not None and day.year == today.year else "d MMMM y"
    return format_date(day, pattern, locale="en")
