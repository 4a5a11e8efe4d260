"""The pure parts of the wizard: which lessons fit a floor (moved, scaled, too big) and the test drive's
maths (drift, steering trim, speed model), each against an independent construction."""

from __future__ import annotations

import math

import pytest

from curriculum.lesson import EndPose, PathLengthMax
from curriculum.lesson_fit import MIN_SCALE, TURN_ROOM_CM, fit_lesson, fitted_lesson, used_box
from curriculum.loader import load_lessons
from robot_runtime.arena import Arena, Cone, NamedZone
from robot_runtime.hardware import CarSpec
from robot_runtime.protocol import Pose
from server.arena_camera.test_drive import DriveError, Sample, analyse
from server.core.home_floor import HomeFloor


def home(w: float, h: float) -> Arena:
    return Arena(name="home", width_cm=w, height_cm=h, start=Pose(x_cm=10, y_cm=10, heading_deg=0))


LESSON = Arena(name="lesson", width_cm=400, height_cm=300, start=Pose(x_cm=250, y_cm=150, heading_deg=0),
               cones=[Cone(x_cm=300, y_cm=150)], zones=[NamedZone(name="goal", x0=320, y0=130, x1=340, y1=170)])


def test_a_lesson_smaller_than_the_floor_fits_as_it_is():
    fit = fit_lesson(LESSON, home(500, 400))
    assert fit.kind == "fits" and fit.arena.width_cm == 400 and fit.arena.zones == LESSON.zones


def test_a_lesson_whose_used_part_fits_is_moved_so_that_part_lies_inside():
    fit = fit_lesson(LESSON, home(250, 200))
    x0, y0, x1, y1 = used_box(LESSON)
    assert (x0, x1) == (250 - TURN_ROOM_CM, 340 + TURN_ROOM_CM)
    assert fit.kind == "moved" and fit.arena.width_cm == 250 and fit.arena.height_cm == 200
    dx, dy = fit.offset_cm
    goal = fit.arena.zone("goal")
    assert (goal.x0, goal.x1) == (320 + dx, 340 + dx) and (goal.y0, goal.y1) == (130 + dy, 170 + dy)
    assert 0 <= goal.x0 and goal.x1 <= 250 and 0 <= fit.arena.start.x_cm <= 250
    assert fit.arena.cones[0].x_cm - fit.arena.start.x_cm == 50  # distances unchanged


def test_a_lesson_too_big_to_move_is_scaled_and_one_far_too_big_is_refused():
    fit = fit_lesson(LESSON, home(180, 120))
    x0, y0, x1, y1 = used_box(LESSON)
    expected = min(180 / (x1 - x0), 120 / (y1 - y0))
    assert fit.kind == "scaled" and fit.scale == pytest.approx(expected, abs=1e-3) and fit.scale >= MIN_SCALE
    goal = fit.arena.zone("goal")
    assert goal.x1 - goal.x0 == pytest.approx(20 * fit.scale, abs=0.2)
    assert fit_lesson(LESSON, home(60, 60)).kind == "too_big" and fit_lesson(LESSON, home(60, 60)).arena is None


def test_every_real_lesson_gets_a_valid_arena_on_a_small_living_room_floor():
    lessons, errors = load_lessons(strict=False)
    assert not errors
    kinds = {}
    for lesson_id, loaded in lessons.lessons.items():
        fit = fit_lesson(lessons.get(lesson_id).arena, home(240, 180))
        kinds[lesson_id] = fit.kind
        if fit.arena is not None:
            a = fit.arena
            assert 0 < a.start.x_cm < a.width_cm and 0 < a.start.y_cm < a.height_cm
            assert all(0 <= z.x0 and z.x1 <= a.width_cm and 0 <= z.y0 and z.y1 <= a.height_cm for z in a.zones), lesson_id
    assert len(set(kinds.values())) >= 2, kinds  # a 2.4 x 1.8 m floor takes some lessons as they are, not all


def test_every_real_lesson_that_fits_a_floor_is_a_valid_lesson_on_it():
    lessons, _ = load_lessons(strict=False)
    for size in ((240, 180), (420, 205), (500, 400)):
        for lesson_id in lessons.lessons:
            lesson = lessons.get(lesson_id)
            fit, fitted = fitted_lesson(lesson, home(*size))
            assert (fitted is None) == (fit.kind == "too_big"), (lesson_id, size)
            if fitted is not None:  # validated as a lesson: every zone its checks name is still there
                assert fitted.arena == fit.arena and fitted.id == lesson.id and len(fitted.checks) == len(lesson.checks)


def test_a_check_on_a_point_moves_and_a_path_limit_shrinks_with_the_layout():
    lesson = load_lessons(strict=False)[0].get("l3-treasure-map")  # a path_length_max check
    spot = EndPose(kind="end_pose", id="spot", x_cm=250.0, y_cm=150.0, required=False)
    data = lesson.model_dump(mode="json")
    data["checks"] = [*data["checks"], spot.model_dump(mode="json")]
    lesson = type(lesson).model_validate(data)
    for size in ((420, 205), (240, 180)):
        fit, fitted = fitted_lesson(lesson, home(*size))
        (dx, dy), k = fit.offset_cm, fit.scale
        moved = next(c for c in fitted.checks if c.check_id == "spot")
        assert (moved.x_cm, moved.y_cm) == (round((250 + dx) * k, 1), round((150 + dy) * k, 1))
        path = next(c for c in fitted.checks if isinstance(c, PathLengthMax))
        assert path.cm == round(600 * k, 1)


def test_the_home_floor_holds_real_cars_and_simulated_ones_only_when_the_simulated_room_was_measured():
    floor = home(300, 200)
    assert HomeFloor(floor).for_kind("real") == floor and HomeFloor(floor).for_kind("sim") is None
    assert HomeFloor(floor, sim_cars=True).for_kind("sim") == floor


def drive(trim_bias_deg: float, speed: float = 90.0, spec: CarSpec = CarSpec(), dt: float = 1 / 30) -> list[Sample]:
    """A bicycle model driving 50 cm with its wheels turned trim_bias_deg: the camera's samples."""
    x = y = h = 0.0
    out = [Sample(0.0, x, y, 0.0)]
    t = 0.0
    travelled = 0.0
    while travelled < 50.0:
        step = speed * dt
        h += math.degrees(step * math.tan(math.radians(trim_bias_deg)) / spec.wheelbase_cm)
        x += step * math.cos(math.radians(h))
        y += step * math.sin(math.radians(h))
        travelled += step
        t += dt
        out.append(Sample(t, x, y, h))
    return out


def turn(deg: float) -> list[Sample]:
    return [Sample(i * 0.1, 0.0, 0.0, deg * i / 10) for i in range(11)]


def test_a_car_whose_wheels_pull_left_gets_a_trim_to_the_right_and_its_speed_model():
    spec = CarSpec()
    report = analyse(drive(3.0), turn(90.0), spec, speed_pct=30.0)
    assert report.drift_cm > 1.0 and report.heading_change_deg > 0  # it pulled left
    assert report.steering_trim == pytest.approx(-3.0 / spec.max_steer_deg, rel=0.05)  # cancels the 3 degrees
    assert report.speed_cm_s == pytest.approx(90.0, rel=0.03)
    assert report.top_speed_cm_s == pytest.approx(300.0, rel=0.03)
    assert report.turn_deg == pytest.approx(90.0) and report.light in ("green", "amber")
    assert report.speed_measured and "too few pictures" not in report.words()
    sparse = analyse(drive(3.0, dt=0.25), turn(90.0), spec)  # a camera at 4 fps: the trim, not the speed
    assert not sparse.speed_measured and "too few pictures" in sparse.words()
    assert sparse.steering_trim == pytest.approx(report.steering_trim, rel=0.1)
    straight = analyse(drive(0.0), turn(90.0), spec)
    assert abs(straight.drift_cm) < 0.01 and abs(straight.steering_trim) < 1e-6 and straight.light == "green"
    assert analyse(drive(12.0), turn(60.0), spec).light == "red"


def test_a_drive_the_camera_barely_saw_or_a_car_that_did_not_move_is_a_clear_refusal():
    with pytest.raises(DriveError, match="only now and then"):
        analyse(drive(0.0)[:1], turn(90))
    with pytest.raises(DriveError, match="moved only"):
        analyse([Sample(i * 0.1, 0.0, 0.0, 0.0) for i in range(10)], turn(90))
