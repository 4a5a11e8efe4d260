"""Many simulated cars in one process: each is a real car runtime (control loop on its own thread, safety
supervisor, link watchdog, simulator) behind its own real `/car` socket.io link, exactly what `dojo car
--sim` builds (robot_runtime/car.py `run_car`), only sharing one interpreter so 30 cars fit a 2-core box.

    python -m stress.car_fleet --server URL --first 2 --count 29 [--rate 25]
        tokens come from the environment: DOJO_FLEET_TOKENS='{"car-2": "...", ...}' (never argv)

Prints "FLEET READY n" once every link has been started; SIGTERM stops each car as `dojo car` does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys

from robot_runtime.arena import DEFAULT_ARENA
from robot_runtime.clock import MonotonicClock
from robot_runtime.config import CarConfig
from robot_runtime.drivers import create_hardware
from robot_runtime.estop_latch import EstopLatch
from robot_runtime.link import CarLink
from robot_runtime.runtime import CarRuntime
from robot_runtime.skills.registry import skill_names

TOKENS_ENV = "DOJO_FLEET_TOKENS"
LOOP_STOP_TIMEOUT_S = 1.0  # as robot_runtime/car.py: the loop finishes its tick and returns


async def run_fleet(server: str, tokens: dict[str, str], rate_hz: float) -> None:
    clock = MonotonicClock()
    cars = []
    for car_id, token in tokens.items():
        config = CarConfig(car_id=car_id, hardware="sim", server_url=server, token=token, rate_hz=rate_hz)
        hardware = create_hardware(config, DEFAULT_ARENA, seed=None, noise=False)
        runtime = CarRuntime(config, hardware, clock, arena=DEFAULT_ARENA, latch=EstopLatch(None))
        link = CarLink(runtime, server, token, clock, kind="sim", skills=sorted(skill_names()))
        cars.append((runtime, link, hardware))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(runtime.loop.run_realtime()) for runtime, _, _ in cars]
    tasks += [asyncio.create_task(link.run()) for _, link, _ in cars]
    print(f"FLEET READY {len(cars)}", flush=True)
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait({waiter, *tasks}, return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            print(f"fleet: a car task failed: {task.exception()!r}", file=sys.stderr, flush=True)
    for runtime, link, hardware in cars:  # the order of `dojo car`: stop ticking, neutral, tell the server
        runtime.loop.stop()
    await asyncio.wait(tasks[:len(cars)], timeout=LOOP_STOP_TIMEOUT_S)
    for runtime, link, hardware in cars:
        runtime.shutdown("the car fleet is stopping")
    await asyncio.gather(*(link.close() for _, link, _ in cars), return_exceptions=True)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, waiter, return_exceptions=True)
    for _, _, hardware in cars:
        hardware.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m stress.car_fleet")
    p.add_argument("--server", required=True)
    p.add_argument("--rate", type=float, default=50.0, help="control loop rate in Hz (a real car: 50)")
    args = p.parse_args(argv)
    tokens = json.loads(os.environ[TOKENS_ENV])
    asyncio.run(run_fleet(args.server, tokens, args.rate))
    return 0


if __name__ == "__main__":
    sys.exit(main())
