"""Fixtures over the demo harness (tests/demo_harness.py): a real demo classroom and kid clients; and a real
PostgreSQL server per test session (tests/services/postgres.py) with a fresh database per test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
import socketio

from demo_harness import DemoServer, connect_kid_socket, join_kid_http, start_demo
from services.postgres import PostgresServer, find_bin

BACKENDS = ("sqlite", "postgresql")


def _missing(what: str) -> None:
    """Under CI=true a missing service fails the test (CI must install it); on a laptop it skips."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} (CI=true: .ci/run and `make postgresql` must install it)")
    pytest.skip(what)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL for the whole test session: Debian's binaries, a temp folder, a free port."""
    if find_bin() is None:
        _missing("PostgreSQL is not installed: make postgresql  (apt-get install -y postgresql)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _missing("psycopg is not installed: pip install -e '.[dev]'  (the district extra)")
    server = PostgresServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the session's PostgreSQL, dropped after the test."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> str:
    """The test runs twice: on a SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'classroom.sqlite3'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory) -> Iterator[DemoServer]:
    """A real demo classroom: server on a free port, 4 simulated car processes, class DEMO."""
    with start_demo(tmp_path_factory.mktemp("demo"), cars=4) as demo:
        yield demo


@pytest.fixture
def join_kid() -> Callable[..., dict]:
    return join_kid_http


@pytest.fixture
def kid_socket() -> Iterator[Callable[..., socketio.Client]]:
    """Factory for /kid socket.io clients; every client is disconnected after the test."""
    clients: list[socketio.Client] = []

    def make(demo: DemoServer | str, token: str, events: dict[str, Callable] | None = None) -> socketio.Client:
        sio = connect_kid_socket(demo, token, events)
        clients.append(sio)
        return sio

    yield make
    for sio in clients:
        sio.disconnect()
