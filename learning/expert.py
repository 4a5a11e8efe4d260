"""The scripted expert: drives a trick the way a careful driver would, and says what it does.

It is a skill like any other (its command passes the safety supervisor), steering from the same task
geometry a learned policy observes:

- a trick with gates (slalom, around the cone): at the start it plans a smooth weave through the pass
  point beside each cone (half-cosine curves: the car is parallel to the course as it passes a cone,
  so its tail never swings into one) to the box's centre, and follows it by pure pursuit, braking so
  it stops on the centre (robot_runtime.skills.path, the same follower as the scripted slalom);
- a box with an axis (park): pure pursuit on the axis line, aiming AXIS_LOOK_CM further along it but
  never past the centre, so the car arrives lined up; speed brakes to a stop on the centre.

Each step has a sentence for the kid, made from the task features: "the next gate is 60 cm ahead on
my left, I pass the cone on its left, steering left".
"""

from __future__ import annotations

import math

from robot_runtime.hardware import CarSpec, CarState, Command
from robot_runtime.skills.base import Skill, SkillContext, SkillStep
from robot_runtime.skills.path import Path, PathFollower, smooth_weave
from robot_runtime.skills.scripted import to_local
from robot_runtime.task_features import FIELD_INDEX as F
from robot_runtime.task_features import TaskTracker

AXIS_LOOK_CM = 45.0  # on the box's axis line, aim this far ahead of the car's place on it
MIN_LOOK_CM = 40.0  # pure pursuit never aims closer than this (the car's length): no twitching at the end
ACCEL_CM_S2 = 100.0  # planned braking into the box: gentle, well inside grip and the supervisor's ramps
ESC_LEAD_S = 0.15  # the ESC lags the command by about this long: brake for where the car will be
CREEP_CM_S = 8.0  # the last centimetres at a crawl
STOP_WITHIN_CM = 1.5  # this close to the centre: stop
STEER_WORDS_MIN = 0.15  # smaller steering than this is "going straight" in the narration
SLOWING_WITHIN_CM = 60.0  # closer to the box than this, the sentence says "slowing down"


class ExpertSkill(Skill):
    """Drives one trick; `narration` is this step's sentence, `task_row` this step's task features."""

    name = "expert"

    def __init__(self, ctx: SkillContext, tracker: TaskTracker, speed_cm_s: float, time_limit_s: float = 30.0) -> None:
        super().__init__(ctx)
        self.tracker = tracker
        self.v_run = speed_cm_s
        self.time_limit_s = time_limit_s
        self.follower: PathFollower | None = None
        self.narration = ""
        self.task_row: list[float] = []

    def start(self, state: CarState) -> None:
        self.tracker.start(state)
        if self.tracker.gates:
            self.follower = PathFollower(weave_path(self.tracker, state), self.ctx.spec.wheelbase_cm,
                                         self.ctx.spec.max_steer_deg, self.v_run)

    def step(self, state: CarState, dt: float) -> SkillStep:
        if state.collisions:
            return SkillStep(status="failed", reason="collision", kid_text="Bump! I touched something.")
        status = self.tracker.update(state)
        if status != "running":
            self.narration = self.tracker.kid_text
            return SkillStep(status=status, reason="" if status == "done" else "task_failed", kid_text=self.tracker.kid_text)
        self.task_row = row = self.tracker.features(state)
        spec = self.ctx.spec
        if self.follower is not None:
            v, steer = self.follower.command(state.x_cm, state.y_cm, math.radians(state.heading_deg), state.speed_cm_s)
            remaining = self.follower.remaining()
        else:
            v, steer, remaining = box_approach(row, state.speed_cm_s, self.v_run, spec)
        self.narration = narrate(row, v, steer, remaining)
        return SkillStep(command=Command(v / spec.top_speed_cm_s, steer))


def weave_path(tracker: TaskTracker, state: CarState) -> Path:
    """From the car, beside each cone on its side, to the box's centre (course frame: the arena's start pose)."""
    st = tracker.arena.start
    h = math.radians(st.heading_deg)
    keys = [to_local(state.x_cm, state.y_cm, st.x_cm, st.y_cm, h)]
    for g in tracker.gates:
        keys.append(to_local(g.pass_x, g.pass_y, st.x_cm, st.y_cm, h))
    keys.append(to_local(*tracker.goal_centre, st.x_cm, st.y_cm, h))
    return Path.from_points(smooth_weave(keys)).transformed(st.x_cm, st.y_cm, h)


def box_approach(row: list[float], speed_cm_s: float, v_run: float, spec: CarSpec) -> tuple[float, float, float]:
    """(speed cm/s, steering, distance left) into the goal box along its axis, from the task features."""
    ga, gl = row[F["goal_ahead_cm"]], row[F["goal_left_cm"]]
    gs, gc = row[F["goal_sin"]], row[F["goal_cos"]]
    # The car in the box's frame (X along the axis, the centre at 0), then the aim point on the axis line.
    X, Y = -ga * gc - gl * gs, ga * gs - gl * gc
    tx = min(X + AXIS_LOOK_CM, 0.0)
    dx, dy = tx - X, -Y
    ax, ly = dx * gc - dy * gs, dx * gs + dy * gc  # back in the car's frame
    look = max(math.hypot(ax, ly), MIN_LOOK_CM)
    kappa = 2.0 * ly / (look * look)
    steer = max(-1.0, min(1.0, math.degrees(math.atan(kappa * spec.wheelbase_cm)) / spec.max_steer_deg))
    remaining = max(0.0, -X)
    if remaining < STOP_WITHIN_CM:
        return 0.0, 0.0, remaining  # at (or just past) the centre: stop with the wheels straight
    v = min(v_run, math.sqrt(2.0 * ACCEL_CM_S2 * max(0.0, remaining - abs(speed_cm_s) * ESC_LEAD_S)))
    return max(v, min(CREEP_CM_S, v_run)), steer, remaining


def narrate(row: list[float], v: float, steer: float, remaining: float | None = None) -> str:
    """One short sentence: what is where, and what I do about it (`remaining`: cm left to drive,
    default the straight distance to the box once every gate is passed)."""
    if row[F["gates_left"]] > 0:
        side = "left" if row[F["gate_side"]] > 0 else "right"
        what = f"the next gate is {_where(row[F['gate_ahead_cm']], row[F['gate_left_cm']])}, I pass the cone on its {side}"
        remaining = math.inf if remaining is None else remaining
    else:
        what = f"the box is {_where(row[F['goal_ahead_cm']], row[F['goal_left_cm']])}"
        remaining = math.hypot(row[F["goal_ahead_cm"]], row[F["goal_left_cm"]]) if remaining is None else remaining
    if v == 0.0:
        return "I'm in the box — stopping" if remaining < SLOWING_WITHIN_CM else f"{what}, standing still"
    if remaining < SLOWING_WITHIN_CM:
        return f"{what}, slowing down"
    if abs(steer) < STEER_WORDS_MIN:
        return f"{what}, going straight"
    return f"{what}, steering {'left' if steer > 0 else 'right'}"


def _where(ax: float, ly: float) -> str:
    dist = round(math.hypot(ax, ly) / 10.0) * 10
    if ax < 0:
        return f"{dist} cm behind me"
    angle = math.degrees(math.atan2(ly, ax))
    if abs(angle) < 10:
        return f"{dist} cm straight ahead"
    side = "left" if angle > 0 else "right"
    return f"{dist} cm ahead on my {side}" if abs(angle) < 60 else f"{dist} cm to my {side}"


