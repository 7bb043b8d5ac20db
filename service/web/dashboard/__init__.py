"""The coordinators' dashboard: server-rendered pages on the same domain functions as the API.

init_app wires sign-in (Flask-Login), CSRF (Flask-WTF) and wording (Flask-Babel) into the app.
CSRF is checked on every POST of every blueprint but the ones named exempt: Twilio's signed
webhooks and the token-authenticated API, which no browser session can drive.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from flask import Blueprint, Flask, render_template, request
from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect

from service.config import Settings
from service.web.dashboard import admin as admin  # registers the admins' pages on views.bp
from service.web.dashboard import campaigns as _campaigns  # noqa: F401  (its routes)
from service.web.dashboard import groups as _groups  # noqa: F401  (adds the Groups pages to bp)
from service.web.dashboard import inbox as inbox  # its routes join the blueprint
from service.web.dashboard import login, views
from service.web.dashboard import meetings as _meetings  # noqa: F401  (its routes join bp)
from service.web.dashboard import people as _people  # noqa: F401  (adds its routes to views.bp)
from service.web.dashboard import sends as sends  # its routes join the blueprint
from service.web.dashboard.translated import translated


def init_app(app: Flask, *, exempt: Iterable[Blueprint]) -> None:
    settings: Settings = app.extensions["peerline.settings"]
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.session_idle_minutes),
        # Checked below, for the blueprints that need it; a token lives as long as its session.
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,
        # Pages are served with Referrer-Policy: no-referrer (see headers.py), so browsers send
        # no Referer to compare; the token and the SameSite cookie are the defence.
        WTF_CSRF_SSL_STRICT=False,
        BABEL_DEFAULT_LOCALE="en",
    )
    Babel(app)
    app.add_template_filter(translated)
    manager = LoginManager(app)
    manager.user_loader(login.load)
    csrf = CSRFProtect(app)
    skipped = {blueprint.name for blueprint in exempt}

    @app.before_request
    def _check_csrf() -> None:
        # A request that matches no route goes on to its 404 or 405, as it would without us.
        if request.url_rule is not None and request.blueprint not in skipped:
            csrf.protect()

    @app.errorhandler(CSRFError)
    def _stale_form(error: CSRFError) -> tuple[str, int]:
        return render_template("dashboard/stale_form.html", reason=error.description), 400

    app.register_blueprint(views.bp)
