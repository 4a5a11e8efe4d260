"""The pose estimator: uncertainty that only grows while dead reckoning, and camera fixes blended in
against where the car was when the frame was taken."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from robot_runtime.hardware import CarSpec
from robot_runtime.pose import CAMERA_FRESH_S, HISTORY_S, PoseEstimator, SpeedModel

SPEC = CarSpec()


def est(**kw):
    return PoseEstimator(SPEC, 100.0, 100.0, 0.0, 0.0, model=SpeedModel(top_speed_cm_s=300.0, response_s=0.25,
                                                                          stop_decel_cm_s2=400.0), **kw)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(-1, 1), st.floats(-1, 1), st.floats(0.001, 0.1)), min_size=1, max_size=80))
def test_uncertainty_never_shrinks_and_grows_with_the_distance_driven(cmds):
    e = est()
    t, last_sigma = 0.0, e.uncertainty_cm
    for thr, steer, dt in cmds:
        t += dt
        odo = e.odometer_cm
        e.predict(t, thr, steer)
        assert e.uncertainty_cm >= last_sigma - 1e-9
        assert e.uncertainty_cm - last_sigma >= 0.08 * (e.odometer_cm - odo) / math.sqrt(2) - 1e-9
        last_sigma = e.uncertainty_cm


def test_speed_model_straight_line_matches_a_first_order_lag():
    e = est()
    for k in range(1, 101):  # 2 s at half throttle, 50 Hz
        e.predict(k * 0.02, 0.5, 0.0)
    # by hand: v(t) = 150 (1 - exp(-t / 0.25)); x(2) = 150 (2 - 0.25 (1 - exp(-8)))
    assert e.x - 100.0 == pytest.approx(150 * (2 - 0.25 * (1 - math.exp(-8))), rel=0.01)
    assert e.y == pytest.approx(100.0) and e.source(2.0) == "speed_model"


def test_encoder_distance_with_the_sign_of_what_was_sent():
    e = est(cm_per_tick=0.5)
    e.predict(0.02, -0.3, 0.0, ticks=0)
    e.predict(0.04, -0.3, 0.0, ticks=40)  # 20 cm of wheel, driving backwards
    assert e.x == pytest.approx(80.0) and e.source(0.04) == "encoder"


def test_a_camera_fix_pulls_the_estimate_and_shrinks_the_uncertainty():
    e = est()
    for k in range(1, 201):
        e.predict(k * 0.02, 0.5, 0.0)
    before, x_now = e.uncertainty_cm, e.x
    x_then, _, _, sigma_then = e._state_at(3.8)
    # the camera saw the car 0.2 s ago, 10 cm behind where dead reckoning had it then, with 1 cm sigma
    assert e.fuse(x_then - 10.0, 100.0, 0.0, 3.8, 1.0)
    k = sigma_then ** 2 / (sigma_then ** 2 + 1.0)  # a scalar Kalman gain, by hand
    assert e.x == pytest.approx(x_now - 10.0 * k)
    assert e.uncertainty_cm < before and e.uncertainty_cm <= 1.0 + (before - sigma_then) + 1e-9
    assert e.source(4.0) == "camera" and e.source(4.0 + CAMERA_FRESH_S + 0.01) == "speed_model"
    assert e.fixes == 1


def test_late_fix_keeps_the_motion_since_the_frame():
    e = est()
    for k in range(1, 101):
        e.predict(k * 0.02, 0.5, 0.0)
    x_at_1, x_now = e._state_at(1.0)[0], e.x
    e.fuse(x_at_1 + 5.0, 100.0, None, 1.0, 0.01)  # the frame at t=1 put the car 5 cm further on
    assert e.x == pytest.approx(x_now + 5.0, abs=0.05)


def test_stale_or_broken_fixes_are_refused():
    e = est()
    e.predict(3.0, 0.0, 0.0)
    assert not e.fuse(0.0, 0.0, 0.0, 3.0 - HISTORY_S - 0.1, 1.0)
    assert not e.fuse(math.nan, 0.0, 0.0, 3.0, 1.0)
    assert not e.fuse(0.0, 0.0, 0.0, 3.0, 0.0)
    assert e.refused_fixes == 3 and e.fixes == 0
