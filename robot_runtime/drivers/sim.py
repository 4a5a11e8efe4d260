"""`hardware: sim` — the simulated car (robot_runtime/sim) behind the Hardware seam."""

from __future__ import annotations

import time

from robot_runtime.arena import Arena
from robot_runtime.config import CarConfig
from robot_runtime.hardware import Hardware


def create(config: CarConfig, arena: Arena, *, seed: int | None = None, noise: bool = False) -> Hardware:
    from robot_runtime.drivers import UnknownHardware
    from robot_runtime.sim import NoiseSpec, SimCar

    opts = dict(config.hardware_options)
    record = bool(opts.pop("record", False))
    noise_spec = NoiseSpec(seed=seed or 0, **opts.pop("noise", {})) if noise else None
    if opts:
        raise UnknownHardware(f"sim hardware does not know the options {sorted(opts)} — it takes: record, noise")
    # In real time the simulator runs on the wall clock like a real car: a stalled loop leaves the last
    # command on its motors until the dead-man's stop, exactly as on the road.
    clock = time.monotonic if config.mode == "realtime" else None
    return SimCar(spec=config.spec.to_spec(), arena=arena, noise=noise_spec, record=record, clock=clock)
