"""The car's own arena is the outer bound of its fence: a server arena can add walls and zones, never
widen it. And a closed zone the car started in closes again once its footprint has left it."""

from __future__ import annotations

from car_helpers import request

from robot_runtime.arena import Arena, Wall
from robot_runtime.clock import ManualClock
from robot_runtime.config import CarConfig
from robot_runtime.hardware import CarState
from robot_runtime.protocol import Pose
from robot_runtime.runtime import CarRuntime
from robot_runtime.sim import SimCar

OWN = Arena(name="the car's floor", width_cm=300, height_cm=200, start={"x_cm": 50, "y_cm": 100, "heading_deg": 0})
HUGE = Arena(name="50 m square", width_cm=5000, height_cm=5000, start={"x_cm": 50, "y_cm": 100, "heading_deg": 0})
NEAR_EDGE = CarState(t=0, x_cm=300 - 20 - 30, y_cm=100, heading_deg=0)  # bumper 30 cm from the car's own edge


class FixedFloorCar(SimCar):
    """Hardware that cannot be moved to another arena by a message (as a real car): no load_arena."""

    load_arena = None


def cap(rt: CarRuntime) -> float:
    return rt.supervisor.fence.check(NEAR_EDGE, 1.0, 0.0, 1.0).cap


def test_a_server_arena_never_widens_the_cars_own_arena():
    rt = CarRuntime(CarConfig(car_id="car-1", mode="headless", watchdog=False), SimCar(arena=OWN), ManualClock(),
                    arena=OWN, own_arena=OWN)
    before = cap(rt)
    assert before < 0.5
    assert rt.handle_arena({"arena": HUGE.model_dump(mode="json")})["ok"]
    assert cap(rt) <= before + 1e-9  # was 0.22 -> 1.0 before the fix
    assert (rt.arena.width_cm, rt.arena.height_cm) == (300, 200)


def test_a_server_arena_can_add_walls_inside_the_cars_own():
    rt = CarRuntime(CarConfig(car_id="car-1", mode="headless", watchdog=False), SimCar(arena=OWN), ManualClock(),
                    arena=OWN, own_arena=OWN)
    open_cap = rt.supervisor.fence.check(CarState(t=0, x_cm=100, y_cm=100, heading_deg=0), 1.0, 0.0, 1.0).cap
    walled = HUGE.model_copy(update={"walls": [Wall(x0=150, y0=0, x1=150, y1=200)]})
    assert rt.handle_arena({"arena": walled.model_dump(mode="json")})["ok"]
    walled_cap = rt.supervisor.fence.check(CarState(t=0, x_cm=100, y_cm=100, heading_deg=0), 1.0, 0.0, 1.0).cap
    assert walled_cap < open_cap


def test_hardware_that_cannot_load_an_arena_is_bounded_by_the_one_it_started_with():
    rt = CarRuntime(CarConfig(car_id="car-1", mode="headless", watchdog=False), FixedFloorCar(arena=OWN), ManualClock(),
                    arena=OWN)
    before = cap(rt)
    assert rt.handle_arena({"arena": HUGE.model_dump(mode="json")})["ok"]
    assert cap(rt) <= before + 1e-9


def test_a_simulated_cars_world_is_the_arena_it_is_given_when_it_has_none_of_its_own():
    car = SimCar(arena=OWN)
    rt = CarRuntime(CarConfig(car_id="car-1", mode="headless", watchdog=False), car, ManualClock(), arena=OWN)
    assert rt.handle_arena({"arena": HUGE.model_dump(mode="json")})["ok"]
    assert car.arena.width_cm == 5000 and rt.arena.width_cm == 5000  # the simulated floor really is bigger


def test_a_closed_zone_the_car_started_in_closes_again_once_it_has_left():
    arena = Arena(width_cm=800, height_cm=300, start={"x_cm": 100, "y_cm": 150, "heading_deg": 0})
    car = SimCar(arena=arena, pose=Pose(x_cm=100, y_cm=150, heading_deg=0))
    rt = CarRuntime(CarConfig(car_id="car-1", mode="headless", watchdog=False), car, ManualClock(), arena=arena)
    zone = {"x0": 40.0, "y0": 90.0, "x1": 160.0, "y1": 210.0}  # closed at this level; the car starts inside
    assert rt.handle_limits({"max_speed_pct": 50, "keep_out": [zone]})["ok"]
    assert rt.handle_skill(request("out", kind="drive", distance_cm=200, speed_pct=50))["ok"]
    rt.loop.run_headless(8.0, until=lambda: bool(rt.results))
    assert rt.results[-1].status == "done"  # it may drive out of the zone it was in
    states: list[CarState] = []
    assert rt.handle_skill(request("back", kind="drive", distance_cm=-200, speed_pct=50))["ok"]
    rt.loop.run_headless(8.0, until=lambda: (states.append(rt.loop.last_state), len(rt.results) > 1)[1])
    # ... but not back in: the zone is a wall again (the review saw a car drive back through it).
    rear_most = min(s.x_cm for s in states) - car.spec.length_cm / 2
    assert rear_most >= zone["x1"]
    assert (rt.results[-1].status, rt.results[-1].reason) == ("failed", "blocked_by_safety")
