"""Gunicorn's settings for `peerline web`, from the environment as container platforms set it.

`PORT` (listen on 0.0.0.0 there; otherwise 127.0.0.1:8000), `WEB_CONCURRENCY` (worker
processes, 4 by default), `WEB_THREADS` (threads in each, 1 by default: gunicorn's sync
worker; more make gthread workers) and
`PEERLINE_LOG_FORMAT` (json: gunicorn's own lines as JSON too); `peerline web
--bind/--workers/--threads` and `GUNICORN_CMD_ARGS` override them. Each worker, as it starts,
replays what the journal holds (texts a killed process kept while the database was away).
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from service.conversation.keywords import read_message
from service.web.journal import Journal

_port = os.environ.get("PORT", "").strip()
bind = [f"0.0.0.0:{_port}"] if _port else ["127.0.0.1:8000"]
# Measured (bench/README.md, "Webhooks", a quiet 2-core machine): 4 single-threaded processes
# answered 340 signed texts a second with p99 26 ms at 200 a second and a burst of 5,000 C
# within 45 ms; 2 processes of 4 threads answered 367 a second but p99 169 ms at 200 a second
# (a text is mostly CPU, and threads queue for one GIL); 2 single-threaded ones, 290.
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
threads = int(os.environ.get("WEB_THREADS", "1"))
# Twilio gives up on a webhook after 15 s; nothing we serve should take half a minute.
timeout = 30
# A stop (SIGTERM) lets requests in flight finish: well within compose's default 10 s.
graceful_timeout = 8
# Longer than a load balancer's idle timeout is not needed behind one; short enough in front.
keepalive = 5
accesslog = "-"
if os.environ.get("PEERLINE_LOG_FORMAT", "").strip().lower() == "json":
    # Gunicorn's own lines (its start, its workers, the access log) as JSON too, masked alike.
    logconfig_dict = {
        "root": {"level": "INFO", "handlers": []},  # the app adds its own handler to the root
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["error"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
        },
        "handlers": {
            "error": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            },
            "access": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
            },
        },
        "formatters": {"json": {"()": "service.logs.MaskingJsonFormatter"}},
    }
# The workers' heartbeat files: in memory, as a container's disk may be slow or read-only.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108


def post_worker_init(worker: Any) -> None:
    app: Flask = worker.wsgi
    # The keyword engine's patterns are compiled once per process: here, not on the first text.
    read_message("please stop texting me")
    journal: Journal = app.extensions["peerline.journal"]
    journal.replay_leftovers(app)
