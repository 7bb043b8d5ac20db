"""Errors answered as the client wants: JSON for Twilio and the API, a short page for a browser.

No stack trace ever reaches a client; an unexpected error is logged and answered with a 500.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request
from markupsafe import escape
from werkzeug.exceptions import HTTPException

from service.db import DATABASE_AWAY

log = logging.getLogger(__name__)

bp = Blueprint("errors", __name__)


def wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return request.path.startswith(("/twilio", "/api")) or best == "application/json"


@bp.app_errorhandler(HTTPException)
def http_error(error: HTTPException) -> tuple[Response | str, int, dict[str, str]]:
    code = error.code or 500
    # The API's abort() (flask-smorest, webargs) brings a message, field problems, headers.
    data = getattr(error, "data", None) or {}
    # The error's own headers (Allow on a 405, WWW-Authenticate on a 401), then the API's.
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    headers.update(data.get("headers") or {})
    message = data.get("message") or error.description
    if wants_json():
        body: dict[str, object] = {"error": error.name, "message": message}
        if details := data.get("errors") or data.get("messages"):
            body["details"] = details
        return jsonify(body), code, headers
    return f"<h1>{escape(error.name)}</h1><p>{escape(message)}</p>", code, headers


RETRY_AFTER = "30"  # seconds: a database back from a restart is usually back by then


def database_away(error: Exception) -> tuple[Response | str, int, dict[str, str]]:
    """The database cannot be reached (or is too busy): say so, and when to try again."""
    log.error("the database is not reachable on %s: %s", request.path, type(error).__name__)
    headers = {"Retry-After": RETRY_AFTER}
    message = "The database is not reachable just now; try again in a minute."
    if wants_json():
        return jsonify(error="Service Unavailable", message=message), 503, headers
    return f"<h1>Service Unavailable</h1><p>{message}</p>", 503, headers


for away in DATABASE_AWAY:
    bp.app_errorhandler(away)(database_away)


@bp.app_errorhandler(Exception)
def unexpected(error: Exception) -> tuple[Response | str, int]:
    log.error("unhandled error on %s", request.path, exc_info=error)
    if wants_json():
        return jsonify(error="Internal Server Error", message="Something went wrong."), 500
    return "<h1>Something went wrong</h1><p>The error was logged.</p>", 500
