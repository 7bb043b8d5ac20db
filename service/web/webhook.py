"""What every Twilio webhook shares: the signature check on the URL Twilio signed, and reading
its parameters.

A signed request can still carry anything: a NUL, digits of another script, an id past the
database's range, a SID in the wrong shape. Each reader here turns such a value into a clear
400 (or, for a row id in the URL, into "not ours"), so that nothing a client sends reaches
the database as an error.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import abort, current_app, request
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from service.config import Settings
from service.models import OutboxMessage

log = logging.getLogger(__name__)

MAX_FIELD = 2000
MAX_ID = 2**31 - 1  # the databases' integer ids
# Control characters no person types and PostgreSQL's text cannot hold (NUL); line breaks
# and tabs are words' own.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ASCII_NUMBER = re.compile(r"[0-9]{1,10}")  # not \d, which takes any script's digits
SIDS = {
    "message": re.compile(r"(SM|MM)[0-9a-f]{32}"),
    "call": re.compile(r"CA[0-9a-f]{32}"),
}

P = ParamSpec("P")
R = TypeVar("R")


def settings() -> Settings:
    value: Settings = current_app.extensions["peerline.settings"]
    return value


def url_twilio_used() -> str:
    """The URL Twilio signed: rebuilt from PEERLINE_PUBLIC_URL when a proxy sits in front."""
    public = settings().public_url
    if public is None:
        return request.url
    query = request.query_string.decode()
    return f"{public}{request.path}" + (f"?{query}" if query else "")


def signed(view: Callable[P, R]) -> Callable[P, R]:
    """Refuse any request that Twilio did not sign with our auth token."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        token = settings().webhook_token
        signature = request.headers.get("X-Twilio-Signature", "")
        if not token:
            log.error("webhook refused: no TWILIO_AUTH_TOKEN is configured to check signatures")
            abort(403)
        if not signature or not RequestValidator(token).validate(
            url_twilio_used(), request.form, signature
        ):
            log.warning("webhook refused: bad or missing signature on %s", request.path)
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def field(name: str, *, required: bool = True, limit: int = MAX_FIELD) -> str:
    """A parameter as Twilio sends it; 400 when missing, too long or holding a control character."""
    value = request.form.get(name, "")
    if len(value) > limit:
        abort(400, description=f"{name} is too long")
    if required and not value:
        abort(400, description=f"{name} is missing")
    if _CONTROL.search(value):
        abort(400, description=f"{name} holds a control character")
    return value


def said(name: str, *, limit: int = MAX_FIELD) -> str:
    """What a person wrote or pressed, with control characters dropped: "STOP\\x00" is a STOP."""
    value = request.form.get(name, "")
    if len(value) > limit:
        abort(400, description=f"{name} is too long")
    return _CONTROL.sub("", value)


def sid(name: str, kind: str, *, required: bool = True) -> str:
    """A message's or a call's SID, in the shape Twilio documents; 400 otherwise."""
    value = field(name, required=required, limit=34)
    if value and not SIDS[kind].fullmatch(value):
        abort(400, description=f"{name} is malformed")
    return value


def number(name: str) -> int | None:
    """A whole number such as an ErrorCode, in ASCII digits and the database's range; None when
    absent."""
    value = field(name, required=False, limit=10)
    if not value:
        return None
    if not _ASCII_NUMBER.fullmatch(value) or int(value) > MAX_ID:
        abort(400, description=f"{name} is not a number")
    return int(value)


def row_id(name: str = "outbox") -> int | None:
    """A row's id from the URL we gave Twilio; None for anything that cannot be one of ours."""
    value = request.args.get(name, "")
    if not _ASCII_NUMBER.fullmatch(value) or not 0 < int(value) <= MAX_ID:
        return None
    return int(value)


def sid_elsewhere(session: Session, row: OutboxMessage, value: str) -> bool:
    """Whether another row holds this SID already: then the report is not about row.

    Asks the database only when row does not hold the SID itself (the SIDs are unique), so the
    usual callback, about a row that has its SID, costs no query.
    """
    if row.provider_sid == value:
        return False
    other = session.scalar(
        select(OutboxMessage.id).where(
            OutboxMessage.provider_sid == value, OutboxMessage.id != row.id
        )
    )
    return other is not None
