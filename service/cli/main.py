"""The `peerline` command: its root, reading .env and settings, with every command group on it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from dotenv import load_dotenv
from flask.cli import ScriptInfo
from sqlalchemy.exc import SQLAlchemyError

from service import logs
from service.cli import (
    accounts,
    campaigns,
    database,
    groups,
    imports,
    inbox,
    meetings,
    participants,
    retention,
    sending,
    server,
    simulate,
)
from service.config import ConfigError

# Commands that run for a while and whose log is their output; every other command is a person
# at a terminal reading an answer, and shows log lines only with --verbose.
LOGGING_COMMANDS = frozenset({"serve", "web", "worker", "demo"})


class PeerlineGroup(click.Group):
    """The root command: a database that cannot serve a command becomes one line saying why."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SQLAlchemyError as error:
            problem = _database_problem(ctx)
            if problem is None:
                raise
            raise click.ClickException(problem) from error


def _database_problem(ctx: click.Context) -> str | None:
    """Why the command's database failed it, if the database is unreachable or not migrated."""
    info = ctx.find_object(ScriptInfo)
    try:
        app = info.load_app() if info is not None else None
    except Exception:  # the database's error is the one to report
        return None
    if app is None:
        return None
    url = app.extensions["peerline.settings"].database_url
    return database.unreachable(url) or database.schema_behind(url)


@click.group(cls=PeerlineGroup, help="Peerline: SMS and voice reminders for peer support groups.")
@click.version_option(package_name="peerline")
@click.option(
    "--verbose", "-v", is_flag=True, help="Show log lines (what Peerline did) with the output."
)
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    if ctx.obj is None:
        from service.app import create_app

        ctx.obj = ScriptInfo(create_app=create_app, set_debug_flag=False)
    if not verbose and ctx.invoked_subcommand not in LOGGING_COMMANDS:
        ctx.with_resource(logs.silenced())


for command in (
    database.db,
    server.web,
    accounts.coordinators,
    accounts.tokens,
    groups.groups,
    groups.stats,
    groups.quiet,
    participants.participants,
    imports.import_roster,
    meetings.meetings,
    meetings.headcount,
    meetings.attendance,
    campaigns.campaigns,
    campaigns.preview,
    sending.send,
    sending.status,
    inbox.inbox,
    retention.retention,
    simulate.simulate,
    simulate.simulate_call,
):
    cli.add_command(command)


def main() -> None:
    """Run the command line, turning configuration errors into one clear line."""
    load_dotenv(Path.cwd() / ".env")
    try:
        cli.main(standalone_mode=True)
    except ConfigError as error:
        click.echo(f"peerline: configuration error: {error}", err=True)
        sys.exit(2)
