"""Alembic's entry: migrates the database named by PEERLINE_DATABASE_URL (or -x url=...)."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context

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


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=Base.metadata,
        render_as_batch=True,
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
