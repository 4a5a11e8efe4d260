"""The control loop and the request lifecycle on a real simulated car (headless, ManualClock)."""

from __future__ import annotations

import asyncio
import json

import pytest
from car_helpers import make_runtime, request

from robot_runtime.clock import MonotonicClock
from robot_runtime.config import CarConfig
from robot_runtime.protocol import TELEMETRY_HZ
from robot_runtime.runtime import CarRuntime
from robot_runtime.sim import SimCar


def run_until_idle(rt, max_s=30.0):
    rt.loop.run_headless(max_s, until=lambda: rt.executor.running is None)


def test_each_accepted_request_gets_exactly_one_final_result():
    rt, car, clock = make_runtime()
    accepted = []
    plan = [
        (request("a", kind="drive", distance_cm=30), None),
        (request("b", kind="turn", degrees=90), None),
        (request("c", kind="goto", x_cm=250, y_cm=600), None),
        (request("d", timeout_s=0.5, kind="drive", seconds=5), None),  # times out
        (request("e", kind="drive", seconds=5), "cancel"),
        (request("f", kind="drive", seconds=5), "stop"),
        (request("g", kind="drive", seconds=5), "estop"),
    ]
    for req, interrupt in plan:
        ack = rt.handle_skill(req)
        assert ack["ok"], ack
        accepted.append(req["request_id"])
        rt.loop.run_headless(0.3)
        if interrupt == "cancel":
            assert rt.handle_cancel({"request_id": req["request_id"], "reason": "newer program"})["ok"]
        elif interrupt == "stop":
            assert rt.handle_stop({"reason": "kid pressed stop"})["ok"]
        elif interrupt == "estop":
            assert rt.handle_estop({"reason": "teacher"})["ok"]
        run_until_idle(rt)
    statuses = {r.request_id: r.status for r in rt.results}
    assert [r.request_id for r in rt.results] == accepted  # one each, in order, none twice
    assert statuses == {"a": "done", "b": "done", "c": "done", "d": "timed_out", "e": "cancelled",
                        "f": "cancelled", "g": "cancelled"}
    assert all(r.final_pose is not None and r.kid_text for r in rt.results)


def test_new_request_while_one_runs_is_refused_busy_and_the_first_one_continues():
    rt, car, clock = make_runtime()
    assert rt.handle_skill(request("first", kind="drive", distance_cm=50))["ok"]
    rt.loop.run_headless(0.2)
    ack = rt.handle_skill(request("second", kind="drive", distance_cm=10))
    assert ack["ok"] is False and ack["error"]["rule"] == "busy"
    assert "first" in ack["error"]["message"] and ack["error"]["fix"]
    run_until_idle(rt)
    assert [(r.request_id, r.status) for r in rt.results] == [("first", "done")]


def test_stop_request_cancels_the_running_one_and_brakes_to_a_standstill():
    rt, car, clock = make_runtime()
    rt.handle_skill(request("run", kind="drive", seconds=10, speed_pct=80))
    rt.loop.run_headless(1.5)
    assert car.read().speed_cm_s > 150
    assert rt.handle_skill(request("halt", kind="stop"))["ok"]
    run_until_idle(rt)
    assert [(r.request_id, r.status) for r in rt.results] == [("run", "cancelled"), ("halt", "done")]
    assert abs(car.read().speed_cm_s) < 3.0


@pytest.mark.parametrize("payload, rule", [
    (request("x1", kind="drive", distance_cm=30, speed_pct=150), "skill request.less_than_equal"),
    (request("x2", kind="fly", height_cm=30), "skill request.union_tag_invalid"),
    (request("x3", kind="drive"), "skill request.value_error"),
    ({"action": {"kind": "stop"}}, "skill request.missing"),
    ("drive forward please", "skill request.model_type"),
    (request("x4", kind="drive", distance_cm=float("nan")), "skill request.finite_number"),
    (request("x5", kind="skill", name="moonwalk"), "unknown_skill"),
    ({"request_id": "x6", "action": {"kind": "stop"}, "pad": "x" * 70_000}, "message_too_big"),
])
def test_malformed_or_out_of_range_requests_get_an_error_ack_and_the_car_keeps_running(payload, rule):
    rt, car, clock = make_runtime()
    rt.handle_skill(request("ok-1", kind="drive", seconds=1))
    rt.loop.run_headless(0.2)
    ack = rt.handle_skill(payload)
    assert ack["ok"] is False
    err = ack["error"]
    assert err["rule"] == rule and err["message"] and err["fix"]
    json.dumps(ack)  # the ack is JSON-ready for socket.io
    run_until_idle(rt)
    assert [(r.request_id, r.status) for r in rt.results] == [("ok-1", "done")]


def test_out_of_range_speed_error_names_the_field_the_value_and_the_fix():
    rt, _, _ = make_runtime()
    err = rt.handle_skill(request("x1", kind="drive", distance_cm=30, speed_pct=150))["error"]
    assert "speed_pct" in err["message"] and "150" in err["message"] and err["value"] == 150


def test_request_faster_than_the_level_allows_runs_at_the_level_speed_and_says_so():
    rt, car, clock = make_runtime()
    assert rt.handle_limits({"max_speed_pct": 30, "level": 1})["ok"]
    events = []
    rt.telemetry_sinks.append(lambda tm: events.extend(tm.safety_events))
    rt.handle_skill(request("fast", kind="drive", seconds=2, speed_pct=90))
    run_until_idle(rt)
    assert max(cmd.throttle for _, cmd in car.history) <= 0.3 + 1e-9
    assert "I slowed down: Level 1 cars go up to 30%" in {e.kid_text for e in events}


def test_skill_not_allowed_in_the_session_is_refused_with_an_event():
    rt, _, _ = make_runtime()
    rt.handle_limits({"allowed_skills": ["slalom"], "level": 2})
    ack = rt.handle_skill(request("d", kind="skill", name="donut"))
    assert ack["error"]["rule"] == "skill_not_allowed" and "slalom" in ack["error"]["fix"]
    rt.loop.run_headless(0.1)
    assert rt.loop.last_telemetry is not None


def test_bad_limits_keep_the_previous_limits():
    rt, _, _ = make_runtime()
    rt.handle_limits({"max_speed_pct": 40})
    ack = rt.handle_limits({"max_speed_pct": 400})
    assert ack["ok"] is False and "max_speed_pct" in ack["error"]["message"]
    assert rt.supervisor.limits.max_throttle == pytest.approx(0.4)


def test_driving_into_a_wall_ends_failed_blocked_by_safety_without_touching_it():
    from robot_runtime.arena import Arena, Wall

    arena = Arena(width_cm=600, height_cm=300, start={"x_cm": 100, "y_cm": 150, "heading_deg": 0},
                  walls=[Wall(x0=250, y0=0, x1=250, y1=300)])
    rt, car, clock = make_runtime(arena=arena)
    rt.handle_skill(request("w", kind="drive", distance_cm=300, speed_pct=60))
    run_until_idle(rt)
    (result,) = rt.results
    assert result.status == "failed" and result.reason == "blocked_by_safety"
    assert car.collision_log == []


def test_telemetry_comes_at_20hz_with_pose_commands_and_per_stage_timing():
    rt, car, clock = make_runtime()
    got = []
    rt.telemetry_sinks.append(got.append)
    rt.handle_skill(request("a", kind="drive", seconds=1.5))
    rt.loop.run_headless(2.0)
    assert len(got) == pytest.approx(2.0 * TELEMETRY_HZ, abs=1)
    assert [t.seq for t in got] == list(range(1, len(got) + 1))
    moving = [t for t in got if t.skill is not None]
    assert moving and moving[-1].skill.name == "drive" and max(t.throttle for t in moving) > 0.4
    assert {"skill", "supervisor", "hardware", "telemetry", "tick"} <= set(got[-1].timing)
    assert got[-1].timing["tick"].p99_ms > 0


def test_shutdown_ends_the_running_request_and_sets_neutral_at_once():
    rt, car, clock = make_runtime()
    rt.handle_skill(request("a", kind="drive", seconds=5))
    rt.loop.run_headless(0.5)
    rt.shutdown("SIGTERM")
    assert [(r.status, r.reason) for r in rt.results] == [("cancelled", "shutdown")]
    assert car.command.throttle == 0.0


async def test_realtime_loop_ticks_at_its_rate_and_records_jitter():
    car = SimCar()
    rt = CarRuntime(CarConfig(car_id="car-rt", rate_hz=50), car, MonotonicClock())
    task = asyncio.create_task(rt.loop.run_realtime())
    await asyncio.sleep(0.5)
    rt.loop.stop()
    await asyncio.wait_for(task, 1.0)
    assert 15 <= rt.loop.ticks <= 30  # ~25 ticks in 0.5 s (loose: a shared 2-core machine)
    assert "jitter" in rt.loop.timer.summary()
    assert car.t == pytest.approx(0.5, abs=0.05)  # simulated time keeps up with real time, late ticks or not


async def test_realtime_loop_refuses_to_run_without_its_link_watchdog():
    rt = CarRuntime(CarConfig(car_id="car-rt", watchdog=False, mode="headless"), SimCar(), MonotonicClock())
    with pytest.raises(ValueError, match="watchdog"):
        await rt.loop.run_realtime()
    assert rt.loop.ticks == 0


def test_docs_headless_example_runs_as_written(capsys):
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "car-runtime.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- example: headless -->\s*```python\n(.*?)```", doc, re.S)
    assert m, "docs/car-runtime.md lost its headless example"
    exec(compile(m.group(1), "docs/car-runtime.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out == ["{'ok': True, 'error': None}", "done 30"]


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

ACTIONS = [
    {"kind": "drive", "distance_cm": 20}, {"kind": "drive", "seconds": 0.5}, {"kind": "turn", "degrees": -45},
    {"kind": "goto", "x_cm": 230, "y_cm": 520}, {"kind": "stop"}, {"kind": "skill", "name": "no_such_skill"},
    {"kind": "drive", "distance_cm": 5000},  # out of range: refused
]
operation = st.one_of(
    st.tuples(st.just("submit"), st.sampled_from(range(len(ACTIONS))), st.sampled_from([0.3, 5.0, 30.0])),
    st.tuples(st.just("tick"), st.floats(0.02, 1.0)),
    st.tuples(st.sampled_from(["cancel", "stop", "estop", "reset", "link_down", "heartbeat", "limits"]), st.none()),
)


@settings(max_examples=40, deadline=None)
@given(ops=st.lists(operation, min_size=1, max_size=25))
def test_any_sequence_of_requests_and_interruptions_gives_exactly_one_result_per_accepted_request(ops):
    rt, car, clock = make_runtime(watchdog=True)
    accepted, refused = [], []
    for n, op in enumerate(ops):
        kind = op[0]
        rt.handle_heartbeat()  # the link is healthy unless an operation says otherwise
        if kind == "submit":
            rid = f"q{n}"
            ack = rt.handle_skill(request(rid, timeout_s=op[2], **ACTIONS[op[1]]))
            (accepted if ack["ok"] else refused).append(rid)
        elif kind == "tick":
            rt.loop.run_headless(op[1])
        elif kind == "cancel" and accepted:
            rt.handle_cancel({"request_id": accepted[-1]})
        elif kind == "stop":
            rt.handle_stop({"reason": "kid"})
        elif kind == "estop":
            rt.handle_estop({"reason": "teacher"})
        elif kind == "reset":
            rt.handle_reset_estop({"reason": "ok"})
        elif kind == "link_down":
            rt.link_down("test")
        elif kind == "limits":
            rt.handle_limits({"max_speed_pct": 30, "level": 1})
    rt.loop.run_headless(1.0)  # no heartbeats now: the watchdog ends whatever still runs
    rt.shutdown("end of test")
    ids = [r.request_id for r in rt.results]
    assert sorted(ids) == sorted(accepted)  # every accepted request answered once, nothing else answered
    assert not set(ids) & set(refused)
    assert all(r.status in ("done", "failed", "cancelled", "timed_out") for r in rt.results)
