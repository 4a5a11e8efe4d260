"""Arena zones closed at the driver's level (SessionLimits.keep_out) are walls to the supervisor:
the car stops before them and says why, and a car already inside one can still drive out."""

from __future__ import annotations

from car_helpers import make_runtime, request

from robot_runtime.arena import Arena

ARENA = Arena(width_cm=500, height_cm=200, start={"x_cm": 60, "y_cm": 100, "heading_deg": 0})
RAMP = {"x0": 250, "y0": 40, "x1": 330, "y1": 160}  # opens at a higher level
HALF_LENGTH_CM = 20.0  # the simulated car is 40 cm long


def drive(rt, rid: str, distance_cm: float) -> None:
    rt.handle_skill(request(rid, kind="drive", distance_cm=distance_cm, speed_pct=30))
    rt.loop.run_headless(20, until=lambda: any(r.request_id == rid for r in rt.results))


def test_the_car_stops_before_a_zone_closed_at_its_level_and_says_why():
    rt, car, _ = make_runtime(arena=ARENA)
    assert rt.handle_limits({"max_speed_pct": 30, "level": 1, "keep_out": [RAMP]})["ok"]
    drive(rt, "into-the-ramp", 400)
    front = car.pose.x_cm + HALF_LENGTH_CM
    assert front < RAMP["x0"], f"the bumper at x={front:.1f} crossed into the closed zone at x={RAMP['x0']}"
    assert car.pose.x_cm > RAMP["x0"] - 60, "it stopped near the zone, not far before it"
    assert "a zone for higher levels" in rt.supervisor.last_event_text["fence"]


def test_the_same_drive_goes_through_when_the_level_opens_the_zone():
    rt, car, _ = make_runtime(arena=ARENA)
    assert rt.handle_limits({"max_speed_pct": 30, "level": 3, "keep_out": []})["ok"]
    drive(rt, "over-the-ramp", 300)
    assert car.pose.x_cm > RAMP["x1"]


def test_a_car_inside_a_closed_zone_when_the_limits_arrive_can_drive_out():
    inside = Arena(width_cm=500, height_cm=200, start={"x_cm": 290, "y_cm": 100, "heading_deg": 0})
    rt, car, _ = make_runtime(arena=inside)
    rt.loop.run_headless(0.1)  # the supervisor has seen where the car is
    assert rt.handle_limits({"max_speed_pct": 30, "level": 1, "keep_out": [RAMP]})["ok"]
    drive(rt, "drive-out", 100)
    assert car.pose.x_cm > RAMP["x1"] + 20, "trapped inside the zone"
