"""What happened to a text or call, in plain words, and the CSV of a coordinator's sends.

One place says each state as a sentence, for the Sends pages and for both CSV exports (the
dashboard's and the API's): a volunteer reads "held back: this person opted out", never
"suppressed".
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from zoneinfo import ZoneInfo

from flask import Flask
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from service.db import sessions
from service.models import Campaign, Group, OutboxKind, OutboxMessage, OutboxState, Participant
from service.people.participants import names_in
from service.phones import mask


def _(words: str) -> str:
    return str(gettext(words))


# The reasons the sending code writes (service.messages.outbox, service.sending.steps), as the
# end of a sentence. A reason not listed here reads as its state alone.
_REASONS = {
    "opted out": _l("this person opted out"),
    "no consent yet": _l("this person has not said YES to texts yet"),
    "participant deleted": _l("this person was erased"),
    "encouragement paused": _l("this person paused encouragement"),
    "not an active member": _l("this person is not an active member of the group"),
    "campaign paused": _l("its campaign was paused"),
    "campaign deleted": _l("its campaign was deleted"),
    "too late to be useful": _l("it could no longer arrive before the meeting"),
    "could not be sent in time": _l("it could no longer arrive before the meeting"),
    "only quiet hours were left": _l("only quiet hours were left before the meeting"),
    "Twilio said the number is not valid": _l("the number is not valid"),
    "the number cannot take texts": _l("the number cannot take texts (a landline?)"),
    "no phone number": _l("there is no number to send to"),
}


def _reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    if reason in _REASONS:
        return str(_REASONS[reason])
    if reason.endswith("and it is too late now") or reason.endswith("too late to call again"):
        return _("it could no longer arrive before the meeting")
    return None


def state_words(state: OutboxState, reason: str | None) -> str:
    """What happened to a text or call, as a sentence a volunteer understands."""
    why = _reason(reason)
    if state is OutboxState.QUEUED:
        if reason == "waiting out quiet hours":
            return _("waiting for quiet hours to end")
        if reason and reason.endswith("calling again"):
            return _("waiting to call again: nobody answered")
        return _("waiting to go out")
    if state is OutboxState.SENDING:
        return _("going out now")
    if state is OutboxState.SENT:
        return _("sent: the phone company has not yet said it arrived")
    if state is OutboxState.DELIVERED:
        return _("delivered")
    if state is OutboxState.RECONCILED:
        return _("sent (found later in the phone company's records)")
    if state is OutboxState.UNKNOWN:
        return _("not known yet whether it went: Peerline is checking with the phone company")
    words = {
        OutboxState.UNDELIVERED: (_("not delivered"), _("not delivered: %(why)s")),
        OutboxState.FAILED: (_("failed"), _("failed: %(why)s")),
        OutboxState.SUPPRESSED: (_("held back"), _("held back: %(why)s")),
        OutboxState.EXPIRED: (
            _("expired: it could no longer arrive in time"),
            _("expired: %(why)s"),
        ),
        OutboxState.CANCELED: (_("cancelled"), _("cancelled: %(why)s")),
    }
    alone, because = words[state]
    return because % {"why": why} if why else alone


def kind_words(kind: OutboxKind) -> str:
    return {
        OutboxKind.REPLY: _("automatic answer"),
        OutboxKind.INVITATION: _("invitation"),
        OutboxKind.ONE_OFF: _("text from a coordinator"),
        OutboxKind.ALERT: _("alert to the on-call phone"),
        OutboxKind.REMINDER: _("reminder"),
        OutboxKind.ENCOURAGEMENT: _("encouragement"),
        OutboxKind.BROADCAST: _("broadcast"),
    }[kind]


def who(session: Session, rows: Iterable[OutboxMessage]) -> dict[int, str]:
    """Each row's addressee: the group's name for them and their masked number."""
    rows = list(rows)
    people = {r.participant_id for r in rows if r.participant_id}
    phones = dict(
        session.execute(
            select(Participant.id, Participant.phone).where(Participant.id.in_(people))
        ).all()
    )
    known_as = names_in(session, {r.group_id for r in rows if r.group_id is not None}, people)
    found = {}
    for row in rows:
        phone = phones.get(row.participant_id) if row.participant_id else row.to_phone
        number = mask(phone) if phone else _("(erased)")
        name = known_as.get((row.participant_id, row.group_id or 0)) if row.participant_id else None
        found[row.id] = f"{name} {number}" if name else number
    return found


COLUMNS = (
    "id",
    "group",
    "campaign",
    "to",
    "kind",
    "channel",
    "due",
    "sent",
    "state",
    "what_happened",
    "segments",
    "words",
)
BATCH = 500


def csv_lines(app: Flask, query: Select[OutboxMessage]) -> Iterator[str]:
    """The query's rows as CSV, a batch at a time: times in each group's zone, numbers masked.

    It reads through a session of its own, which outlives the request that returned it.
    """
    days = app.extensions["peerline.settings"].retention_days
    with sessions(app)() as session:
        rows = session.scalars(query.execution_options(yield_per=BATCH))
        yield from _csv(session, rows, days)


def _csv(session: Session, rows: Iterable[OutboxMessage], retention_days: int) -> Iterator[str]:
    removed = str(gettext("(removed after %(days)s days)", days=retention_days))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    groups = {g.id: g for g in session.scalars(select(Group))}
    campaigns: dict[int, str] = {}
    batch: list[OutboxMessage] = []

    def flush() -> str:
        missing = {r.campaign_id for r in batch if r.campaign_id} - set(campaigns)
        if missing:
            found = select(Campaign.id, Campaign.name).where(Campaign.id.in_(missing))
            campaigns.update((cid, name) for cid, name in session.execute(found))
        names = who(session, batch)
        for row in batch:
            group = groups.get(row.group_id) if row.group_id is not None else None
            zone = ZoneInfo(group.timezone if group else "UTC")
            writer.writerow(
                (
                    row.id,
                    group.public_name if group else "",
                    campaigns.get(row.campaign_id, "") if row.campaign_id else "",
                    names[row.id],
                    row.kind.value,
                    row.channel.value,
                    row.due_at.astimezone(zone).isoformat(),
                    row.sent_at.astimezone(zone).isoformat() if row.sent_at else "",
                    row.state.value,
                    state_words(row.state, row.state_reason),
                    row.segments,
                    removed if row.body_removed_at else row.body or "",
                )
            )
        batch.clear()
        text = out.getvalue()
        out.seek(0)
        out.truncate()
        return text

    yield flush()
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            yield flush()
    if batch:
        yield flush()
