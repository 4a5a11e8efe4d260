"""Task geometry on the car (robot_runtime/task_features.py): gates, the box, done/failed, features.

Oracles are numbers read off the lesson and trick arenas by hand (cone at y=125, radius 4, car half
width 10, 9 cm clearance -> pass 23 cm beside the cone)."""

from __future__ import annotations

import pytest

from learning.tricks import GARAGE, get_trick
from robot_runtime.arena import Arena, Cone
from robot_runtime.hardware import CarState
from robot_runtime.task_features import FIELD_INDEX as F
from robot_runtime.task_features import TaskError, TaskSpec, TaskTracker


def state(x, y, h=0.0, v=0.0) -> CarState:
    return CarState(t=0.0, x_cm=x, y_cm=y, heading_deg=h, speed_cm_s=v)


def test_slalom_gates_alternate_sides_beside_each_cone_of_the_lesson():
    tracker = get_trick("slalom").tracker()
    got = [(g.cone_x, g.side, round(g.pass_y, 6)) for g in tracker.gates]
    assert got == [(160.0, 1, 148.0), (280.0, -1, 102.0), (400.0, 1, 148.0)]


def test_passing_a_cone_on_the_wrong_side_fails_with_a_kid_sentence():
    tracker = get_trick("slalom").tracker()
    tracker.start(state(60, 125, v=80))
    assert tracker.update(state(150, 150, v=80)) == "running"
    assert tracker.update(state(165, 150, v=80)) == "running" and tracker.next_gate == 1  # left of cone 1: right
    assert tracker.update(state(285, 140, v=80)) == "failed"  # cone 2 must be passed on its right (y < 125)
    assert "cone 2" in tracker.kid_text and "right" in tracker.kid_text


def test_slalom_is_done_only_after_every_gate_and_a_stop_in_the_finish_box():
    trick = get_trick("slalom")
    tracker = trick.tracker()
    tracker.start(state(60, 125))
    assert tracker.update(state(60, 125)) == "running"
    skipped = trick.tracker()
    skipped.start(state(510, 125))  # straight down the cone line into the finish box: not a slalom
    assert skipped.update(state(510, 125)) == "failed"
    for x, y in ((165, 148), (285, 102), (405, 148)):
        tracker.update(state(x, y, v=80))
    assert tracker.update(state(510, 125, v=30)) == "running"  # still rolling
    assert tracker.update(state(510, 125, v=1)) == "done"
    assert "stopped in the finish" in tracker.kid_text


@pytest.mark.parametrize("x, y, h, v, status", [
    (320, 125, 0, 0, "done"),       # centred, lined up, stopped
    (320, 125, 20, 0, "running"),   # 20 degrees off the box's axis (tolerance 12)
    (320, 125, 0, 10, "running"),   # still moving
    (300, 125, 0, 0, "running"),    # the tail sticks out of the box (box starts at x=285, car half length 20)
    (320, 140, 0, 0, "running"),    # the side sticks out (box up to y=147, car half width 10)
])
def test_park_needs_the_whole_car_in_the_box_lined_up_and_stopped(x, y, h, v, status):
    tracker = get_trick("park").tracker()
    tracker.start(state(80, 125))
    assert tracker.update(state(x, y, h, v)) == status


def test_features_are_in_the_cars_frame():
    tracker = get_trick("park").tracker()
    tracker.start(state(80, 125))
    box_x, box_y = 320.0, 125.0
    row = tracker.features(state(box_x - 100, box_y, 0))
    assert row[F["goal_ahead_cm"]] == pytest.approx(100) and row[F["goal_left_cm"]] == pytest.approx(0, abs=1e-9)
    assert (row[F["goal_sin"]], row[F["goal_cos"]]) == pytest.approx((0, 1))
    row = tracker.features(state(box_x - 100, box_y, 90))  # facing +y: the box is on my right
    assert row[F["goal_ahead_cm"]] == pytest.approx(0, abs=1e-9) and row[F["goal_left_cm"]] == pytest.approx(-100)
    assert row[F["goal_sin"]] == pytest.approx(-1)  # the box's axis is 90 degrees clockwise of my heading
    assert row[F["gates_left"]] == 0 and row[F["gate_side"]] == 0
    cone_x, cone_y = 368.0, 101.0  # the nearer garage cone seen from (340, 110): ahead 28, right 9
    row = tracker.features(state(340, 110, 0))
    assert (row[F["cone_ahead_cm"]], row[F["cone_left_cm"]]) == pytest.approx((cone_x - 340, cone_y - 110))


def test_an_arena_that_does_not_fit_the_task_is_refused_with_the_fix():
    with pytest.raises(TaskError, match="needs a zone named 'box'"):
        TaskTracker(TaskSpec(kind="park", goal_zone="box"), Arena())
    one_cone = GARAGE.model_copy(update={"cones": [Cone(x_cm=200, y_cm=125)]})
    with pytest.raises(TaskError, match="needs at least 3 cones in a line ahead"):
        TaskTracker(TaskSpec(kind="slalom", goal_zone="box", gates=True, min_gates=3), one_cone)


def test_progress_grows_with_gates_and_nearness_and_is_full_only_when_done():
    tracker = get_trick("slalom").tracker()
    tracker.start(state(60, 125))
    seen = [tracker.progress(state(60, 125))]
    for x, y in ((165, 148), (285, 102), (405, 148), (505, 125)):
        tracker.update(state(x, y, v=80))
        seen.append(tracker.progress(state(x, y)))
    assert seen == sorted(seen) and seen[0] == 0.0 and seen[-1] < 1.0
    tracker.update(state(510, 125, v=0))
    assert tracker.status == "done" and tracker.progress(state(510, 125)) == 1.0
