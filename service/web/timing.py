"""Every web request counted and timed for /metrics, by method, route rule and status."""

from __future__ import annotations

import time

from flask import Flask, Response, current_app, g, request

from service.metrics import ProcessMetrics

UNMATCHED = "(no route)"  # a 404 or a method no route takes: the path itself is never a label


def init_app(app: Flask) -> None:
    @app.before_request
    def _started() -> None:
        g.peerline_started = time.perf_counter()

    @app.after_request
    def _answered(response: Response) -> Response:
        started = g.pop("peerline_started", None)
        rule = request.url_rule
        counters: ProcessMetrics = current_app.extensions["peerline.metrics"]  # of the moment
        labels = (request.method, rule.rule if rule else UNMATCHED, str(response.status_code))
        counters.requests.labels(*labels).inc()
        if started is not None:
            counters.request_seconds.labels(*labels).observe(time.perf_counter() - started)
        return response
