"""Headers on every response: no framing, no sniffing, no referrer, nothing personal cached.

The policy allows only this site's own files: no inline script or style, no other origin, no
frame around any page. Responses are not stored by browsers or proxies unless a view says
otherwise (static files do), since most of them carry someone's words or name.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from service.config import Settings

bp = Blueprint("headers", __name__)

# connect-src: the dashboard's htmx requests go back to this site, and nowhere else. img-src
# data: lets the stylesheet draw its own small icons (a checkbox's tick, a select's arrow), which
# it carries as data: URLs; an image runs no script, and nothing else may come from data:.
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"


@bp.after_app_request
def protect(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Cache-Control", "no-store")
    settings: Settings = current_app.extensions["peerline.settings"]
    if settings.public_url is not None and settings.public_url.startswith("https://"):
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response
