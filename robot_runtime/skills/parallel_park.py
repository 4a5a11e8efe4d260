"""`parallel_park`: reverse into a parking box beside the car, the way a driver parks at a kerb.

The box: the arena's nearest zone of kind `parking`; its axis is the zone's `heading_deg`, or else its
long side (pointing the way the car already faces). Without a parking zone the standard layout is used:
a 70 x 36 cm box whose centre is PARK_AHEAD_CM behind and PARK_SIDE_CM to the right of the start pose,
aligned with the start heading (the car starts beside the space, like a driver about to park).

The manoeuvre, in the box's frame (X along the axis, Y across, the car on the +Y side):
1. approach: drive to the set-up pose — PARK_SIDE_CM beside the box centre line, PARK_AHEAD_CM ahead of
   the box centre, facing along the axis: a `goto` to a pre-point further back on that line, a compact
   turn on the spot onto the axis if needed, then pure pursuit along the line (again from the
   pre-point if the car is not lined up);
2. back up at full lock towards the box: the tail swings in;
3. back up with the opposite lock, the curvature chosen every tick so the arc ends on the box centre
   line with the car straight (closed loop: the switch from 2 to 3 happens when that arc gets tight);
4. drive straight forward or back along the axis to the box centre.
"""

from __future__ import annotations

import math

from robot_runtime.arena import NamedZone
from robot_runtime.hardware import CarState
from robot_runtime.protocol import Pose
from robot_runtime.skills.base import SkillContext, SkillStep
from robot_runtime.skills.goto import GotoSkill
from robot_runtime.skills.turn import TurnSkill
from robot_runtime.skills.scripted import (
    ESC_LEAD_S,
    MIN_CREEP_CM_S,
    STOPPED_CM_S,
    ScriptedSkill,
    braking_speed,
    clamp,
    to_local,
    to_world,
    wrap_rad,
)

PARK_SIDE_CM = 50.0  # set-up line this far beside the box's centre line (a 22 cm gap between car and box)
PARK_ARC_RADIUS_CM = 53.0  # the reverse arcs: the tightest circle (51 cm) plus slack for the servo
PARK_AHEAD_CM = 2 * PARK_ARC_RADIUS_CM * math.sin(math.acos(1 - PARK_SIDE_CM / (2 * PARK_ARC_RADIUS_CM)))  # ~90 cm: where two equal arcs end in the box
STANDARD_BOX_CM = (70.0, 36.0)  # length x width of the standard space: 1.75 car lengths, like a real kerb space
PRE_POINT_CM = 140.0  # the approach joins the set-up line this far before the set-up pose
ON_LINE_CM = 12.0  # "already on the set-up line": this close to it ...
ON_LINE_DEG = 20.0  # ... and this well aligned (then no goto first)
LINE_LOOKAHEAD_CM = 35.0  # pure pursuit along the set-up line
SETUP_LATERAL_CM = 4.0  # at the set-up pose: this close to the line ...
SETUP_DEG = 8.0  # ... and this straight, or the approach is tried again
PARK_SPEED_CM_S = 35.0  # reversing in: slow enough to place the car within a couple of centimetres
APPROACH_SPEED_CAP_CM_S = 100.0
ARC2_TIGHTEST = 0.7  # switch to the second arc once it needs 70 % lock: the wheels swing over (~0.25 s) on the way
ARC1_MAX_DEG = 75.0  # never swing the car more than this across the box
STRAIGHT_DEG = 1.0  # the second arc ends when the car is this close to the axis
REAR_AXLE_BEHIND_CM_FRACTION = 0.5  # the pose point sits about mid-wheelbase ahead of the rear axle
CENTRE_TOLERANCE_CM = 1.5
HEADING_GAIN = 2.5
SETUP_RETRIES = 2
TIME_LIMIT_S = 45.0

KID_DONE = "Parked! Nice and straight in the box."
KID_NO_SETUP = "I couldn't line up beside the parking space — give me more room around it."


def standard_parking_box(start: Pose) -> NamedZone:
    """The standard layout's box, as a zone (axis-aligned only for headings that are multiples of 90)."""
    h = math.radians(start.heading_deg)
    cx, cy = to_world(-PARK_AHEAD_CM, -PARK_SIDE_CM, start.x_cm, start.y_cm, h)
    L, W = STANDARD_BOX_CM
    ex = abs(L / 2 * math.cos(h)) + abs(W / 2 * math.sin(h))
    ey = abs(L / 2 * math.sin(h)) + abs(W / 2 * math.cos(h))
    return NamedZone(name="standard parking", kind="parking", x0=cx - ex, y0=cy - ey, x1=cx + ex, y1=cy + ey,
                     heading_deg=start.heading_deg)


def box_axis(zone: NamedZone, car_heading_deg: float) -> float:
    """The axis (radians) a car must end on in this box."""
    if zone.heading_deg is not None:
        return math.radians(zone.heading_deg)
    axis = 0.0 if (zone.x1 - zone.x0) >= (zone.y1 - zone.y0) else math.pi / 2
    h = math.radians(car_heading_deg)
    return axis if abs(wrap_rad(h - axis)) <= math.pi / 2 else axis + math.pi


class ParallelParkSkill(ScriptedSkill):
    name = "parallel_park"
    kid_done = KID_DONE
    time_limit_s = TIME_LIMIT_S

    def __init__(self, ctx: SkillContext) -> None:
        super().__init__(ctx)
        self.v_approach = min(self.v_max, APPROACH_SPEED_CAP_CM_S)
        self.v_park = min(self.v_max, PARK_SPEED_CM_S)
        self.b = ctx.spec.wheelbase_cm * REAR_AXLE_BEHIND_CM_FRACTION

    # --- the box frame ---------------------------------------------------------------------------

    def begin(self, state: CarState) -> None:
        zones = [z for z in self.ctx.arena.zones if z.kind == "parking"]
        if zones:
            box = min(zones, key=lambda z: math.hypot((z.x0 + z.x1) / 2 - state.x_cm, (z.y0 + z.y1) / 2 - state.y_cm))
            self.cx, self.cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
            self.axis = box_axis(box, state.heading_deg)
        else:
            start = Pose(x_cm=state.x_cm, y_cm=state.y_cm, heading_deg=state.heading_deg)
            self.cx, self.cy = to_world(-PARK_AHEAD_CM, -PARK_SIDE_CM, state.x_cm, state.y_cm, math.radians(state.heading_deg))
            self.axis = math.radians(start.heading_deg)
        _, y = to_local(state.x_cm, state.y_cm, self.cx, self.cy, self.axis)
        self.f = 1.0 if y >= 0 else -1.0  # the free side: the car works from this side of the box
        self.retries = 0
        self._start_approach(state)

    def _local(self, state: CarState) -> tuple[float, float, float]:
        """Car pose in the box frame, mirrored so the car's side is +Y: (X, Y, phi)."""
        x, y = to_local(state.x_cm, state.y_cm, self.cx, self.cy, self.axis)
        phi = wrap_rad(math.radians(state.heading_deg) - self.axis)
        return x, self.f * y, self.f * phi

    def _world(self, x: float, y: float) -> tuple[float, float]:
        return to_world(x, self.f * y, self.cx, self.cy, self.axis)

    def _start_approach(self, state: CarState, force_goto: bool = False) -> None:
        x, y, phi = self._local(state)
        self.sub = None
        if not force_goto and abs(y - PARK_SIDE_CM) < ON_LINE_CM and abs(math.degrees(phi)) < ON_LINE_DEG:
            self.phase = "line"  # already beside the box: along the line (forward or back) to the set-up pose
        else:
            px, py = self._world(PARK_AHEAD_CM - PRE_POINT_CM, PARK_SIDE_CM)
            self.sub = GotoSkill(self.ctx, px, py)
            self.sub.start(state)
            self.phase = "goto"

    def _retry(self, state: CarState) -> SkillStep:
        """Not lined up: approach again from the pre-point (a longer run at the line), a few times."""
        self.retries += 1
        if self.retries > SETUP_RETRIES:
            return self.fail("no_setup", KID_NO_SETUP)
        self._start_approach(state, force_goto=True)
        return self.hold(0.0)

    def _run_sub(self, state: CarState, dt: float) -> SkillStep | None:
        """Step the sub-skill; its step while running, its failure, or None once it is done."""
        out = self.sub.step(state, dt)  # type: ignore[union-attr]
        if out.status == "running":
            self.cmd_speed = self.sub.cmd_speed  # type: ignore[union-attr]
            return SkillStep(command=out.command, progress=self.progress)
        if out.status == "failed":
            return out
        self.sub = None
        return None

    # --- the manoeuvre ---------------------------------------------------------------------------

    def control(self, state: CarState, dt: float) -> SkillStep:
        x, y, phi = self._local(state)
        v = state.speed_cm_s
        L = self.ctx.spec.wheelbase_cm
        max_steer = math.radians(self.ctx.spec.max_steer_deg)

        if self.phase == "goto":
            self.progress = 0.1
            step = self._run_sub(state, dt)
            if step is not None:
                return step
            if abs(math.degrees(phi)) > ON_LINE_DEG:  # arrived facing another way: turn onto the axis on the spot
                self.sub = TurnSkill(self.ctx, -math.degrees(self.f * phi), compact=True)
                self.sub.start(state)
                self.phase = "align"
            else:
                self.phase = "line"

        if self.phase == "align":
            self.progress = 0.15
            step = self._run_sub(state, dt)
            if step is not None:
                return step
            x, y, phi = self._local(state)
            if abs(y - PARK_SIDE_CM) < ON_LINE_CM and abs(math.degrees(phi)) < ON_LINE_DEG:
                self.phase = "line"
            else:  # the turn moved the car off the line: once more from the pre-point
                return self._retry(state)

        if self.phase == "line":
            self.progress = 0.25
            rem = PARK_AHEAD_CM - x  # + forward
            if abs(rem) < CENTRE_TOLERANCE_CM:
                if abs(v) >= STOPPED_CM_S:
                    return self.hold(0.0)
                if abs(y - PARK_SIDE_CM) > SETUP_LATERAL_CM or abs(math.degrees(phi)) > SETUP_DEG:
                    return self._retry(state)
                self.phase = "arc1"
            else:
                rem_eff = rem - v * ESC_LEAD_S
                direction = 1.0 if rem_eff >= 0 else -1.0
                speed = max(braking_speed(abs(rem_eff), self.v_approach), min(MIN_CREEP_CM_S, self.v_approach))
                # pure pursuit on the set-up line, the same formula forwards and backwards
                look = LINE_LOOKAHEAD_CM
                tx, ty = self._world(x + direction * look, PARK_SIDE_CM)
                ax, ly = to_local(tx, ty, state.x_cm, state.y_cm, math.radians(state.heading_deg))
                steer = clamp(math.atan(2.0 * L * ly / (ax * ax + ly * ly)) / max_steer, -1.0, 1.0)
                return self.drive(direction * speed, steer)

        rear_y = y - self.b * math.sin(phi)  # the rear axle's distance from the box centre line
        if self.phase == "arc1":
            self.progress = 0.4 + 0.2 * min(1.0, phi / math.radians(45))
            one_minus_cos = 1.0 - math.cos(phi)
            tight = one_minus_cos > 1e-4 and rear_y / one_minus_cos <= self.min_radius / ARC2_TIGHTEST
            if tight or phi >= math.radians(ARC1_MAX_DEG) or rear_y <= 0.0:
                self.phase = "arc2"
            else:
                return self.drive(-self.v_park, self.f * -1.0)  # tail towards the box

        if self.phase == "arc2":
            self.progress = 0.6 + 0.3 * (1.0 - min(1.0, abs(phi) / math.radians(45)))
            if phi <= math.radians(STRAIGHT_DEG):
                if abs(v) >= STOPPED_CM_S:
                    return self.hold(0.0)
                self.phase = "centre"
            else:
                one_minus_cos = 1.0 - math.cos(phi)
                if rear_y <= 0.0:
                    kappa = 1.0 / self.min_radius  # already on the line: straighten as fast as possible
                else:
                    kappa = one_minus_cos / rear_y
                steer = clamp(math.atan(L * kappa) / max_steer, 0.0, 1.0)
                speed = self.v_park if phi > math.radians(8) else max(MIN_CREEP_CM_S, self.v_park * phi / math.radians(8))
                return self.drive(-speed, self.f * steer)

        # centre: straight along the axis to the box centre, holding the heading on the axis
        self.progress = 0.95
        rem = -x  # + means forward
        if abs(rem) < CENTRE_TOLERANCE_CM and abs(v) < STOPPED_CM_S:
            return self.done()
        rem_eff = rem - v * ESC_LEAD_S
        speed = braking_speed(abs(rem_eff), self.v_park)
        speed = max(speed, min(MIN_CREEP_CM_S, self.v_park)) if abs(rem) >= CENTRE_TOLERANCE_CM else 0.0
        direction = 1.0 if rem_eff >= 0 else -1.0
        steer = clamp(-HEADING_GAIN * (self.f * phi) * direction, -1.0, 1.0)
        return self.drive(direction * speed, steer)
