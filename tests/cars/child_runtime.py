"""What a car process does in the kill -9 / stall tests: a real-time runtime that drives forward for 20 s
at 60 % with its link watchdog on, fed by heartbeats from its own event loop (as the link would be)."""

from __future__ import annotations

import asyncio

from robot_runtime.arena import Arena
from robot_runtime.clock import MonotonicClock
from robot_runtime.config import CarConfig
from robot_runtime.hardware import Hardware
from robot_runtime.runtime import CarRuntime

ARENA = Arena(name="hall", width_cm=3000, height_cm=3000, start={"x_cm": 200, "y_cm": 1500, "heading_deg": 0})
HEARTBEAT_S = 0.02  # faster than the server's 0.1 s, so a short SIGSTOP stays inside the 300 ms link watchdog


def realtime_config(car_id: str, hardware: str, **options) -> CarConfig:
    # arena_file names the car's own arena; the child hands the same arena in directly
    return CarConfig(car_id=car_id, hardware=hardware, arena_file="hall.yaml", hardware_options=options)


async def drive_forever(config: CarConfig, car: Hardware, on_driving=lambda: None) -> None:
    rt = CarRuntime(config, car, MonotonicClock(), arena=ARENA)
    assert rt.handle_limits({"max_speed_pct": 100})["ok"]

    async def heartbeats() -> None:
        while True:
            rt.handle_heartbeat({"seq": 0})
            await asyncio.sleep(HEARTBEAT_S)

    rt.handle_heartbeat({"seq": 0})  # heard from its server before the first tick (else: link_lost at once)
    beats = asyncio.create_task(heartbeats())
    ack = rt.handle_skill({"request_id": "r1", "action": {"kind": "drive", "seconds": 20, "speed_pct": 60}})
    assert ack["ok"], ack
    on_driving()
    try:
        await rt.loop.run_realtime()
    finally:
        beats.cancel()
