"""Alembic's entry: migrates the database named by PEERLINE_DATABASE_URL (or -x url=...)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection

from service.config import Settings
from service.db import make_engine
from service.models import Base, UTCDateTime

config = context.config


def database_url() -> str:
    """-x url=..., else the URL `peerline db upgrade` passed in, else PEERLINE_DATABASE_URL."""
    explicit = context.get_x_argument(as_dictionary=True).get("url")
    if explicit:
        return explicit
    if config.file_config.has_section(config.config_ini_section):
        passed = config.get_main_option("sqlalchemy.url")
        if passed:
            return passed
    return Settings.from_env(mode="demo").database_url


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(), target_metadata=Base.metadata, render_as_batch=True, literal_binds=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(database_url())
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def render_item(type_: str, obj: object, autogen_context: Any) -> str | Literal[False]:
    # Migrations spell the zone-aware column plainly, so they never import the models.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
        compare_type=True,
        render_item=render_item,
    )
    with _sqlite_foreign_keys_off(connection), context.begin_transaction():
        context.run_migrations()


@contextlib.contextmanager
def _sqlite_foreign_keys_off(connection: Connection) -> Iterator[None]:
    """Let SQLite batch mode copy a table without losing the rows that refer to it.

    Batch mode rebuilds a table (copy, drop, rename). With foreign keys enforced, dropping the
    old copy deletes every row pointing at it (ON DELETE CASCADE) or fails: alembic's batch
    documentation requires enforcement off. The pragma is ignored inside a transaction, so it
    is set before the migrations begin, and every reference is checked after they end.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    enforced = connection.exec_driver_sql("PRAGMA foreign_keys").scalar()
    connection.exec_driver_sql("PRAGMA foreign_keys = OFF")
    if connection.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError("SQLite's foreign keys could not be turned off; nothing was changed")
    try:
        yield
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
        if broken is not None:
            raise RuntimeError(
                f"after migrating, a row refers to one that is gone: {tuple(broken)}"
            )
    finally:
        if enforced:
            connection.exec_driver_sql("PRAGMA foreign_keys = ON")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
