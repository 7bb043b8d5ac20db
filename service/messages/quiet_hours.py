"""Quiet hours: no text or call at night where the participant lives, and none sent too late.

The rules:

- Quiet hours run from `start` to `end` in the participant's own zone (default 21:00 to
  08:00, the TCPA calling hours). A window may cross midnight (21:00-08:00) or not
  (13:00-14:00); `start == end` means no quiet hours. `start` is quiet, `end` is not.
- Boundaries are local wall times on each day, placed with zoneinfo as meetings are: a
  boundary inside a spring-forward gap moves forward by the gap (quiet until 02:30 lasts until
  03:30 daylight time that night), an ambiguous one is the first of the two.
- A reminder planned inside quiet hours goes out when they end, if that is still before the
  meeting. Otherwise it goes at the last allowed minute before they began (20:59 the evening
  before), but it may move earlier by no more than its own lead time, so it goes at most twice
  as far ahead of the meeting as planned: a "2 hours before" reminder for a meeting at midnight
  goes at 20:59, while a "30 minutes before" one for a 07:30 meeting would arrive ten hours
  early, and expires instead. A reminder planned at or after the meeting's start expires.
  Reminders expire at the meeting's start.
- Encouragement planned inside quiet hours goes out when they end, if that is before its
  window (default 12 hours from the planned time) closes; otherwise it expires. It expires
  when the window closes.
- A coordinator's one-off text to a group waits for each member's morning, then has its
  usual four hours; only when the coordinator says it must go at night does it go at once.
- A message may go at any moment strictly before it expires and outside quiet hours; at its
  expiry it is too late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class QuietHours:
    """The daily hours, local to the participant, when nothing is sent."""

    start: time = time(21, 0)
    end: time = time(8, 0)

    def contains(self, moment: datetime, zone: str) -> bool:
        """Tell whether an aware moment falls in quiet hours where the participant lives."""
        return _quiet_period(self, moment, ZoneInfo(zone)) is not None


@dataclass(frozen=True)
class Placement:
    """When a message goes out, and until when it may; or that it never goes."""

    send_at: datetime | None  # aware UTC; None when expired
    expires_at: datetime | None  # aware UTC; from this moment on it must never be sent
    moved: bool  # send_at differs from the planned time because of quiet hours
    expired: bool  # no allowed time is still useful
    reason: str | None  # words for previews, e.g. "moved out of quiet hours (...)"


def place_reminder(
    planned: datetime, meeting_start: datetime, zone: str, quiet: QuietHours
) -> Placement:
    """Place a meeting reminder outside quiet hours and before the meeting, or expire it."""
    tz = ZoneInfo(zone)
    if planned >= meeting_start:
        return _expired(meeting_start, "expired: planned at or after the meeting start")
    period = _quiet_period(quiet, planned, tz)
    if period is None:
        return _as_planned(planned, meeting_start)
    began, ended = period
    after = _next_allowed(quiet, ended, tz)
    if after < meeting_start:
        return _moved(after, meeting_start, f"moved out of quiet hours ({_label(quiet, zone)})")
    before = began - _MINUTE
    earliest = planned - (meeting_start - planned)
    if before >= earliest and _quiet_period(quiet, before, tz) is None:
        return _moved(before, meeting_start, f"moved ahead of quiet hours ({_label(quiet, zone)})")
    return _expired(meeting_start, "expired: no allowed time before the meeting")


def place_encouragement(
    planned: datetime, zone: str, quiet: QuietHours, window: timedelta = timedelta(hours=12)
) -> Placement:
    """Place an encouragement at the first allowed moment in its window, or expire it."""
    expires_at = planned + window
    send_at = _next_allowed(quiet, planned, ZoneInfo(zone))
    if send_at >= expires_at:
        hours = f"{window.total_seconds() / 3600:g}"
        return _expired(
            expires_at, f"expired: quiet hours ({_label(quiet, zone)}) outlast its {hours} h window"
        )
    if send_at == planned:
        return _as_planned(planned, expires_at)
    return _moved(send_at, expires_at, f"moved out of quiet hours ({_label(quiet, zone)})")


def next_allowed(moment: datetime, zone: str, quiet: QuietHours) -> datetime:
    """The first moment at or after moment that is outside quiet hours in zone."""
    return _next_allowed(quiet, moment, ZoneInfo(zone))


def still_sendable(
    now: datetime, placement_expires_at: datetime | None, zone: str, quiet: QuietHours
) -> str | None:
    """Return None if a message may go now, else why not: "expired" or "quiet hours"."""
    if placement_expires_at is not None and now >= placement_expires_at:
        return "expired"
    if quiet.contains(now, zone):
        return "quiet hours"
    return None


def _quiet_period(
    quiet: QuietHours, moment: datetime, tz: ZoneInfo
) -> tuple[datetime, datetime] | None:
    """Return the (start, end) in UTC of the quiet period holding moment, or None."""
    if moment.tzinfo is None:
        raise ValueError("quiet hours need a timezone-aware moment")
    if quiet.start == quiet.end:
        return None
    crosses_midnight = quiet.end < quiet.start
    today = moment.astimezone(tz).date()
    # Only a period begun yesterday or today can hold a moment of today.
    for day in (today - timedelta(days=1), today):
        began = _at(day, quiet.start, tz)
        ended = _at(day + timedelta(days=1) if crosses_midnight else day, quiet.end, tz)
        if began <= moment < ended:
            return began, ended
    return None


def _next_allowed(quiet: QuietHours, moment: datetime, tz: ZoneInfo) -> datetime:
    # A loop, not one step: on a DST day a period can end inside the next one when the
    # allowed hours between them are shorter than the clock change.
    while (period := _quiet_period(quiet, moment, tz)) is not None:
        moment = period[1]
    return moment


def _at(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """Return the UTC moment of a wall time on a day: gaps move forward, overlaps take the first."""
    return datetime.combine(day, wall.replace(fold=0), tzinfo=tz).astimezone(UTC)


def _label(quiet: QuietHours, zone: str) -> str:
    return f"{quiet.start:%H:%M}-{quiet.end:%H:%M} {zone}"


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _as_planned(send_at: datetime, expires_at: datetime) -> Placement:
    return Placement(_utc(send_at), _utc(expires_at), moved=False, expired=False, reason=None)


def _moved(send_at: datetime, expires_at: datetime, reason: str) -> Placement:
    return Placement(_utc(send_at), _utc(expires_at), moved=True, expired=False, reason=reason)


def _expired(expires_at: datetime, reason: str) -> Placement:
    return Placement(None, _utc(expires_at), moved=False, expired=True, reason=reason)
