"""The per-car motion filter: follows real motion, predicts through short gaps, says lost after LOST_AFTER_S,
restarts on impossible jumps, wraps headings. Times are the pictures' timestamps (no sleeping)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perception.motion import LOST_AFTER_S, MotionFilter

FPS = 30.0


@settings(max_examples=60, deadline=None)
@given(vx=st.floats(-300, 300), vy=st.floats(-300, 300), yaw=st.floats(-300, 300),
       x0=st.floats(0, 500), y0=st.floats(0, 500), h0=st.floats(-180, 180))
def test_a_car_moving_steadily_is_followed_and_its_velocity_learnt(vx, vy, yaw, x0, y0, h0):
    f = MotionFilter()
    for i in range(int(FPS)):  # one second of pictures
        t = i / FPS
        m = f.update(t, x0 + vx * t, y0 + vy * t, h0 + yaw * t)
    t = (FPS - 1) / FPS
    assert m.state == "tracked"
    assert math.hypot(m.x_cm - (x0 + vx * t), m.y_cm - (y0 + vy * t)) < 0.5
    assert math.hypot(m.vx_cm_s - vx, m.vy_cm_s - vy) < 3.0
    true_heading = (h0 + yaw * t + 180) % 360 - 180
    assert abs((m.heading_deg - true_heading + 180) % 360 - 180) < 0.5
    assert abs(m.yaw_rate_dps - yaw) < 3.0
    assert -180 <= m.heading_deg < 180


@settings(max_examples=40, deadline=None)
@given(gap=st.one_of(st.just(0.0), st.floats(1e-3, 2.0)))
def test_a_car_unseen_is_coasting_before_lost_after_s_and_lost_after(gap):
    f = MotionFilter()
    for i in range(10):
        f.update(i / FPS, 10.0 * i / FPS, 0.0, 0.0)
    seen = 9 / FPS
    m = f.estimate(seen + gap)
    if gap == 0:
        assert m.state == "tracked"
    elif gap < LOST_AFTER_S:
        assert m.state == "coasting"
        assert m.x_cm == pytest.approx(10.0 * (seen + gap), abs=0.5)  # predicted on at the learnt 10 cm/s
    else:
        assert m.state == "lost" and m.speed_cm_s == 0.0
    assert m.last_seen_t == seen


def test_a_car_found_again_after_being_lost_starts_afresh_where_it_is():
    f = MotionFilter()
    for i in range(10):
        f.update(i / FPS, 100.0 * i / FPS, 0.0, 0.0)
    m = f.update(9 / FPS + LOST_AFTER_S + 0.1, 300.0, 50.0, 90.0)
    assert (m.state, m.x_cm, m.y_cm, m.heading_deg, m.speed_cm_s) == ("tracked", 300.0, 50.0, 90.0, 0.0)


def test_a_car_picked_up_and_put_down_elsewhere_is_not_dragged_across_the_floor():
    f = MotionFilter()
    for i in range(5):
        f.update(i / FPS, 50.0, 50.0, 0.0)
    m = f.update(5 / FPS, 150.0, 50.0, 0.0)  # 100 cm in 33 ms: no car drives that
    assert m.x_cm == 150.0 and m.speed_cm_s == 0.0


def test_headings_across_the_wrap_are_smoothed_the_short_way_round():
    f = MotionFilter()
    f.update(0.0, 0, 0, 179.0)
    m = f.update(1 / FPS, 0, 0, -179.0)  # 2 degrees on, not 358 back
    assert abs(abs(m.heading_deg) - 180) < 2.0


def test_an_old_or_repeated_picture_does_not_move_the_estimate():
    f = MotionFilter()
    f.update(1.0, 10, 10, 0)
    assert f.update(1.0, 99, 99, 0).x_cm == 10
    assert f.update(0.5, 99, 99, 0).x_cm == 10


def test_a_filter_without_a_fix_has_no_estimate():
    with pytest.raises(RuntimeError, match="no fix yet"):
        MotionFilter().estimate(0.0)
