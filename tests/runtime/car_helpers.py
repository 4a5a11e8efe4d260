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


FULL_SPEED = {"max_speed_pct": 100}  # the session limits a server sends a Level-4 driver


def make_runtime(*, watchdog: bool = False, arena: Arena = BIG_ARENA, recorder=None, limits: dict | None = FULL_SPEED,
                 **config) -> tuple[CarRuntime, SimCar, ManualClock]:
    """A headless car (no watchdog, no server), or with `watchdog=True` a car as a server drives it:
    real-time mode (ticked on the ManualClock here), with `limits` sent first as the server does."""
    car = SimCar(arena=arena, record=True)
    clock = ManualClock()
    mode = {} if watchdog else {"mode": "headless"}
    rt = CarRuntime(CarConfig(car_id="car-t", watchdog=watchdog, **mode, **config), car, clock, arena=arena,
                    recorder=recorder)
    if watchdog and limits is not None:
        assert rt.handle_limits(limits)["ok"]
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
