"""A real Chromium (Debian's) driven by Playwright, against the app served on a free port.

Without /usr/bin/chromium these tests skip, except under CI=true, where they fail: a browser
test that did not run must not look like one that passed.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Response,
    expect,
    sync_playwright,
)
from werkzeug.serving import make_server

from service.config import Settings
from tests.conftest import IN_CI
from tests.dashboard import PASSWORD
from tests.support import make_settings

CHROMIUM = Path(os.environ.get("PEERLINE_TEST_CHROMIUM", "/usr/bin/chromium"))
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
# Screenshots land here, one per page and width; the folder is ignored by git.
ARTEFACTS = Path(
    os.environ.get(
        "PEERLINE_TEST_ARTEFACTS", Path(__file__).resolve().parents[2] / "test-artefacts"
    )
)
WIDTHS = (1280, 375)
# What Chromium logs for a page that answers 422 (a refused form, shown again with its messages).
REFUSED_FORM = "Failed to load resource: the server responded with a status of 422"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)  # a journey in a real browser takes seconds


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


@contextmanager
def serving(build: Callable[[str], Flask]) -> Iterator[tuple[Flask, str]]:
    """The app build makes for a base URL, served there by a real HTTP server in a thread."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    base = f"http://127.0.0.1:{port}"
    app = build(base)
    served = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=served.serve_forever, name="peerline-test-web", daemon=True)
    thread.start()
    try:
        yield app, base
    finally:
        served.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def server(
    database_url: str, app_factory: Callable[[Settings], Flask]
) -> Iterator[tuple[Flask, str]]:
    """The app, with the test's clock and gateway, served on a free port; it and its base URL."""
    with serving(
        lambda base: app_factory(make_settings(database_url, PEERLINE_PUBLIC_URL=base))
    ) as served:
        yield served


def sign_in(page: Page, base: str, email: str, password: str = PASSWORD) -> None:
    """Sign in through the sign-in page, as a coordinator would, and land on Today."""
    page.goto(f"{base}/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Today", level=1)).to_be_visible()


def check_page(page: Page, name: str, request: pytest.FixtureRequest) -> None:
    """At each width: a screenshot, and no serious or critical accessibility violation."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    case = request.node.name.replace("[", "-").replace("]", "")
    size = page.viewport_size or {"width": 1280, "height": 800}
    try:
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=ARTEFACTS / f"{case}-{name}-{width}.png", full_page=True)
            if not page.evaluate("typeof window.axe !== 'undefined'"):
                page.evaluate(AXE.read_text())
            result = page.evaluate(
                """async () => {
                  const r = await axe.run(document, {resultTypes: ['violations']});
                  return {checked: r.passes.length + r.violations.length,
                          bad: r.violations
                            .filter(v => v.impact === 'serious' || v.impact === 'critical')
                            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                                        nodes: v.nodes.map(n => n.target.join(' '))}))};
                }"""
            )
            assert result["checked"] > 0, "axe-core checked nothing"
            assert result["bad"] == [], f"{name} at {width} px: " + json.dumps(result["bad"])
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= width, f"{name} at {width} px scrolls sideways ({wide} px wide)"
    finally:
        page.set_viewport_size(size)


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[[], Page]]:
    """Opens a page in a browser context of its own (its own cookies: another computer).

    Afterwards, no page may have logged an error: a CSP refusal (an inline script or style), a
    script that failed, a resource that did not load. One error is expected and allowed: the
    browser logs a page that answers 422, and a refused form comes back so, with its messages.
    """
    contexts = []
    problems: list[str] = []
    refused: set[str] = set()  # the URLs of pages that answered 422

    def note_response(response: Response) -> None:
        if response.status == 422 and response.request.resource_type == "document":
            refused.add(response.url)

    def note_console(message: ConsoleMessage) -> None:
        where = message.location.get("url", "")
        if message.type != "error":
            return
        if where in refused and message.text.startswith(REFUSED_FORM):
            return
        problems.append(f"{message.text} ({where})")

    def open_page() -> Page:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.on("response", note_response)
        page.on("console", note_console)
        page.on("pageerror", lambda error: problems.append(str(error)))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert problems == []
