"""`goto`: drive to a point (x, y) in arena centimetres; ends within a few centimetres of it.

Pure pursuit towards the point while it can be reached going forward. A point inside one of the two
smallest turning circles cannot be reached forward: then the car backs up with the wheels turned away
from it (a three-point turn) until it can. A point a short way behind is reached by backing up to it. When the supervisor holds the car (a wall
ahead), it backs off the other way with the wheels turned the other way, then carries on.
"""

from __future__ import annotations

import math

from robot_runtime.hardware import CarState
from robot_runtime.skills.base import SkillContext, SkillStep
from robot_runtime.skills.scripted import (
    BLOCKED_MIN_CMD_CM_S,
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
EXTRA_TIME_S = 10.0  # starting, braking, a three-point turn, and a few escapes from walls
STALL_S = 0.6  # told to move but held still this long (the supervisor: a wall ahead): back off
STALL_SPEED_FRACTION = 0.2
ESCAPE_CM = 30.0  # back off this far (or until held again), then carry on
MAX_ESCAPES = 4  # held again after that many: the way to the goal is shut (ends blocked_by_safety)


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
        self._escape: tuple[float, float, float, float] | None = None  # (direction, steering, from x, from y)
        self._stall_s = 0.0
        self.escapes = 0
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
        """The plan below, unless the supervisor holds the car: then back off the other way for a bit."""
        if self._escape is not None:
            direction, steer, x0, y0 = self._escape
            moved = math.hypot(state.x_cm - x0, state.y_cm - y0)
            if moved < ESCAPE_CM and not self._stalled(state, dt):
                return self.drive(direction * min(REVERSE_SPEED_CM_S, self.v_go), steer)
            self._escape, self._stall_s = None, 0.0
        out = self._plan(state)
        if out.status == "running" and self._stalled(state, dt):
            if self.escapes >= MAX_ESCAPES:  # backed off again and again: the way there is shut
                return self.fail("blocked_by_safety", self.blocked_text(state))
            # held still (wall or edge ahead): the other gear with the wheels the other way keeps
            # turning the car the same way while it gets away from the obstacle
            self.escapes += 1
            self._stall_s = 0.0
            direction = -1.0 if self.cmd_speed > 0 else 1.0
            steer = -1.0 if out.command.steering > 0 else 1.0
            self._escape = (direction, steer, state.x_cm, state.y_cm)
            return self.drive(direction * min(REVERSE_SPEED_CM_S, self.v_go), steer)
        return out

    def _stalled(self, state: CarState, dt: float) -> bool:
        want = abs(self.cmd_speed)
        if want >= BLOCKED_MIN_CMD_CM_S and abs(state.speed_cm_s) < STALL_SPEED_FRACTION * want:
            self._stall_s += dt
        else:
            self._stall_s = 0.0
        return self._stall_s > STALL_S

    def _plan(self, state: CarState) -> SkillStep:
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
