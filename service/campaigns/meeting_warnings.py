"""Warnings about a meeting time that is valid but likely not what the coordinator meant.

Nothing here refuses anything: the schedule or the move is kept as given, and each warning
says in plain English what will actually happen, for the command line and the API alike.

- A first date the rule does not produce (a Wednesday for BYDAY=TU) is not itself a meeting;
  the rule's first date after it is (see recurrence), so the warning names it and the next few.
- A wall time that does not exist on a daylight-saving day starts later by the gap (02:30 on
  the US spring-forward Sunday starts at 03:30); one that happens twice is the first of the two,
  still on summer time. Checked for the first meeting, every meeting of the year ahead, and a
  move's new time.
- A first meeting, or a move, already past gets no reminders: the planner expires a reminder
  that can no longer arrive before its meeting. A move into the past is still allowed, since
  it keeps the record of when a meeting was really held.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

from babel.dates import format_date

from service.campaigns.recurrence import Schedule, place, rule_walls
from service.text import said

_AHEAD = timedelta(days=366)  # how far ahead meetings are checked against clock changes
_SHOWN = 3  # meetings named when the first date is not one
_DAYS = {
    "MO": "Monday",
    "TU": "Tuesday",
    "WE": "Wednesday",
    "TH": "Thursday",
    "FR": "Friday",
    "SA": "Saturday",
    "SU": "Sunday",
}


def schedule_warnings(rule: str, first: datetime, timezone: str, now: datetime) -> list[str]:
    """Warnings for a valid schedule: its rule, first start (naive local) and zone, as of now."""
    schedule = Schedule(rrule=rule.strip(), first_start=first, timezone=timezone)
    try:
        return _schedule_warnings(schedule, _Words(timezone, now), now)
    except OverflowError:  # a meeting in the calendar's last days (year 9999): nothing to say
        return []


def _schedule_warnings(schedule: Schedule, words: _Words, now: datetime) -> list[str]:
    first, zone = schedule.first_start, schedule.timezone
    opening = list(islice(rule_walls(schedule, first), _SHOWN))
    past = place(opening[0], zone) <= now
    # One walk, from a day before now, finds the next meeting and the year's clock changes:
    # dateutil starts every walk at the first meeting, which is slow for one long ago.
    start = max(first, words.local(now))
    coming, changes = None, []
    for wall in rule_walls(schedule, max(first, words.local(now) - timedelta(days=1))):
        if coming is None and place(wall, zone) > now:
            coming = wall
        if wall > start + _AHEAD:
            break
        if wall >= start and (warning := _clock_change(wall, words)) is not None:
            changes.append(warning)
    warnings: list[str] = []
    if opening[0] != first and not past:  # once it is past, only what comes next matters
        warnings.append(_not_a_meeting(schedule, opening, words))
    if past:
        warnings.append(_first_past(opening[0], coming, words))
    return warnings + changes


def move_warnings(to: datetime, timezone: str, now: datetime) -> list[str]:
    """Warnings for moving a meeting to `to`, a naive local wall time in the zone, as of now."""
    words = _Words(timezone, now)
    try:
        past = place(to, timezone) <= now
    except OverflowError:  # a time in the calendar's last day (year 9999): nothing to say
        return []
    warnings: list[str] = []
    if past:
        warnings.append(
            said(
                "The new time, %(when)s, is already past: no reminders will be sent for this "
                "meeting.",
                when=words.when(to),
            )
        )
    if (warning := _clock_change(to, words)) is not None:
        warnings.append(warning)
    return warnings


class _Words:
    """Dates and times as a coordinator says them, in the group's zone; the year only when
    it is not this one."""

    def __init__(self, timezone: str, now: datetime) -> None:
        self.timezone = timezone
        self.zone = ZoneInfo(timezone)
        self.year = now.astimezone(self.zone).year

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone).replace(tzinfo=None)

    def day(self, wall: datetime) -> str:
        pattern = "EEEE d MMMM" if wall.year == self.year else "EEEE d MMMM y"
        return format_date(wall, pattern, locale="en")

    def time(self, wall: datetime) -> str:
        return f"{wall.hour % 12 or 12}:{wall.minute:02d} {'AM' if wall.hour < 12 else 'PM'}"

    def started(self, wall: datetime) -> datetime:
        """The local wall time a meeting given at `wall` really starts (later in a gap)."""
        return self.local(place(wall, self.timezone))

    def when(self, wall: datetime) -> str:
        start = self.started(wall)
        return said("%(day)s at %(time)s", day=self.day(start), time=self.time(start))


def _not_a_meeting(schedule: Schedule, opening: list[datetime], words: _Words) -> str:
    first = schedule.first_start
    days = _plain_days(schedule.rrule)
    if days and list(_DAYS)[first.weekday()] not in days:
        kinds = _listed([f"a {_DAYS[day]}" for day in days], "or")
        what = said("The first date, %(day)s, is not %(kinds)s", day=words.day(first), kinds=kinds)
    elif opening[0].date() == first.date():
        what = said(
            "The first time, %(time)s on %(day)s, is not the rule's",
            time=words.time(first),
            day=words.day(first),
        )
    else:
        what = said("The first date, %(day)s, is not one of the rule's dates", day=words.day(first))
    when = words.when(opening[0])
    hour = words.started(opening[0]).time()
    later = [
        words.day(wall) if words.started(wall).time() == hour else words.when(wall)
        for wall in opening[1:]
    ]
    if not later:
        return said("%(what)s: the first meeting will be %(when)s.", what=what, when=when)
    return said(
        "%(what)s: the first meeting will be %(when)s, then %(later)s.",
        what=what,
        when=when,
        later=_listed(later, "and"),
    )


def _listed(items: list[str], last: str) -> str:
    return f"{', '.join(items[:-1])} {last} {items[-1]}" if len(items) > 1 else items[0]


def _plain_days(rule: str) -> list[str]:
    """The rule's BYDAY weekdays when each is plain (TU, not 1MO or -1FR); else none."""
    for part in rule.upper().removeprefix("RRULE:").split(";"):
        name, _, value = part.partition("=")
        if name == "BYDAY":
            days = value.split(",")
            return days if all(day in _DAYS for day in days) else []
    return []


def _first_past(meeting: datetime, coming: datetime | None, words: _Words) -> str:
    if coming is None:
        return said(
            "The first meeting, %(when)s, is already past, and the rule has no meeting after "
            "now: no reminders will be sent.",
            when=words.when(meeting),
        )
    return said(
        "The first meeting, %(when)s, is already past: reminders go only for meetings still "
        "ahead, the next being %(next)s.",
        when=words.when(meeting),
        next=words.when(coming),
    )


def _clock_change(wall: datetime, words: _Words) -> str | None:
    """Say what happens to a wall time the clocks skip or pass twice; None for any other."""
    earlier = wall.replace(tzinfo=words.zone, fold=0)
    later = wall.replace(tzinfo=words.zone, fold=1)
    # PEP 495: in a gap fold=0 reads the wall time on the offset before the change, so the
    # meeting starts later by the gap; in an overlap fold=0 is the first of the two.
    shift = (later.utcoffset() or timedelta(0)) - (earlier.utcoffset() or timedelta(0))
    moment = said("%(day)s at %(time)s", day=words.day(wall), time=words.time(wall))
    if shift > timedelta(0):
        start = place(wall, words.timezone).astimezone(words.zone)
        return said(
            "%(moment)s does not exist in %(zone)s: the clocks go forward %(span)s that night, "
            "so the meeting will start at %(time)s (%(abbreviation)s).",
            moment=moment,
            zone=words.timezone,
            span=_span(shift),
            time=words.time(start),
            abbreviation=start.tzname(),
        )
    if shift < timedelta(0):
        return said(
            "%(moment)s happens twice in %(zone)s: the clocks go back %(span)s that night; the "
            "meeting will be at the first %(time)s (%(first)s), not the second (%(second)s).",
            moment=moment,
            zone=words.timezone,
            span=_span(-shift),
            time=words.time(wall),
            first=earlier.tzname(),
            second=later.tzname(),
        )
    return None


def _span(shift: timedelta) -> str:
    minutes = int(shift.total_seconds()) // 60
    if minutes == 60:
        return said("an hour")
    if minutes == 30:
        return said("half an hour")
    return said("%(minutes)d minutes", minutes=minutes)
