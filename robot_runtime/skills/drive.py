"""`drive` (straight, a distance or a time, forward or back) and `stop` (brake to rest)."""

from __future__ import annotations

import math

from robot_runtime.hardware import CarState
from robot_runtime.skills.base import SkillContext, SkillStep
from robot_runtime.skills.scripted import (
    ESC_LEAD_S,
    MIN_CREEP_CM_S,
    STOPPED_CM_S,
    ScriptedSkill,
    braking_speed,
    clamp,
    to_local,
    wrap_rad,
)

DRIVE_TOLERANCE_CM = 0.7  # stop when this close to the distance asked for (the promise is +-2 cm)
HEADING_GAIN = 2.5  # steering fraction per radian of heading error
LANE_GAIN = 0.02  # radians of heading correction per cm off the start line
LANE_MAX_RAD = 0.25  # never aim more than ~14 deg across the line while correcting
EXTRA_TIME_S = 4.0  # time limit = planned time + this (starting, braking, a correction)
STOP_TIME_LIMIT_S = 4.0  # from 3 m/s the ESC stops the car in well under a second


class DriveSkill(ScriptedSkill):
    """Drive straight along the start heading: `distance_cm` (negative = backward) or `seconds` at speed."""

    name = "drive"
    kid_done = "Done driving!"

    def __init__(self, ctx: SkillContext, distance_cm: float | None = None, seconds: float | None = None, backward: bool = False) -> None:
        super().__init__(ctx)
        if (distance_cm is None) == (seconds is None):
            raise ValueError("drive needs exactly one of distance_cm or seconds")
        self.distance = distance_cm
        self.seconds = seconds
        self.sign = -1.0 if (backward or (distance_cm is not None and distance_cm < 0)) else 1.0
        planned = abs(distance_cm) / max(self.v_max, 1.0) if distance_cm is not None else float(seconds or 0.0)
        self.time_limit_s = planned + EXTRA_TIME_S
        self._braking = False

    def begin(self, state: CarState) -> None:
        self.ox, self.oy = state.x_cm, state.y_cm
        self.oh = math.radians(state.heading_deg)

    def _steer(self, state: CarState, moving_sign: float) -> float:
        along, off = to_local(state.x_cm, state.y_cm, self.ox, self.oy, self.oh)
        target = clamp(-LANE_GAIN * off * moving_sign, -LANE_MAX_RAD, LANE_MAX_RAD)
        err = wrap_rad(math.radians(state.heading_deg) - self.oh - target)
        return clamp(-HEADING_GAIN * err * moving_sign, -1.0, 1.0)

    def control(self, state: CarState, dt: float) -> SkillStep:
        v = state.speed_cm_s
        if self.seconds is not None:
            self.progress = self.elapsed / self.seconds if self.seconds > 0 else 1.0
            if self.elapsed < self.seconds and not self._braking:
                return self.drive(self.sign * self.v_max, self._steer(state, self.sign))
            self._braking = True
            if abs(v) < STOPPED_CM_S:
                return self.done()
            return self.hold(0.0)
        along, _ = to_local(state.x_cm, state.y_cm, self.ox, self.oy, self.oh)
        target = float(self.distance or 0.0)
        rem = target - along  # signed, along the start heading
        self.progress = 1.0 - abs(rem) / abs(target) if target else 1.0
        if abs(rem) < DRIVE_TOLERANCE_CM and abs(v) < STOPPED_CM_S:
            return self.done()
        # aim where the car will be once the ESC has followed: no overshoot from its lag
        rem_eff = rem - v * ESC_LEAD_S
        speed = braking_speed(abs(rem_eff), self.v_max)
        if abs(rem) >= DRIVE_TOLERANCE_CM:
            speed = max(speed, min(MIN_CREEP_CM_S, self.v_max))
        else:
            speed = 0.0
        direction = math.copysign(1.0, rem_eff if abs(rem_eff) > 1e-6 else rem)
        cmd = direction * speed
        return self.drive(cmd, self._steer(state, direction))


class StopSkill(ScriptedSkill):
    """Brake to rest, wheels straight; done when stopped."""

    name = "stop"
    kid_done = "Stopped."
    time_limit_s = STOP_TIME_LIMIT_S
    checks_blocked = False
    needs_motion = False
    fails_on_collision = False

    def begin(self, state: CarState) -> None:
        self.v0 = max(abs(state.speed_cm_s), STOPPED_CM_S)

    def control(self, state: CarState, dt: float) -> SkillStep:
        v = abs(state.speed_cm_s)
        self.progress = 1.0 - min(1.0, v / self.v0)
        if v < STOPPED_CM_S and abs(state.yaw_rate_dps) < 5.0:
            return self.done()
        return self.hold(0.0)
