"""`peerline --help` lists every command without loading the application; each command loads
when it runs, and the list's lines are the commands' own."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from scheduler.cli import CLOCK_COMMANDS
from service.cli.main import COMMANDS, cli

# What loading the application would import; help needs none of it.
HEAVY = ("flask", "sqlalchemy", "twilio", "service.app", "service.models", "scheduler.commands")
LISTED = {**COMMANDS, **CLOCK_COMMANDS}


def _loaded_after(*words: str) -> tuple[str, list[str]]:
    """What `peerline WORDS` printed, and which of HEAVY it imported, in a fresh interpreter."""
    script = (
        "import sys\n"
        f"sys.argv = ['peerline', *{list(words)!r}]\n"
        "from scheduler.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        f"heavy = sorted(m for m in sys.modules if m.startswith({HEAVY!r}))\n"
        "print('HEAVY', ' '.join(heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    printed, _, heavy = done.stdout.rpartition("HEAVY")
    return printed, heavy.split()


def test_peerline_help_lists_every_command_and_loads_none_of_the_application() -> None:
    printed, heavy = _loaded_after("--help")

    assert heavy == []
    listed = [line.split()[0] for line in printed.split("Commands:")[1].splitlines() if line]
    assert listed == sorted(LISTED)
    assert "Support groups." in printed


@pytest.mark.slow
def test_a_commands_own_help_loads_that_command_only() -> None:
    printed, heavy = _loaded_after("groups", "--help")

    assert "update" in printed and "quiet-hours" in printed
    assert "scheduler.commands" not in heavy


@pytest.mark.parametrize("name", sorted(LISTED))
def test_each_listed_line_is_the_commands_own_help(name: str) -> None:
    ctx = click.Context(cli)

    command = cli.get_command(ctx, name)

    assert command is not None
    assert command.get_short_help_str(10_000) == LISTED[name][1]
