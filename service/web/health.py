"""Liveness, readiness and Prometheus metrics: /healthz, /readyz and /metrics.

/metrics on the web port answers only a scraper with the bearer token PEERLINE_METRICS_TOKEN;
without that setting it is not served there at all (a worker serves its own on its port).
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

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/metrics")
def prometheus() -> Response:
    token = current_app.extensions["peerline.settings"].metrics_token
    if token is None:
        abort(404)
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        raise Unauthorized("a bearer token is needed", www_authenticate=WWWAuthenticate("Bearer"))
    registry = current_app.extensions["peerline.registry"]
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    try:
        with db.sessions()() as session:
            session.execute(text("SELECT 1"))
    except Exception:
        log.exception("readiness check: the database is not reachable")
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ok", database="ok"), 200
