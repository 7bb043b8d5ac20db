#!/usr/bin/env python3
"""Peerline's front door: `python3 dev.py demo` runs the demo, `python3 dev.py test` the tests.

Each command first makes (or refreshes) a virtual environment in .venv with the pinned
dependencies (constraints.txt for the service, constraints-dev.txt for the tools and tests), so
a fresh machine needs nothing but Python 3.11+.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".peerline-installed"
PINS = ("constraints.txt", "constraints-dev.txt")  # generated from pyproject.toml (README)
COMMANDS = {"demo": "peerline", "test": "pytest", "peerline": "peerline"}
# The tests run in parallel, one pytest-xdist process per CPU (each with its own databases),
# handing out the slow tests as processes come free; `-n 0` or `-p no:xdist` runs them in one.
PARALLEL = ("-n", "auto", "--dist", "worksteal")


def python() -> Path:
    return BIN / ("python.exe" if os.name == "nt" else "python")


def fingerprint() -> str:
    digest = hashlib.sha256()
    for name in ("pyproject.toml", *PINS):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_environment() -> None:
    """Create .venv and install Peerline with its pinned dependencies, only when they changed."""
    if sys.version_info < (3, 11):
        sys.exit(f"Peerline needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    if not python().exists():
        print("dev.py: creating a virtual environment in .venv ...", flush=True)
        try:
            venv.create(VENV, with_pip=True)
        except (OSError, subprocess.CalledProcessError) as error:
            sys.exit(
                f"dev.py: could not create .venv ({error}); on Debian: apt install python3-venv"
            )
    if STAMP.exists() and STAMP.read_text() == fingerprint():
        return
    print("dev.py: installing Peerline and its pinned dependencies ...", flush=True)
    subprocess.run(
        [
            str(python()),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *(arg for name in PINS for arg in ("-c", str(ROOT / name))),
            "-e",
            f"{ROOT}[dev]",
        ],
        check=True,
    )
    STAMP.write_text(fingerprint())


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(
            "usage: python3 dev.py demo [options]   run the demo (SQLite, console texts, a phone "
            "simulator)\n"
            "       python3 dev.py test [pytest options]   run the whole test suite, in parallel\n"
            "       python3 dev.py peerline ...   any other peerline command"
        )
    ensure_environment()
    command, args = sys.argv[1], sys.argv[2:]
    program = str(BIN / COMMANDS[command])
    if command == "test" and not any(
        arg == "no:xdist" or arg.startswith(("-n", "--numprocesses")) for arg in args
    ):
        args = [*PARALLEL, *args]
    if command == "test":
        # Each of the suite's processes imports some 375 modules: with bytecode kept (in .venv,
        # not beside the sources), only the first compiles them, about 5 s of CPU saved in each.
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ.setdefault("PYTHONPYCACHEPREFIX", str(VENV / "pycache"))
    argv = [program, "demo", *args] if command == "demo" else [program, *args]
    os.chdir(ROOT)
    if os.name == "nt":
        sys.exit(subprocess.run(argv, check=False).returncode)
    os.execv(program, argv)


if __name__ == "__main__":
    main()
