"""A group's meetings: an RFC 5545 RRULE in the group's time zone, and changes to single ones.

The rules:

- Recurrence is computed by dateutil in naive local wall time, so "every Tuesday at 18:30"
  stays at 18:30 local across daylight-saving changes; each wall time is then placed in the
  group's zone with zoneinfo, and stored in UTC.
- A wall time that does not exist (the spring-forward gap) moves forward by the length of the
  gap: 02:30 on the US change day is 03:30 EDT. An ambiguous one (fall-back) is the first of
  the two, still on summer time. Both are PEP 495's reading of fold=0, whatever fold the wall
  time came with, so the same wall time always starts at the same moment. meeting_warnings
  tells the coordinator when a meeting lands on either.
- `duration` is elapsed time: a 90-minute meeting lasts 90 minutes even across a change.
- An occurrence is known by the wall time the rule gives it, "YYYYMMDDTHHMM" (for example
  "20260303T1830"). The key never changes when the meeting moves, so reminders, replies and
  changes keep referring to the same meeting.
- Meetings are the rule's own from `first_start` on. A `first_start` the rule does not produce
  is not itself a meeting (dateutil's reading; RFC 5545 leaves it undefined): "every Tuesday"
  from a Monday starts the next day. Encouragement cadences rely on this.
- UNTIL may be a local date-time, a UTC one ending in Z (the RFC's form next to a zoned
  start), or a bare date, which keeps that day's meetings: "until June 16" includes June 16.
- A change whose key is not a meeting of the rule is ignored (the schedule may have been
  rewritten since); of several changes to one meeting the last given wins. A cancelled
  meeting that was also moved is reported at its new time and place.
- A rule that can never match (February 30th) is refused, but dateutil only learns that by
  searching to year 9999, which takes up to a few seconds for a daily rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import parser
from dateutil.rrule import rrule, rrulestr

from service.text import said

_KEY_FORMAT = "%Y%m%dT%H%M"
_MEETING_FREQS = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
_TOO_FREQUENT = ("HOURLY", "MINUTELY", "SECONDLY")
_LONGEST_MEETING = timedelta(hours=24)
# A window is searched by its bounds' wall times, widened by a day on each side, because near
# a DST change a meeting's wall time and its instant disagree (02:30 in the gap starts at
# 03:30); the exact UTC test follows.
_PAD = timedelta(days=1)
_FIRST_SEARCH = timedelta(days=8)


class ScheduleError(ValueError):
    """A schedule a coordinator gave cannot be used; the message says why, in plain words."""


@dataclass(frozen=True)
class Schedule:
    """A group's recurring meeting; an optional end is an UNTIL or COUNT inside the rule."""

    rrule: str  # RFC 5545 RRULE value, e.g. "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU" (no DTSTART)
    first_start: datetime  # naive local wall time of the first meeting, in `timezone`
    timezone: str  # IANA zone, e.g. "America/New_York"
    duration: timedelta = timedelta(minutes=90)
    location: str | None = None


@dataclass(frozen=True)
class Change:
    """A coordinator's change to one meeting: cancel it, or give it a new time or place."""

    occurrence_key: str  # Occurrence.key of the meeting changed
    cancelled: bool = False
    new_start: datetime | None = None  # naive local wall time in the schedule's zone
    new_location: str | None = None


@dataclass(frozen=True)
class Occurrence:
    """One meeting of a schedule, with any change to it applied."""

    key: str  # the rule's own local wall time, "YYYYMMDDTHHMM"; kept when the meeting moves
    starts_at: datetime  # aware, UTC
    ends_at: datetime  # aware, UTC
    local_start: datetime  # aware, in the schedule's zone
    location: str | None
    moved: bool = False  # its time or place differs from the rule's
    cancelled: bool = False


def validate(schedule: Schedule) -> None:
    """Raise ScheduleError, saying why, if the schedule cannot be used."""
    _compile(schedule)


def occurrences(
    schedule: Schedule,
    changes: Iterable[Change],
    start: datetime,
    end: datetime,
    *,
    include_cancelled: bool = False,
) -> list[Occurrence]:
    """List the meetings that start in [start, end), moved ones by their new time, by start."""
    _require_aware(start, end)
    rule, zone = _compile(schedule)
    by_key = _by_key(changes)
    return _between(schedule, rule, zone, by_key, start, end, include_cancelled=include_cancelled)


def rule_walls(schedule: Schedule, start: datetime) -> Iterator[datetime]:
    """The rule's own local wall times from the naive `start` on (inclusive), changes aside."""
    rule, _ = _compile(schedule)
    return rule.xafter(start, inc=True)


def place(wall: datetime, timezone: str) -> datetime:
    """Return the UTC moment a meeting at this local wall time starts, by the rules above."""
    return _place(wall, _zone(timezone))


def next_occurrence(
    schedule: Schedule, changes: Iterable[Change], after: datetime
) -> Occurrence | None:
    """Return the first meeting not cancelled that starts strictly after `after`, or None."""
    _require_aware(after)
    rule, zone = _compile(schedule)
    by_key = _by_key(changes)
    latest_move = max(
        (change.new_start for change in by_key.values() if change.new_start is not None),
        default=None,
    )
    # Widen the search until a meeting turns up or the rule and every move are behind it.
    span = _FIRST_SEARCH
    while True:
        end = after + span
        for occurrence in _between(
            schedule, rule, zone, by_key, after, end, include_cancelled=False
        ):
            if occurrence.starts_at > after:
                return occurrence
        searched = _wall(end, zone) - _PAD
        if rule.after(searched) is None and (latest_move is None or latest_move <= searched):
            return None
        span *= 4


def _between(
    schedule: Schedule,
    rule: rrule,
    zone: ZoneInfo,
    by_key: dict[str, Change],
    start: datetime,
    end: datetime,
    *,
    include_cancelled: bool,
) -> list[Occurrence]:
    low, high = _wall(start, zone) - _PAD, _wall(end, zone) + _PAD
    # dateutil cannot seek, so this still walks from first_start, but one period per step:
    # a year of a weekly rule begun ten years ago takes about 2 ms in all.
    walls = set(rule.between(low, high, inc=True))
    # A meeting moved into the window from outside it is found through its change.
    for key, change in by_key.items():
        if change.new_start is not None and low <= change.new_start <= high:
            original = _wall_of_key(key)
            if original is not None and original in rule:
                walls.add(original)
    found = [_occurrence(schedule, zone, wall, by_key) for wall in walls]
    wanted = [
        meeting
        for meeting in found
        if start <= meeting.starts_at < end and (include_cancelled or not meeting.cancelled)
    ]
    return sorted(wanted, key=lambda meeting: (meeting.starts_at, meeting.key))


def _occurrence(
    schedule: Schedule, zone: ZoneInfo, wall: datetime, by_key: dict[str, Change]
) -> Occurrence:
    key = wall.strftime(_KEY_FORMAT)
    change = by_key.get(key, Change(key))
    start_wall = wall if change.new_start is None else change.new_start
    location = schedule.location if change.new_location is None else change.new_location
    starts_at = _place(start_wall, zone)
    return Occurrence(
        key=key,
        starts_at=starts_at,
        ends_at=starts_at + schedule.duration,
        local_start=starts_at.astimezone(zone),
        location=location,
        moved=start_wall != wall or location != schedule.location,
        cancelled=change.cancelled,
    )


def _by_key(changes: Iterable[Change]) -> dict[str, Change]:
    by_key = {change.occurrence_key: change for change in changes}
    if any(c.new_start is not None and c.new_start.tzinfo is not None for c in by_key.values()):
        raise ScheduleError(
            said("a moved meeting's new time must be a local wall-clock time, without a time zone")
        )
    return by_key


def _compile(schedule: Schedule) -> tuple[rrule, ZoneInfo]:
    zone = _zone(schedule.timezone)
    first = schedule.first_start
    if first.tzinfo is not None:
        raise ScheduleError(
            said("the first meeting's time must be a local wall-clock time, without a time zone")
        )
    if first.second or first.microsecond:
        raise ScheduleError(said("meetings start on a whole minute"))
    if not timedelta(0) < schedule.duration <= _LONGEST_MEETING:
        raise ScheduleError(said("a meeting must last more than 0 minutes and at most 24 hours"))
    rule = _rule(schedule.rrule, first, zone)
    if rule.after(first, inc=True) is None:
        raise ScheduleError(
            said("the rule gives no meeting at all; check its UNTIL, COUNT and BY... parts")
        )
    return rule, zone


def _rule(text: str, first: datetime, zone: ZoneInfo) -> rrule:
    upper = text.strip().upper()
    if "DTSTART" in upper:
        raise ScheduleError(
            said("the rule must not contain DTSTART; the first meeting's time is given on its own")
        )
    body = upper.removeprefix("RRULE:")
    # Anything else (several lines, EXDATE, RDATE) would be a rule set: cancellations and
    # moves are Changes here, so the schedule stays one rule.
    if ":" in body or any(char.isspace() for char in body):
        raise ScheduleError(
            said("the rule must be one RRULE value on one line, such as FREQ=WEEKLY;BYDAY=TU")
        )
    pairs = [pair.partition("=") for pair in body.split(";")]
    if not all(name and value for name, _, value in pairs):
        raise ScheduleError(
            said("each part of the rule must be NAME=VALUE, as in FREQ=WEEKLY;BYDAY=TU")
        )
    parts = {name: value for name, _, value in pairs}
    # These are checked before dateutil reads the rule: it fails on a missing FREQ with a
    # TypeError, and only warns about COUNT with UNTIL.
    freq = parts.get("FREQ")
    if freq in _TOO_FREQUENT:
        raise ScheduleError(
            said("meetings repeat at most daily; FREQ=%(freq)s is not allowed", freq=freq)
        )
    if freq not in _MEETING_FREQS:
        raise ScheduleError(said("the rule needs FREQ=DAILY, WEEKLY, MONTHLY or YEARLY"))
    if "COUNT" in parts and "UNTIL" in parts:
        raise ScheduleError(said("the rule may end with COUNT or with UNTIL, not both"))
    if "BYSECOND" in parts:
        raise ScheduleError(said("meetings start on a whole minute; BYSECOND is not allowed"))
    try:
        # ignoretz: dateutil refuses a UTC UNTIL next to a naive start; _until places it.
        parsed = rrulestr(body, dtstart=first, ignoretz=True)
    except ValueError as exc:
        raise ScheduleError(said("the rule could not be read: %(why)s", why=str(exc))) from exc
    assert isinstance(parsed, rrule)  # one RRULE value, checked above, is never a rule set
    if int(parts.get("INTERVAL", "1")) < 1:
        raise ScheduleError(said("INTERVAL must be 1 or more"))
    if "UNTIL" in parts:
        return parsed.replace(until=_until(parts["UNTIL"], zone))
    return parsed


def _until(value: str, zone: ZoneInfo) -> datetime:
    """Return the last local wall time an UNTIL value allows in the group's zone."""
    try:
        until = parser.isoparse(value)
    except ValueError as exc:
        raise ScheduleError(
            said("UNTIL=%(value)s is not a date or a date and time", value=value)
        ) from exc
    if "T" not in value:
        # A bare date is how people say it: "until June 16" keeps that day's meeting.
        return datetime.combine(until.date(), time.max)
    if until.tzinfo is not None:
        return until.astimezone(zone).replace(tzinfo=None)
    return until


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ScheduleError(
            said("unknown time zone %(zone)r; use an IANA name such as America/New_York", zone=name)
        ) from exc


def _wall_of_key(key: str) -> datetime | None:
    try:
        return datetime.strptime(key, _KEY_FORMAT)
    except ValueError:
        return None


def _place(wall: datetime, zone: ZoneInfo) -> datetime:
    """Return the UTC moment of a local wall time: gaps move forward, overlaps take the first."""
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def _require_aware(*moments: datetime) -> None:
    if any(moment.tzinfo is None for moment in moments):
        raise ValueError("window bounds must be timezone-aware datetimes")
