"""The `peerline` command: the service's commands and the three that run the clock."""

from __future__ import annotations

from service.cli import main as service_cli

# Where each is and its line of help; scheduler/commands.py is imported only when one runs.
CLOCK_COMMANDS = {
    "serve": (
        "scheduler.commands:serve",
        "Run the web app and the scheduler in one process (the embedded default).",
    ),
    "worker": (
        "scheduler.commands:worker",
        "Run only the scheduler (planner and dispatcher); start as many as you like.",
    ),
    "demo": (
        "scheduler.commands:demo",
        "Start a demo on a fresh SQLite database with a phone simulator.",
    ),
}
for name, (where, short_help) in CLOCK_COMMANDS.items():
    service_cli.cli.add_lazy(name, where, short_help)


def main() -> None:
    service_cli.main()
