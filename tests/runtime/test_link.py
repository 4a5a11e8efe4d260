"""A car joined to a REAL socket.io server over 127.0.0.1 (tests/runtime/far_side.py) with a real SimCar:
requests, exactly one final answer each, bad input, link loss, reconnection, refusal, e-stop."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import pytest
from car_helpers import BIG_ARENA, request
from far_side import FarSide

from robot_runtime.clock import MonotonicClock
from robot_runtime.config import CarConfig
from robot_runtime.link import AuthRefused, CarLink
from robot_runtime.protocol import WATCHDOG_S
from robot_runtime.recorder import FlightRecorder, read_log
from robot_runtime.runtime import CarRuntime
from robot_runtime.sim import SimCar

pytestmark = pytest.mark.timeout(60)

CAR, TOKEN = "car-1", "pairing-secret-1"
TICK = 0.02


@asynccontextmanager
async def running_car(url: str, tmp_path, token: str = TOKEN):
    car = SimCar(arena=BIG_ARENA, record=True)
    clock = MonotonicClock()
    recorder = FlightRecorder(tmp_path / f"{CAR}.jsonl", fsync=False)
    rt = CarRuntime(CarConfig(car_id=CAR), car, clock, arena=BIG_ARENA, recorder=recorder)
    link = CarLink(rt, url, token, clock, skills=["slalom"])
    loop_task = asyncio.create_task(rt.loop.run_realtime())
    link_task = asyncio.create_task(link.run())
    try:
        yield rt, car, link, link_task
    finally:
        rt.loop.stop()
        await asyncio.wait_for(loop_task, 1.0)
        rt.shutdown("test over")
        await link.close(0.5)
        link_task.cancel()
        await asyncio.gather(link_task, return_exceptions=True)
        recorder.close()


@pytest.fixture
async def server():
    far = await FarSide({CAR: TOKEN}).start()
    yield far
    await far.stop()


def first_zero_after(log: list[dict], t0: float) -> float:
    """Clock time of the first command sent with zero throttle after t0 (from the flight recorder)."""
    return next(r["t"] for r in log if r["k"] == "cmd" and r["t"] >= t0 and r["out"][0] == 0.0)


async def test_car_runs_requests_and_answers_each_accepted_one_exactly_once(server, tmp_path):
    async with running_car(server.url, tmp_path) as (rt, car, link, _):
        await server.wait_until_limited(CAR)
        await server.emit(CAR, "limits", {"max_speed_pct": 60, "level": 2})
        ack = await server.call(CAR, "skill", request("r1", kind="drive", distance_cm=20))
        assert ack == {"ok": True, "error": None}
        busy = await server.call(CAR, "skill", request("r2", kind="turn", degrees=90))
        assert busy["ok"] is False and busy["error"]["rule"] == "busy"
        await server.wait_for(lambda: len(server.results) == 1, what="r1's result")
        assert (await server.call(CAR, "skill", request("r3", kind="turn", degrees=45)))["ok"]
        await server.wait_for(lambda: len(server.results) == 2, what="r3's result")
        await asyncio.sleep(0.3)  # nothing else arrives later
        assert [(r.request_id, r.status) for r in server.results] == [("r1", "done"), ("r3", "done")]
        assert len(server.telemetry) >= 10 and server.telemetry[-1].car_id == CAR
        assert rt.supervisor.limits.max_throttle == pytest.approx(0.6)


async def test_malformed_and_out_of_range_messages_get_error_acks_and_the_car_keeps_running(server, tmp_path):
    async with running_car(server.url, tmp_path) as (rt, car, link, _):
        await server.wait_until_limited(CAR)
        assert (await server.call(CAR, "skill", request("ok", kind="drive", seconds=1.5)))["ok"]
        bad = [
            ("skill", request("b1", kind="drive", distance_cm=30, speed_pct=150), "skill request.less_than_equal"),
            ("skill", "forward!", "skill request.model_type"),
            ("skill", request("b2", kind="teleport"), "skill request.union_tag_invalid"),
            ("cancel", {"request_id": "nope"}, "not_running"),
            ("limits", {"max_speed_pct": -5}, "limits.greater_than_equal"),
            ("arena", {"arena": {"width_cm": 5}}, "arena.greater_than"),
        ]
        for event, payload, rule in bad:
            ack = await server.call(CAR, event, payload)
            assert ack["ok"] is False and ack["error"]["rule"] == rule, (event, ack)
            assert ack["error"]["message"] and ack["error"]["fix"]
        await server.wait_for(lambda: server.results, what="the good request's result")
        assert [(r.request_id, r.status) for r in server.results] == [("ok", "done")]
        assert link.connects == 1  # the connection stayed up through all of it


async def test_silent_server_stops_the_car_within_the_watchdog_time_and_the_result_arrives_later(server, tmp_path):
    async with running_car(server.url, tmp_path) as (rt, car, link, _):
        await server.wait_until_limited(CAR)
        assert (await server.call(CAR, "skill", request("run", kind="drive", seconds=20, speed_pct=50)))["ok"]
        await asyncio.sleep(1.0)
        assert car.command.throttle > 0.4
        server.heartbeats_on = False  # the server hangs: socket open, nothing arrives
        await asyncio.sleep(WATCHDOG_S + 0.3)
        last_hb = rt.supervisor.watchdog.last_heartbeat
        rt.recorder.flush()
        zero_at = first_zero_after(read_log(rt.recorder.path), last_hb)
        assert zero_at - last_hb <= WATCHDOG_S + TICK + 0.005
        assert car.history[-1][1].throttle == 0.0  # the simulator's own record agrees
        # The ended request's one result, and the car drops the silent link and dials again.
        await server.wait_for(lambda: server.results, timeout_s=6.0, what="the ended request's result")
        await server.wait_for(lambda: link.connects >= 2, timeout_s=6.0, what="the car to re-dial a silent link")
        server.heartbeats_on = True
        await asyncio.sleep(0.3)
        assert [(r.request_id, r.status, r.reason) for r in server.results] == [("run", "failed", "link_lost")]


async def test_kicked_car_stops_reconnects_with_backoff_and_drives_again(server, tmp_path):
    async with running_car(server.url, tmp_path) as (rt, car, link, _):
        await server.wait_until_limited(CAR)
        assert (await server.call(CAR, "skill", request("a", kind="drive", seconds=20, speed_pct=50)))["ok"]
        await asyncio.sleep(0.8)
        kicked_at = rt.clock.now()
        await server.kick(CAR)
        await server.wait_for(lambda: server.results, timeout_s=6.0, what="the ended request's result")
        assert [(r.request_id, r.status, r.reason) for r in server.results] == [("a", "failed", "link_lost")], \
            server.results
        await asyncio.sleep(WATCHDOG_S)
        rt.recorder.flush()
        assert first_zero_after(read_log(rt.recorder.path), kicked_at) - kicked_at <= WATCHDOG_S + TICK + 0.05
        await server.wait_until_limited(CAR)
        await asyncio.sleep(0.2)  # heartbeats flow again
        assert (await server.call(CAR, "skill", request("b", kind="drive", distance_cm=15)))["ok"]
        await server.wait_for(lambda: len(server.results) == 2, what="b's result")
        assert server.results[-1].status == "done"


async def test_server_restart_on_the_same_port_the_car_comes_back(server, tmp_path):
    async with running_car(server.url, tmp_path) as (rt, car, link, _):
        await server.wait_until_limited(CAR)
        await server.restart()
        await server.wait_until_limited(CAR, timeout_s=8.0)
        await asyncio.sleep(0.2)
        assert (await server.call(CAR, "skill", request("after", kind="drive", distance_cm=10)))["ok"]
        await server.wait_for(lambda: server.results, what="the result")
        assert link.connects == 2


async def test_wrong_token_is_refused_with_a_clear_error(server, tmp_path):
    async with running_car(server.url, tmp_path, token="wrong") as (rt, car, link, link_task):
        with pytest.raises(AuthRefused) as info:
            await asyncio.wait_for(link_task, 5.0)
    msg = str(info.value)
    assert "refused car-1" in msg and "wrong pairing token" in msg and "--token" in msg
    assert info.value.info["rule"] == "car_token" and info.value.info["value"] == CAR  # the ErrorInfo, intact
    assert server.refused == [CAR]


async def test_estop_over_the_link_is_neutral_at_the_next_tick_and_latched_until_reset(server, tmp_path):
    async with running_car(server.url, tmp_path) as (rt, car, link, _):
        await server.wait_until_limited(CAR)
        assert (await server.call(CAR, "skill", request("go", kind="drive", seconds=20, speed_pct=60)))["ok"]
        await asyncio.sleep(0.8)
        assert (await server.call(CAR, "estop", {"reason": "teacher"}))["ok"]
        estop_at = rt.clock.now()
        await asyncio.sleep(0.1)
        rt.recorder.flush()
        assert first_zero_after(read_log(rt.recorder.path), estop_at - TICK) - estop_at <= TICK + 0.005
        refused = await server.call(CAR, "skill", request("again", kind="drive", distance_cm=10))
        assert refused["error"]["rule"] == "estop"
        assert (await server.call(CAR, "reset_estop", {"reason": "all clear"}))["ok"]
        assert (await server.call(CAR, "skill", request("again2", kind="drive", distance_cm=10)))["ok"]
        await server.wait_for(lambda: len(server.results) == 2, what="both results")
        assert [(r.request_id, r.status) for r in server.results] == [("go", "cancelled"), ("again2", "done")], server.results


async def test_arena_message_places_the_simulated_car(server, tmp_path):
    async with running_car(server.url, tmp_path) as (rt, car, link, _):
        await server.wait_until_limited(CAR)
        arena = {"name": "lesson 3", "width_cm": 400, "height_cm": 300,
                 "start": {"x_cm": 100, "y_cm": 80, "heading_deg": 90}}
        ack = await server.call(CAR, "arena", {"arena": arena, "pose": {"x_cm": 150, "y_cm": 60, "heading_deg": 45}})
        assert ack["ok"]
        await asyncio.sleep(0.1)
        assert car.arena.name == "lesson 3" and rt.supervisor._arena.name == "lesson 3"
        assert car.pose.x_cm == pytest.approx(150, abs=0.5) and car.pose.heading_deg == pytest.approx(45, abs=0.5)


# What a protocol-1 telemetry message holds: written out here, from the protocol as it was.
PROTOCOL_1_TELEMETRY = {"car_id", "seq", "t", "pose", "speed_cm_s", "yaw_rate_dps", "slip_deg", "distance_cm", "throttle",
                        "steering", "safety_state", "safety_events", "collisions", "skill", "timing"}


async def test_an_older_server_refuses_protocol_2_so_the_car_speaks_1_and_sends_only_what_1_knows(tmp_path):
    old = await FarSide({CAR: TOKEN}, speaks=(1,)).start()
    try:
        async with running_car(old.url, tmp_path) as (rt, car, link, _):
            await old.wait_until_limited(CAR)
            await old.wait_for(lambda: len(old.raw_telemetry) >= 5, what="telemetry")
            assert [h["protocol"] for h in old.hellos] == [2, 1]
            assert all(set(m) <= PROTOCOL_1_TELEMETRY for m in old.raw_telemetry)
            assert (await old.call(CAR, "skill", request("r1", kind="drive", distance_cm=10)))["ok"]
            await old.wait_for(lambda: old.results, what="the result")
            assert old.results[0].status == "done"
    finally:
        await old.stop()
    notes = [r for r in read_log(tmp_path / f"{CAR}.jsonl") if r.get("what") == "protocol_fallback"]
    assert notes and notes[0]["refused"] == 2


async def test_a_current_server_gets_the_pose_source_and_its_uncertainty(server, tmp_path):
    async with running_car(server.url, tmp_path) as (rt, car, link, _):
        await server.wait_for(lambda: server.raw_telemetry, what="telemetry")
        assert server.hellos[0]["protocol"] == 2
        last = server.raw_telemetry[-1]
        assert last["pose_source"] == "sim" and last["pose_uncertainty_cm"] == 0.0
