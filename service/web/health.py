"""Liveness, readiness and Prometheus metrics: /healthz, /readyz, /metrics and /metrics/outbox.

Both metrics pages answer only a scraper with the bearer token PEERLINE_METRICS_TOKEN; without
that setting they are not served on the web port at all (a worker serves its own on its port).
/metrics holds this server's own counters; /metrics/outbox the database's live gauges, for one
scrape job (see service.metrics).
"""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, Response, abort, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from service import db
from service.metrics import OUTBOX_PATH, process_registry

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/metrics")
def prometheus() -> Response:
    _scraper_only()
    registry = process_registry(current_app.extensions["peerline.registry"])
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


@bp.get(OUTBOX_PATH)
def prometheus_outbox() -> Response:
    _scraper_only()
    registry = current_app.extensions["peerline.outbox_registry"]
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def _scraper_only() -> None:
    token = current_app.extensions["peerline.settings"].metrics_token
    if token is None:
        abort(404)
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        raise Unauthorized("a bearer token is needed", www_authenticate=WWWAuthenticate("Bearer"))


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    try:
        with db.sessions()() as session:
            session.execute(text("SELECT 1"))
    except Exception:
        log.exception("readiness check: the database is not reachable")
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ok", database="ok"), 200
