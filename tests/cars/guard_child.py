"""A car runtime in a child process whose pulses go through a pin guard on an inherited pipe.

    python guard_child.py WRITE_FD

It drives forward (a 20 s drive at 60%) in real time and prints DRIVING once the loop runs; the test
owns the pins (the guard runs there on fake pins) and kills or stops this process to see what the
pins do.
"""

import asyncio
import sys

from robot_runtime.arena import Arena
from robot_runtime.clock import MonotonicClock
from robot_runtime.config import CarConfig
from robot_runtime.drivers import gpio
from robot_runtime.drivers.fake_pins import mock_factory
from robot_runtime.drivers.pin_guard import GuardedPulses
from robot_runtime.runtime import CarRuntime

ARENA = Arena(name="hall", width_cm=3000, height_cm=3000, start={"x_cm": 200, "y_cm": 1500, "heading_deg": 0})


async def main(fd: int) -> None:
    config = CarConfig(car_id="car-g", hardware="gpio", watchdog=False, mode="headless", hardware_options={"pin_factory": "mock"})
    car = gpio.create(config, ARENA, pin_factory=mock_factory(), outputs=GuardedPulses(fd))
    rt = CarRuntime(config, car, MonotonicClock(), arena=ARENA)
    ack = rt.handle_skill({"request_id": "r1", "action": {"kind": "drive", "seconds": 20, "speed_pct": 60}})
    assert ack["ok"], ack
    print("DRIVING", flush=True)
    await rt.loop.run_realtime()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
