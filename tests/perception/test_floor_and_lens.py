"""Floor calibration helpers for the setup wizard (arena size from one measured side, tips)
and the ChArUco lens calibrator's guidance."""

from __future__ import annotations

import numpy as np
import pytest

from perception.camera import default_intrinsics, look_at
from perception.floor import MIN_MARKER_PX, calibrate_floor, floor_tips, measure_arena
from perception.lens import DEFAULT_BOARD, MIN_VIEWS, LensCalibrator
from perception.markers import MarkerPlan, default_roof_markers
from perception.problems import CalibrationError, FrameError
from perception.sim_camera import Scene, SimCamera, held_sheet
from perception.tracker import Tracker
from perception_helpers import ARENA, CARS, OVERHEAD, PLAN, SETUPS, charuco_lens

GUESSED = MarkerPlan(ARENA.model_copy(update={"height_cm": 100.0}), default_roof_markers(CARS))  # height unknown yet


@pytest.mark.parametrize("setup", SETUPS, ids=lambda s: s.name)
def test_the_arena_height_is_found_from_the_measured_width(setup):
    """Wizard step 4: the parent measures one side (200 cm); the picture gives the other (truly 150 cm)."""
    detections = Tracker(PLAN).detect(setup.camera().render(Scene(PLAN)).image)
    lens = charuco_lens(setup.name)
    width, height = measure_arena(detections, GUESSED, lens, width_cm=200.0)
    assert width == 200.0 and height == pytest.approx(150.0, abs=1.0)
    # Nothing measured: the printed marker size sets the scale, a few % off (ArUco finds corners a
    # third of a pixel inside a marker): the wizard asks for one measured side.
    width, height = measure_arena(detections, GUESSED, lens)
    assert width == pytest.approx(200.0, rel=0.05) and height == pytest.approx(150.0, rel=0.05)


def test_a_good_set_up_gets_no_tips_and_a_green_light():
    camera = OVERHEAD.camera()
    detections = Tracker(PLAN).detect(camera.render(Scene(PLAN)).image)
    calibration = calibrate_floor(detections, PLAN, default_intrinsics(640, 480))
    assert calibration.light == "green" and floor_tips(calibration, PLAN, detections) == []


def test_a_low_flat_camera_and_tiny_markers_get_tips_in_plain_words():
    lens = default_intrinsics(640, 480)
    camera = SimCamera(lens, look_at((100, -160, 110), (100, 75, 0)), seed=1)  # low, at the arena's edge
    detections = Tracker(PLAN).detect(camera.render(Scene(PLAN)).image)
    corners = [m for m in PLAN.corner_ids if m in detections.markers]
    if len(corners) < 4:  # the far corners are too small to read at all: that is the first tip
        with pytest.raises(CalibrationError, match="cannot see the upper"):
            calibrate_floor(detections, PLAN, lens)
        detections.markers.update({m: c for m, c in _truth_corners(camera).items() if m not in detections.markers})
    calibration = calibrate_floor(detections, PLAN, lens)
    codes = [t.code for t in floor_tips(calibration, PLAN, detections)]
    assert "camera_too_flat" in codes and "markers_too_small" in codes and "roof_markers_too_small" in codes
    tip = next(t for t in floor_tips(calibration, PLAN, detections) if t.code == "markers_too_small")
    assert f"{MIN_MARKER_PX} pixels" in tip.fix


def _truth_corners(camera: SimCamera) -> dict:
    return {m: px for m, px in camera.render(Scene(PLAN)).markers_px.items() if m in PLAN.corner_ids}


def test_the_lens_calibrator_guides_the_parent_and_refuses_what_does_not_help():
    camera = OVERHEAD.camera(seed=2)
    texture = DEFAULT_BOARD.image(px_per_cm=20)
    eye = OVERHEAD.pose.position_cm
    cal = LensCalibrator()
    with pytest.raises(FrameError):
        cal.add(np.zeros((480, 640, 3), np.uint8))
    empty = cal.add(camera.render(Scene(PLAN)).image)
    assert not empty.kept and empty.problem.code == "board_not_seen"
    board = held_sheet(texture, DEFAULT_BOARD.width_cm, DEFAULT_BOARD.height_cm, (eye[0], eye[1], eye[2] - 70), 10, -15, 30)
    first = cal.add(camera.render(Scene(PLAN, sheets=(board,))).image)
    assert first.kept and first.views == 1 and first.corners >= 20 and not first.ready
    assert "top left" in first.regions_missing  # held in the middle: the edges are still to do
    again = cal.add(camera.render(Scene(PLAN, sheets=(board,))).image)
    assert not again.kept and again.problem.code == "same_view"
    smaller = cal.add(camera.render(Scene(PLAN, sheets=(board,))).image[:240, :320].copy())
    assert not smaller.kept and smaller.problem.code == "lens_size_changed"
    with pytest.raises(CalibrationError, match=f"needs {MIN_VIEWS} views"):
        cal.solve()


def test_a_lens_measured_with_the_board_is_close_to_the_true_lens():
    for setup in SETUPS:
        lens = charuco_lens(setup.name)
        assert lens.source == "charuco"
        assert lens.fx == pytest.approx(setup.lens.fx, rel=0.01)
        assert lens.dist[0] == pytest.approx(setup.lens.dist[0], abs=0.02)
