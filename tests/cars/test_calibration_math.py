"""Calibration maths against stops whose model is known (written here), and the solve for two speeds."""

import pytest

from robot_runtime.calibration import CalibrationError, StopRun, analyse_stop, fit_braking, fit_top_speed


def stop_of(v, t, a):
    return v * t + v * v / (2 * a)  # the fence's model, written out by hand


@pytest.mark.parametrize("t,a", [(0.1, 300.0), (0.25, 450.0), (0.05, 150.0)])
def test_two_stops_recover_the_braking_model_within_the_safety_factor(t, a):
    model = fit_braking([StopRun(90.0, stop_of(90.0, t, a)), StopRun(180.0, stop_of(180.0, t, a))])
    assert model.worst_error_cm < 1e-6
    for v in (50.0, 120.0, 250.0):  # the fitted model never promises a shorter stop than the real one
        assert model.stopping_cm(v) >= stop_of(v, t, a)
        # and is no more cautious than 15% on both numbers, with the dead-man's 0.12 s as the floor of the delay
        assert model.stopping_cm(v) <= stop_of(v, max(0.12, 1.15 * t), a / 1.15) + 1e-6


def test_a_stop_shorter_than_any_delay_allows_falls_back_to_the_floor_delay():
    model = fit_braking([StopRun(100.0, 8.0), StopRun(200.0, 60.0)])  # solves to a negative delay
    assert model.reaction_s >= 0.02 and model.brake_decel_cm_s2 > 0
    assert model.stopping_cm(100.0) >= 8.0 and model.stopping_cm(200.0) >= 60.0 * 0.9


def test_a_coasting_car_is_told_to_turn_up_the_drag_brake():
    with pytest.raises(CalibrationError, match="drag brake"):
        fit_braking([StopRun(100.0, stop_of(100.0, 0.1, 30.0)), StopRun(200.0, stop_of(200.0, 0.1, 30.0))])


def test_one_speed_is_not_enough():
    with pytest.raises(CalibrationError, match="two clearly different speeds"):
        fit_braking([StopRun(100.0, 30.0), StopRun(102.0, 31.0)])


def test_analyse_stop_and_top_speed():
    series = [(i * 0.02, 100.0 * i * 0.02) for i in range(51)]  # 100 cm/s for 1 s
    series += [(1.0 + i * 0.02, 100.0 + 12.0 * min(i, 10) / 10) for i in range(1, 30)]  # 12 cm to a halt
    run = analyse_stop(series, 1.0)
    assert run.speed_cm_s == pytest.approx(100.0) and run.stop_cm == pytest.approx(12.0)
    assert fit_top_speed([(0.3, 90.0), (0.6, 180.0)]) == pytest.approx(300.0)


@pytest.mark.parametrize("rate_hz", [25.0, 50.0, 100.0])
def test_the_planned_delay_covers_the_dead_man_and_one_tick_at_the_cars_rate_and_the_config_takes_it(rate_hz):
    from robot_runtime.config import CarConfig

    model = fit_braking([StopRun(90.0, stop_of(90.0, 0.03, 400.0)), StopRun(180.0, stop_of(180.0, 0.03, 400.0))],
                        rate_hz)
    assert model.reaction_s >= 0.1 + 1.0 / rate_hz - 1e-9  # 100 ms of dead-man, plus the tick the stall began in
    CarConfig(car_id="c", rate_hz=rate_hz, limits={"reaction_s": round(model.reaction_s, 3),
                                                   "brake_decel_cm_s2": round(model.brake_decel_cm_s2, 1)})
