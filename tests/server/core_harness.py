"""Harness for the server-core tests: a real app on 127.0.0.1 (port 0), real socket.io clients and
real simulated cars (robot_runtime's CarRuntime + CarLink, in this process, on the same event loop).

    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        kid = await srv.join("Mia")                  # POST /api/join
        sio = await srv.kid_socket(kid["token"])     # socket.io AsyncClient on /kid
        reply = await srv.block(sio, "move_forward", {"distance": 10})

With DOJO_TEST_DATABASE=postgresql every classroom_server without its own `database` runs on a real
PostgreSQL instead of SQLite (one server per test process, one database per data folder, so a restart
finds its data; a folder that already holds a SQLite classroom keeps it): `DOJO_TEST_DATABASE=postgresql
pytest tests/server` runs the server tests on it.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import aiohttp
import socketio

from robot_runtime.arena import Arena
from robot_runtime.clock import MonotonicClock
from robot_runtime.config import CarConfig
from robot_runtime.drivers import create_hardware
from robot_runtime.link import CarLink
from robot_runtime.protocol import Pose
from robot_runtime.runtime import CarRuntime
import robot_runtime.skills.registry  # noqa: F401  imported now: a lazy import mid-test would stall the shared loop
from server.core.config import ServerConfig
from server.runner import ServerHandle, start_server

CLASS = "TEST"
PASSWORD = "teacher-pass-123"
CONNECT_TIMEOUT_S = 5.0  # loopback socket.io handshake takes milliseconds
CALL_TIMEOUT_S = 20.0  # the longest move in these tests takes a few seconds
WAIT_S = 5.0  # polling bound for "eventually" conditions


def token_for(car_id: str) -> str:
    return f"pair-{car_id}-secret"


@dataclass
class SimCar:
    """One real simulated car runtime connected through the real link."""

    car_id: str
    runtime: CarRuntime
    link: CarLink
    tasks: list[asyncio.Task]

    @property
    def pose(self) -> Pose:
        """Where the car is: the state its loop last read through the Hardware protocol (a second
        read() here would take the collision events that read hands out from the loop)."""
        state = self.runtime.loop.last_state or self.runtime.hardware.read()  # read(): the loop has not ticked yet
        return Pose(x_cm=state.x_cm, y_cm=state.y_cm, heading_deg=state.heading_deg)

    async def stop(self) -> None:
        self.runtime.loop.stop()
        self.runtime.shutdown("test over")
        await self.link.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def start_sim_car(base_url: str, car_id: str, arena: Arena, token: str | None = None) -> SimCar:
    config = CarConfig(car_id=car_id, hardware="sim", server_url=base_url, token=token or token_for(car_id))
    hardware = create_hardware(config, arena)
    clock = MonotonicClock()
    runtime = CarRuntime(config, hardware, clock, arena=arena)
    link = CarLink(runtime, base_url, config.token, clock, kind="sim")
    tasks = [asyncio.create_task(runtime.loop.run_realtime()), asyncio.create_task(link.run())]
    return SimCar(car_id, runtime, link, tasks)


@dataclass
class Srv:
    handle: ServerHandle
    config: ServerConfig
    http: aiohttp.ClientSession
    cars: dict[str, SimCar] = field(default_factory=dict)
    clients: list[socketio.AsyncClient] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.handle.base_url

    @property
    def classroom(self):
        return self.handle.classroom

    async def add_car(self, car_id: str, token: str | None = None) -> SimCar:
        car = await start_sim_car(self.url, car_id, self.classroom.default_arena, token)
        self.cars[car_id] = car
        def placed() -> bool:  # connected, and its telemetry shows the start slot the server put it in
            tm = self.classroom.latest_telemetry(car_id)
            slot = self.classroom.start_pose(car_id)
            return (self.classroom.dispatcher.is_connected(car_id) and tm is not None
                    and abs(tm.pose.x_cm - slot.x_cm) < 0.5 and abs(tm.pose.y_cm - slot.y_cm) < 0.5)

        await wait_for(placed, f"{car_id} connected and sending telemetry from its start slot")
        return car

    async def join(self, name: str, class_code: str = CLASS, *, rejoin: bool = False) -> dict[str, Any]:
        """rejoin=True: "yes, that is me" when the class already has this name (else 409 same_name)."""
        body = {"class_code": class_code, "name": name, **({"rejoin": True} if rejoin else {})}
        async with self.http.post(f"{self.url}/api/join", json=body) as resp:
            body = await resp.json()
            assert resp.status == 200, body
            return body

    async def kid_socket(self, token: str, events: dict[str, Callable] | None = None) -> socketio.AsyncClient:
        sio = socketio.AsyncClient(reconnection=False)
        for name, handler in (events or {}).items():
            sio.on(name, handler, namespace="/kid")
        await sio.connect(self.url, namespaces=["/kid"], auth={"token": token}, transports=["websocket"],
                          wait_timeout=CONNECT_TIMEOUT_S)
        self.clients.append(sio)
        return sio

    async def block(self, sio: socketio.AsyncClient, block: str, args: dict | None = None, **extra: Any) -> dict:
        return await sio.call("block", {"block": block, "args": args or {}, **extra}, namespace="/kid",
                              timeout=CALL_TIMEOUT_S)

    async def teacher(self) -> "Teacher":
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        async with session.post(f"{self.url}/api/teacher/login", json={"password": PASSWORD}) as resp:
            body = await resp.json()
            assert resp.status == 200, body
        return Teacher(self.url, session, body["csrf_token"])


@dataclass
class Teacher:
    url: str
    http: aiohttp.ClientSession
    csrf: str

    async def post(self, path: str, body: dict | None = None, csrf: bool = True) -> tuple[int, dict]:
        headers = {"X-CSRF-Token": self.csrf} if csrf else {}
        async with self.http.post(self.url + path, json=body or {}, headers=headers) as resp:
            return resp.status, await resp.json()

    async def get(self, path: str) -> tuple[int, dict]:
        async with self.http.get(self.url + path) as resp:
            return resp.status, await resp.json()


async def wait_for(predicate: Callable[[], Any], what: str, timeout_s: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.01)


_postgres: list[Any] = []  # the test process's PostgreSQL, started on first use (DOJO_TEST_DATABASE)
_databases: dict[Path, str] = {}


def database_for(data_dir: Path) -> str | None:
    """None (SQLite in the data folder), or with DOJO_TEST_DATABASE=postgresql the folder's own database."""
    if os.environ.get("DOJO_TEST_DATABASE", "sqlite") != "postgresql":
        return None
    from services.postgres import PostgresServer

    if not _postgres:
        _postgres.append(PostgresServer.start())
        atexit.register(_postgres[0].stop)
    key = Path(data_dir).resolve()
    if key not in _databases and (key / "classroom.sqlite3").exists():
        return None  # a folder with a SQLite classroom made outside the harness (`dojo demo`) keeps it
    if key not in _databases:
        _databases[key] = _postgres[0].create_database()
    return _databases[key]


@contextlib.asynccontextmanager
async def classroom_server(data_dir: Path, cars: list[str] = (), **overrides: Any) -> AsyncIterator[Srv]:
    if overrides.get("database") is None:
        overrides["database"] = database_for(data_dir)
    config = ServerConfig(port=0, data_dir=data_dir, teacher_password=PASSWORD,
                          car_tokens={c: token_for(c) for c in [*cars, *overrides.pop("extra_cars", [])]},
                          default_class_code=CLASS, **overrides)
    handle = await start_server(config)
    srv = Srv(handle, config, aiohttp.ClientSession())
    try:
        for car_id in cars:
            await srv.add_car(car_id)
        yield srv
    finally:
        for sio in srv.clients:
            with contextlib.suppress(Exception):
                await sio.disconnect()
        for car in srv.cars.values():
            await car.stop()
        await srv.http.close()
        await handle.close()


class RawCar:
    """A hand-driven car client: a real socket.io client on /car that records what the server sends.

    For what a real runtime never does on purpose (never answering, sending garbage); everything
    else in these tests uses real simulated cars.
    """

    def __init__(self, url: str, car_id: str, token: str | None = None, *, answer: bool = False) -> None:
        self.url, self.car_id, self.token, self.answer = url, car_id, token or token_for(car_id), answer
        self.sio = socketio.AsyncClient(reconnection=False)
        self.received: list[tuple[str, Any]] = []
        self.refusal: Any = None
        for event in ("limits", "arena", "stop", "estop", "reset_estop", "cancel", "heartbeat"):
            self.sio.on(event, self._recorder(event), namespace="/car")
        self.sio.on("skill", self._skill, namespace="/car")
        self.sio.on("connect_error", self._refused, namespace="/car")

    def _recorder(self, event: str):
        async def record(data: Any = None) -> dict:
            self.received.append((event, data))
            return {"ok": True}
        return record

    async def _refused(self, data: Any = None) -> None:
        self.refusal = data

    async def _skill(self, data: Any = None) -> dict:
        self.received.append(("skill", data))
        if self.answer:
            asyncio.get_running_loop().create_task(self.sio.emit(
                "result", {"request_id": data["request_id"], "status": "done"}, namespace="/car"))
        return {"ok": True}

    def events(self, name: str) -> list[Any]:
        return [d for e, d in self.received if e == name]

    async def connect(self, **hello: Any) -> None:
        auth = {"car_id": self.car_id, "token": self.token, "kind": "sim", **hello}
        await self.sio.connect(self.url, namespaces=["/car"], auth=auth, transports=["websocket"],
                               wait_timeout=CONNECT_TIMEOUT_S)

    async def telemetry(self, x: float = 50.0, y: float = 50.0, seq: int = 0, **extra: Any) -> None:
        data = {"car_id": self.car_id, "seq": seq, "t": float(seq), "speed_cm_s": 0.0,
                "pose": {"x_cm": x, "y_cm": y, "heading_deg": 0.0}, **extra}
        await self.sio.emit("telemetry", data, namespace="/car")

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.sio.disconnect()
