"""A simulated car whose clock jumps: each skill runs to its end at once, and the server gets every
telemetry sample of it, in order, then the result.

It is the real car runtime (skills, safety supervisor, control loop, simulator) on a ManualClock, behind
a real socket.io ``/car`` client, so the server, the gate, the dispatcher and the attempt recorder work
as with any car; only time is different: a 3 s move answers in milliseconds (its samples carry the
car's own times, which is what the judge reads), and between skills the car stands still and reports
every ``IDLE_PERIOD_S`` of real time, like a car waiting for the next block. The link watchdog is off
(the car config's setting for runs whose clock is not the server's). Deterministic: the same skill
requests give the same samples, so front ends can be compared lesson by lesson in seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import socketio

from robot_runtime.arena import Arena
from robot_runtime.clock import ManualClock
from robot_runtime.config import CarConfig
from robot_runtime.protocol import CAR_NAMESPACE, SkillResult, Telemetry
from robot_runtime.runtime import CarRuntime
from robot_runtime.sim import SimCar

IDLE_PERIOD_S = 0.05  # a standing car reports at 20 Hz, like a real one
SKILL_LIMIT_S = 130.0  # car seconds: longer than any skill's own time limit
ACK_FIRST_S = 0.005  # let the skill's ack leave before its result (a real car takes milliseconds anyway)
CONNECT_TIMEOUT_S = 5.0  # loopback


class FastSimCar:
    def __init__(self, url: str, car_id: str, token: str, arena: Arena) -> None:
        self.url, self.car_id, self.token = url, car_id, token
        self.clock = ManualClock()
        config = CarConfig(car_id=car_id, hardware="sim", watchdog=False, mode="headless")
        self.runtime = CarRuntime(config, SimCar(arena=arena), self.clock, arena=arena)
        self.samples: list[Telemetry] = []
        self.results: list[SkillResult] = []
        self.runtime.telemetry_sinks.append(self.samples.append)
        self.runtime.result_sinks.append(self.results.append)
        self.driving = False
        self._tasks: set[asyncio.Task] = set()
        self._lock = asyncio.Lock()  # one writer at a time: samples always leave in the car's order
        self.sio = socketio.AsyncClient(reconnection=False)
        rt = self.runtime
        for event, handler in {"cancel": rt.handle_cancel, "stop": rt.handle_stop, "estop": rt.handle_estop,
                               "reset_estop": rt.handle_reset_estop, "limits": rt.handle_limits,
                               "arena": rt.handle_arena}.items():
            self.sio.on(event, self._answer(handler), namespace=CAR_NAMESPACE)
        self.sio.on("skill", self._skill, namespace=CAR_NAMESPACE)
        self.sio.on("heartbeat", lambda data=None: rt.handle_heartbeat(data), namespace=CAR_NAMESPACE)

    @staticmethod
    def _answer(handler):
        async def on_event(data: Any = None) -> dict:
            return handler(data)
        return on_event

    async def start(self) -> "FastSimCar":
        await self.sio.connect(self.url, namespaces=[CAR_NAMESPACE], transports=["websocket"],
                               auth={"car_id": self.car_id, "token": self.token, "kind": "sim"},
                               wait_timeout=CONNECT_TIMEOUT_S)
        self._spawn(self._idle())
        return self

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.sio.disconnect()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _skill(self, data: Any = None) -> dict:
        ack = self.runtime.handle_skill(data)
        if ack.get("ok"):
            self.driving = True
            self._spawn(self._drive())
        return ack

    async def _drive(self) -> None:
        await asyncio.sleep(ACK_FIRST_S)
        async with self._lock:
            done = len(self.results)
            self.runtime.loop.run_headless(SKILL_LIMIT_S, until=lambda: len(self.results) > done)
            self.driving = False
            await self._flush()
            for result in self.results[done:]:
                await self.sio.call("result", result.model_dump(mode="json"), namespace=CAR_NAMESPACE)

    async def _idle(self) -> None:
        while True:
            await asyncio.sleep(IDLE_PERIOD_S)
            if self.driving or self._lock.locked():
                continue
            async with self._lock:
                self.runtime.loop.run_headless(IDLE_PERIOD_S)
                await self._flush()

    async def _flush(self) -> None:
        samples = list(self.samples)
        self.samples.clear()  # the same list: the runtime's sink appends to it
        for tel in samples:
            await self.sio.emit("telemetry", tel.model_dump(mode="json", by_alias=True), namespace=CAR_NAMESPACE)
