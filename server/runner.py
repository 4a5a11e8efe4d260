"""Run the classroom app on a real port, in-process: what `dojo server`, `dojo demo` and the
benchmarks share. A small handle hides the aiohttp runner and tracks which cars are connected."""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from server.core.cluster import ClusterUnavailable
from server.core.config import ServerConfig
from server.core.storage import StorageError

REPO_ROOT = Path(__file__).resolve().parent.parent
SHUTDOWN_TIMEOUT_S = 5.0  # open websockets get this long to close before aiohttp cancels their handlers
GC_THRESHOLDS = (20_000, 20, 20)  # a server process's collector after start-up (default 700, 10, 10)


class PortInUse(OSError):
    """The port is taken (or not ours to use): the message says what to do."""


@dataclass
class ServerHandle:
    app: web.Application
    runner: web.AppRunner
    host: str
    port: int
    connected_cars: set[str] = field(default_factory=set)

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        return f"http://{host}:{self.port}"

    @property
    def classroom(self) -> Any:
        from server.web.state import CLASSROOM

        return self.app[CLASSROOM]

    def car_connected(self, car_id: str) -> bool:
        return car_id in self.connected_cars

    async def stop_all_cars(self, reason: str) -> None:
        """A controlled stop of every connected car (not the latched e-stop: nothing to reset later)."""
        classroom = self.classroom
        await asyncio.gather(*(classroom.stop_car(c, reason) for c in classroom.connected_car_ids()))

    async def close(self) -> None:
        """Stop listening and run the app's cleanup (background tasks, socket.io, database)."""
        await self.runner.cleanup()


async def start_server(config: ServerConfig) -> ServerHandle:
    """Build the app, listen on config.host:config.port (0: a free port) and return a handle."""
    from server.app import create_app

    from server.ops.logs import AccessLog

    app = create_app(config)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT_S, access_log_class=AccessLog)
    await runner.setup()  # runs the app's startup: storage opened, classroom built, class ensured
    site = web.TCPSite(runner, config.host, config.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()  # storage closed again: nothing half-started stays behind
        raise PortInUse(f"cannot listen on {config.host}:{config.port} ({exc.strerror or exc}) — is another "
                        f"`dojo demo` or `dojo server` running? Stop it, or pick another port: --port "
                        f"{config.port + 1 if config.port else 8081}") from None
    if config.turbowarp_port:  # the same app on http://localhost:8000 for TurboWarp
        from server.scratch.extension import start_turbowarp_listener

        await start_turbowarp_listener(runner, config.turbowarp_port)
    port = runner.addresses[0][1]
    handle = ServerHandle(app, runner, config.host, port)
    events = handle.classroom.events
    # the cars connected to this process (with several processes, the others' cars are theirs)
    events.subscribe("car_connected", lambda car_id, *_: handle.connected_cars.add(car_id), scope="origin")
    events.subscribe("car_disconnected", lambda car_id, *_: handle.connected_cars.discard(car_id), scope="origin")
    return handle


def freeze_startup_objects() -> None:
    """For a server process, once it is up (`dojo server`, `dojo demo`; not for tests that start many apps).

    Everything built so far (modules, the catalog, pydantic schemas, the app) lives as long as the
    process. Freezing it keeps the collector's full passes off it: measured here, a full collection of
    the started app took ~35 ms (86k objects) and 0 ms after the freeze; 35 ms is 3.5x the whole p99
    budget of a block call, paid by whichever kid's block arrives during it.

    Then the young generation is collected every GC_THRESHOLDS[0] net allocations instead of 700: a
    class sends ~1,300 socket.io messages a second, each leaving a few hundred short-lived objects, so the
    default ran a young collection several times per message burst and promoted in-flight messages to
    the older generations, where the next older pass had to walk them again. Reference cycles are rare
    on these paths (one collection still finds them; see benchmarks/bench_server.py for the pauses).
    But a full pass now comes rarely (once per some 8 million surviving allocations): a cycle that holds
    much must be broken where it is made, or it stays for hours — the soak found a finished attempt's
    whole recording held that way by its cancelled time-limit task (server/lessons/service.py `_finish`).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class StopSignal:
    """Which signal asked the command to stop: SIGTERM (a service manager, a deploy) drains first,
    Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.signal: signal.Signals | None = None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._received, sig)

    def _received(self, sig: signal.Signals) -> None:
        self.signal = self.signal or sig
        self.event.set()

    async def wait(self) -> signal.Signals | None:
        await self.event.wait()
        return self.signal


def stop_on_signals() -> asyncio.Event:
    """An event that Ctrl-C or SIGTERM sets, so the command can shut down in order."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def start_for_command(config: ServerConfig, command: str) -> ServerHandle | None:
    """Start the server for `dojo server` / `dojo demo`; None (and the reason on stderr) if the port is taken."""
    try:
        server = await start_server(config)
    except (PortInUse, StorageError, ClusterUnavailable) as exc:  # a newer or unreachable database, no Redis: the reason
        print(f"{command}: {exc}", file=sys.stderr, flush=True)
        return None
    freeze_startup_objects()
    return server
