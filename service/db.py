"""Engines and sessions; the caller of a domain function owns its transaction."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

# A database that is away is known to be away in seconds, not after the kernel's two minutes,
# and no statement of ours runs longer than this; a stuck one is stopped by the server.
CONNECT_TIMEOUT = 3
STATEMENT_TIMEOUT_MS = 30_000
POOL_TIMEOUT = 10  # seconds to wait for a free connection before giving up
# A pooled connection idle longer than this is asked whether it still works before it is lent:
# a database restarted meanwhile would otherwise fail its next request. One in use moments ago
# is lent as it is: under a burst of replies a ping per request was a sixth of a reply's time.
PING_AFTER_IDLE = 1.0

# What a database that is away raises (refusing, silent past the timeouts, out of connections);
# anything else is a fault of ours.
DATABASE_AWAY = (OperationalError, InterfaceError, PoolTimeoutError)


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An engine for url, with SQLite tuned for a web app and a scheduler sharing one file.

    pool_size: connections kept open (PostgreSQL), enough for every sending thread at once.
    """
    parsed = make_url(url)
    # A statement's parameters hold phone numbers and words; errors must not quote them.
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(
            url,
            pool_size=pool_size,
            max_overflow=10,
            pool_timeout=POOL_TIMEOUT,
            hide_parameters=True,
            connect_args={
                "connect_timeout": CONNECT_TIMEOUT,
                "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
            },
        )
        _ping_when_idle(engine)
        return engine
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.close()

    return engine


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's pessimistic disconnect handling, for connections idle a while only.

    A failed ping raises DisconnectionError, on which the pool drops the connection and lends a
    new one (SQLAlchemy's own recipe for a ping on checkout); pool_pre_ping would ping every
    time, one more round trip per request.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _lent(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("checked_in")  # absent: a connection made just now
        if since is None or time.monotonic() - since < PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise DisconnectionError("a pooled connection no longer answers") from error


def init_app(app: Flask, url: str, *, pool_size: int = 5) -> None:
    engine = make_engine(url, pool_size=pool_size)
    app.extensions["peerline.sessions"] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def sessions(app: Flask | None = None) -> sessionmaker[Session]:
    """The app's session factory, for jobs and commands that manage their own sessions."""
    factory: sessionmaker[Session] = (app or current_app).extensions["peerline.sessions"]
    return factory


def get_session() -> Session:
    """The session of the current request or command, opened on first use."""
    if "db_session" not in g:
        g.db_session = sessions()()
    session: Session = g.db_session
    return session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
