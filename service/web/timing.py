"""Every web request counted and timed for /metrics, by method, route rule and status."""

from __future__ import annotations

import time

from flask import Flask, Response, g, request

from service.metrics import ProcessMetrics

UNMATCHED = "(no route)"  # a 404 or a method no route takes: the path itself is never a label


def init_app(app: Flask) -> None:
    counters: ProcessMetrics = app.extensions["peerline.metrics"]

    @app.before_request
    def _started() -> None:
        g.peerline_started = time.perf_counter()

    @app.after_request
    def _answered(response: Response) -> Response:
        started = g.pop("peerline_started", None)
        rule = request.url_rule
        labels = (request.method, rule.rule if rule else UNMATCHED, str(response.status_code))
        counters.requests.labels(*labels).inc()
        if started is not None:
            counters.request_seconds.labels(*labels).observe(time.perf_counter() - started)
        return response
