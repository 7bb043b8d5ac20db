"""A pooled PostgreSQL connection whose server went away is replaced before it is lent, once it
has been idle; one lent again at once is not asked (a round trip per request saved)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from service import db
from service.db import make_engine

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    made = make_engine(pg_url, pool_size=1)
    yield made
    made.dispose()


def _server_side_ended(engine: Engine, pg_url: str) -> None:
    """The pooled connection's server process is ended, as a database restart would."""
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    other = make_engine(pg_url)
    with other.connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    other.dispose()


def test_an_idle_connection_whose_server_ended_is_replaced_unseen(
    engine: Engine, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _server_side_ended(engine, pg_url)
    monkeypatch.setattr(db, "PING_AFTER_IDLE", 0.0)  # as if idle a while

    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1


def test_a_connection_lent_again_at_once_is_not_asked(
    engine: Engine, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _server_side_ended(engine, pg_url)
    monkeypatch.setattr(db, "PING_AFTER_IDLE", 3600.0)

    with pytest.raises(OperationalError), engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    # The failure told the pool: the next request gets a new connection.
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
