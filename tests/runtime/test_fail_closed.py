"""The car fails closed: no skill before the server's limits (Level 1 until then), no real-time car
without its watchdog, configs that make physical sense, slew on a capped dt, a blind sensor means a
crawl, reverse has its own cap, and bad pose samples are dropped — only a run of them stops the car."""

from __future__ import annotations

import pytest
from car_helpers import make_runtime, request, run_with_heartbeats
from pydantic import ValidationError

from robot_runtime.config import CarConfig, HardLimits
from robot_runtime.hardware import CarSpec, CarState, Command
from robot_runtime.protocol import SessionLimits
from robot_runtime.safety import SafetySupervisor

CRAWL = 0.15  # documented: forward throttle with a faulty distance sensor


def test_a_real_time_car_runs_no_skill_before_the_servers_limits_arrive():
    rt, car, clock = make_runtime(watchdog=True, limits=None)
    ack = rt.handle_skill(request("r1", kind="drive", distance_cm=20))
    assert not ack["ok"] and ack["error"]["rule"] == "no_limits"
    assert "limits" in ack["error"]["message"] and ack["error"]["fix"]
    assert rt.handle_skill(request("r2", kind="stop"))["ok"]  # a stop is always welcome
    run_with_heartbeats(rt, 0.5)
    assert rt.handle_limits({"max_speed_pct": 50, "level": 2})["ok"]
    assert rt.handle_skill(request("r3", kind="drive", distance_cm=20))["ok"]
    run_with_heartbeats(rt, 3.0)
    assert rt.results[-1].status == "done"


def test_until_then_the_car_is_a_level_1_car():
    rt, car, clock = make_runtime(watchdog=True, limits=None)
    assert rt.supervisor.limits.max_throttle == pytest.approx(0.30)
    assert rt.supervisor.limits.allowed_skills == frozenset()
    assert rt.supervisor.limits.level == 1


@pytest.mark.parametrize("fields, field, fix", [
    ({"watchdog": False}, "watchdog", "mode: headless"),
    ({"limits": {"reaction_s": 0.05}}, "limits.reaction_s", "at least 0.120"),
    ({"rate_hz": 10, "limits": {"reaction_s": 0.15}}, "limits.reaction_s", "at least 0.200"),
    ({"limits": {"brake_decel_cm_s2": 3000}}, "brake_decel_cm_s2", "less than or equal to 1200"),
    ({"limits": {"brake_decel_cm_s2": 10}}, "brake_decel_cm_s2", "greater than or equal to 50"),
    ({"limits": {"fence_margin_cm": 0}}, "fence_margin_cm", "greater than or equal to 1"),
    ({"limits": {"obstacle_margin_cm": 0.5}}, "obstacle_margin_cm", "greater than or equal to 2"),
    ({"hardware": "gpio"}, "arena_file", "arena file"),
])
def test_configs_that_make_no_physical_sense_are_refused_naming_the_field_the_value_and_the_fix(fields, field, fix):
    with pytest.raises(ValidationError) as err:
        CarConfig(car_id="car-1", **fields)
    text = str(err.value)
    assert field in text and fix in text


def test_headless_runs_may_switch_the_watchdog_off():
    assert CarConfig(car_id="car-1", watchdog=False, mode="headless").watchdog is False


def test_one_late_tick_earns_at_most_50_ms_of_ramp():
    sup = SafetySupervisor(HardLimits(), CarSpec(), None, watchdog=False, session=SessionLimits())
    state = CarState(t=0, x_cm=0, y_cm=0, heading_deg=0)
    sup.filter(Command(1.0, 1.0), state, 0.0)
    out, _ = sup.filter(Command(1.0, 1.0), state, 0.25)  # one tick 250 ms late
    assert out.throttle <= 4.0 * 0.05 + 1e-9  # max_accel_per_s 4/s over 50 ms, not 0 -> full
    assert out.steering <= 8.0 * 0.05 + 1e-9


@pytest.mark.parametrize("fault", ["timeout", "nan"])
def test_a_blind_distance_sensor_means_a_crawl_and_the_kid_is_told_why(fault):
    rt, car, clock = make_runtime()
    car.sensor_fault = fault  # "nan": a driver that hands a NaN reading on; the supervisor sees a fault
    assert rt.handle_skill(request("r1", kind="drive", seconds=2, speed_pct=90))["ok"]
    events = []
    rt.telemetry_sinks.append(lambda tm: events.extend(tm.safety_events))
    rt.loop.run_headless(2.5)
    sent = [t for t, c in car.history]
    assert max(c.throttle for _, c in car.history) <= CRAWL + 1e-9
    assert sent and rt.results[0].status == "done"
    sensor = [e for e in events if e.reason == "sensor_fault"]
    assert sensor and "distance sensor" in sensor[0].kid_text


def test_reverse_has_its_own_cap_and_says_so():
    rt, car, clock = make_runtime()
    assert rt.handle_skill(request("r1", kind="drive", distance_cm=-150, speed_pct=100))["ok"]
    events = []
    rt.telemetry_sinks.append(lambda tm: events.extend(tm.safety_events))
    rt.loop.run_headless(5.0)
    fastest_back = min(c.throttle for _, c in car.history)
    assert fastest_back >= -rt.config.limits.max_reverse_pct / 100 - 1e-9
    assert fastest_back < -0.4  # it did back up at its reverse cap (50 %)
    assert any(e.reason == "speed_limit" and "back up" in e.kid_text for e in events)


def test_a_few_bad_pose_samples_are_dropped_and_counted_and_the_move_goes_on():
    rt, car, clock = make_runtime()
    assert rt.handle_skill(request("r1", kind="drive", distance_cm=80, speed_pct=60))["ok"]
    rt.loop.run_headless(0.5)
    car.bad_pose_reads = 3  # a tracker glitch: three NaN samples in a row
    rt.loop.run_headless(4.0, until=lambda: bool(rt.results))
    assert rt.loop.bad_states == 3
    assert [(r.status, r.reason) for r in rt.results] == [("done", "")]
    assert rt.loop.last_telemetry is not None  # and telemetry kept going (no NaN in it)


def test_a_run_of_bad_pose_samples_stops_the_car_and_ends_the_move_without_ending_the_program():
    rt, car, clock = make_runtime()
    assert rt.handle_skill(request("r1", kind="drive", seconds=5, speed_pct=60))["ok"]
    rt.loop.run_headless(1.0)
    car.bad_pose_reads = 40  # the pose source is gone for 0.8 s
    rt.loop.run_headless(1.0)
    assert [(r.status, r.reason) for r in rt.results] == [("failed", "pose_lost")]
    assert "where I am" in rt.results[0].kid_text
    assert car.command.throttle == 0.0
    rt.loop.run_headless(1.0)  # the pose is back: the car program is still running and answers
    assert rt.handle_skill(request("r2", kind="drive", distance_cm=10))["ok"]
    rt.loop.run_headless(3.0)
    assert rt.results[-1].status == "done"
