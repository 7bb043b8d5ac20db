"""`peerline db`: creating and migrating the database with Alembic, and saying what is wrong."""

from __future__ import annotations

from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask.cli import with_appcontext
from sqlalchemy.engine import make_url

from service.cli.common import settings
from service.db import DATABASE_AWAY, make_engine

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
UPGRADE_HINT = "run `peerline db upgrade` first"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@click.group(help="The database.")
def db() -> None:
    pass


def upgrade_database(url: str) -> None:
    command.upgrade(alembic_config(url), "head")


def unreachable(url: str) -> str | None:
    """Why the database at url cannot be reached, in one line naming the setting; None if it can."""
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect():
            return None
    except DATABASE_AWAY as error:
        reason = " ".join(str(getattr(error, "orig", None) or error).split())
        shown = make_url(url).render_as_string(hide_password=True)
        return f"cannot reach the database PEERLINE_DATABASE_URL names ({shown}): {reason}"
    finally:
        engine.dispose()


def schema_behind(url: str) -> str | None:
    """What to do when the database's tables are missing or older than this code; else None."""
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except DATABASE_AWAY:
        return None  # away is not behind: the caller decides what away means
    finally:
        engine.dispose()
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    if current is None:
        return f"the database has no tables yet: {UPGRADE_HINT}"
    if current != head:
        return f"the database does not match this version of Peerline: {UPGRADE_HINT}"
    return None


@db.command("upgrade", help="Create or migrate the database to the latest schema.")
@with_appcontext
def db_upgrade() -> None:
    upgrade_database(settings().database_url)
    click.echo("database is up to date")
