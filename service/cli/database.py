"""`peerline db`: creating and migrating the database with Alembic."""

from __future__ import annotations

from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from flask.cli import with_appcontext

from service.cli.common import settings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


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


@db.command("upgrade", help="Create or migrate the database to the latest schema.")
@with_appcontext
def db_upgrade() -> None:
    upgrade_database(settings().database_url)
    click.echo("database is up to date")
