"""The demo's phone in the browser: texts the real webhook, signed as Twilio would, and shows
the thread."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import Blueprint, current_app, redirect, render_template, request, url_for
from sqlalchemy import or_, select
from werkzeug.wrappers import Response

from service.config import Settings
from service.db import get_session
from service.demo import simulator
from service.demo.seed import NEWCOMER
from service.messages.counts import HANDED_OVER
from service.models import InboundMessage, OutboxMessage, OutboxState, Participant
from service.phones import InvalidPhone, normalize

bp = Blueprint("demo", __name__, url_prefix="/demo")

# How a state reads under a bubble; a delivered text needs no word.
STATE_WORDS = {
    OutboxState.SENT: "sent",
    OutboxState.UNDELIVERED: "not delivered",
    OutboxState.FAILED: "failed",
    OutboxState.UNKNOWN: "sent",
    OutboxState.RECONCILED: "sent",
}


@dataclass(frozen=True)
class Bubble:
    direction: str  # "in", "out", or "planned": due to go, not sent yet
    at: datetime
    body: str
    note: str | None


def _thread(number: str, participant: Participant | None) -> list[Bubble]:
    """The phone's texts in order: what it sent, what reached it, and what is planned for it.

    Rows held back or expired never reached the phone, so they do not show.
    """
    session = get_session()
    bubbles = [
        Bubble("in", m.received_at, m.body, None)
        for m in session.scalars(select(InboundMessage).where(InboundMessage.from_phone == number))
    ]
    to_it = [OutboxMessage.to_phone == number]
    if participant is not None:
        to_it.append(OutboxMessage.participant_id == participant.id)
    for m in session.scalars(select(OutboxMessage).where(or_(*to_it))):
        if m.state in HANDED_OVER:  # it left for the phone, whatever became of it after
            body = m.body or f"(a {m.kind.value})"
            bubbles.append(Bubble("out", m.sent_at or m.created_at, body, STATE_WORDS.get(m.state)))
        elif m.state in (OutboxState.QUEUED, OutboxState.SENDING):
            bubbles.append(Bubble("planned", m.due_at, m.body or f"A {m.kind.value}", None))
    return sorted(bubbles, key=lambda b: (b.at, b.direction != "in"))


@bp.get("/phone")
def phone() -> str:
    session = get_session()
    number = request.args.get("from", NEWCOMER)
    participant = session.scalar(select(Participant).where(Participant.phone == number))
    zone = ZoneInfo(participant.timezone if participant is not None else "UTC")

    def local(moment: datetime) -> str:
        return format_datetime(moment.astimezone(zone), "EEE h:mm a zzz", tzinfo=zone, locale="en")

    people = session.scalars(select(Participant).order_by(Participant.id)).all()
    phones = [NEWCOMER] + [p.phone for p in people if p.phone != NEWCOMER]
    return render_template(
        "phone.html",
        number=number,
        participant=participant,
        timeline=_thread(number, participant),
        zone=zone.key,
        local=local,
        phones=phones,
        error=request.args.get("error"),
    )


@bp.post("/phone")
def send_text() -> Response:
    settings: Settings = current_app.extensions["peerline.settings"]
    body = request.form.get("body", "")[:1600]
    try:
        number = normalize(request.form.get("from", ""), settings.default_region)
    except InvalidPhone as error:
        return redirect(url_for("demo.phone", error=str(error)))
    assert settings.webhook_token is not None
    page = url_for("demo.phone") + "?" + urlencode({"from": number})
    try:
        simulator.text_service(request.host_url, settings.webhook_token, number, body)
    except simulator.SimulatorError as error:
        return redirect(page + "&" + urlencode({"error": str(error)}))
    return redirect(page)
