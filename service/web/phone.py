"""The demo's phone in the browser: texts the real webhook, signed as Twilio would, and shows
the thread."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from sqlalchemy import or_, select
from werkzeug.wrappers import Response

from service.config import Settings
from service.db import get_session
from service.demo import simulator
from service.demo.seed import NEWCOMER
from service.models import InboundMessage, OutboxMessage, Participant
from service.phones import InvalidPhone, normalize

bp = Blueprint("demo", __name__, url_prefix="/demo")


@bp.get("/phone")
def phone() -> str:
    session = get_session()
    number = request.args.get("from", NEWCOMER)
    participant = session.scalar(select(Participant).where(Participant.phone == number))
    inbound = session.scalars(
        select(InboundMessage).where(InboundMessage.from_phone == number)
    ).all()
    outbound_filter = [OutboxMessage.to_phone == number]
    if participant is not None:
        outbound_filter.append(OutboxMessage.participant_id == participant.id)
    outbound = session.scalars(select(OutboxMessage).where(or_(*outbound_filter))).all()
    timeline = sorted(
        [("in", m.received_at, m.body, None) for m in inbound]
        + [("out", m.created_at, m.body, m.state.value) for m in outbound],
        key=lambda item: (item[1], item[0] == "out"),
    )
    people = session.scalars(select(Participant).order_by(Participant.id)).all()
    phones = [NEWCOMER] + [p.phone for p in people if p.phone != NEWCOMER]
    return render_template(
        "phone.html",
        number=number,
        participant=participant,
        timeline=timeline,
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
