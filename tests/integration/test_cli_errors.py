"""What a person at a terminal sees when the database is missing, away or unmigrated: one line
that says what to do, never a traceback; and the answer alone, without log lines."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]


def peerline(*args: str, cwd: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    """Run the real `peerline` command with only the given settings, as a user's shell would."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PEERLINE_", "TWILIO_"))}
    env.update(PYTHONPATH=str(ROOT), PEERLINE_MODE="demo", **settings)
    return subprocess.run(
        [sys.executable, "-c", "from scheduler.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database that exists but has never been upgraded."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    yield request.getfixturevalue("empty_postgres")  # skips when PostgreSQL is not reachable


@pytest.mark.slow
def test_a_command_before_db_upgrade_says_which_command_to_run(
    empty_database_url: str, tmp_path: Path
) -> None:
    before = peerline("groups", "list", cwd=tmp_path, PEERLINE_DATABASE_URL=empty_database_url)

    assert before.returncode == 1
    assert (
        before.stderr == "Error: the database has no tables yet: run `peerline db upgrade` first\n"
    )
    assert before.stdout == ""

    upgrade = peerline("db", "upgrade", cwd=tmp_path, PEERLINE_DATABASE_URL=empty_database_url)
    after = peerline("groups", "list", cwd=tmp_path, PEERLINE_DATABASE_URL=empty_database_url)
    assert (upgrade.returncode, after.returncode) == (0, 0), upgrade.stderr + after.stderr
    assert after.stdout.startswith("CODE")


@pytest.mark.slow
@pytest.mark.parametrize("command", ["serve", "web", "worker"])
def test_a_server_before_db_upgrade_refuses_to_start_saying_which_command_to_run(
    command: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    where = {
        "serve": ["--port", str(free_port())],
        "web": ["--bind", f"127.0.0.1:{free_port()}"],
        "worker": [],
    }[command]

    result = peerline(command, *where, cwd=tmp_path, PEERLINE_DATABASE_URL=url)

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: the database has no tables yet: run `peerline db upgrade` first"
    )
    assert "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.postgres
def test_a_database_that_does_not_exist_is_named_by_its_setting(
    postgres_url: str, tmp_path: Path
) -> None:
    url = make_url(postgres_url).set(database="peerline_no_such_db", password="hunter2")

    result = peerline(
        "groups", "list", cwd=tmp_path, PEERLINE_DATABASE_URL=url.render_as_string(False)
    )

    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: cannot reach the database PEERLINE_DATABASE_URL names (")
    assert 'database "peerline_no_such_db" does not exist' in line
    assert "hunter2" not in line and ":***@" in line


@pytest.mark.slow
def test_a_database_server_that_is_not_there_is_named_by_its_setting(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/peerline"

    for command in (("groups", "list"), ("db", "upgrade")):
        result = peerline(*command, cwd=tmp_path, PEERLINE_DATABASE_URL=url)

        assert result.returncode == 1
        [line] = result.stderr.splitlines()
        assert f"PEERLINE_DATABASE_URL names ({url})" in line
        assert "Connection refused" in line


@pytest.mark.slow
def test_a_database_file_where_no_folder_can_be_made_is_named_by_its_setting(
    tmp_path: Path,
) -> None:
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    url = f"sqlite:///{tmp_path / 'notes.txt' / 'peerline.sqlite3'}"

    result = peerline("groups", "list", cwd=tmp_path, PEERLINE_DATABASE_URL=url)

    assert result.returncode == 2
    assert result.stderr == (
        f"peerline: configuration error: PEERLINE_DATABASE_URL: "
        f"{tmp_path / 'notes.txt'} is a file, not a folder\n"
    )


@pytest.mark.slow
def test_a_command_prints_its_answer_without_log_lines_unless_verbose(tmp_path: Path) -> None:
    quiet = peerline(
        "db", "upgrade", cwd=tmp_path, PEERLINE_DATABASE_URL=f"sqlite:///{tmp_path / 'a.sqlite3'}"
    )
    verbose = peerline(
        "--verbose",
        "db",
        "upgrade",
        cwd=tmp_path,
        PEERLINE_DATABASE_URL=f"sqlite:///{tmp_path / 'b.sqlite3'}",
    )

    assert (quiet.returncode, verbose.returncode) == (0, 0)
    assert quiet.stdout == verbose.stdout == "database is up to date\n"
    assert quiet.stderr == ""
    assert "INFO alembic.runtime.migration: Running upgrade" in verbose.stderr
