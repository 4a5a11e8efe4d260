"""The e-stop: neutral at the hardware at once (before any tick), latched until a deliberate reset, a
malformed reset resets nothing, and the latch survives a reconnect and a restart (kept on disk)."""

from __future__ import annotations

import asyncio

import pytest
from car_helpers import BIG_ARENA, make_runtime, request
from far_side import FarSide

from robot_runtime.clock import ManualClock, MonotonicClock
from robot_runtime.config import CarConfig
from robot_runtime.estop_latch import UNREADABLE, EstopLatch
from robot_runtime.hardware import NEUTRAL
from robot_runtime.link import CarLink
from robot_runtime.runtime import CarRuntime
from robot_runtime.sim import SimCar

CAR, TOKEN = "car-1", "pairing-secret-1"


def driving(tmp_path=None, latch=None):
    rt, car, clock = make_runtime()
    if latch is not None:
        rt = CarRuntime(rt.config, car, clock, arena=BIG_ARENA, latch=latch)
    assert rt.handle_skill(request("go", kind="drive", seconds=10, speed_pct=80))["ok"]
    rt.loop.run_headless(1.0)
    assert car.command.throttle > 0.5
    return rt, car, clock


def test_estop_sets_the_hardware_neutral_at_once_before_the_next_tick():
    rt, car, clock = driving()
    ticks = rt.loop.ticks
    assert rt.handle_estop({"reason": "teacher pressed STOP ALL"})["ok"]
    stopped_at = len(car.history) - 1
    assert car.command == NEUTRAL and car.history[-1] == (car.t, NEUTRAL)  # in the handler itself
    assert rt.loop.ticks == ticks  # no tick ran in between
    assert [(r.status, r.reason) for r in rt.results] == [("cancelled", "estop")]
    rt.loop.run_headless(2.0)
    assert len(car.history) - stopped_at > 90  # every later tick tells the motors ...
    assert all(c == NEUTRAL for _, c in car.history[stopped_at:])  # ... neutral
    assert rt.handle_skill(request("again", kind="drive", distance_cm=10))["error"]["rule"] == "estop"


@pytest.mark.parametrize("bad", [{"reason": 12}, {"reason": "x" * 500}, {"why": "oops"}, "reset", [1, 2]])
def test_a_malformed_reset_resets_nothing(bad):
    rt, car, clock = driving()
    rt.handle_estop({"reason": "teacher"})
    ack = rt.handle_reset_estop(bad)
    assert not ack["ok"] and ack["error"]["rule"].startswith("reset_estop")
    assert rt.supervisor.estopped and rt.deadman.estopped
    assert rt.handle_skill(request("again", kind="drive", distance_cm=10))["error"]["rule"] == "estop"
    rt.loop.run_headless(0.5)
    assert car.command == NEUTRAL


def test_the_latch_survives_a_restart_until_a_teacher_resets_it(tmp_path):
    path = tmp_path / "estop-car-t.json"
    rt, car, clock = driving(latch=EstopLatch(path))
    rt.handle_estop({"reason": "teacher pressed STOP ALL"})
    assert path.exists()
    # The car program restarts (a new runtime, the same file): still latched, still neutral.
    car2 = SimCar(arena=BIG_ARENA, record=True)
    rt2 = CarRuntime(CarConfig(car_id="car-t", mode="headless", watchdog=False), car2, ManualClock(), arena=BIG_ARENA,
                     latch=EstopLatch(path))
    assert rt2.supervisor.estopped and rt2.deadman.estopped
    assert rt2.handle_skill(request("go", kind="drive", distance_cm=20))["error"]["rule"] == "estop"
    rt2.loop.run_headless(0.5)
    assert car2.command == NEUTRAL
    assert rt2.handle_reset_estop({"reason": "teacher reset"})["ok"]
    assert not path.exists()
    assert rt2.handle_skill(request("go2", kind="drive", distance_cm=20))["ok"]
    rt2.loop.run_headless(3.0)
    assert rt2.results[-1].status == "done"


def test_a_garbled_latch_file_counts_as_latched(tmp_path):
    path = tmp_path / "estop.json"
    path.write_bytes(b"\x00\xff not json")
    assert EstopLatch(path).reason == UNREADABLE


async def test_the_latch_survives_a_reconnect(tmp_path):
    server = await FarSide({CAR: TOKEN}).start()
    car = SimCar(arena=BIG_ARENA, record=True)
    clock = MonotonicClock()
    rt = CarRuntime(CarConfig(car_id=CAR), car, clock, arena=BIG_ARENA, latch=EstopLatch(tmp_path / "latch.json"))
    link = CarLink(rt, server.url, TOKEN, clock)
    tasks = [asyncio.create_task(rt.loop.run_realtime()), asyncio.create_task(link.run())]
    try:
        await server.wait_until_limited(CAR)
        assert (await server.call(CAR, "estop", {"reason": "teacher"}))["ok"]  # the car acknowledges
        await server.kick(CAR)
        await server.wait_for(lambda: link.connects >= 2, 8.0, "the car to reconnect")
        await server.wait_until_limited(CAR)
        assert rt.supervisor.estopped
        refused = await server.call(CAR, "skill", request("go", kind="drive", distance_cm=10))
        assert refused["error"]["rule"] == "estop"
        await server.wait_for(lambda: server.telemetry and server.telemetry[-1].safety_state == "estop", 2.0,
                              "telemetry showing the latch")
    finally:
        rt.loop.stop()
        await asyncio.wait_for(tasks[0], 2.0)
        rt.shutdown("test over")
        await link.close(0.5)
        tasks[1].cancel()
        await asyncio.gather(tasks[1], return_exceptions=True)
        await server.stop()
