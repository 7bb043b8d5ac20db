"""Gunicorn's hooks for `peerline web`: each worker, as it starts, replays what the journal
holds (texts a killed process kept while the database was away)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from service.web.journal import Journal


def post_worker_init(worker: Any) -> None:
    app: Flask = worker.wsgi
    journal: Journal = app.extensions["peerline.journal"]
    journal.replay_leftovers(app)
