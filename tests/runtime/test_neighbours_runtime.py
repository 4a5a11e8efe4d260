"""The car's side of the ``neighbours`` message (runtime.py) and the simulator's other cars (sim/bodies.py):
a real CarRuntime around a real SimCar on a ManualClock."""

from __future__ import annotations

import math

from car_helpers import BIG_ARENA, make_runtime, request

from robot_runtime.hardware import CarSpec, Command
from robot_runtime.protocol import NearbyCar, Pose
from robot_runtime.sim import SimCar


def other(x: float, y: float, heading: float = 180.0, **more) -> dict:
    return {"car_id": "car-2", "x_cm": x, "y_cm": y, "heading_deg": heading, **more}


def test_a_car_drives_a_move_toward_a_standing_car_and_stops_short_of_it_with_a_kid_sentence():
    rt, car, clock = make_runtime()
    start = car.pose
    ahead = start.x_cm + 150
    # the server's relay sends the standing car ten times a second; the move asks to drive through it
    assert rt.handle_skill(request("r1", kind="drive", distance_cm=300, speed_pct=80))["ok"]
    for _ in range(200):
        assert rt.handle_neighbours({"seq": 1, "cars": [other(ahead, start.y_cm)]})["ok"]
        rt.loop.run_headless(0.1)
        if rt.results:
            break
    result = rt.results[-1]
    assert result.status == "failed" and result.reason == "blocked_by_safety"
    assert "another car" in result.kid_text
    gap = (ahead - 20) - (car.pose.x_cm + 20)  # bumper to bumper
    assert 0 < gap < 40, gap
    assert car.collision_log == []


def test_a_malformed_neighbours_message_is_refused_with_the_field_and_the_old_list_is_kept():
    rt, car, clock = make_runtime()
    assert rt.handle_neighbours({"cars": [other(400, 500)]})["ok"]
    bad = rt.handle_neighbours({"cars": [other(400, 500, vx_cm_s="fast")]})
    assert not bad["ok"] and "vx_cm_s" in bad["error"]["message"] and bad["error"]["fix"]
    nan = rt.handle_neighbours({"cars": [other(float("nan"), 500)]})
    assert not nan["ok"]
    assert list(rt.supervisor.neighbours.cars) == ["car-2"]  # still avoided
    assert rt.supervisor.neighbours.cars["car-2"].car.x_cm == 400


def test_a_list_without_a_car_forgets_it_and_a_stale_one_is_kept_and_reported_stale():
    rt, car, clock = make_runtime()
    rt.handle_neighbours({"cars": [other(400, 500)]})
    clock.advance(1.0)  # no news for a second: still there, stale
    assert rt.supervisor.neighbours.stale(clock.now()) == ["car-2"]
    rt.handle_neighbours({"cars": []})
    assert rt.supervisor.neighbours.cars == {}


def test_two_simulated_cars_that_bump_both_record_the_collision_with_the_other_car():
    """No supervisors here: the simulator's bodies are solid (each car's own simulator sees the other)."""
    a = SimCar(arena=BIG_ARENA, pose=Pose(x_cm=300, y_cm=500, heading_deg=0))
    b = SimCar(arena=BIG_ARENA, pose=Pose(x_cm=500, y_cm=500, heading_deg=180))

    def seen(c: SimCar, cid: str) -> NearbyCar:
        s = c.read()
        h = math.radians(s.heading_deg)
        return NearbyCar(car_id=cid, x_cm=s.x_cm, y_cm=s.y_cm, heading_deg=s.heading_deg,
                         vx_cm_s=s.speed_cm_s * math.cos(h), vy_cm_s=s.speed_cm_s * math.sin(h))

    for i in range(150):
        if i % 5 == 0:  # 10 Hz, as the relay
            a.set_bodies([seen(b, "car-b")])
            b.set_bodies([seen(a, "car-a")])
        a.apply(Command(0.5, 0.0))
        b.apply(Command(0.5, 0.0))
        a.advance(0.02)
        b.advance(0.02)
    assert [e.with_ for e in a.collision_log][:1] == ["car:car-b"]
    assert [e.with_ for e in b.collision_log][:1] == ["car:car-a"]
    spec = CarSpec()
    # held apart: the centres never got closer than a car length less a few cm of overlap
    assert b.pose.x_cm - a.pose.x_cm > spec.length_cm - 5


def test_a_bump_into_another_car_ends_the_move_and_tells_the_kid():
    rt, car, clock = make_runtime()
    samples = []
    rt.telemetry_sinks.append(samples.append)
    start = car.pose
    # only the simulator knows this car (the supervisor never heard of it): the car really bumps into it
    car.set_bodies([NearbyCar(car_id="car-9", x_cm=start.x_cm + 80, y_cm=start.y_cm, heading_deg=0)])
    assert rt.handle_skill(request("r1", kind="drive", distance_cm=200, speed_pct=50))["ok"]
    rt.loop.run_headless(until=lambda: bool(rt.results), max_seconds=10)
    result = rt.results[-1]
    assert (result.status, result.reason) == ("failed", "collision")
    assert "bumped into another car" in result.kid_text and "car-9" in result.detail
    rt.loop.run_headless(0.2)
    events = [e for t in samples for e in t.safety_events]
    assert any(e.reason == "obstacle" and "bumped" in e.kid_text for e in events)
    assert any(c.with_ == "car:car-9" for t in samples for c in t.collisions)
