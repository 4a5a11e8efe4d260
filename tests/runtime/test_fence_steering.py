"""The fence limits steering as well as speed, and counts sideways motion: scenarios with numbers a
person can check (the closed-loop and property tests cover the rest)."""

from __future__ import annotations

import math

import pytest
from sim_helpers import run_supervised

from robot_runtime.arena import Arena, Wall
from robot_runtime.config import HardLimits
from robot_runtime.hardware import CarSpec, CarState, Command
from robot_runtime.protocol import NamedSkillAction, Pose, SessionLimits
from robot_runtime.safety import SafetySupervisor
from robot_runtime.sim import SimCar

SPEC = CarSpec()
HARD = HardLimits()


def stop_cm(v: float) -> float:
    """The braking model with the default limits: 0.3 s to react, then 400 cm/s^2."""
    return v * 0.3 + v * v / (2 * 400.0)


def along_a_wall(gap_cm: float, side: float = 1.0) -> tuple[SafetySupervisor, float]:
    """A supervisor, and the y of a 2 cm wall running along +x `gap_cm` from the car's side (car at y=200)."""
    wall_y = 200.0 + side * (SPEC.width_cm / 2 + gap_cm + 1.0)
    arena = Arena(width_cm=3000, height_cm=400, start={"x_cm": 100, "y_cm": 200, "heading_deg": 0},
                  walls=[Wall(x0=0, y0=wall_y, x1=3000, y1=wall_y, thickness_cm=2)])
    sup = SafetySupervisor(HARD, SPEC, arena, watchdog=False, tick_s=0.02, session=SessionLimits())
    return sup, wall_y


def test_at_speed_the_fence_refuses_the_full_lock_it_could_not_stop_on_and_brakes_without_steering_in():
    sup, _ = along_a_wall(10.0)
    state = CarState(t=0, x_cm=500, y_cm=200, heading_deg=0, speed_cm_s=250.0)
    sup.filter(Command(0.8, 0.0), state, 0.0)
    out, events = sup.filter(Command(0.8, 1.0), state, 0.02)  # full lock left, toward the wall
    # The test's own geometry: at 250 cm/s the car needs stop_cm(250) = 153 cm; a left arc of any
    # radius under 1 km brings its side 10 cm closer well before that, so no left steering is stoppable.
    assert stop_cm(250.0) > 150.0
    assert out.steering <= 0.0 + 1e-9  # held straight (or away), never toward the wall
    assert "fence" in {e.reason for e in events}
    assert any("steered" in e.kid_text or "turned less" in e.kid_text for e in events if e.reason == "fence")


def test_steering_away_from_the_wall_is_never_held_back():
    sup, _ = along_a_wall(10.0)
    state = CarState(t=0, x_cm=500, y_cm=200, heading_deg=0, speed_cm_s=250.0)
    sup.filter(Command(0.8, 0.0), state, 0.0)
    outs = [sup.filter(Command(0.8, -1.0), state, 0.02 * i)[0] for i in range(1, 20)]
    assert outs[-1].steering == pytest.approx(-1.0)  # full lock to the right, away from the wall
    assert outs[-1].throttle > 0.5


def test_slow_enough_the_same_turn_toward_the_wall_is_allowed():
    """At walking pace the car can stop within its gap, so turning toward the wall is fine."""
    sup, _ = along_a_wall(30.0)
    state = CarState(t=0, x_cm=500, y_cm=200, heading_deg=0, speed_cm_s=20.0)
    outs = [sup.filter(Command(0.07, 1.0), state, 0.02 * i)[0] for i in range(30)]
    assert outs[-1].steering == pytest.approx(1.0)


@pytest.mark.parametrize("slip_deg, toward_wall", [(30.0, True), (-30.0, False)])
def test_a_sliding_car_is_braked_before_its_slide_reaches_the_wall(slip_deg, toward_wall):
    """Sliding left at 30 degrees, 30 cm from a wall on the left: while stopping from 250 cm/s (153 cm of
    path) the slide carries the car tan(30 deg) * 153 = 88 cm sideways: with the wheels straight it
    cannot stop before the wall, so it gets no throttle unless it steers away (right). Sliding the
    other way, the same car may keep going straight."""
    sup, _ = along_a_wall(30.0, side=1.0)
    v = 250.0
    assert math.tan(math.radians(30)) * stop_cm(v) > 30.0  # the test's own arithmetic
    state = CarState(t=0, x_cm=500, y_cm=200, heading_deg=0, speed_cm_s=v, slip_deg=slip_deg,
                     lateral_cm_s=v * math.tan(math.radians(slip_deg)))
    outs = [sup.filter(Command(0.8, 0.0), state, 0.02 * i)[0] for i in range(10)]
    if toward_wall:
        assert all(o.throttle == 0.0 or o.steering < 0.0 for o in outs)
        assert outs[0].throttle == 0.0  # the first tick cannot steer far enough away yet
    else:
        assert outs[-1].throttle > 0.0 and outs[-1].steering == 0.0


def test_pose_uncertainty_is_margin_the_fence_keeps():
    """Unsure by 20 cm where it is, 25 cm from a wall ahead: the car may only creep; sure, it may drive."""
    arena = Arena(width_cm=1000, height_cm=400, start={"x_cm": 100, "y_cm": 200, "heading_deg": 0},
                  walls=[Wall(x0=545, y0=0, x1=545, y1=400, thickness_cm=2)])
    speeds = {}
    for u in (0.0, 20.0):
        sup = SafetySupervisor(HARD, SPEC, arena, watchdog=False, session=SessionLimits())
        state = CarState(t=0, x_cm=500, y_cm=200, heading_deg=0, pose_uncertainty_cm=u)  # bumper 24 cm from the wall
        outs = [sup.filter(Command(1.0, 0.0), state, 0.02 * i)[0] for i in range(60)]
        speeds[u] = outs[-1].throttle
    assert speeds[0.0] > 0.1
    assert speeds[20.0] < speeds[0.0] / 2


def test_drift_at_level_4_next_to_a_wall_does_not_end_in_a_collision():
    """The review's finding: `drift` with a wall 30 cm to its left ended in a collision (throttle already
    0, steering still at full lock). Now it ends without touching anything, whatever the skill reports."""
    wall_y = 300.0 + SPEC.width_cm / 2 + 30.0 + 1.0
    arena = Arena(width_cm=1200, height_cm=800, start={"x_cm": 100, "y_cm": 300, "heading_deg": 0},
                  walls=[Wall(x0=0, y0=wall_y, x1=1200, y1=wall_y, thickness_cm=2)])
    car = SimCar(arena=arena)
    run = run_supervised(car, NamedSkillAction(name="drift", speed_pct=100), limits={"max_speed_pct": 100, "level": 4})
    assert run.result.status in ("done", "failed")
    assert car.collision_log == []
    assert not [c for s in run.states for c in s.collisions]


def test_a_slalom_still_passes_its_cones_with_cones_fenced():
    """Cones are on the fence now; a slalom plans 9 cm past them and still gets through, touching none."""
    car = SimCar(arena=Arena(width_cm=600, height_cm=300, start={"x_cm": 60, "y_cm": 150, "heading_deg": 0},
                             cones=[{"x_cm": 160, "y_cm": 150}, {"x_cm": 280, "y_cm": 150}, {"x_cm": 400, "y_cm": 150}]),
                 pose=Pose(x_cm=60, y_cm=150, heading_deg=0))
    run = run_supervised(car, NamedSkillAction(name="slalom", speed_pct=70), limits={"max_speed_pct": 70, "level": 3})
    assert run.result.status == "done", run.result
    assert car.collision_log == []


@pytest.mark.parametrize("steering", [-1.0, -0.3, 0.0, 0.3, 1.0])
def test_already_too_fast_to_stop_before_the_wall_ahead_means_zero_throttle(steering):
    """250 cm/s, 60 cm from a wall across the whole arena: stopping takes stop_cm(250) = 153 cm on any
    path, so the car gets no throttle at all, whatever it asks and however it steers."""
    arena = Arena(width_cm=1000, height_cm=1000, start={"x_cm": 100, "y_cm": 500, "heading_deg": 0},
                  walls=[Wall(x0=581, y0=0, x1=581, y1=1000, thickness_cm=2)])
    sup = SafetySupervisor(HARD, SPEC, arena, watchdog=False, session=SessionLimits())
    state = CarState(t=0, x_cm=500, y_cm=500, heading_deg=0, speed_cm_s=250.0)  # bumper 60 cm from the wall
    assert stop_cm(250.0) > 60.0 + 51.0  # more than the gap, and more than a full-lock turn's radius could dodge
    outs = [sup.filter(Command(1.0, steering), state, 0.02 * i)[0] for i in range(10)]
    assert all(o.throttle == 0.0 for o in outs)
