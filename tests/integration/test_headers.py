"""What every response says about itself: no framing, no sniffing, nothing personal cached, and
/metrics only for a scraper with its token."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from service.config import Settings
from tests.support import METRICS_TOKEN, make_group, make_participant, make_settings, text_in

SAM = "+12025550142"

EVERY_RESPONSE = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def assert_protected(headers: dict[str, str]) -> None:
    for name, value in EVERY_RESPONSE.items():
        assert headers.get(name) == value, name
    policy = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "default-src 'none'" in policy
    assert "'unsafe-inline'" not in policy


def test_a_reply_to_a_text_is_protected_and_never_stored(
    client: FlaskClient, session: Session
) -> None:
    make_participant(session, SAM, make_group(session, "CIRCLE"))

    response = text_in(client, SAM, "HELP")

    assert response.status_code == 200
    assert_protected(dict(response.headers))
    assert response.headers["Cache-Control"] == "no-store"
    # The public URL is https, so browsers are told to stay on https.
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/healthz", 200),
        ("GET", "/api/v1/groups", 401),
        ("GET", "/api/v1/openapi.json", 200),
        ("GET", "/nowhere", 404),
        ("POST", "/twilio/sms", 403),
    ],
)
def test_every_kind_of_answer_carries_the_headers(
    client: FlaskClient, method: str, path: str, status: int
) -> None:
    response = client.open(path, method=method)

    assert response.status_code == status
    assert_protected(dict(response.headers))
    assert response.headers["Cache-Control"] == "no-store"


def test_a_wrong_method_says_which_methods_are_allowed(client: FlaskClient) -> None:
    response = client.get("/twilio/sms")

    assert response.status_code == 405
    assert set(re.split(r",\s*", response.headers["Allow"])) >= {"POST"}
    assert response.json["error"] == "Method Not Allowed"  # type: ignore[index]


def test_no_strict_transport_security_over_plain_http(
    database_url: str, app_factory: Callable[[Settings], Flask]
) -> None:
    settings = make_settings(database_url, PEERLINE_PUBLIC_URL="http://peerline.example.org")
    client = app_factory(settings).test_client()

    response = client.get("/healthz")

    assert "Strict-Transport-Security" not in response.headers
    assert_protected(dict(response.headers))


@pytest.mark.parametrize(
    ("path", "shown"),
    [("/metrics", "peerline_outbox_settled"), ("/metrics/outbox", "peerline_outbox_due")],
)
def test_metrics_answer_only_the_scraper_with_its_token(
    client: FlaskClient, path: str, shown: str
) -> None:
    refused = client.get(path)
    wrong = client.get(path, headers={"Authorization": "Bearer not-the-token-at-all"})
    scraped = client.get(path, headers={"Authorization": f"Bearer {METRICS_TOKEN}"})

    assert refused.status_code == wrong.status_code == 401
    assert refused.headers["WWW-Authenticate"].lower().startswith("bearer")
    assert "peerline_outbox" not in refused.text + wrong.text
    assert scraped.status_code == 200
    assert shown in scraped.text


def test_without_a_token_the_web_port_serves_no_metrics(
    database_url: str, app_factory: Callable[[Settings], Flask]
) -> None:
    settings = dataclasses.replace(make_settings(database_url), metrics_token=None)
    client = app_factory(settings).test_client()

    for path in ("/metrics", "/metrics/outbox"):
        response = client.get(path, headers={"Authorization": f"Bearer {METRICS_TOKEN}"})

        assert response.status_code == 404
        assert "peerline_outbox" not in response.text


def test_a_short_metrics_token_is_refused_at_start_up() -> None:
    with pytest.raises(Exception, match="PEERLINE_METRICS_TOKEN"):
        make_settings("sqlite://", PEERLINE_METRICS_TOKEN="short")


def test_the_demo_phone_runs_under_the_policy(
    database_url: str, app_factory: Callable[[Settings], Flask]
) -> None:
    settings = dataclasses.replace(make_settings(database_url), mode="demo")
    client = app_factory(settings).test_client()

    page = client.get("/demo/phone")

    assert page.status_code == 200
    assert_protected(dict(page.headers))
    html = page.text
    # Nothing the policy would block: no inline script, style or handler.
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+=", html)
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        with client.get(asset) as served:  # a file response: closed when read
            assert served.status_code == 200, asset
