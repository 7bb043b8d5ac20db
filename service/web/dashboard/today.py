"""What Today shows for each of a coordinator's groups, read through the domain's own code."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from markupsafe import Markup, escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.campaigns.headcount import Headcount, headcounts_by_group
from service.campaigns.quiet import QuietMember, gone_quiet_by_group
from service.campaigns.stats import DayStats, daily_stats_by_group
from service.conversation.inbox import needing_a_human
from service.models import QUEUED_ROWS, Group, OutboxMessage

# How far ahead Today looks for a group's next meeting: past a monthly one, with room to spare.
MEETING_HORIZON_DAYS = 70
GOING_OUT = timedelta(hours=24)


@dataclass(frozen=True)
class GroupToday:
    group: Group
    scheduled: bool  # the group has meetings at all
    next_meeting: Headcount | None  # None: none in the horizon (or no schedule)
    unread: int  # replies waiting for a human that nobody has read
    urgent: int  # of those, the urgent ones
    going_out: int  # texts and calls due in the next 24 hours


def groups_today(
    session: Session, group_ids: Collection[int] | None, now: datetime
) -> list[GroupToday]:
    """Today for these groups (None: every group, for an admin), by public name."""
    query = select(Group).order_by(Group.public_name, Group.id)
    if group_ids is not None:
        query = query.where(Group.id.in_(list(group_ids)))
    groups = list(session.scalars(query))
    if not groups:
        return []
    ids = [group.id for group in groups]

    waiting = needing_a_human(ids, unread_only=True).order_by(None).subquery()
    replies = {
        group_id: (int(unread), int(urgent or 0))
        for group_id, unread, urgent in session.execute(
            select(
                waiting.c.group_id,
                func.count(),
                func.count().filter(waiting.c.urgent.is_(True)),
            ).group_by(waiting.c.group_id)
        )
    }
    due: dict[int | None, int] = {
        group_id: count
        for group_id, count in session.execute(
            select(OutboxMessage.group_id, func.count())
            .where(
                QUEUED_ROWS,
                OutboxMessage.due_at < now + GOING_OUT,
                OutboxMessage.group_id.in_(ids),
            )
            .group_by(OutboxMessage.group_id)
        )
    }
    meetings = headcounts_by_group(session, groups, now, MEETING_HORIZON_DAYS)
    found = []
    for group in groups:
        counts = meetings[group.id]
        unread, urgent = replies.get(group.id, (0, 0))
        found.append(
            GroupToday(
                group=group,
                scheduled=counts is not None,
                next_meeting=counts[0] if counts else None,
                unread=unread,
                urgent=urgent,
                going_out=int(due.get(group.id, 0)),
            )
        )
    return found


# The last 30 days as a chart: one row of day bars per count, all on the same scale.
RECENT = timedelta(days=30)
DEFAULT_QUIET_WEEKS = 4
QUIET_SHOWN = 10  # on Today, each group's longest quiet; the rest are a link away
SERIES = ("sent", "delivered", "failed", "opted_out")
ROW_HEIGHT = 40
BAR_TOP = 14  # room above the bars for the row's label
CHART_WIDTH = 330
BARS_LEFT = 30


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    height: int
    day: date
    count: int


@dataclass(frozen=True)
class Row:
    series: str
    top: int
    total: int
    bars: list[Bar]
    svg: Markup  # the row's bars as SVG, each with its day and count as a tooltip


def _bars_svg(bars: list[Bar], day_words: Callable[[date], str]) -> Markup:
    """The rectangles of a row's days that have any: built here, not by a template loop, since
    an admin's Today draws some two thousand of them."""
    drawn = (
        f'<rect x="{bar.x:d}" y="{bar.y:d}" width="8" height="{bar.height:d}">'
        f"<title>{escape(day_words(bar.day))}: {bar.count:d}</title></rect>"
        for bar in bars
        if bar.count
    )
    return Markup("".join(drawn))  # noqa: S704 - numbers, and the day's words escaped


@dataclass(frozen=True)
class Recent:
    days: list[DayStats]
    rows: list[Row]
    quiet: list[QuietMember]
    height: int = ROW_HEIGHT * len(SERIES)


def _rows(days: list[DayStats], day_words: Callable[[date], str]) -> list[Row]:
    tallest = max((getattr(d, s) for d in days for s in SERIES), default=0) or 1
    room = ROW_HEIGHT - BAR_TOP - 4
    step = (CHART_WIDTH - BARS_LEFT) // max(len(days), 1)
    rows = []
    for index, series in enumerate(SERIES):
        top = index * ROW_HEIGHT
        bars = []
        for number, day in enumerate(days):
            count = getattr(day, series)
            # A day with any at all shows at least a sliver, so one is not read as none.
            height = 0 if count == 0 else max(1, round(room * count / tallest))
            base = top + ROW_HEIGHT - 4
            bars.append(Bar(BARS_LEFT + number * step, base - height, height, day.day, count))
        total = sum(getattr(d, series) for d in days)
        rows.append(Row(series, top, total, bars, _bars_svg(bars, day_words)))
    return rows


def recent(
    session: Session,
    groups: list[Group],
    quiet_weeks: int,
    now: datetime,
    day_words: Callable[[date], str],
) -> dict[int, Recent]:
    """Each group's last 30 days, day by day, and its members who have gone quiet; day_words
    names a day as the page does."""
    by_day = daily_stats_by_group(session, groups, now - RECENT, now)
    quiet = gone_quiet_by_group(session, [group.id for group in groups], quiet_weeks, now)
    return {
        group_id: Recent(days=days, rows=_rows(days, day_words), quiet=quiet[group_id])
        for group_id, days in by_day.items()
    }
