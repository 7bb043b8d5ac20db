"""/api/v1/docs shows the OpenAPI document with Swagger UI, from this site's own files only."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from service.web.headers import POLICY


def test_the_docs_page_loads_only_this_sites_files_under_the_strict_policy(
    client: FlaskClient,
) -> None:
    page = client.get("/api/v1/docs")

    assert page.status_code == 200
    assert page.headers["Content-Security-Policy"] == POLICY
    html = page.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "/static/vendor/swagger-ui-bundle.js" in assets
    assert "/static/api-docs.js" in assets
    assert all(asset.startswith("/") and not asset.startswith("//") for asset in assets), assets
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "an inline script"
    assert "<style" not in html and "style=" not in html
    assert 'data-spec-url="/api/v1/openapi.json"' in html
    for asset in assets:
        with client.get(asset) as served:
            assert served.status_code == 200, asset


def test_the_document_it_shows_lists_the_apis_operations(client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").json

    assert document is not None
    assert "/api/v1/groups" in document["paths"]
    assert "/api/v1/docs" in document["info"]["description"]
