"""The link watchdog on a real simulated car: no heartbeat for 300 ms -> zero throttle, car stops."""

from __future__ import annotations

from car_helpers import make_runtime, request, run_with_heartbeats

from robot_runtime.executor import LINK_PAUSE_MAX_S
from robot_runtime.protocol import WATCHDOG_S
from robot_runtime.watchdog import LinkWatchdog


def test_watchdog_stops_the_simulated_car_within_300ms_of_the_last_heartbeat():
    rt, car, clock = make_runtime(watchdog=True)
    assert rt.handle_skill(request("r1", kind="drive", seconds=10, speed_pct=80))["ok"]
    run_with_heartbeats(rt, 1.5)
    assert car.command.throttle > 0.7  # driving at speed while the link is healthy
    last_heartbeat = rt.supervisor.watchdog.last_heartbeat
    run_with_heartbeats(rt, 2.0, until_s=last_heartbeat)  # the link goes silent
    # From the simulator's own command history: the first zero throttle after the last heartbeat.
    zero_at = next(t for t, cmd in car.history if t >= last_heartbeat and cmd.throttle == 0.0)
    assert zero_at - last_heartbeat <= WATCHDOG_S + 1e-9  # the envelope looks one tick ahead
    assert all(cmd.throttle == 0.0 for t, cmd in car.history if t >= zero_at)
    assert abs(car.read().speed_cm_s) < 1.0  # and the car has physically stopped
    assert rt.results == []  # the move waits for the server (a stall of a second or two is ridden out) ...
    run_with_heartbeats(rt, LINK_PAUSE_MAX_S, until_s=last_heartbeat)
    assert all(cmd.throttle == 0.0 for t, cmd in car.history if t >= zero_at)  # ... stopped all the while
    # ... until the link is gone for good: the running request ended once, as a lost link.
    assert [(r.request_id, r.status, r.reason) for r in rt.results] == [("r1", "failed", "link_lost")]
    assert rt.loop.last_telemetry.safety_state == "watchdog"


def test_a_one_second_server_stall_pauses_the_move_and_it_finishes_the_whole_distance():
    """Finding 6 of issue 17: a 1 s server stall failed the running block (link_lost at the watchdog).
    Now the car stops (the watchdog's promise above is unchanged), waits, and goes on where it was."""
    rt, car, clock = make_runtime(watchdog=True)
    start_x = car.read().x_cm
    assert rt.handle_skill(request("r1", kind="drive", distance_cm=120, speed_pct=60))["ok"]
    run_with_heartbeats(rt, 0.8)
    stalled_at = rt.supervisor.watchdog.last_heartbeat
    moved_before = car.read().x_cm - start_x
    assert 5 < moved_before < 100
    run_with_heartbeats(rt, 1.0, until_s=stalled_at)  # the server stalls for 1 s: no heartbeats
    zero_at = next(t for t, cmd in car.history if t >= stalled_at and cmd.throttle == 0.0)
    assert zero_at - stalled_at <= WATCHDOG_S + 1e-9  # stopped by the watchdog, as always
    assert rt.results == [] and abs(car.read().speed_cm_s) < 1.0
    run_with_heartbeats(rt, 8.0)  # the server is back
    assert [(r.request_id, r.status) for r in rt.results] == [("r1", "done")]
    assert abs((car.read().x_cm - start_x) - 120) < 6  # the whole distance, not a restart or a jump


def test_watchdog_stop_is_a_decel_limited_ramp_not_a_jump():
    rt, car, clock = make_runtime(watchdog=True)
    rt.handle_skill(request("r1", kind="drive", seconds=10, speed_pct=100))
    run_with_heartbeats(rt, 1.5)
    last_heartbeat = rt.supervisor.watchdog.last_heartbeat
    run_with_heartbeats(rt, 1.0, until_s=last_heartbeat)
    after = [cmd.throttle for t, cmd in car.history if t >= last_heartbeat - 0.05]
    steps = [a - b for a, b in zip(after, after[1:])]
    assert max(steps) <= rt.config.limits.max_decel_per_s * rt.loop.period + 1e-9


def test_heartbeats_resume_and_the_car_can_drive_again():
    rt, car, clock = make_runtime(watchdog=True)
    run_with_heartbeats(rt, 0.5, until_s=0.0)  # silent link
    assert rt.supervisor.state == "watchdog"
    run_with_heartbeats(rt, 0.3)
    assert rt.handle_skill(request("r2", kind="drive", distance_cm=20))["ok"]
    run_with_heartbeats(rt, 3.0)
    assert rt.results[-1].status == "done"


def test_watchdog_envelope_is_full_throttle_while_heartbeats_arrive_every_100ms():
    wd = LinkWatchdog()
    wd.feed(10.0)
    assert wd.throttle_cap(10.0 + 0.1, decel_per_s=8.0) >= 1.0  # a healthy link never limits speed
    assert wd.throttle_cap(10.0 + WATCHDOG_S, decel_per_s=8.0) == 0.0
    assert LinkWatchdog(enabled=False).expired(1e9) is False
