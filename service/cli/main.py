"""The `peerline` command: its root, reading .env and settings, with every command group on it."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from dotenv import load_dotenv
from flask.cli import ScriptInfo

from service.cli import (
    accounts,
    campaigns,
    database,
    groups,
    imports,
    inbox,
    meetings,
    participants,
    sending,
    server,
    simulate,
)
from service.config import ConfigError


@click.group(help="Peerline: SMS and voice reminders for peer support groups.")
@click.version_option(package_name="peerline")
@click.pass_context
def cli(ctx: click.Context) -> None:
    if ctx.obj is None:
        from service.app import create_app

        ctx.obj = ScriptInfo(create_app=create_app, set_debug_flag=False)


for command in (
    database.db,
    server.web,
    accounts.coordinators,
    accounts.tokens,
    groups.groups,
    groups.stats,
    participants.participants,
    imports.import_roster,
    meetings.meetings,
    meetings.headcount,
    campaigns.campaigns,
    campaigns.preview,
    sending.send,
    sending.status,
    inbox.inbox,
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
