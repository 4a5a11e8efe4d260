"""Car stand-ins for the server benchmark: the /car side of the link, and nothing of the car behind it.

The same stand-in serves the classroom server and the bare socket.io relay (benchmarks/sio_relay.py), so
both runs cost the machine the same on the car side; the real car runtime (simulator, supervisor,
50 Hz loop) is measured on its own by benchmarks/bench_runtime.py. Each stand-in car:

- connects to ``/car`` with the CarHello auth the real runtime sends (robot_runtime.link);
- answers ``skill`` with an ack, notes when it arrived, and notes its "first motor tick": the next tick of
  a 50 Hz loop (a per-car phase), as a timer that really has to fire; the result follows SKILL_S later;
- sends Telemetry-valid JSON at TELEMETRY_HZ (what a real car sends: pose, speeds, timing, safety state);
- acks ``limits`` and ``arena`` (the server sends a kid's skill only after the car acked their limits);
- acks ``estop`` and notes when it latched (its telemetry then says ``estop``); ``reset_estop`` unlatches.

    python -m benchmarks.car_standin --url http://127.0.0.1:PORT --first 1 --cars 6 --tokens FILE
        prints "CARS READY" once every car is connected, then on stdin EOF one JSON line:
        {"arrived": {request_id: t}, "tick": {request_id: t}, "estop": {car_id: [t, ...]}}
Times are time.monotonic() (CLOCK_MONOTONIC: one clock for every process on the machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

import socketio

CAR_NAMESPACE = "/car"  # as robot_runtime.protocol
PROTOCOL = 2
TELEMETRY_HZ = 20  # as robot_runtime.protocol.TELEMETRY_HZ
TICK_S = 0.02  # the real runtime's 50 Hz control loop
SKILL_S = 0.1  # a 2 cm move: the result follows this long after the first tick
CONNECT_TIMEOUT_S = 30.0  # 30 cars connecting at once on a busy 2-core machine


class StandinCar:
    def __init__(self, car_id: str, token: str, records: dict[str, Any]) -> None:
        self.car_id, self.token, self.rec = car_id, token, records
        self.sio = socketio.AsyncClient(reconnection_delay=0.1)  # as the real runtime: back after a dropped link
        self.phase = random.random() * TICK_S  # where this car's 50 Hz ticks fall
        self.latched = False
        self.seq = 0
        self.x = 100.0
        ns = CAR_NAMESPACE
        self.sio.on("skill", self.on_skill, namespace=ns)
        self.sio.on("estop", self.on_estop, namespace=ns)
        self.sio.on("reset_estop", self.on_reset, namespace=ns)
        for event in ("cancel", "stop", "heartbeat"):
            self.sio.on(event, _ignore, namespace=ns)
        for event in ("limits", "arena"):  # calls: the server counts on them only once the car acks (as a real car)
            self.sio.on(event, _ack, namespace=ns)

    async def connect(self, url: str) -> None:
        await self.sio.connect(url, namespaces=[CAR_NAMESPACE], transports=["websocket"], wait_timeout=CONNECT_TIMEOUT_S,
                               auth={"car_id": self.car_id, "token": self.token, "kind": "sim", "protocol": PROTOCOL})

    async def on_skill(self, data: dict[str, Any]) -> dict[str, Any]:
        t = time.monotonic()
        request_id = str(data.get("request_id"))
        self.rec["arrived"][request_id] = t
        loop = asyncio.get_running_loop()
        next_tick = self.phase + math.ceil((t - self.phase) / TICK_S) * TICK_S
        loop.call_at(loop.time() + (next_tick - t), self._first_tick, request_id)
        return {"ok": True}

    def _first_tick(self, request_id: str) -> None:
        self.rec["tick"][request_id] = time.monotonic()
        self.x += 0.5
        asyncio.get_running_loop().call_later(SKILL_S, lambda: asyncio.ensure_future(self._result(request_id)))

    async def _result(self, request_id: str) -> None:
        status = "cancelled" if self.latched else "done"
        await self.sio.emit("result", {"request_id": request_id, "status": status, "reason": "" if status == "done" else "estop",
                                       "duration_s": SKILL_S, "final_pose": {"x_cm": self.x, "y_cm": 50.0, "heading_deg": 0.0}},
                            namespace=CAR_NAMESPACE)

    async def on_estop(self, data: Any = None) -> dict[str, Any]:
        if not self.latched:
            self.rec["estop"].setdefault(self.car_id, []).append(time.monotonic())
        self.latched = True
        return {"ok": True}

    async def on_reset(self, data: Any = None) -> None:
        self.latched = False

    def telemetry(self) -> dict[str, Any]:
        self.seq += 1
        return {"car_id": self.car_id, "seq": self.seq, "t": time.monotonic(),
                "pose": {"x_cm": round(self.x, 2), "y_cm": 50.0, "heading_deg": 0.0}, "speed_cm_s": 0.0,
                "yaw_rate_dps": 0.0, "slip_deg": 0.0, "distance_cm": 87.5, "throttle": 0.0, "steering": 0.0,
                "safety_state": "estop" if self.latched else "ok", "safety_events": [], "collisions": [], "skill": None,
                "timing": {s: {"p50_ms": 0.05, "p99_ms": 0.2} for s in ("skill", "supervisor", "hardware", "telemetry")},
                "pose_source": "sim", "pose_uncertainty_cm": 0.0}

    async def send_telemetry(self) -> None:
        await asyncio.sleep(random.random() / TELEMETRY_HZ)
        while True:
            started = time.monotonic()
            if self.sio.connected:
                await self.sio.emit("telemetry", self.telemetry(), namespace=CAR_NAMESPACE)
            await asyncio.sleep(max(0.0, 1 / TELEMETRY_HZ - (time.monotonic() - started)))


async def _ignore(data: Any = None) -> None:
    return None


async def _ack(data: Any = None) -> dict[str, bool]:
    return {"ok": True}


async def run(url: str, first: int, n: int, tokens: dict[str, str]) -> None:
    records: dict[str, Any] = {"arrived": {}, "tick": {}, "estop": {}}
    cars = [StandinCar(f"car-{i}", tokens.get(f"car-{i}", "-"), records) for i in range(first, first + n)]
    for car in cars:
        await car.connect(url)
    tasks = [asyncio.create_task(car.send_telemetry()) for car in cars]
    print("CARS READY", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # run until stdin closes
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for car in cars:
        await car.sio.disconnect()
    print(json.dumps(records), flush=True)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.car_standin")
    p.add_argument("--url", required=True)
    p.add_argument("--first", type=int, default=1, help="number of the first car (car-FIRST)")
    p.add_argument("--cars", type=int, default=1)
    p.add_argument("--tokens", type=Path, help="JSON {car_id: token} (a file: tokens never travel in argv)")
    args = p.parse_args(argv)
    tokens = json.loads(args.tokens.read_text()) if args.tokens else {}
    asyncio.run(run(args.url, args.first, args.cars, tokens))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
