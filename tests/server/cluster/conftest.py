"""The cross-process tests run on both storage engines: several processes sharing one SQLite file (WAL), and
sharing one real PostgreSQL database (tests/conftest.py's ``postgres_url``: a server the tests start)."""

from __future__ import annotations

import pytest


@pytest.fixture(params=("sqlite", "postgresql"))
def shared_database(request) -> str | None:
    """None: the processes share the SQLite file in their data folder; else a PostgreSQL URL."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("postgres_url")  # under CI=true a missing PostgreSQL fails, never skips
