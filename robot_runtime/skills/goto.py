"""`goto`: drive to a point (x, y) in arena centimetres; ends within a few centimetres of it.

Pure pursuit towards the point while it can be reached going forward. A point inside one of the two
smallest turning circles cannot be reached forward: then the car backs up with the wheels turned away
from it (a three-point turn) until it can. A point a short way behind is reached by backing up to it.
"""

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
    to_local,
)

GOTO_TOLERANCE_CM = 2.0  # stop when this close (the promise is 5 cm)
GOTO_SPEED_CAP_CM_S = 140.0  # pure pursuit swings the wheels hard near the goal; faster would slide
REVERSE_SPEED_CM_S = 40.0  # three-point-turn backing speed
REVERSE_TO_CM = 120.0  # a point behind and closer than this is reached by backing up
REACH_MARGIN = 0.9  # an arc needing more than 90 % of full lock counts as unreachable (servo and slip need slack)
REACH_CLEAR = 0.6  # leave a three-point turn when an arc with 60 % lock reaches the goal (hysteresis)
FINAL_CM = 25.0  # the last stretch ...
FINAL_LATERAL_CM = 3.0  # ... when the goal is this close to the car's axis: straight on, no more steering
FINAL_ALONG_CM = 1.0
EXTRA_TIME_S = 8.0


class GotoSkill(ScriptedSkill):
    name = "goto"
    kid_done = "I'm there!"

    def __init__(self, ctx: SkillContext, x_cm: float, y_cm: float) -> None:
        super().__init__(ctx)
        self.tx, self.ty = x_cm, y_cm
        self.v_go = min(self.v_max, GOTO_SPEED_CAP_CM_S)
        self.mode = "forward"

    def begin(self, state: CarState) -> None:
        d0 = math.hypot(self.tx - state.x_cm, self.ty - state.y_cm)
        self.d0 = max(d0, 1e-6)
        self._uturn_side: float | None = None
        # straight line plus a half turn and a three-point turn at worst
        self.time_limit_s = (d0 + math.pi * self.min_radius * 2) / max(self.v_go, 1.0) + EXTRA_TIME_S

    def _swing_side(self, state: CarState, ly: float) -> float:
        """Which way to swing round towards a goal behind: its side, unless it is nearly straight behind;
        then the side whose turning circle has more free floor (a U-turn next to a wall goes away from it)."""
        if abs(ly) > self.min_radius:
            return 1.0 if ly > 0 else -1.0
        from robot_runtime.sim.world import World  # geometry only

        world = World(self.ctx.arena)
        h = math.radians(state.heading_deg)
        room = {}
        for side in (1.0, -1.0):
            cx = state.x_cm - side * self.min_radius * math.sin(h)
            cy = state.y_cm + side * self.min_radius * math.cos(h)
            room[side] = world.clearance(cx, cy)
        if abs(room[1.0] - room[-1.0]) < 1.0:
            return 1.0 if ly >= 0 else -1.0
        return 1.0 if room[1.0] > room[-1.0] else -1.0

    def control(self, state: CarState, dt: float) -> SkillStep:
        h = math.radians(state.heading_deg)
        ax, ly = to_local(self.tx, self.ty, state.x_cm, state.y_cm, h)
        d = math.hypot(ax, ly)
        v = state.speed_cm_s
        self.progress = 1.0 - min(1.0, d / self.d0)
        if d < GOTO_TOLERANCE_CM:
            if abs(v) < STOPPED_CM_S:
                return self.done()
            return self.hold(0.0)
        if d < FINAL_CM and abs(ly) < FINAL_LATERAL_CM:  # nearly on the line: straight on (or back) to it
            if abs(ax) < FINAL_ALONG_CM:
                return self.done() if abs(v) < STOPPED_CM_S else self.hold(0.0)
            rem = ax - v * ESC_LEAD_S
            speed = max(braking_speed(abs(rem), self.v_go), min(MIN_CREEP_CM_S, self.v_go))
            return self.drive(math.copysign(speed, rem), 0.0)

        # the curvature an arc through the goal needs; more than the car can steer = inside a turning circle
        need = 2.0 * abs(ly) / (d * d) * self.min_radius  # 1.0 = exactly the tightest circle
        if ax < 0.0 and d < REVERSE_TO_CM and need <= REACH_MARGIN:
            self.mode = "back"
        elif self.mode == "three_point":
            if need <= REACH_CLEAR:
                self.mode = "forward"
        elif need > REACH_MARGIN and ax > -self.min_radius:  # unreachable on an arc: back up and swing round
            self.mode = "three_point"
        else:
            self.mode = "forward"

        if self.mode == "three_point":
            side = 1.0 if ly >= 0.0 else -1.0
            return self.drive(-min(REVERSE_SPEED_CM_S, self.v_go), -side)

        sign = -1.0 if self.mode == "back" else 1.0
        if ax > 0.0:
            self._uturn_side = None
        if sign > 0 and ax <= 0.0:  # goal beside or behind, far: swing round at full lock
            if self._uturn_side is None:
                self._uturn_side = self._swing_side(state, ly)
            steer = self._uturn_side
        else:
            # pure pursuit; the same formula holds backwards: curvature 2*lateral/d^2
            steer = self.steer_for_curvature(2.0 * ly / (d * d))
        speed = braking_speed(d - abs(v) * ESC_LEAD_S, self.v_go)
        speed = max(speed, min(MIN_CREEP_CM_S, self.v_go))
        return self.drive(sign * speed, steer)
