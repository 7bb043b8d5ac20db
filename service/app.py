"""The application factory."""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

from flask import Flask, Response, jsonify, request
from markupsafe import escape
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from service import api, db, logs, metrics, voice_routes, webhooks
from service.clock import app_clock, utc_now
from service.config import Settings
from service.gateway import Gateway, gateway_for
from service.wording import Wording

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    gateway: Gateway | None = None,
    mode: str | None = None,
) -> Flask:
    """Build the web app; nothing starts here that a test or a gunicorn worker would not want."""
    settings = settings or Settings.from_env(mode=mode)
    app = Flask(
        __name__,
        instance_path=str(settings.instance_dir),
        template_folder=str(_web_templates()),
    )
    logs.configure(settings.log_level)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=64 * 1024,  # Twilio's largest webhook is far smaller
        MAX_FORM_PARTS=200,
    )
    app.extensions["peerline.settings"] = settings
    app.extensions["peerline.clock"] = utc_now
    app.extensions["peerline.wording"] = Wording(
        settings.wording_dir, program=settings.program_name, contact=settings.help_contact
    )
    app.extensions["peerline.gateway"] = gateway or gateway_for(settings)
    # The web's threads, or a worker's sending threads and its ticks, each hold a connection.
    db.init_app(app, settings.database_url, pool_size=max(8, settings.send_threads + 4))

    app.register_blueprint(webhooks.bp)
    app.register_blueprint(voice_routes.bp)
    api.init_app(app)
    _register_health(app)
    _register_errors(app)
    if settings.mode == "demo":
        from service import demo

        app.register_blueprint(demo.bp)
    if settings.uses_twilio and settings.public_url is None:
        log.warning(
            "PEERLINE_PUBLIC_URL is not set: no status callbacks, and signatures are checked "
            "against the URL each request arrived at"
        )
    return app


def _web_templates() -> Path:
    return Path(str(resources.files("templates") / "web"))


def _register_health(app: Flask) -> None:
    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    registry = app.extensions["peerline.registry"] = CollectorRegistry()
    registry.register(metrics.OutboxCollector(db.sessions(app), lambda: app_clock(app)()))
    app.extensions["peerline.metrics"] = metrics.ProcessMetrics(registry)

    @app.get("/metrics")
    def prometheus() -> Response:
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

    @app.get("/readyz")
    def readyz() -> tuple[Response, int]:
        try:
            with db.sessions()() as session:
                session.execute(text("SELECT 1"))
        except Exception:
            log.exception("readiness check: the database is not reachable")
            return jsonify(status="unavailable", database="unreachable"), 503
        return jsonify(status="ok", database="ok"), 200


def _register_errors(app: Flask) -> None:
    def wants_json() -> bool:
        best = request.accept_mimetypes.best_match(["application/json", "text/html"])
        return request.path.startswith(("/twilio", "/api")) or best == "application/json"

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[Response | str, int, dict[str, str]]:
        code = error.code or 500
        # The API's abort() (flask-smorest, webargs) brings a message, field problems, headers.
        data = getattr(error, "data", None) or {}
        headers = dict(data.get("headers") or {})
        message = data.get("message") or error.description
        if wants_json():
            body: dict[str, object] = {"error": error.name, "message": message}
            if details := data.get("errors") or data.get("messages"):
                body["details"] = details
            return jsonify(body), code, headers
        return f"<h1>{escape(error.name)}</h1><p>{escape(message)}</p>", code, headers

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[Response | str, int]:
        log.error("unhandled error on %s", request.path, exc_info=error)
        if wants_json():
            return jsonify(error="Internal Server Error", message="Something went wrong."), 500
        return "<h1>Something went wrong</h1><p>The error was logged.</p>", 500
