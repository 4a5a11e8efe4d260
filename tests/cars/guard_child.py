"""A car runtime in a child process whose pulses go through a pin guard on an inherited pipe.

    python guard_child.py WRITE_FD

It drives forward (a 20 s drive at 60%) in real time and prints DRIVING once the loop runs; the test
owns the pins (the guard runs there on fake pins) and kills or stops this process to see what the
pins do.
"""

import asyncio
import sys

from child_runtime import ARENA, drive_forever, realtime_config
from robot_runtime.drivers import gpio
from robot_runtime.drivers.fake_pins import mock_factory
from robot_runtime.drivers.pin_guard import GuardedPulses


async def main(fd: int) -> None:
    config = realtime_config("car-g", "gpio", pin_factory="mock")
    car = gpio.create(config, ARENA, pin_factory=mock_factory(), outputs=GuardedPulses(fd))
    await drive_forever(config, car, on_driving=lambda: print("DRIVING", flush=True))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
