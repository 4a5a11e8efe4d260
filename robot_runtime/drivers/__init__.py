"""Hardware kinds: a registry from a name in the car config to the module that builds that hardware.

Each kind is one module with a ``create(config, arena, *, seed, noise) -> Hardware`` function; the
module is imported only when chosen, so a Pi never imports the simulator and a laptop never needs
gpiozero, pyserial or smbus2 until it asks for them.

    sim        the simulated car (robot_runtime/sim)
    gpio       ESC + steering servo on the Pi's own pins (gpiozero), distance sensor, encoder, stop button
    pca9685    ESC + steering servo on a PCA9685 servo board over I2C (the DonkeyCar standard)
    serial     a microcontroller board (Raspberry Pi Pico, firmware/pico) over USB serial

See docs/real-car.md for wiring and docs/car-runtime.md "Writing a hardware driver".
"""

from __future__ import annotations

import importlib

from robot_runtime.arena import Arena
from robot_runtime.config import CarConfig
from robot_runtime.hardware import Hardware

# kind -> ("module:function", what it is)
HARDWARE_KINDS: dict[str, tuple[str, str]] = {
    "sim": ("robot_runtime.drivers.sim:create", "the simulated car"),
    "gpio": ("robot_runtime.drivers.gpio:create", "ESC and steering servo on the Raspberry Pi's pins (gpiozero)"),
    "pca9685": ("robot_runtime.drivers.pca9685:create", "ESC and steering servo on a PCA9685 board over I2C"),
    "serial": ("robot_runtime.drivers.serial_board:create", "a Pico motor board over USB serial"),
}


class UnknownHardware(ValueError):
    """A hardware kind or option the drivers do not know; the message names it and the fix."""


class HardwareUnavailable(OSError):
    """The hardware is known but cannot be reached (no pins, no I2C bus, no serial port): the message says
    what was tried and how to fix it."""


def create_hardware(config: CarConfig, arena: Arena, *, seed: int | None = None, noise: bool = False) -> Hardware:
    target = HARDWARE_KINDS.get(config.hardware)
    if target is None:
        known = ", ".join(sorted(HARDWARE_KINDS))
        raise UnknownHardware(f"unknown hardware kind {config.hardware!r} — choose one of: {known}")
    module_name, func = target[0].split(":")
    return getattr(importlib.import_module(module_name), func)(config, arena, seed=seed, noise=noise)
