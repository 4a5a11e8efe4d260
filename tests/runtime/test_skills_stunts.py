"""Donut and drift: real slip at Level-4 speed, refused by the supervisor's limits at Level-1 speed.

Slip is measured, not assumed: CarState.slip_deg is the rear axle's slip angle, about 0 in any clean
turn (the kinematic turn at full lock included) and large only when the tail slides.
"""

from __future__ import annotations

import pytest

from robot_runtime.arena import Arena
from robot_runtime.protocol import NamedSkillAction, Pose
from robot_runtime.sim import SimCar
from robot_runtime.skills.stunts import SLIP_REAL_DEG

from sim_helpers import CONTROL_DT, run_supervised

LEVEL_4 = {"max_speed_pct": 100, "level": 4}
LEVEL_1 = {"max_speed_pct": 30, "level": 1}
DONUT_POSES = [(300.0, 200.0, 0.0), (250.0, 220.0, 135.0), (340.0, 180.0, -90.0)]
DRIFT_POSES = [(60.0, 100.0, 0.0), (540.0, 300.0, 180.0), (100.0, 60.0, 20.0)]
ARENA = Arena(name="stunt floor", width_cm=600, height_cm=400)


def _car(pose):
    return SimCar(arena=ARENA, pose=Pose(x_cm=pose[0], y_cm=pose[1], heading_deg=pose[2]))


def _slide_seconds(run) -> float:
    return sum(CONTROL_DT for s in run.states if abs(s.slip_deg) >= SLIP_REAL_DEG)


@pytest.mark.parametrize("pose", DONUT_POSES)
def test_donut_slides_for_real_at_level_4_speed(pose):
    run = run_supervised(_car(pose), NamedSkillAction(name="donut", speed_pct=100), limits=LEVEL_4)
    assert run.result.status == "done", run.result
    assert run.max_abs_slip_deg > 45.0
    assert _slide_seconds(run) > 1.5  # sustained: two turns of sliding
    assert "Donut" in run.result.kid_text
    assert not [c for s in run.states for c in s.collisions]


@pytest.mark.parametrize("pose", DRIFT_POSES)
def test_drift_slides_round_a_corner_at_level_4_speed(pose):
    run = run_supervised(_car(pose), NamedSkillAction(name="drift", speed_pct=100), limits=LEVEL_4)
    assert run.result.status == "done", run.result
    assert run.max_abs_slip_deg > 20.0
    assert _slide_seconds(run) > 0.4
    turned = sum((b.heading_deg - a.heading_deg + 540.0) % 360.0 - 180.0 for a, b in zip(run.states, run.states[1:]))
    assert turned > 140.0  # a hairpin, drifted
    assert not [c for s in run.states for c in s.collisions]


@pytest.mark.parametrize("name", ["donut", "drift"])
@pytest.mark.parametrize("pose_index", [0, 1])
def test_donut_and_drift_are_refused_by_the_supervisors_limits_at_level_1_speed(name, pose_index):
    pose = (DONUT_POSES if name == "donut" else DRIFT_POSES)[pose_index]
    run = run_supervised(_car(pose), NamedSkillAction(name=name, speed_pct=100), limits=LEVEL_1)
    assert run.result.status == "failed"
    assert run.result.reason == "blocked_by_safety"
    assert "more speed" in run.result.kid_text and "Level 4" in run.result.kid_text
    assert run.max_abs_slip_deg < 3.0  # the tyres held: no slip at all
    assert max(abs(c.throttle) for c in run.sent) <= 0.30 + 1e-9  # the supervisor capped every command
    assert any(e.reason == "speed_limit" for e in run.safety_events)


def test_donut_without_room_says_so_before_moving():
    run = run_supervised(SimCar(arena=Arena(width_cm=300, height_cm=200)), NamedSkillAction(name="donut"), limits=LEVEL_4)
    assert (run.result.status, run.result.reason) == ("failed", "no_room")
    assert "open floor" in run.result.kid_text
    assert max(abs(c.throttle) for c in run.sent) == 0.0


def test_donut_checks_the_room_round_its_circle_not_just_where_it_stands():
    # 150 cm of floor round the car, but the spin-up circle lies to its left, 51 cm closer to the top
    # wall: at Level 4 it used to start, get held back by the fence and blame the level ("unlock at Level 4").
    run = run_supervised(_car((300.0, 250.0, 0.0)), NamedSkillAction(name="donut", speed_pct=100), limits=LEVEL_4)
    assert (run.result.status, run.result.reason) == ("failed", "no_room"), run.result
    assert "Level" not in run.result.kid_text
    assert max(abs(c.throttle) for c in run.sent) == 0.0
