"""The webhook benchmark's two baselines, served by gunicorn exactly as `peerline web` is.

    gunicorn --config python:service.web.gunicorn_conf 'bench.floor_apps:bare()'
    BENCH_FLOOR_DATABASE_URL=postgresql+psycopg://... \\
        gunicorn --config python:service.web.gunicorn_conf 'bench.floor_apps:floor()'

- bare: POST /twilio/sms reads the form (as any webhook must) and answers a small TwiML
  string: Flask and gunicorn, nothing else.
- floor (the durable floor): the same, after inserting one row per request (the MessageSid
  and the Body) into `bench_floor` and committing, through a SQLAlchemy session on an engine
  made as the app makes its own (`service.db.make_engine`, the app's pool size), in the same
  database. Nothing a webhook that keeps what it is told can do with less.

Neither checks the signature: that is part of what Peerline does on top. Both carry a do-nothing
journal, because the shared gunicorn settings replay the app's journal as each worker starts.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, Response, request
from sqlalchemy import BigInteger, Column, DateTime, MetaData, Table, Text, func, insert
from sqlalchemy.orm import sessionmaker

from service.db import make_engine

TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Thanks, got it.</Message></Response>'
)
# The pool the app gives itself: max(8, PEERLINE_SEND_THREADS (8) + 4), see service.app.
POOL_SIZE = 12

metadata = MetaData()
bench_floor = Table(
    "bench_floor",
    metadata,
    Column("id", BigInteger, primary_key=True),  # bigserial: the benchmark creates the table
    Column("sid", Text, nullable=False, unique=True),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


class _NoJournal:
    """What service.web.gunicorn_conf's post_worker_init asks of an app: nothing to replay."""

    def replay_leftovers(self, app: Flask) -> None:
        return None


def _app(name: str) -> Flask:
    app = Flask(name)
    app.extensions["peerline.journal"] = _NoJournal()

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok", mimetype="text/plain")

    return app


def bare() -> Flask:
    app = _app("bench_bare")

    @app.post("/twilio/sms")
    def sms() -> Response:
        request.form.get("MessageSid")
        return Response(TWIML, mimetype="application/xml")

    return app


def floor() -> Flask:
    app = _app("bench_floor")
    engine = make_engine(os.environ["BENCH_FLOOR_DATABASE_URL"], pool_size=POOL_SIZE)
    sessions = sessionmaker(engine, expire_on_commit=False)

    @app.post("/twilio/sms")
    def sms() -> Response:
        values: dict[str, Any] = {
            "sid": request.form["MessageSid"],
            "body": request.form.get("Body", ""),
            "created_at": func.now(),
        }
        with sessions() as session:
            session.execute(insert(bench_floor).values(values))
            session.commit()
        return Response(TWIML, mimetype="application/xml")

    return app
