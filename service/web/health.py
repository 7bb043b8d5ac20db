"""Liveness, readiness and Prometheus metrics: /healthz, /readyz and /metrics."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from service import db

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/metrics")
def prometheus() -> Response:
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
