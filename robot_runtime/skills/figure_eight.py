"""`figure_eight`: a loop to the left, then a loop to the right, back to where the car started.

The two loops (radius EIGHT_RADIUS_CM) touch at the start pose: the left loop's centre is that far to
the car's left, the right loop's centre that far to its right. So the eight needs a floor of about
2 x (radius + 23) cm along the car's heading and 4 x radius + 46 cm across it; the skill checks the
arena's walls and edge first and says so if there is not enough room.
"""

from __future__ import annotations

import math

from robot_runtime.hardware import CarState
from robot_runtime.skills.base import SkillContext, SkillStep
from robot_runtime.skills.path import Path, PathFollower, circle_points
from robot_runtime.skills.scripted import STOPPED_CM_S, ScriptedSkill

EIGHT_RADIUS_CM = 65.0  # 1.27 x the tightest circle (51 cm): pure pursuit cuts a little inside, the servo needs slack
EIGHT_SPEED_CAP_CM_S = 120.0  # 0.23 g on this circle: the tyres grip with room to spare
RUN_OUT_CM = 30.0  # straight on after the second loop, to settle the wheels before stopping
WALL_MARGIN_CM = 8.0  # the car's corners stay this far from walls along the planned path
EXTRA_TIME_S = 8.0

KID_NO_ROOM = "A figure eight needs about 3 m × 2 m of open floor — start from the middle of the arena."


def eight_points(radius: float) -> list[tuple[float, float]]:
    """The eight in the start frame (x ahead, y left): left loop counter-clockwise, then right loop clockwise."""
    left = circle_points(0.0, radius, radius, -math.pi / 2, 2 * math.pi)
    right = circle_points(0.0, -radius, radius, math.pi / 2, -2 * math.pi)
    return left + right[1:] + [(RUN_OUT_CM, 0.0)]


class FigureEightSkill(ScriptedSkill):
    name = "figure_eight"
    kid_done = "Figure eight done — a loop each way!"

    def __init__(self, ctx: SkillContext) -> None:
        super().__init__(ctx)
        self.v_run = min(self.v_max, EIGHT_SPEED_CAP_CM_S)
        self.no_room = False

    def begin(self, state: CarState) -> None:
        from robot_runtime.sim.world import World  # geometry only

        h = math.radians(state.heading_deg)
        self.path = Path.from_points(eight_points(EIGHT_RADIUS_CM)).transformed(state.x_cm, state.y_cm, h)
        world = World(self.ctx.arena)
        half_diag = math.hypot(self.ctx.spec.length_cm, self.ctx.spec.width_cm) / 2.0
        self.no_room = any(
            world.clearance(x, y) < half_diag + WALL_MARGIN_CM for x, y in zip(self.path.xs[::5], self.path.ys[::5])
        )
        self.follower = PathFollower(self.path, self.ctx.spec.wheelbase_cm, self.ctx.spec.max_steer_deg, self.v_run)
        self.time_limit_s = self.path.length / max(self.v_run, 1.0) + EXTRA_TIME_S

    def control(self, state: CarState, dt: float) -> SkillStep:
        if self.no_room:
            return self.fail("no_room", KID_NO_ROOM)
        self.progress = 0.95 * (self.follower.s_car / self.path.length)
        if self.follower.remaining() < 2.0:
            if abs(state.speed_cm_s) < STOPPED_CM_S:
                return self.done()
            return self.hold(0.0)
        v, steer = self.follower.command(state.x_cm, state.y_cm, math.radians(state.heading_deg), state.speed_cm_s)
        return self.drive(v, steer)
