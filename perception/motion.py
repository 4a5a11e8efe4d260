"""A small motion filter per car: smooths the camera's fixes, gives velocities, and says when a car is lost.

An alpha-beta filter on x, y and heading (heading wrapped to -180..180). Three states:

- ``tracked``  — seen in this picture; the pose is the filtered fix.
- ``coasting`` — not seen for less than LOST_AFTER_S; the pose is predicted from the last velocity
  (a hand over the car, a blurred frame). Consumers that need certainty use only ``tracked``.
- ``lost``     — not seen for LOST_AFTER_S or more; the last pose is kept for display, never as truth.

A fix too far from the prediction for any real car to have driven there (picked up and put down, or
a misread) restarts the filter at the fix instead of dragging the estimate across the floor.
Times are the pictures' own timestamps (seconds, monotonic), so the filter runs the same in a test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

LOST_AFTER_S = 0.5  # ~15 missed frames at 30 fps; a 3 m/s car covers 1.5 m in that time: too far to guess
ALPHA = 0.6  # weight of a new fix: measurement noise is millimetres, so follow the fixes closely
BETA = ALPHA ** 2 / (2 - ALPHA)  # critically damped for this alpha: no overshoot after a step
MAX_SPEED_CM_S = 500.0  # faster than any classroom car (the 1/10 RC car tops out at 300 cm/s)
JUMP_SLACK_CM = 15.0  # plus this much for a fix after a long gap or a car bumped by hand
MAX_YAW_RATE_DPS = 720.0  # two turns a second: above a donut's spin

State = Literal["tracked", "coasting", "lost"]


def wrap_deg(a: float) -> float:
    return (a + 180.0) % 360.0 - 180.0


@dataclass(frozen=True, slots=True)
class Motion:
    """The filter's estimate at one time."""

    state: State
    t: float
    x_cm: float
    y_cm: float
    heading_deg: float
    vx_cm_s: float
    vy_cm_s: float
    yaw_rate_dps: float
    last_seen_t: float

    @property
    def speed_cm_s(self) -> float:
        return math.hypot(self.vx_cm_s, self.vy_cm_s)


class MotionFilter:
    """One car's alpha-beta filter. `update` with each fix, `predict` when a picture has no fix."""

    def __init__(self) -> None:
        self._t: float | None = None
        self._x = self._y = self._h = 0.0
        self._vx = self._vy = self._vh = 0.0
        self._seen = -math.inf

    @property
    def started(self) -> bool:
        return self._t is not None

    def _restart(self, t: float, x: float, y: float, heading: float) -> None:
        self._t, self._x, self._y, self._h = t, x, y, wrap_deg(heading)
        self._vx = self._vy = self._vh = 0.0
        self._seen = t

    def update(self, t: float, x: float, y: float, heading: float) -> Motion:
        if self._t is None or t - self._seen >= LOST_AFTER_S:  # first fix, or found again: start afresh
            self._restart(t, x, y, heading)
            return self.estimate(t)
        dt = t - self._t
        if dt <= 0:  # same or older picture: the newer estimate stands
            return self.estimate(self._t)
        px, py, ph = self._x + self._vx * dt, self._y + self._vy * dt, self._h + self._vh * dt
        jump = math.hypot(x - px, y - py)
        if jump > MAX_SPEED_CM_S * dt + JUMP_SLACK_CM:
            self._restart(t, x, y, heading)
            return self.estimate(t)
        rx, ry, rh = x - px, y - py, wrap_deg(heading - ph)
        self._x, self._y, self._h = px + ALPHA * rx, py + ALPHA * ry, wrap_deg(ph + ALPHA * rh)
        self._vx += BETA * rx / dt
        self._vy += BETA * ry / dt
        self._vh = max(-MAX_YAW_RATE_DPS, min(MAX_YAW_RATE_DPS, self._vh + BETA * rh / dt))
        self._t = self._seen = t
        return self.estimate(t)

    def estimate(self, t: float) -> Motion:
        """Where the car is at time t: the filtered fix, a prediction while coasting, the last pose once lost."""
        if self._t is None:
            raise RuntimeError("the filter has no fix yet")
        unseen = t - self._seen
        if unseen <= 0:
            return Motion("tracked", t, self._x, self._y, self._h, self._vx, self._vy, self._vh, self._seen)
        if unseen < LOST_AFTER_S:
            dt = t - self._t
            return Motion("coasting", t, self._x + self._vx * dt, self._y + self._vy * dt,
                          wrap_deg(self._h + self._vh * dt), self._vx, self._vy, self._vh, self._seen)
        return Motion("lost", t, self._x, self._y, self._h, 0.0, 0.0, 0.0, self._seen)
