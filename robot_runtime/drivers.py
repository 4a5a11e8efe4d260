"""Hardware kinds: a registry from a name in the car config to the module that builds that hardware.

Each kind is one module with a ``create(config, arena, *, seed, noise) -> Hardware`` function; the
module is imported only when chosen, so a Pi never imports the simulator and a laptop never needs
gpiozero. Only ``sim`` exists today; ``gpio`` (gpiozero: ESC + steering servo + ultrasonic sensor, each
device taking an injected pin factory) and ``serial`` (a microcontroller board over pyserial) come
later — see docs/car-runtime.md "Writing a hardware driver".
"""

from __future__ import annotations

import importlib
import time

from robot_runtime.arena import Arena
from robot_runtime.config import CarConfig
from robot_runtime.hardware import Hardware

# kind -> "module:function"
HARDWARE_KINDS: dict[str, str] = {
    "sim": "robot_runtime.drivers:create_sim",
}
PLANNED_KINDS = {"gpio": "gpiozero pins on a Raspberry Pi", "serial": "a motor board over a serial port"}


class UnknownHardware(ValueError):
    pass


def create_hardware(config: CarConfig, arena: Arena, *, seed: int | None = None, noise: bool = False) -> Hardware:
    target = HARDWARE_KINDS.get(config.hardware)
    if target is None:
        planned = PLANNED_KINDS.get(config.hardware)
        known = ", ".join(sorted(HARDWARE_KINDS))
        if planned:
            raise UnknownHardware(
                f"hardware kind {config.hardware!r} ({planned}) has no driver yet — this runtime has: {known}; "
                f"use `hardware: sim` or write robot_runtime/drivers_{config.hardware}.py (docs/car-runtime.md)")
        raise UnknownHardware(f"unknown hardware kind {config.hardware!r} — choose one of: {known}")
    module_name, func = target.split(":")
    return getattr(importlib.import_module(module_name), func)(config, arena, seed=seed, noise=noise)


def create_sim(config: CarConfig, arena: Arena, *, seed: int | None = None, noise: bool = False) -> Hardware:
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
