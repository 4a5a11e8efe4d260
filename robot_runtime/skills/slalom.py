"""`slalom`: weave through a line of cones ahead, passing them on alternate sides, touching none.

Which cones: the arena's cones in a corridor ahead of the start pose (at most SLALOM_CORRIDOR_CM to
either side, up to SLALOM_MAX_AHEAD_CM ahead), taken in order of distance. With fewer than two there,
the car weaves through the standard layout instead: three (imaginary) cones on its heading line,
100, 220 and 340 cm ahead. The first cone is passed with the car on its left, the next on its right,
and so on. A gate is the line through a cone across the corridor: the car must cross it on its side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from robot_runtime.arena import Arena
from robot_runtime.hardware import CarSpec, CarState
from robot_runtime.protocol import Pose
from robot_runtime.skills.base import SkillContext, SkillStep
from robot_runtime.skills.path import Path, PathFollower, smooth_weave
from robot_runtime.skills.scripted import STOPPED_CM_S, ScriptedSkill, to_local

SLALOM_CORRIDOR_CM = 50.0  # cones this far either side of the start line belong to the slalom
SLALOM_MIN_AHEAD_CM = 40.0  # a cone under the car's nose is not part of the course
SLALOM_MAX_AHEAD_CM = 800.0
STANDARD_CONES_AHEAD_CM = (100.0, 220.0, 340.0)  # the standard layout, when the arena has no line of cones
CONE_CLEARANCE_CM = 9.0  # planned gap between the car's side and a cone (covers tracking error)
SLALOM_SPEED_CAP_CM_S = 110.0  # weaving at the turning limit: faster would slide wide into a cone
EXIT_CM = 90.0  # straighten out for this long after the last cone
STOP_ROOM_CM = 40.0  # and keep this much free floor to brake in
DEFAULT_CONE_RADIUS_CM = 4.0
TIGHTEST_FRACTION = 0.85  # the weave may ask for at most 85 % of full lock (slack for the servo and tyres)
EXTRA_TIME_S = 8.0

KID_TOO_CLOSE = "These cones are too close together for my turning circle — space them {cm} cm apart."
KID_NO_ROOM = "I need a clear lane ahead for the slalom — {cm} cm of floor past the last cone."


@dataclass(frozen=True)
class Gate:
    """Cone i, where the car must pass it: `side` +1 = car left of the cone (looking down the course)."""

    index: int
    ahead_cm: float  # along the start heading
    lateral_cm: float  # the cone's offset from the start line (+ left)
    radius_cm: float
    side: int
    arena_cone: int | None  # index into arena.cones, or None for a standard-layout (imaginary) cone


def slalom_gates(arena: Arena, start: Pose) -> list[Gate]:
    """The gates a slalom from `start` goes through (the arena's cones ahead, else the standard layout)."""
    h = math.radians(start.heading_deg)
    found = []
    for i, c in enumerate(arena.cones):
        ax, ly = to_local(c.x_cm, c.y_cm, start.x_cm, start.y_cm, h)
        if SLALOM_MIN_AHEAD_CM <= ax <= SLALOM_MAX_AHEAD_CM and abs(ly) <= SLALOM_CORRIDOR_CM:
            found.append((ax, ly, c.radius_cm, i))
    found.sort()
    if len(found) < 2:
        found = [(a, 0.0, DEFAULT_CONE_RADIUS_CM, None) for a in STANDARD_CONES_AHEAD_CM]
    return [Gate(k, ax, ly, r, 1 if k % 2 == 0 else -1, i) for k, (ax, ly, r, i) in enumerate(found)]


def weave_keys(gates: list[Gate], spec: CarSpec) -> list[tuple[float, float]]:
    """Key points of the weave in the start frame: start, one beside each cone, straight exit."""
    half_w = spec.width_cm / 2.0
    keys = [(0.0, 0.0)]
    for g in gates:
        keys.append((g.ahead_cm, g.lateral_cm + g.side * (g.radius_cm + half_w + CONE_CLEARANCE_CM)))
    keys.append((gates[-1].ahead_cm + EXIT_CM, 0.0))
    return keys


class SlalomSkill(ScriptedSkill):
    name = "slalom"
    kid_done = "Slalom done — I weaved through every cone!"

    def __init__(self, ctx: SkillContext) -> None:
        super().__init__(ctx)
        self.v_run = min(self.v_max, SLALOM_SPEED_CAP_CM_S)
        self.problem: SkillStep | None = None

    def begin(self, state: CarState) -> None:
        start = Pose(x_cm=state.x_cm, y_cm=state.y_cm, heading_deg=state.heading_deg)
        self.gates = slalom_gates(self.ctx.arena, start)
        keys = weave_keys(self.gates, self.ctx.spec)
        # can the car steer the tightest bend? half-cosine between keys: curvature pi^2 * dy / (2 dx^2)
        for (x0, y0), (x1, y1) in zip(keys, keys[1:]):
            dx, dy = x1 - x0, abs(y1 - y0)
            if dy > 0 and math.pi**2 * dy / (2 * dx * dx) > TIGHTEST_FRACTION / self.min_radius:
                need = math.ceil(math.pi * math.sqrt(dy * self.min_radius / (2 * TIGHTEST_FRACTION)) / 10) * 10
                self.problem = self.fail("cones_too_close", KID_TOO_CLOSE.format(cm=need))
                return
        h = math.radians(state.heading_deg)
        self.start_pose = (state.x_cm, state.y_cm, h)
        end_ahead = keys[-1][0]
        need = end_ahead + STOP_ROOM_CM
        free = _free_ahead_without_cones(self.ctx.arena, state, self.ctx.spec)
        if free < need:
            self.problem = self.fail("no_room", KID_NO_ROOM.format(cm=round(EXIT_CM + STOP_ROOM_CM)))
            return
        self.path = Path.from_points(smooth_weave(keys)).transformed(state.x_cm, state.y_cm, h)
        self.follower = PathFollower(self.path, self.ctx.spec.wheelbase_cm, self.ctx.spec.max_steer_deg, self.v_run)
        self.passed = 0
        self.time_limit_s = self.path.length / max(self.v_run, 1.0) + EXTRA_TIME_S

    def control(self, state: CarState, dt: float) -> SkillStep:
        if self.problem is not None:
            return self.problem
        ox, oy, oh = self.start_pose
        ahead, _ = to_local(state.x_cm, state.y_cm, ox, oy, oh)
        while self.passed < len(self.gates) and ahead >= self.gates[self.passed].ahead_cm:
            self.passed += 1
        self.progress = 0.95 * (self.follower.s_car / self.path.length)
        if self.follower.remaining() < 2.0 or ahead > self.gates[-1].ahead_cm + EXIT_CM:
            if abs(state.speed_cm_s) < STOPPED_CM_S:
                return self.done()
            return self.hold(0.0)
        v, steer = self.follower.command(state.x_cm, state.y_cm, math.radians(state.heading_deg), state.speed_cm_s)
        return self.drive(v, steer)


def _free_ahead_without_cones(arena: Arena, state: CarState, spec: CarSpec) -> float:
    """Free floor straight ahead of the car's nose, ignoring cones (they are the course)."""
    from robot_runtime.sim.world import World  # geometry only

    h = math.radians(state.heading_deg)
    c, s = math.cos(h), math.sin(h)
    nose = spec.length_cm / 2.0
    world = World(arena.model_copy(update={"cones": []}))
    d = world.ray(state.x_cm + nose * c, state.y_cm + nose * s, c, s, 1e6)
    return (math.inf if d is None else d) + nose
