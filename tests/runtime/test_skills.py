"""Every skill in the simulator, from several start poses: the promises of issue 2.

Skills run through the real car runtime (executor -> safety supervisor -> SimCar, ticked by the real
control loop, headless on a ManualClock), so every command a skill makes passes the supervisor.
"""

from __future__ import annotations

import math

import pytest

from robot_runtime.arena import Arena
from robot_runtime.hardware import CarSpec
from robot_runtime.protocol import DriveAction, GotoAction, NamedSkillAction, StopAction, TurnAction
from robot_runtime.sim import SimCar
from robot_runtime.skills.base import SkillContext
from robot_runtime.skills.registry import UnknownSkillError, build_skill, register_skill, skill_names, unregister_skill

from sim_helpers import run_direct, run_supervised

OPEN = Arena(name="open", width_cm=1000, height_cm=1000)
START_POSES = [(500.0, 500.0, 0.0), (300.0, 650.0, 90.0), (700.0, 400.0, -135.0), (450.0, 450.0, 33.0)]


def _car(pose, arena=OPEN):
    from robot_runtime.protocol import Pose

    return SimCar(arena=arena, pose=Pose(x_cm=pose[0], y_cm=pose[1], heading_deg=pose[2]))


def _ctx(speed_pct=50.0, arena=OPEN):
    return SkillContext(spec=CarSpec(), arena=arena, speed_pct=speed_pct)


@pytest.mark.parametrize("pose", START_POSES)
@pytest.mark.parametrize("speed", [30, 100])
@pytest.mark.parametrize("distance", [30.0, -30.0])
def test_drive_30_cm_ends_30_cm_away(pose, speed, distance):
    car = _car(pose)
    run = run_supervised(car, DriveAction(distance_cm=distance, speed_pct=speed))
    assert run.result.status == "done", run.result
    moved = math.hypot(run.end.x_cm - pose[0], run.end.y_cm - pose[1])
    assert moved == pytest.approx(30.0, abs=2.0)
    # and it went the right way along its heading
    along = (run.end.x_cm - pose[0]) * math.cos(math.radians(pose[2])) + (run.end.y_cm - pose[1]) * math.sin(math.radians(pose[2]))
    assert math.copysign(1, along) == math.copysign(1, distance)


def test_drive_for_seconds_drives_about_speed_times_time_then_stops():
    car = _car(START_POSES[0])
    run = run_supervised(car, DriveAction(seconds=2.0, speed_pct=50))
    assert run.result.status == "done"
    moved = run.end.x_cm - 500.0
    assert 0.8 * 300 < moved < 1.1 * 300  # 150 cm/s for 2 s, less the start-up
    assert abs(run.end.speed_cm_s) < 2.0


@pytest.mark.parametrize("pose", START_POSES)
@pytest.mark.parametrize("degrees", [90.0, -90.0])
@pytest.mark.parametrize("speed", [30, 100])
def test_turn_90_changes_heading_by_90(pose, degrees, speed):
    car = _car(pose)
    run = run_supervised(car, TurnAction(degrees=degrees, speed_pct=speed))
    assert run.result.status == "done", run.result
    change = (run.end.heading_deg - pose[2] + 540.0) % 360.0 - 180.0
    assert change == pytest.approx(degrees, abs=5.0)


@pytest.mark.parametrize("degrees", [360.0, -720.0, 45.0, -10.0])
def test_turn_any_angle_including_full_circles(degrees):
    car = _car(START_POSES[0])
    run = run_supervised(car, TurnAction(degrees=degrees, speed_pct=50))
    assert run.result.status == "done"
    turned = sum((b.heading_deg - a.heading_deg + 540.0) % 360.0 - 180.0 for a, b in zip(run.states, run.states[1:]))
    assert turned == pytest.approx(degrees, abs=5.0)


@pytest.mark.parametrize("pose", START_POSES)
@pytest.mark.parametrize("offset", [(100.0, 50.0), (-80.0, 0.0), (0.0, -20.0), (-200.0, 150.0), (10.0, 30.0)])
def test_goto_ends_within_5_cm(pose, offset):
    car = _car(pose)
    tx, ty = pose[0] + offset[0], pose[1] + offset[1]
    run = run_supervised(car, GotoAction(x_cm=tx, y_cm=ty, speed_pct=70))
    assert run.result.status == "done", run.result
    assert math.hypot(run.end.x_cm - tx, run.end.y_cm - ty) < 5.0


def test_stop_brakes_to_rest_and_says_done():
    from robot_runtime.hardware import Command

    car = _car(START_POSES[0])
    car.apply(Command(0.8, 0.0))
    for _ in range(50):
        car.advance(0.02)
    run = run_direct(car, build_skill(StopAction(), _ctx()))
    assert run.final.status == "done"
    assert abs(run.states[-1].speed_cm_s) < 2.0
    assert run.duration_s < 1.5


def test_unknown_skill_name_names_the_value_and_the_known_names():
    with pytest.raises(UnknownSkillError) as err:
        build_skill(NamedSkillAction(name="moonwalk"), _ctx())
    text = str(err.value)
    assert "moonwalk" in text
    for name in skill_names():
        assert name in text


def test_registered_skills_are_built_by_name():
    from robot_runtime.skills.drive import StopSkill

    register_skill("test_brake", StopSkill)
    try:
        assert "test_brake" in skill_names()
        assert isinstance(build_skill(NamedSkillAction(name="test_brake"), _ctx()), StopSkill)
        with pytest.raises(ValueError, match="already registered"):
            register_skill("test_brake", StopSkill)
        with pytest.raises(ValueError, match="lower_snake_case"):
            register_skill("Bad Name", StopSkill)
    finally:
        unregister_skill("test_brake")


@pytest.mark.parametrize("y", [85.0, 315.0])
def test_goto_a_point_behind_next_to_a_wall_swings_round_away_from_the_wall(y):
    from robot_runtime.protocol import Pose

    arena = Arena(width_cm=600, height_cm=400)
    car = SimCar(arena=arena, pose=Pose(x_cm=450, y_cm=y, heading_deg=0))
    run = run_supervised(car, GotoAction(x_cm=150, y_cm=y, speed_pct=70))
    assert run.result.status == "done", run.result
    assert math.hypot(run.end.x_cm - 150, run.end.y_cm - y) < 5.0
    assert not car.collision_log and not [e for e in run.safety_events if e.reason == "fence"]


def test_unknown_skill_through_the_car_gets_an_error_ack_naming_the_known_skills():
    from robot_runtime.clock import ManualClock
    from robot_runtime.config import CarConfig
    from robot_runtime.runtime import CarRuntime

    car = _car(START_POSES[0])
    rt = CarRuntime(CarConfig(car_id="sim-test", watchdog=False, mode="headless"), car, ManualClock(), arena=car.arena)
    ack = rt.handle_skill({"request_id": "r1", "action": {"kind": "skill", "name": "moonwalk"}})
    assert not ack["ok"]
    assert "moonwalk" in ack["error"]["message"] and "slalom" in ack["error"]["message"]


def test_drive_into_a_wall_ends_blocked_by_safety_without_touching_it():
    from robot_runtime.arena import Wall
    from robot_runtime.protocol import Pose

    arena = Arena(width_cm=600, height_cm=300, walls=[Wall(x0=250, y0=0, x1=250, y1=300)])
    car = SimCar(arena=arena, pose=Pose(x_cm=100, y_cm=150, heading_deg=0))
    run = run_supervised(car, DriveAction(distance_cm=200, speed_pct=50))
    assert (run.result.status, run.result.reason) == ("failed", "blocked_by_safety")
    assert "ahead" in run.result.kid_text
    assert not car.collision_log
    assert run.end.x_cm + 20 < 249.0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_drive_turn_and_goto_keep_their_promises_with_seeded_sensor_and_actuator_noise(seed):
    from robot_runtime.sim import NoiseSpec

    noise = NoiseSpec(seed=seed, distance_sigma_cm=1.0, pose_sigma_cm=0.3, heading_sigma_deg=0.3, speed_sigma_cm_s=1.0,
                      throttle_sigma=0.02, steering_sigma=0.02, steering_trim=0.03)  # trim: a mis-centred servo
    pose = START_POSES[3]

    def fresh() -> SimCar:
        from robot_runtime.protocol import Pose

        return SimCar(arena=OPEN, pose=Pose(x_cm=pose[0], y_cm=pose[1], heading_deg=pose[2]), noise=noise)

    car = fresh()  # the car's true pose (not its noisy reading) is what the promise is about
    assert run_supervised(car, DriveAction(distance_cm=30, speed_pct=50)).result.status == "done"
    assert math.hypot(car.pose.x_cm - pose[0], car.pose.y_cm - pose[1]) == pytest.approx(30.0, abs=2.0)
    car = fresh()
    assert run_supervised(car, TurnAction(degrees=90, speed_pct=50)).result.status == "done"
    assert (car.pose.heading_deg - pose[2] + 540) % 360 - 180 == pytest.approx(90.0, abs=5.0)
    car = fresh()
    assert run_supervised(car, GotoAction(x_cm=pose[0] - 100, y_cm=pose[1] + 150, speed_pct=50)).result.status == "done"
    assert math.hypot(car.pose.x_cm - (pose[0] - 100), car.pose.y_cm - (pose[1] + 150)) < 5.0


def test_a_skill_with_a_speed_limit_of_zero_fails_at_once_and_says_why():
    car = _car(START_POSES[0])
    run = run_supervised(car, DriveAction(distance_cm=30, speed_pct=50), limits={"max_speed_pct": 0})
    assert (run.result.status, run.result.reason) == ("failed", "blocked_by_safety")
    assert "speed limit is 0" in run.result.kid_text
    assert run.result.duration_s < 0.1


@pytest.mark.parametrize(("pose", "degrees"), [((50.0, 40.0, 180.0), -90.0),
                                               ((60.0, 160.0, 90.0), 180.0), ((250.0, 40.0, 0.0), 90.0)])
def test_turn_in_a_tight_spot_becomes_a_three_point_turn_instead_of_giving_up(pose, degrees):
    from robot_runtime.protocol import Pose

    car = SimCar(arena=Arena(), pose=Pose(x_cm=pose[0], y_cm=pose[1], heading_deg=pose[2]))  # 3 x 2 m, walls close
    run = run_supervised(car, TurnAction(degrees=degrees, speed_pct=30), limits={"max_speed_pct": 30, "level": 1})
    assert run.result.status == "done", run.result
    change = (run.end.heading_deg - pose[2] + 540.0) % 360.0 - 180.0
    assert change == pytest.approx(degrees if abs(degrees) < 180 else math.copysign(180.0, change), abs=5.0)
    assert any(c.throttle < 0 for c in run.sent)  # it backed up at least once
    assert not car.collision_log
    # ...and says so: the kid's square near a wall ends somewhere else, and this is why
    assert run.result.reason == "tight_turn", run.result
    assert "backed up" in run.result.kid_text and "room" in run.result.kid_text


def test_a_turn_in_open_floor_is_one_curve_and_says_nothing_more():
    car = _car(START_POSES[0])
    run = run_supervised(car, TurnAction(degrees=90.0, speed_pct=30))
    assert (run.result.status, run.result.reason, run.result.kid_text) == ("done", "", "Turned!")


def test_a_turn_whose_arc_clears_the_wall_ahead_is_driven_in_one_go():
    """40 cm from the wall ahead, a left turn's arc (full lock, 51 cm radius) swings clear of it: the fence
    follows the path the steering drives, so no three-point turn is needed — and nothing is touched."""
    from robot_runtime.protocol import Pose

    car = SimCar(arena=Arena(), pose=Pose(x_cm=240.0, y_cm=100.0, heading_deg=0.0))
    run = run_supervised(car, TurnAction(degrees=90.0, speed_pct=30), limits={"max_speed_pct": 30, "level": 1})
    assert run.result.status == "done", run.result
    assert (run.end.heading_deg - 0.0 + 540.0) % 360.0 - 180.0 == pytest.approx(90.0, abs=5.0)
    assert not car.collision_log


@pytest.mark.parametrize(("pose", "target"), [((240.0, 100.0, 0.0), (100.0, 100.0)), ((60.0, 40.0, 180.0), (200.0, 60.0)),
                                              ((250.0, 160.0, 45.0), (60.0, 40.0))])
def test_goto_from_a_tight_spot_backs_off_and_gets_there(pose, target):
    from robot_runtime.protocol import Pose

    car = SimCar(arena=Arena(), pose=Pose(x_cm=pose[0], y_cm=pose[1], heading_deg=pose[2]))  # 3 x 2 m
    run = run_supervised(car, GotoAction(x_cm=target[0], y_cm=target[1], speed_pct=30), limits={"max_speed_pct": 30, "level": 3})
    assert run.result.status == "done", run.result
    assert math.hypot(run.end.x_cm - target[0], run.end.y_cm - target[1]) < 5.0
    assert not car.collision_log


def test_goto_a_point_behind_a_wall_ends_blocked_without_touching_it():
    from robot_runtime.arena import Wall
    from robot_runtime.protocol import Pose

    arena = Arena(width_cm=400, height_cm=200, walls=[Wall(x0=200, y0=0, x1=200, y1=200)])
    car = SimCar(arena=arena, pose=Pose(x_cm=80, y_cm=100, heading_deg=0))
    run = run_supervised(car, GotoAction(x_cm=300, y_cm=100, speed_pct=50))
    assert (run.result.status, run.result.reason) == ("failed", "blocked_by_safety")
    assert "ahead" in run.result.kid_text
    assert not car.collision_log


@pytest.mark.parametrize("degrees", [180.0, -150.0, 90.0, -20.0])
def test_a_compact_turn_turns_nearly_on_the_spot(degrees):
    from robot_runtime.skills.turn import TurnSkill

    car = _car(START_POSES[0])
    skill = TurnSkill(_ctx(50), degrees, compact=True)
    run = run_direct(car, skill)
    assert run.final.status == "done"
    assert math.degrees(skill.heading_unwrapped - skill.h0) == pytest.approx(degrees, abs=5.0)
    xs, ys = [s.x_cm for s in run.states], [s.y_cm for s in run.states]
    assert max(xs) - min(xs) < 50 and max(ys) - min(ys) < 50  # a plain arc would sweep up to 2 x 51 cm


def test_stop_is_done_even_when_the_car_bumps_a_wall_while_braking():
    from robot_runtime.arena import Wall
    from robot_runtime.hardware import Command
    from robot_runtime.protocol import Pose

    arena = Arena(width_cm=600, height_cm=300, walls=[Wall(x0=200, y0=0, x1=200, y1=300)])
    car = SimCar(arena=arena, pose=Pose(x_cm=60, y_cm=150, heading_deg=0))
    car.apply(Command(1.0, 0.0))
    while car.model.x < 150:  # flat out towards the wall, no supervisor
        car.advance(0.02)
    car.read()
    run = run_direct(car, build_skill(StopAction(), _ctx()))
    assert car.collision_log  # it did hit the wall while braking
    assert run.final.status == "done"
