"""The far side of the car protocol for the link tests: a small real socket.io server (python-socketio
AsyncServer on aiohttp, 127.0.0.1, free port) that speaks the `/car` namespace of protocol.py and
records everything it saw. It stands in for the classroom server (another engineer's), at the edge."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import socketio
from aiohttp import web

from robot_runtime.protocol import (
    CAR_NAMESPACE, HEARTBEAT_PERIOD_S, SUPPORTED_PROTOCOLS, ErrorInfo, SkillResult, Telemetry,
)

CALL_TIMEOUT_S = 2.0  # the car acks at once; 2 s means it is not there
SHUTDOWN_TIMEOUT_S = 0.5  # close open websockets quickly when the test kills the server


class FarSide:
    """`speaks`: the protocol versions it accepts; (1,) is a server from before protocol 2, which refuses
    other versions as it did and keeps the raw telemetry it got (`raw_telemetry`) to check its fields."""

    def __init__(self, tokens: dict[str, str], speaks: tuple[int, ...] = SUPPORTED_PROTOCOLS) -> None:
        self.tokens = tokens
        self.speaks = speaks
        self.hellos: list[dict] = []
        self.raw_telemetry: list[dict] = []
        self.port = 0
        self.results: list[SkillResult] = []
        self.telemetry: list[Telemetry] = []
        self.connects: list[str] = []
        self.refused: list[str] = []
        self.sid_of: dict[str, str] = {}
        self.heartbeats_on = True
        # Like the classroom server: session limits to every car that connects (it runs nothing before).
        self.session_limits: dict = {"max_speed_pct": 100}
        self.limited: set[str] = set()  # sids that got their limits
        self.last_heartbeat_sent = 0.0
        self._runner: web.AppRunner | None = None
        self._beat_task: asyncio.Task | None = None
        self._make_server()

    def _make_server(self) -> None:
        self.sio = socketio.AsyncServer(async_mode="aiohttp")
        self.app = web.Application()
        self.sio.attach(self.app)
        ns = CAR_NAMESPACE

        @self.sio.on("connect", namespace=ns)
        async def connect(sid: str, environ: dict, auth: Any = None) -> None:
            car_id = (auth or {}).get("car_id", "")
            self.hellos.append(dict(auth or {}))
            if (auth or {}).get("protocol") not in self.speaks:  # the old hub's words
                info = ErrorInfo(rule="protocol_version", value=(auth or {}).get("protocol"),
                                 message=f"car speaks protocol {(auth or {}).get('protocol')}, the server speaks "
                                         f"{max(self.speaks)}",
                                 fix="update the car runtime and the server to the same version")
                raise socketio.exceptions.ConnectionRefusedError(info.message, info.model_dump(mode="json"))
            if self.tokens.get(car_id) != (auth or {}).get("token"):
                self.refused.append(car_id)
                # As the classroom server does: the text first, the ErrorInfo second (it arrives intact).
                info = ErrorInfo(rule="car_token", value=car_id, message=f"wrong pairing token for {car_id}",
                                 fix="start the car with the token the server printed (--token)")
                raise socketio.exceptions.ConnectionRefusedError(f"{info.message} — {info.fix}",
                                                                 info.model_dump(mode="json"))
            self.sid_of[car_id] = sid
            self.connects.append(car_id)

        @self.sio.on("disconnect", namespace=ns)
        async def disconnect(sid: str, reason: Any = None) -> None:
            for car_id, s in list(self.sid_of.items()):
                if s == sid:
                    del self.sid_of[car_id]

        @self.sio.on("result", namespace=ns)
        async def result(sid: str, data: Any) -> dict:
            self.results.append(SkillResult.model_validate(data))
            return {"ok": True}

        @self.sio.on("telemetry", namespace=ns)
        async def telemetry(sid: str, data: Any) -> None:
            self.raw_telemetry.append(data)
            self.telemetry.append(Telemetry.model_validate(data))

    async def start(self, port: int = 0) -> "FarSide":
        self._runner = web.AppRunner(self.app, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        self._beat_task = asyncio.create_task(self._beat())
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _beat(self) -> None:
        seq = 0
        while True:
            await asyncio.sleep(HEARTBEAT_PERIOD_S)
            for sid in set(self.sid_of.values()) - self.limited:
                self.limited.add(sid)
                await self.sio.emit("limits", self.session_limits, to=sid, namespace=CAR_NAMESPACE)
            if self.heartbeats_on and self.sid_of:
                seq += 1
                self.last_heartbeat_sent = time.monotonic()
                await self.sio.emit("heartbeat", {"seq": seq}, namespace=CAR_NAMESPACE)

    async def stop(self) -> None:
        if self._beat_task:
            self._beat_task.cancel()
        if self._runner:
            await self._runner.cleanup()
        self._runner = None

    async def restart(self) -> None:
        """A server that died and came back on the same port (a fresh socket.io server, no memory)."""
        port = self.port
        await self.stop()
        self.sid_of.clear()
        self.limited.clear()
        self._make_server()
        await self.start(port)

    async def wait_until_limited(self, car_id: str, timeout_s: float = 5.0) -> None:
        """The car is connected and has its session limits (sent by the heartbeat task)."""
        await self.wait_for(lambda: self.sid_of.get(car_id) in self.limited, timeout_s, f"{car_id} to get its limits")
        await asyncio.sleep(0.05)  # the emit is on its way

    async def call(self, car_id: str, event: str, data: Any) -> Any:
        return await self.sio.call(event, data, to=self.sid_of[car_id], namespace=CAR_NAMESPACE, timeout=CALL_TIMEOUT_S)

    async def emit(self, car_id: str, event: str, data: Any) -> None:
        await self.sio.emit(event, data, to=self.sid_of[car_id], namespace=CAR_NAMESPACE)

    async def kick(self, car_id: str) -> None:
        await self.sio.disconnect(self.sid_of[car_id], namespace=CAR_NAMESPACE)

    async def wait_for(self, predicate, timeout_s: float = 5.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
            await asyncio.sleep(0.01)
