"""The dashboard's Sends: the outbox of the coordinator's groups, filtered and paged, each state
in plain words, one text or call in full, and a CSV of a period.

The rows come from service.messages.sends and read in the words of service.web.sends, as the
API's CSV does; numbers are masked and names are each group's own for the person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, abort, current_app, render_template, request, stream_with_context
from flask_babel import gettext as _
from sqlalchemy import func, select

from service.db import get_session
from service.messages.sends import sends
from service.models import Campaign, Group, OutboxMessage, OutboxState
from service.web import sends as words
from service.web.dashboard import login
from service.web.dashboard.inbox import PAGE_SIZE, local_time, one_group, page_number
from service.web.dashboard.views import bp


@dataclass
class Filters:
    groups: list[Group]
    group: Group | None
    campaigns: list[Campaign]
    campaign: Campaign | None
    state: OutboxState | None
    since: date | None
    until: date | None
    zone: str
    errors: dict[str, str]

    def query(self) -> Any:
        visible = login.visible()
        ids = {self.group.id} if self.group else visible
        start = _moment(self.since, self.zone)
        end = _moment(self.until + timedelta(days=1), self.zone) if self.until else None
        return sends(
            ids,
            campaign_id=self.campaign.id if self.campaign else None,
            states=[self.state] if self.state else (),
            since=start,
            until=end,
        )

    def args(self) -> dict[str, str]:
        """The filters as query arguments, for the pages' links and the CSV."""
        return {
            k: v
            for k in ("group", "campaign", "state", "since", "until")
            if (v := request.args.get(k, ""))
        }


def _moment(day: date | None, zone: str) -> datetime | None:
    return datetime.combine(day, time(0), ZoneInfo(zone)) if day else None


def _day(name: str, errors: dict[str, str]) -> date | None:
    given = request.args.get(name, "").strip()
    if not given:
        return None
    try:
        return date.fromisoformat(given)
    except ValueError:
        errors[name] = _("Give a date such as 2026-12-01.")
        return None


def _filters() -> Filters:
    session = get_session()
    groups = login.my_groups()
    group = one_group(groups, request.args.get("group"))
    mine = [group.id] if group else [g.id for g in groups]
    campaigns = list(
        session.scalars(
            select(Campaign).where(Campaign.group_id.in_(mine)).order_by(Campaign.name, Campaign.id)
        )
    )
    chosen = request.args.get("campaign", "")
    campaign = next((c for c in campaigns if str(c.id) == chosen), None) if chosen else None
    if chosen and campaign is None:
        abort(404)
    state_given = request.args.get("state", "")
    state = next((s for s in OutboxState if s.value == state_given), None)
    errors: dict[str, str] = {}
    if state_given and state is None:
        errors["state"] = _("Choose one of the listed states.")
    since, until = _day("since", errors), _day("until", errors)
    if since and until and until < since:
        errors["until"] = _("The last day comes on or after the first.")
    return Filters(
        groups=groups,
        group=group,
        campaigns=campaigns,
        campaign=campaign,
        state=state,
        since=since,
        until=until,
        zone=group.timezone if group else "UTC",
        errors=errors,
    )


# Each state once, in the words of its usual case, for the filter.
STATES = (
    OutboxState.QUEUED,
    OutboxState.SENDING,
    OutboxState.SENT,
    OutboxState.DELIVERED,
    OutboxState.UNDELIVERED,
    OutboxState.FAILED,
    OutboxState.SUPPRESSED,
    OutboxState.EXPIRED,
    OutboxState.CANCELED,
    OutboxState.UNKNOWN,
    OutboxState.RECONCILED,
)


def _state_names() -> dict[OutboxState, str]:
    return {
        OutboxState.QUEUED: _("Waiting to go out"),
        OutboxState.SENDING: _("Going out now"),
        OutboxState.SENT: _("Sent, not yet confirmed"),
        OutboxState.DELIVERED: _("Delivered"),
        OutboxState.UNDELIVERED: _("Not delivered"),
        OutboxState.FAILED: _("Failed"),
        OutboxState.SUPPRESSED: _("Held back"),
        OutboxState.EXPIRED: _("Expired"),
        OutboxState.CANCELED: _("Cancelled"),
        OutboxState.UNKNOWN: _("Being checked"),
        OutboxState.RECONCILED: _("Sent, found later"),
    }


@dataclass(frozen=True)
class Line:
    row: OutboxMessage
    who: str
    group: Group | None
    due: str
    sent: str | None
    what: str
    kind: str


def _lines(rows: list[OutboxMessage], groups: list[Group]) -> list[Line]:
    by_id = {g.id: g for g in groups}
    names = words.who(get_session(), rows)
    found = []
    for row in rows:
        group = by_id.get(row.group_id) if row.group_id is not None else None
        zone = group.timezone if group else "UTC"
        found.append(
            Line(
                row=row,
                who=names[row.id],
                group=group,
                due=local_time(row.due_at, zone),
                sent=local_time(row.sent_at, zone) if row.sent_at else None,
                what=words.state_words(row.state, row.state_reason),
                kind=words.kind_words(row.kind),
            )
        )
    return found


@bp.get("/sends")
def sends_page() -> tuple[str, int] | str:
    session = get_session()
    filters = _filters()
    if filters.errors:
        shown = render_template(
            "dashboard/sends/list.html", f=filters, lines=[], total=0, page=1, pages=1,
            names=_state_names(), states=STATES,
        )  # fmt: skip
        return shown, 400
    query = filters.query()
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    page = page_number()
    rows = list(session.scalars(query.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)))
    return render_template(
        "dashboard/sends/list.html",
        f=filters,
        lines=_lines(rows, filters.groups),
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        names=_state_names(),
        states=STATES,
    )


@bp.get("/sends.csv")
def sends_csv() -> Response | tuple[str, int] | str:
    """The filtered sends as a CSV file, streamed a batch at a time."""
    filters = _filters()
    if filters.errors:
        return sends_page()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    lines = stream_with_context(words.csv_lines(app, filters.query()))
    return Response(
        lines,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="peerline-sends.csv"'},
    )


@bp.get("/sends/<int:send_id>")
def sends_message(send_id: int) -> str:
    session = get_session()
    row = session.get(OutboxMessage, send_id)
    visible = login.visible()
    if row is None or (visible is not None and row.group_id not in visible):
        abort(404)
    groups = login.my_groups()
    [line] = _lines([row], groups)
    campaign = session.get(Campaign, row.campaign_id) if row.campaign_id else None
    zone = line.group.timezone if line.group else "UTC"
    return render_template(
        "dashboard/sends/message.html",
        line=line,
        campaign=campaign,
        expires=local_time(row.expires_at, zone) if row.expires_at else None,
    )
