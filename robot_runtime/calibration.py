"""Calibration maths: from measured runs to the numbers the car config keeps. No I/O here: the walk
through (`dojo car calibrate`, calibrate_cli.py) drives the car and feeds these functions.

- **Braking model.** The fence plans a stop as d = v * reaction_s + v^2 / (2 * brake_decel). Two stops
  from two speeds (v1, d1), (v2, d2) give two linear equations in (reaction_s, 1 / (2 * brake_decel));
  more stops are a least-squares fit. The stops are measured at neutral, the state every stop path
  uses (esc.py says why), so a coasting ESC gets a long, honest stopping distance.
- **Speed model.** Steady speeds at a few throttles fit v = top_speed * throttle (the ESC's dead band
  is already compensated in the pulse map); the response time is when a run first reaches 63% of its
  steady speed.
- **A run** is a series of (t, position cm) from the encoder or the distance sensor (position = first
  reading - reading), the moment the throttle was cut, and the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from robot_runtime.config import DEFAULT_RATE_HZ
from robot_runtime.deadman import coast_before_neutral_s

MIN_REACTION_S = 1.0 / DEFAULT_RATE_HZ  # at least one tick passes before the neutral pulse goes out
# What the fence may plan with, whatever the floor measured: a stalled loop is stopped by the dead-man
# after DEADMAN_S plus a tick, so the car may coast that long before neutral (CarConfig checks the same).
PLANNED_REACTION_MIN_S = coast_before_neutral_s(DEFAULT_RATE_HZ)
MAX_REACTION_S = 1.0  # HardLimits.reaction_s's bound
DECEL_BOUNDS_CM_S2 = (50.0, 1200.0)  # HardLimits.brake_decel_cm_s2's bounds (0.05 g .. 1.2 g)
SPEED_WINDOW_S = 0.2  # the speed at the cut is the slope over the last 0.2 s before it (10 samples at 50 Hz)
SAFETY_FACTOR = 1.15  # the fitted model is made 15% more cautious: floors, tyres and batteries vary


@dataclass(frozen=True)
class StopRun:
    speed_cm_s: float  # speed when the throttle was cut
    stop_cm: float  # distance from the cut to standing still


@dataclass(frozen=True)
class BrakingModel:
    reaction_s: float
    brake_decel_cm_s2: float
    worst_error_cm: float  # largest miss of the fitted model on the measured stops (before the safety factor)

    def stopping_cm(self, v: float) -> float:
        return v * self.reaction_s + v * v / (2.0 * self.brake_decel_cm_s2)


class CalibrationError(ValueError):
    """Measurements that cannot give a model; the message says what to measure again."""


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return 0.0 if sxx == 0 else sum((x - mx) * (y - my) for x, y in points) / sxx


def analyse_stop(series: list[tuple[float, float]], cut_t: float) -> StopRun:
    """Speed at the cut and the distance from the cut to the end of the series."""
    before = [(t, p) for t, p in series if cut_t - SPEED_WINDOW_S <= t <= cut_t]
    if len(before) < 3:
        raise CalibrationError("too few readings before the throttle was cut — the sensor must read every tick")
    v = slope(before)
    at_cut = before[-1][1]
    return StopRun(speed_cm_s=v, stop_cm=max(0.0, series[-1][1] - at_cut))


def fit_braking(runs: list[StopRun], rate_hz: float = DEFAULT_RATE_HZ) -> BrakingModel:
    """reaction_s and brake_decel from >= 2 stops at different speeds (see the module docstring); the
    delay is never below what the dead-man allows at the car's loop rate (PLANNED_REACTION_MIN_S at 50 Hz)."""
    runs = [r for r in runs if r.speed_cm_s > 1.0]
    if len(runs) < 2 or max(r.speed_cm_s for r in runs) - min(r.speed_cm_s for r in runs) < 10.0:
        raise CalibrationError("the braking model needs stops from two clearly different speeds (e.g. 30% and 60%)")
    # d = v * t + v^2 * b, b = 1 / (2a): least squares in (t, b)
    s11 = sum(r.speed_cm_s ** 2 for r in runs)
    s12 = sum(r.speed_cm_s ** 3 for r in runs)
    s22 = sum(r.speed_cm_s ** 4 for r in runs)
    y1 = sum(r.speed_cm_s * r.stop_cm for r in runs)
    y2 = sum(r.speed_cm_s ** 2 * r.stop_cm for r in runs)
    det = s11 * s22 - s12 * s12
    t = (y1 * s22 - y2 * s12) / det
    b = (s11 * y2 - s12 * y1) / det
    if t < MIN_REACTION_S or b <= 0.0:
        # Physically the stop has a delay and a finite decel: hold the delay at its floor and refit b.
        t = MIN_REACTION_S
        b = max(sum(r.speed_cm_s ** 2 * (r.stop_cm - r.speed_cm_s * t) for r in runs) / s22, 1e-6)
    t = min(t, MAX_REACTION_S)
    model = BrakingModel(t, 1.0 / (2.0 * b), 0.0)
    worst = max(abs(model.stopping_cm(r.speed_cm_s) - r.stop_cm) for r in runs)
    lo, hi = DECEL_BOUNDS_CM_S2
    decel = 1.0 / (2.0 * b) / SAFETY_FACTOR
    if decel < lo:
        raise CalibrationError(f"the car slows at only {decel:.0f} cm/s² at neutral (it coasts): turn up the ESC's "
                               "drag brake and calibrate again")
    reaction = min(MAX_REACTION_S, max(coast_before_neutral_s(rate_hz), t * SAFETY_FACTOR))
    return BrakingModel(reaction, min(hi, decel), worst)


def fit_top_speed(points: list[tuple[float, float]]) -> float:
    """top_speed (cm/s at throttle 1) from (throttle, steady speed) pairs: v = top_speed * throttle."""
    pts = [(th, v) for th, v in points if th > 0]
    if not pts:
        raise CalibrationError("no forward runs to fit the speed from")
    return sum(th * v for th, v in pts) / sum(th * th for th, _ in pts)


def response_time(series: list[tuple[float, float]], start_t: float, steady_cm_s: float) -> float:
    """Seconds from start_t until the speed first reaches 63% of `steady_cm_s` (a first-order time constant)."""
    target = 0.63 * steady_cm_s
    for (t0, p0), (t1, p1) in zip(series, series[1:]):
        if t0 >= start_t and t1 > t0 and (p1 - p0) / (t1 - t0) >= target:
            return max(0.02, t1 - start_t)
    return math.nan
