"""The application factory: settings, database, wording and gateway, with every web door on them."""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

from flask import Flask
from prometheus_client import CollectorRegistry

from service import db, logs, metrics
from service.clock import app_clock, utc_now
from service.config import Settings
from service.messages.wording import Wording
from service.sending.gateway import Gateway, gateway_for
from service.web import dashboard, errors, headers, health, phone, sms, timing, voice
from service.web.api import v1
from service.web.journal import Journal

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
        static_folder=str(_web_templates() / "static"),
    )
    logs.configure(settings.log_level, settings.log_format)
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
    app.extensions["peerline.journal"] = Journal(settings.instance_dir / "journal")
    # The web's threads, or a worker's sending threads and its ticks, each hold a connection.
    db.init_app(app, settings.database_url, pool_size=max(8, settings.send_threads + 4))

    # This process's counters, at /metrics; the database's gauges apart, at /metrics/outbox, so
    # that one scrape job reads them once (a worker serves both on its own port).
    registry = app.extensions["peerline.registry"] = CollectorRegistry()
    app.extensions["peerline.metrics"] = metrics.ProcessMetrics(registry)
    metrics.count_settled(db.sessions(app), lambda: app.extensions["peerline.metrics"].settled)
    outbox = app.extensions["peerline.outbox_registry"] = CollectorRegistry()
    outbox.register(metrics.OutboxCollector(db.sessions(app), lambda: app_clock(app)()))

    timing.init_app(app)
    app.register_blueprint(sms.bp)
    app.register_blueprint(voice.bp)
    api_blueprints = v1.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(errors.bp)
    app.register_blueprint(headers.bp)
    if settings.mode == "demo":
        app.register_blueprint(phone.bp)
    # Signed by Twilio, or by a bearer token: no browser session drives these, so no CSRF. The
    # demo phone is a stand-in for a phone, open to anyone who can reach the demo.
    dashboard.init_app(app, exempt=[sms.bp, voice.bp, phone.bp, *api_blueprints])
    if settings.uses_twilio and settings.public_url is None:
        log.warning(
            "PEERLINE_PUBLIC_URL is not set: no status callbacks, and signatures are checked "
            "against the URL each request arrived at"
        )
    return app


def _web_templates() -> Path:
    return Path(str(resources.files("templates") / "web"))
