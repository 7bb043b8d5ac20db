"""Fixtures: an app on SQLite and on PostgreSQL, a recording gateway, a movable clock."""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from service.app import create_app
from service.cli.database import upgrade_database
from service.config import Settings
from service.db import sessions
from service.metrics import ProcessMetrics
from service.models import Base
from service.people import accounts
from service.web.journal import Journal
from tests.support import Clock, RecordingGateway, make_settings
from tests.twilio_fake import twilio_server as twilio_server  # a fixture for every test
from tests.workers import drop_connections

POSTGRES_ADMIN_URL = os.environ.get(
    "PEERLINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
# Under pytest-xdist each process ("gw0", "gw1", ...) has databases of its own; the process id
# keeps two runs at once (two checkouts, two terminals) apart as well.
RUN = f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"


# -- the order of the tests ---------------------------------------------------------------------

# The tests that take longest, longest first (seconds on the idle 2-core machine, both
# processes busy): the fuzzing of the API (30-60), the browser's week (25-30), the kill -9
# loop (20-30). Only these move: every other test keeps its place in the order of the files,
# where the slow ones that start processes (workers, browsers, the demo) sit among quick tests
# that leave them the other core.
LONGEST_FIRST = (
    "tests/integration/test_api_schemathesis.py::test_no_server_errors",
    "tests/browser/test_a_coordinators_week_in_a_browser.py::",
    "tests/integration/test_workers.py::test_kill_9_mid_batch",
)


@pytest.hookimpl(trylast=True)  # after the selection (-m, -k)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist, each process's share of the tests starts with its part of the longest.

    xdist's worksteal gives the first process the first half of the list and the second the
    rest, in order, and a process that runs out takes the back half of another's queue. In the
    order of the files, one process could be left running a minute-long test alone at the end
    (the API's fuzzing did, some 60 s); dealt out first, the longest tests run while both
    processes have plenty left to do.
    """
    processes = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if processes < 2:
        return

    def rank(item: pytest.Item) -> int:
        return next(
            (i for i, prefix in enumerate(LONGEST_FIRST) if item.nodeid.startswith(prefix)),
            len(LONGEST_FIRST),
        )

    longest = sorted((item for item in items if rank(item) < len(LONGEST_FIRST)), key=rank)
    rest = iter([item for item in items if rank(item) == len(LONGEST_FIRST)])
    ordered: list[pytest.Item] = []
    for share in range(processes):
        # The sizes of xdist's first shares: what is left, divided among the processes left.
        size = (len(items) - len(ordered)) // (processes - share)
        mine = longest[share::processes]
        ordered += mine + [next(rest) for _ in range(max(0, size - len(mine)))]
    ordered += rest  # the last share's remainder
    items[:] = ordered


class NetworkGuard(BaseException):
    """Raised when a test reaches for the real network; no `except Exception` can swallow it."""


@pytest.fixture(autouse=True)
def _no_real_network(monkeypatch: pytest.MonkeyPatch) -> None:
    real_connect = socket.socket.connect

    def guarded(sock: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else str(address)
        if sock.family in (socket.AF_INET, socket.AF_INET6) and host not in (
            "127.0.0.1",
            "::1",
            "localhost",
        ):
            raise NetworkGuard(f"test tried to reach {host}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


# -- password hashes ----------------------------------------------------------------------------

# set_password hashes at werkzeug's full scrypt cost (n=2**15), some 100 ms, and every sign-in
# checks at the cost its hash carries; a test that makes a coordinator or two and signs in a few
# times would spend most of its time there. The tests of the hash itself ask for full_cost
# (tests/unit/test_accounts.py); every other test hashes at n=2**10 by the same code, as
# tests/dashboard.py's stored hashes do.
QUICK_SCRYPT = "scrypt:1024:8:1"


@pytest.fixture
def full_cost() -> None:
    """Passwords hashed at the cost the service uses, for the tests of the hash and its cost."""


@pytest.fixture(autouse=True)
def _quick_hashes(request: pytest.FixtureRequest) -> Iterator[None]:
    if "full_cost" in request.fixturenames:
        yield
        return

    def quick(password: str, method: str) -> str:
        assert method == "scrypt", method  # what set_password and the dummy hash ask for
        return generate_password_hash(password, method=QUICK_SCRYPT)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "generate_password_hash", quick)
        accounts._dummy_hash.cache_clear()  # made at this test's cost, and again after it
        yield
    accounts._dummy_hash.cache_clear()


# -- databases ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _sqlite_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where this process keeps its SQLite files: in memory (/dev/shm) where the machine has it.

    The same SQLite with the same settings; only its fsync at each commit costs nothing there,
    where on a shared disk it costs some 10 ms, more than many a test.
    """
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path_factory.mktemp("sqlite")
        return
    folder = Path(tempfile.mkdtemp(prefix=f"peerline-test-{RUN}-", dir=shm))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def sqlite_template(_sqlite_folder: Path) -> Path:
    """A migrated SQLite file, copied for each test: migrating once keeps the suite quick."""
    path = _sqlite_folder / "template.sqlite3"
    upgrade_database(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A migrated PostgreSQL database of this test process's own, dropped at the end."""
    admin = make_url(POSTGRES_ADMIN_URL)
    name = f"peerline_test_{RUN}"
    try:
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            # A commit returns before its WAL record reaches the disk: what every test sees is
            # the same; only a crash of the server could lose the last moments of a test run.
            conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    except Exception as error:
        message = f"PostgreSQL is not reachable at {admin.render_as_string()}: {error}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    url = admin.set(database=name).render_as_string(hide_password=False)
    upgrade_database(url)
    yield url
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_path(_sqlite_folder: Path) -> Path:
    """Where this process's tests find their SQLite database, a fresh copy for each test."""
    return _sqlite_folder / "peerline.sqlite3"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "sqlite":
        path: Path = request.getfixturevalue("sqlite_path")
        # A new file (a new inode) each test: a connection a test left open, or a lock it
        # held, stays with the old one.
        for leftover in (path, *(path.with_name(path.name + end) for end in ("-wal", "-shm"))):
            leftover.unlink(missing_ok=True)
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url: str = request.getfixturevalue("pg_url")
    yield url


@pytest.fixture(scope="session")
def _emptier(postgres_url: str) -> Iterator[Callable[[], None]]:
    """Empties the process's PostgreSQL database and starts its ids again from 1.

    DELETE, children first, rather than TRUNCATE: a TRUNCATE makes new files for every table
    and waits for them to reach the disk, some 200 ms a test on this machine against 3 ms for
    the handful of rows a test leaves. One engine for the whole run.
    """
    engine = create_engine(postgres_url, pool_size=1, max_overflow=0)
    # One round trip: every table's DELETE, children first, twice (a trigger's note of a
    # deleted membership, migration 0016, is gone by the second), then the sequences back to 1.
    deletes = [
        str(table.delete().compile(dialect=engine.dialect))
        for table in reversed(Base.metadata.sorted_tables)
    ]
    script = "; ".join(
        [
            *deletes,
            *deletes,
            "SELECT setval(c.oid, 1, false) FROM pg_class c WHERE c.relkind = 'S'",
        ]
    )

    def run() -> None:
        with engine.begin() as conn:
            conn.exec_driver_sql(script)

    yield run
    engine.dispose()


@pytest.fixture
def pg_url(postgres_url: str, _emptier: Callable[[], None]) -> Iterator[str]:
    """The process's PostgreSQL database, emptied after the test."""
    yield postgres_url
    _emptier()


_EMPTY_DATABASES = itertools.count()


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    """A database of this test's own with nothing in it, not even the schema."""
    admin = make_url(POSTGRES_ADMIN_URL)
    name = f"peerline_empty_{RUN}_{next(_EMPTY_DATABASES)}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        if IN_CI:
            pytest.fail(f"PostgreSQL is not reachable: {error}")
        pytest.skip(f"PostgreSQL is not reachable: {error}")
    url = admin.set(database=name).render_as_string(hide_password=False)
    yield url
    drop_connections(url)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


# -- the app ------------------------------------------------------------------------------------


@pytest.fixture
def gateway() -> RecordingGateway:
    return RecordingGateway()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app_factory(gateway: RecordingGateway, clock: Clock) -> Iterator[Callable[[Settings], Flask]]:
    """Builds apps with the test's gateway and clock, and closes their connections after."""
    built: list[Flask] = []

    def build(settings: Settings) -> Flask:
        app = create_app(settings, gateway=gateway)
        app.extensions["peerline.clock"] = clock
        app.config["TESTING"] = True
        built.append(app)
        return app

    yield build
    for app in built:
        sessions(app).kw["bind"].dispose()


AppKey = tuple[str, tuple[tuple[str, str], ...]]  # a database URL, make_settings' overrides


@pytest.fixture(scope="session")
def _built_apps() -> Iterator[dict[AppKey, Flask]]:
    """The process's apps, by database URL and settings, built once and reused."""
    apps: dict[AppKey, Flask] = {}
    yield apps
    for built in apps.values():
        sessions(built).kw["bind"].dispose()


@pytest.fixture
def lend_app(
    database_url: str, gateway: RecordingGateway, clock: Clock, _built_apps: dict[AppKey, Flask]
) -> Iterator[Callable[..., Flask]]:
    """Lends the app on the test's database with make_settings' overrides, as new as a built one.

    Building an app costs some 90 ms (the API's OpenAPI document, every route compiled), more
    than most tests; so each process builds one per database and settings and lends it to every
    test that asks for them, with the test's gateway, clock, new counters and a new journal,
    and its config and extensions put back after the test. Setting it up further (a route, a
    hook) fails, as on any app that has served a request; a test that needs that builds its
    own with app_factory.
    """
    lent: list[tuple[Flask, dict[str, Any], dict[str, Any]]] = []

    def lend(**overrides: str) -> Flask:
        key = (database_url, tuple(sorted(overrides.items())))
        built = _built_apps.get(key)
        if built is None:
            built = _built_apps[key] = create_app(make_settings(database_url, **overrides))
            built.config["TESTING"] = True
            built.test_client().get("/healthz")  # served a request: no more setting up
        lent.append((built, dict(built.config), dict(built.extensions)))
        registry = CollectorRegistry()
        built.extensions.update(
            {
                "peerline.gateway": gateway,
                "peerline.clock": clock,
                "peerline.registry": registry,
                "peerline.metrics": ProcessMetrics(registry),
                "peerline.journal": Journal(_journal_folder(built)),
            }
        )
        return built

    yield lend
    for built, config, extensions in reversed(lent):
        made = built.extensions.get("peerline.dispatcher")
        if made is not None and made is not extensions.get("peerline.dispatcher"):
            made.close()  # its sending threads, as a worker's at its end
        # Nothing waits: a replayer still going stops.
        shutil.rmtree(_journal_folder(built), ignore_errors=True)
        built.extensions["peerline.journal"].join(timeout=30)
        built.config.clear()
        built.config.update(config)
        built.extensions.clear()
        built.extensions.update(extensions)
        engine = sessions(built).kw["bind"]
        if engine.dialect.name == "sqlite":
            engine.dispose()  # the next test has a new file; PostgreSQL's connections carry on


def _journal_folder(app: Flask) -> Path:
    settings: Settings = app.extensions["peerline.settings"]
    return settings.instance_dir / "journal"


@pytest.fixture
def app(lend_app: Callable[..., Flask]) -> Flask:
    """The app on the test's database, with the test's gateway and clock (lend_app)."""
    return lend_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with sessions(app)() as session:
        yield session
