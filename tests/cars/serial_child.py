"""A car runtime in a child process driving a serial board at PORT (a pty the test serves): it drives
forward in real time until killed."""

import asyncio
import sys

from child_runtime import ARENA, drive_forever, realtime_config
from robot_runtime.drivers import serial_board


async def main(port: str) -> None:
    config = realtime_config("car-s", "serial", port=port)
    await drive_forever(config, serial_board.create(config, ARENA))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
