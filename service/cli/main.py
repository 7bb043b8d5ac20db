"""The `peerline` command: its root, reading .env and settings, with every command group on it."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import click
from dotenv import load_dotenv

# Commands that run for a while and whose log is their output; every other command is a person
# at a terminal reading an answer, and shows log lines only with --verbose.
LOGGING_COMMANDS = frozenset({"serve", "web", "worker", "demo"})

# Every command: where it is and its line of help. A command's module is imported only when it
# runs, so `peerline --help` lists them all without loading the application (a test holds each
# line equal to the command's own).
COMMANDS: dict[str, tuple[str, str]] = {
    "attendance": (
        "service.cli.meetings:attendance",
        "Who answered for each of the group's past meetings.",
    ),
    "campaigns": ("service.cli.campaigns:campaigns", "Reminders, encouragement and broadcasts."),
    "coordinators": (
        "service.cli.accounts:coordinators",
        "Coordinators: the people who run groups.",
    ),
    "db": ("service.cli.database:db", "The database."),
    "groups": ("service.cli.groups:groups", "Support groups."),
    "headcount": (
        "service.cli.meetings:headcount",
        "Who said they are coming to each upcoming meeting.",
    ),
    "import": (
        "service.cli.imports:import_roster",
        "Add the participants in a CSV file (columns: phone, and optionally name, language, "
        "time zone, channel) to a group.",
    ),
    "inbox": (
        "service.cli.inbox:inbox",
        "What people wrote that needs a human, urgent first, then what may ask to stop; "
        "`read ID`, `reply ID TEXT`, `handled ID`.",
    ),
    "meetings": ("service.cli.meetings:meetings", "A group's recurring meetings."),
    "participants": (
        "service.cli.participants:participants",
        "Participants and their memberships.",
    ),
    "preview": (
        "service.cli.campaigns:preview",
        "Show exactly what a group's campaigns will send, and when, without sending.",
    ),
    "quiet": (
        "service.cli.groups:quiet",
        "Members who have neither answered a meeting nor texted for some weeks.",
    ),
    "retention": (
        "service.cli.retention:retention",
        "The words of texts are kept PEERLINE_RETENTION_DAYS days, then blanked.",
    ),
    "send": ("service.cli.sending:send", "Text every active member of a group."),
    "simulate": (
        "service.cli.simulate:simulate",
        "Text a running Peerline as a participant (demo), signed as Twilio signs.",
    ),
    "simulate-call": (
        "service.cli.simulate:simulate_call",
        "Be a participant on the phone with a running Peerline (demo): call its number, or "
        "answer a reminder call the console printed, and press keys.",
    ),
    "stats": (
        "service.cli.groups:stats",
        "What a group's texts and calls came to over the last days.",
    ),
    "status": (
        "service.cli.sending:status",
        "What the outbox holds: by state and kind, what is due, what is stuck.",
    ),
    "tokens": (
        "service.cli.accounts:tokens",
        "API tokens: how coordinators' programs reach the REST API.",
    ),
    "web": (
        "service.cli.server:web",
        "Serve the web app with gunicorn (no scheduler: run `peerline worker` beside it).",
    ),
}


class PeerlineGroup(click.Group):
    """The root command. Its commands load when they run; a database that cannot serve a
    command becomes one line saying why."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, tuple[str, str]] = {}

    def add_lazy(self, name: str, where: str, short_help: str) -> None:
        """A command at where ("module:attribute"), imported only when it is used."""
        self.lazy[name] = (where, short_help)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(self.lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module, _, attribute = self.lazy[cmd_name][0].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The list of commands, from each one's line of help, without loading any of them."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in self.commands:
                words = self.commands[name].get_short_help_str(limit)
            else:
                words = click.Command(name, help=self.lazy[name][1]).get_short_help_str(limit)
            rows.append((name, words))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            return super().invoke(ctx)
        except SQLAlchemyError as error:
            problem = _database_problem(ctx)
            if problem is None:
                raise
            raise click.ClickException(problem) from error


def _database_problem(ctx: click.Context) -> str | None:
    """Why the command's database failed it, if the database is unreachable or not migrated."""
    from flask.cli import ScriptInfo

    from service.cli import database

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
    from service import logs

    if ctx.obj is None:
        from flask.cli import ScriptInfo

        from service.app import create_app

        ctx.obj = ScriptInfo(create_app=create_app, set_debug_flag=False)
    if not verbose and ctx.invoked_subcommand not in LOGGING_COMMANDS:
        ctx.with_resource(logs.silenced())


for name, (where, short_help) in COMMANDS.items():
    cli.add_lazy(name, where, short_help)


def main() -> None:
    """Run the command line, turning configuration errors into one clear line."""
    load_dotenv(Path.cwd() / ".env")
    try:
        cli.main(standalone_mode=True)
    except Exception as error:
        from service.config import ConfigError  # loaded already if the command read settings

        if not isinstance(error, ConfigError):
            raise
        click.echo(f"peerline: configuration error: {error}", err=True)
        sys.exit(2)
