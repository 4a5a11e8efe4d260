"""The simulated car: Hardware protocol, low-speed accuracy, collisions, no tunnelling, determinism, noise."""

from __future__ import annotations

import math
import statistics

import pytest

from robot_runtime.arena import Arena, Cone, Wall
from robot_runtime.hardware import Command, CarSpec
from robot_runtime.protocol import Pose
from robot_runtime.sim import NoiseSpec, SimCar

DT = 0.02
OPEN = Arena(width_cm=1000, height_cm=1000, start=Pose(x_cm=500, y_cm=500, heading_deg=0))


def drive(car: SimCar, cmd: Command, seconds: float):
    states = []
    car.apply(cmd)
    for _ in range(round(seconds / DT)):
        car.advance(DT)
        states.append(car.read())
    return states


def test_apply_returns_the_clamped_command_actually_sent():
    car = SimCar(arena=OPEN)
    assert car.apply(Command(2.0, -3.0)) == Command(1.0, -1.0)
    assert car.apply(Command(float("nan"), 0.5)) == Command(0.0, 0.0)
    assert car.apply(Command(0.25, -0.5)) == Command(0.25, -0.5)
    assert car.command == Command(0.25, -0.5)


def test_stop_sets_neutral_at_once_and_the_car_comes_to_rest():
    car = SimCar(arena=OPEN)
    drive(car, Command(0.5, 0.0), 1.0)
    car.stop()
    assert car.command == Command(0.0, 0.0)
    for _ in range(100):
        car.advance(DT)
    assert abs(car.read().speed_cm_s) < 0.5


def test_throttle_is_a_fraction_of_top_speed():
    car = SimCar(arena=OPEN)
    states = drive(car, Command(0.5, 0.0), 2.0)
    assert states[-1].speed_cm_s == pytest.approx(0.5 * CarSpec().top_speed_cm_s, rel=0.02)
    assert states[-1].heading_deg == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("steering", [1.0, -1.0, 0.5])
def test_low_speed_turn_follows_the_kinematic_radius(steering):
    spec = CarSpec()
    car = SimCar(arena=OPEN)
    states = drive(car, Command(0.1, steering), 4.0)
    s = states[-1]
    radius = abs(s.speed_cm_s / math.radians(s.yaw_rate_dps))
    expected = spec.wheelbase_cm / math.tan(math.radians(abs(steering) * spec.max_steer_deg))
    assert radius == pytest.approx(expected, rel=0.01)
    assert math.copysign(1.0, s.yaw_rate_dps) == math.copysign(1.0, steering)  # left is positive
    assert abs(s.slip_deg) < 1.0


def test_min_turning_radius_is_about_51_cm():
    spec = CarSpec()
    assert spec.wheelbase_cm / math.tan(math.radians(spec.max_steer_deg)) == pytest.approx(51.0, abs=0.2)


def test_full_throttle_at_full_lock_spins_the_rear_out_in_a_sustained_donut():
    car = SimCar(arena=OPEN)
    states = drive(car, Command(1.0, 1.0), 5.0)
    late = [abs(s.slip_deg) for s in states[100:]]  # after 2 s
    assert statistics.median(late) > 30.0
    assert min(late) > 15.0
    assert statistics.median(abs(s.yaw_rate_dps) for s in states[100:]) > 200.0


@pytest.mark.parametrize("throttle", [0.3, -0.3])
def test_level_one_speed_at_full_lock_keeps_the_tyres_gripping(throttle):
    car = SimCar(arena=OPEN)
    states = drive(car, Command(throttle, 1.0), 4.0)
    assert max(abs(s.slip_deg) for s in states) < 3.0


def test_wall_collision_is_reported_and_the_car_stays_in_front_of_it():
    arena = Arena(width_cm=600, height_cm=300, start=Pose(x_cm=60, y_cm=150, heading_deg=0), walls=[Wall(x0=300, y0=50, x1=300, y1=250)])
    car = SimCar(arena=arena)
    states = drive(car, Command(1.0, 0.0), 2.0)
    events = [e for s in states for e in s.collisions]
    assert events and events[0].with_ == "wall"
    assert events[0].speed_cm_s > 150
    assert events[0].x_cm == pytest.approx(299.0, abs=0.05)  # on the wall's face
    half = CarSpec().length_cm / 2
    assert max(s.x_cm for s in states) + half <= 299.0 + 0.8  # the nose never goes into the wall
    assert states[-1].distance_cm is not None and states[-1].distance_cm < 1.0


def test_pushing_against_a_wall_reports_one_collision_not_one_per_step():
    arena = Arena(width_cm=600, height_cm=300, start=Pose(x_cm=250, y_cm=150, heading_deg=0), walls=[Wall(x0=300, y0=50, x1=300, y1=250)])
    car = SimCar(arena=arena)
    states = drive(car, Command(0.2, 0.0), 3.0)
    assert sum(len(s.collisions) for s in states) == 1


def test_collisions_are_delivered_once_by_read():
    arena = Arena(width_cm=600, height_cm=300, start=Pose(x_cm=250, y_cm=150, heading_deg=0), walls=[Wall(x0=300, y0=50, x1=300, y1=250)])
    car = SimCar(arena=arena)
    car.apply(Command(0.5, 0.0))
    car.advance(1.0)
    first = car.read().collisions
    assert first and all(e.with_ == "wall" for e in first)  # the hit (and maybe the re-hit after the bounce)
    assert car.read().collisions == ()
    assert list(first) == car.collision_log


def test_cone_collision_names_the_cone():
    arena = Arena(width_cm=600, height_cm=300, start=Pose(x_cm=60, y_cm=150, heading_deg=0),
                  cones=[Cone(x_cm=400, y_cm=20), Cone(x_cm=200, y_cm=155)])
    car = SimCar(arena=arena)
    states = drive(car, Command(0.5, 0.0), 2.0)
    events = [e for s in states for e in s.collisions]
    assert [e.with_ for e in events][:1] == ["cone:1"]


def test_arena_edge_is_a_wall():
    arena = Arena(width_cm=300, height_cm=200, start=Pose(x_cm=100, y_cm=100, heading_deg=90))
    car = SimCar(arena=arena)
    states = drive(car, Command(0.8, 0.0), 2.0)
    assert [e.with_ for s in states for e in s.collisions][:1] == ["edge"]
    assert max(s.y_cm for s in states) + CarSpec().length_cm / 2 <= 200.0 + 0.5


@pytest.mark.parametrize("thickness", [0.5, 2.0, 10.0])
@pytest.mark.parametrize("heading", [0.0, 30.0, -60.0])
def test_no_tunnelling_through_thin_walls_at_top_speed(thickness, heading):
    # a closed box of thin walls around the car; full throttle in every direction must never leave it
    walls = [Wall(x0=100, y0=100, x1=400, y1=100, thickness_cm=thickness), Wall(x0=400, y0=100, x1=400, y1=400, thickness_cm=thickness),
             Wall(x0=400, y0=400, x1=100, y1=400, thickness_cm=thickness), Wall(x0=100, y0=400, x1=100, y1=100, thickness_cm=thickness)]
    arena = Arena(width_cm=500, height_cm=500, start=Pose(x_cm=250, y_cm=250, heading_deg=heading), walls=walls)
    car = SimCar(arena=arena)
    for i in range(250):  # 5 s of full throttle, steering changing: many hits at 3 m/s
        car.apply(Command(1.0 if (i // 40) % 2 == 0 else -1.0, math.sin(i / 13.0)))
        car.advance(DT)
        s = car.read()
        assert 100 < s.x_cm < 400 and 100 < s.y_cm < 400


def test_no_tunnelling_through_a_small_cone():
    arena = Arena(width_cm=800, height_cm=300, start=Pose(x_cm=60, y_cm=150, heading_deg=0), cones=[Cone(x_cm=500, y_cm=150, radius_cm=1.0)])
    car = SimCar(arena=arena)
    states = drive(car, Command(1.0, 0.0), 3.0)
    assert any(e.with_ == "cone:0" for s in states for e in s.collisions)
    assert max(s.x_cm for s in states) < 500


def test_same_commands_give_the_same_run_without_noise():
    runs = []
    for _ in range(2):
        car = SimCar(arena=OPEN)
        states = []
        for i in range(200):
            car.apply(Command(0.9, math.sin(i / 10)))
            car.advance(DT)
            states.append(car.read())
        runs.append(states)
    assert runs[0] == runs[1]


def _noisy_run(seed: int):
    arena = Arena(width_cm=600, height_cm=300, start=Pose(x_cm=60, y_cm=150, heading_deg=0), walls=[Wall(x0=300, y0=50, x1=300, y1=250)])
    car = SimCar(arena=arena, noise=NoiseSpec(seed=seed, distance_sigma_cm=1.0, pose_sigma_cm=0.5, throttle_sigma=0.02, steering_sigma=0.02))
    out = []
    for _ in range(50):
        car.apply(Command(0.3, 0.0))
        car.advance(DT)
        out.append(car.read())
    return out


def test_noise_changes_readings_but_the_same_seed_reproduces_them():
    clean_car = SimCar(arena=Arena(width_cm=600, height_cm=300, start=Pose(x_cm=60, y_cm=150, heading_deg=0), walls=[Wall(x0=300, y0=50, x1=300, y1=250)]))
    clean = []
    for _ in range(50):
        clean_car.apply(Command(0.3, 0.0))
        clean_car.advance(DT)
        clean.append(clean_car.read())
    a, b, c = _noisy_run(7), _noisy_run(7), _noisy_run(8)
    assert a == b
    assert a != c
    assert [s.distance_cm for s in a] != [s.distance_cm for s in clean]
    # noise is noise, not a different world: readings stay within a few sigma of the truth
    pairs = [(n.distance_cm, t.distance_cm) for n, t in zip(a, clean, strict=True) if t.distance_cm is not None and t.distance_cm < 190]
    assert len(pairs) > 20
    assert all(n is not None and abs(n - t) < 5.0 for n, t in pairs)


def test_place_and_load_arena_put_the_car_at_rest_at_the_pose():
    car = SimCar(arena=OPEN)
    drive(car, Command(0.5, 0.5), 1.0)
    car.place(Pose(x_cm=100, y_cm=200, heading_deg=270))
    s = car.read()
    assert (s.x_cm, s.y_cm, s.heading_deg, s.speed_cm_s) == (100, 200, -90, 0)
    other = Arena(width_cm=300, height_cm=200, start=Pose(x_cm=150, y_cm=40, heading_deg=90))
    car.load_arena(other)
    s = car.read()
    assert (s.x_cm, s.y_cm, s.heading_deg) == (150, 40, 90)
    assert s.distance_cm == pytest.approx(200 - 40 - 20)
    car.load_arena(other, Pose(x_cm=50, y_cm=50, heading_deg=0))
    assert car.read().x_cm == 50


def test_advance_rejects_negative_time():
    car = SimCar(arena=OPEN)
    with pytest.raises(ValueError, match="dt >= 0"):
        car.advance(-0.1)


@pytest.mark.parametrize(("throttle", "spins"), [(0.3, False), (-0.3, False), (1.0, True), (-1.0, True)])
def test_a_level_1_launch_keeps_traction_and_a_full_throttle_launch_spins_the_rear_wheels(throttle, spins):
    car = SimCar(arena=OPEN)
    car.apply(Command(throttle, 0.0))
    saturated = []
    for _ in range(100):
        car.advance(0.02)
        saturated.append(car.model.rear_saturated)
    assert any(saturated) is spins
