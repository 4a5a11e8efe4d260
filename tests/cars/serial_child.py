"""A car runtime in a child process driving a serial board at PORT (a pty the test serves): it drives
forward in real time until killed."""

import asyncio
import sys

from robot_runtime.arena import Arena
from robot_runtime.clock import MonotonicClock
from robot_runtime.config import CarConfig
from robot_runtime.drivers import serial_board
from robot_runtime.runtime import CarRuntime

ARENA = Arena(name="hall", width_cm=3000, height_cm=3000, start={"x_cm": 200, "y_cm": 1500, "heading_deg": 0})


async def main(port: str) -> None:
    config = CarConfig(car_id="car-s", hardware="serial", watchdog=False, mode="headless", hardware_options={"port": port})
    car = serial_board.create(config, ARENA)
    rt = CarRuntime(config, car, MonotonicClock(), arena=ARENA)
    assert rt.handle_skill({"request_id": "r1", "action": {"kind": "drive", "seconds": 20, "speed_pct": 60}})["ok"]
    await rt.loop.run_realtime()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
