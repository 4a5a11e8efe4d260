"""Helpers for the car-runtime tests: a real CarRuntime around a real SimCar on a ManualClock."""

from __future__ import annotations

from robot_runtime.arena import Arena
from robot_runtime.clock import ManualClock
from robot_runtime.config import CarConfig
from robot_runtime.runtime import CarRuntime
from robot_runtime.sim import SimCar

BIG_ARENA = Arena(name="big open floor", width_cm=1000, height_cm=1000,
                  start={"x_cm": 200, "y_cm": 500, "heading_deg": 0})
HEARTBEAT_S = 0.1


def make_runtime(*, watchdog: bool = False, arena: Arena = BIG_ARENA, recorder=None, **config) -> tuple[CarRuntime, SimCar, ManualClock]:
    car = SimCar(arena=arena, record=True)
    clock = ManualClock()
    rt = CarRuntime(CarConfig(car_id="car-t", watchdog=watchdog, **({"mode": "headless"} if not watchdog else {}), **config), car, clock, arena=arena, recorder=recorder)
    return rt, car, clock


def request(rid: str, timeout_s: float = 30.0, **action) -> dict:
    return {"request_id": rid, "action": action, "timeout_s": timeout_s}


def run_with_heartbeats(rt: CarRuntime, seconds: float, *, until_s: float | None = None) -> None:
    """Tick headless for `seconds`, with a heartbeat every HEARTBEAT_S up to clock time `until_s`."""
    clock = rt.clock
    end = clock.now() + seconds
    next_hb = clock.now()
    while clock.now() < end - 1e-9:
        if clock.now() >= next_hb - 1e-9 and (until_s is None or clock.now() <= until_s):
            rt.handle_heartbeat({"seq": 0})
            next_hb += HEARTBEAT_S
        rt.loop.run_headless(rt.loop.period)
