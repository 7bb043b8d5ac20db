"""Campaign rules as plain functions: reminder offsets and encouragement rotation."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

_RELATIVE = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?")
_AT_DAY = re.compile(r"(\d+)d@([01]?\d|2[0-3]):([0-5]\d)")


class OffsetError(ValueError):
    """A reminder offset a coordinator wrote cannot be read; the message shows the forms."""


@dataclass(frozen=True)
class Offset:
    """When a reminder goes, relative to its meeting.

    Two forms, as coordinators say them: "2h" or "1d2h30m" (that long before the meeting), and
    "1d@18:00" (so many days before, at that wall-clock time where the participant lives).
    """

    text: str
    before: timedelta | None = None
    days_before: int | None = None
    at: time | None = None

    @classmethod
    def parse(cls, text: str) -> Offset:
        words = text.strip().lower().replace(" ", "")
        if match := _AT_DAY.fullmatch(words):
            days, hour, minute = (int(g) for g in match.groups())
            if days > 60:
                raise OffsetError(f"{text!r}: at most 60 days before a meeting")
            return cls(words, days_before=days, at=time(hour, minute))
        match = _RELATIVE.fullmatch(words)
        if not words or match is None:
            raise OffsetError(
                f"{text!r} is not an offset; write e.g. 2h, 30m, 1d2h, or 1d@18:00 "
                "(the day before at 6 pm)"
            )
        days, hours, minutes = (int(g) if g else 0 for g in match.groups())
        before = timedelta(days=days, hours=hours, minutes=minutes)
        if before <= timedelta(0) or before > timedelta(days=60):
            raise OffsetError(f"{text!r}: an offset is more than 0 and at most 60 days")
        return cls(words, before=before)

    def planned(self, meeting_start: datetime, zone: str) -> datetime:
        """The moment this reminder is meant for, before the meeting starting at meeting_start."""
        if self.before is not None:
            return meeting_start - self.before
        assert self.days_before is not None and self.at is not None
        local_day = meeting_start.astimezone(ZoneInfo(zone)).date() - timedelta(self.days_before)
        # Wall time where the participant lives: "the day before at 18:00" is 18:00 for them.
        return datetime.combine(local_day, self.at, tzinfo=ZoneInfo(zone))

    @property
    def longest(self) -> timedelta:
        """How far before a meeting this offset can reach, for planning windows."""
        if self.before is not None:
            return self.before
        assert self.days_before is not None
        return timedelta(days=self.days_before + 1)


def rotation_pick(pool_size: int, campaign_id: int, participant_id: int, n: int) -> int:
    """Which pool line the n-th encouragement is: no line twice before every line was sent.

    Each pass through the pool is its own shuffle, seeded by campaign, participant and pass, so
    the same send always gets the same line (planning twice changes nothing) and different
    people do not all get the same line on the same day.
    """
    if pool_size <= 0:
        raise ValueError("the pool is empty")
    cycle, place = divmod(n, pool_size)
    order = list(range(pool_size))
    random.Random(f"{campaign_id}:{participant_id}:{cycle}").shuffle(order)
    return order[place]
