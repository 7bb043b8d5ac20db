"""The REST API's reference for people: Swagger UI on /api/v1/docs, from vendored files.

flask-smorest's own Swagger UI page loads its files from a CDN and starts them with an inline
script, both of which the site's CSP refuses; this page serves the same UI from this site's
static files and starts it from a static script.
"""

from __future__ import annotations

from flask import Blueprint, render_template, url_for

bp = Blueprint("api_docs_page", __name__)


@bp.get("/api/v1/docs")
def docs() -> str:
    return render_template("api_docs.html", spec_url=url_for("api-docs.openapi_json"))
