"""The REST API's reference in a real browser: Swagger UI renders every operation of the
OpenAPI document, from this site's own files, with no CSP refusal or script error."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Flask
from playwright.sync_api import Page, expect


def test_the_api_docs_render_the_operations_from_this_site_alone(
    server: tuple[Flask, str], new_page: Callable[[], Page]
) -> None:
    _app, base = server
    page = new_page()
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))

    page.goto(f"{base}/api/v1/docs")

    expect(page.get_by_role("heading", name="Peerline")).to_be_visible()
    operations = page.locator(".opblock-summary-path")
    expect(operations.first).to_be_visible()
    paths = set(operations.all_inner_texts())
    assert {"/api/v1/groups", "/api/v1/inbox"} <= {p.replace("\u200b", "") for p in paths}
    page.locator(".opblock-summary", has_text="/api/v1/groups").first.click()
    expect(page.get_by_role("button", name="Try it out").first).to_be_visible()
    assert {urlsplit(url).netloc for url in asked} == {urlsplit(base).netloc}, asked
