"""Fixtures over the demo harness (tests/demo_harness.py): a real demo classroom and kid clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import socketio

from demo_harness import DemoServer, connect_kid_socket, join_kid_http, start_demo


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
