"""What every Twilio webhook shares: the signature check on the URL Twilio signed, and fields."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import abort, current_app, request
from twilio.request_validator import RequestValidator

from service.config import Settings

log = logging.getLogger(__name__)

MAX_FIELD = 2000

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
    value = request.form.get(name, "")
    if len(value) > limit:
        abort(400, description=f"{name} is too long")
    if required and not value:
        abort(400, description=f"{name} is missing")
    return value
