"""Common ground for scripted skills: time limit, collision, blocked-by-safety, heading unwrap, speeds.

A scripted skill subclasses ``ScriptedSkill`` and writes ``control(state, dt) -> SkillStep``; the base
class ends it `failed` on a collision, on its time limit, or when the car makes no progress although
it is being told to move (the supervisor is holding it back: ``blocked_by_safety``).
"""

from __future__ import annotations

import math

from robot_runtime.hardware import NEUTRAL, CarState, Command
from robot_runtime.skills.base import Skill, SkillContext, SkillStep

BLOCKED_AFTER_S = 2.5  # told to move but (almost) not moving this long: held back (the executor's own 2 s check
# names the wall or obstacle when the supervisor's fence is the cause; this one catches everything else)
BLOCKED_SPEED_FRACTION = 0.2  # "not moving": under this fraction of the commanded speed
BLOCKED_MIN_CMD_CM_S = 15.0  # commands slower than this never count as "told to move"
STOPPED_CM_S = 2.0  # the car counts as stopped below this speed
ACCEL_CM_S2 = 120.0  # planned braking for precise stops: well inside the tyres' grip and the supervisor's slew limit
ESC_LEAD_S = 0.1  # the ESC brakes to a new speed in about this long (sim: 0.08 s + a tick): controllers aim where the car will be
MIN_CREEP_CM_S = 10.0  # final approach speed: slow enough to stop on the spot, fast enough to overcome trim

KID_COLLISION = "Bump! I touched the {what}. Let's try again with more room."
KID_TIMEOUT = "That took too long, so I stopped."
KID_NO_SPEED = "My speed limit is 0 right now, so I can't drive."
KID_BLOCKED = "I couldn't keep going — my safety rules held me back."
KID_BLOCKED_AHEAD = "I stopped: something is {cm} cm ahead of me."
KID_BLOCKED_BEHIND = "I stopped: there's no room to back up here."
BLOCKED_NEAR_CM = 40.0  # a sensor reading this close explains a held-back car


def wrap_rad(a: float) -> float:
    return (a + math.pi) % (2.0 * math.pi) - math.pi


def to_local(x: float, y: float, ox: float, oy: float, heading_rad: float) -> tuple[float, float]:
    """(x, y) in the frame at (ox, oy) facing heading_rad: (ahead, left)."""
    dx, dy = x - ox, y - oy
    c, s = math.cos(heading_rad), math.sin(heading_rad)
    return dx * c + dy * s, -dx * s + dy * c


def to_world(ax: float, ly: float, ox: float, oy: float, heading_rad: float) -> tuple[float, float]:
    c, s = math.cos(heading_rad), math.sin(heading_rad)
    return ox + ax * c - ly * s, oy + ax * s + ly * c


def clamp(v: float, lo: float, hi: float) -> float:
    return lo if v < lo else hi if v > hi else v


def braking_speed(remaining_cm: float, v_max: float, accel: float = ACCEL_CM_S2) -> float:
    """Speed (>= 0) that still stops within `remaining_cm` at `accel`, capped at v_max."""
    if remaining_cm <= 0.0:
        return 0.0
    return min(v_max, math.sqrt(2.0 * accel * remaining_cm))


class ScriptedSkill(Skill):
    """Base for hand-written controllers; see module doc."""

    kid_done: str = "Done!"
    checks_blocked: bool = True  # set False in skills that deliberately sit still for a while
    needs_motion: bool = True  # a skill that must move fails at once when its speed is 0
    fails_on_collision: bool = True  # stopping still counts as stopping when the car bumps on the way

    def __init__(self, ctx: SkillContext) -> None:
        super().__init__(ctx)
        self.top = ctx.spec.top_speed_cm_s
        self.v_max = clamp(ctx.speed_pct, 0.0, 100.0) / 100.0 * self.top
        self.min_radius = ctx.spec.wheelbase_cm / math.tan(math.radians(ctx.spec.max_steer_deg))
        self.t0: float | None = None
        self.elapsed = 0.0
        self.heading_unwrapped = 0.0  # radians, continuous since start
        self._last_heading: float | None = None
        self._blocked_for = 0.0
        self.cmd_speed = 0.0  # speed the skill last asked for (cm/s, signed), for blocked detection
        self.progress = 0.0
        self.start_state: CarState | None = None

    # subclasses implement these two
    def begin(self, state: CarState) -> None:  # noqa: B027 - optional hook
        """Plan from the start state."""

    def control(self, state: CarState, dt: float) -> SkillStep:
        raise NotImplementedError

    # the Skill interface
    def start(self, state: CarState) -> None:
        self.t0 = state.t
        self.start_state = state
        self._last_heading = math.radians(state.heading_deg)
        self.heading_unwrapped = self._last_heading
        self.begin(state)

    def step(self, state: CarState, dt: float) -> SkillStep:
        if self.t0 is None:
            self.start(state)
        self.elapsed = state.t - (self.t0 or 0.0)
        h = math.radians(state.heading_deg)
        self.heading_unwrapped += wrap_rad(h - (self._last_heading if self._last_heading is not None else h))
        self._last_heading = h
        if state.collisions and self.fails_on_collision:
            what = state.collisions[0].with_
            kind = "cone" if what.startswith("cone") else "wall" if what in ("wall", "edge") else what.split(":")[0]
            return self.fail("collision", KID_COLLISION.format(what=kind))
        if self.elapsed > self.time_limit_s:
            return self.fail("timeout", KID_TIMEOUT)
        if self.needs_motion and self.v_max <= 0.0:
            return self.fail("blocked_by_safety", KID_NO_SPEED)
        out = self.control(state, dt)
        if out.status != "running":
            return out
        if self.checks_blocked and self._is_blocked(state, dt):
            return self.fail("blocked_by_safety", self.blocked_text(state))
        return out

    def blocked_text(self, state: CarState) -> str:
        """Why the car is held back, as far as the car can tell."""
        d = state.distance_cm
        if self.cmd_speed > 0 and d is not None and d < BLOCKED_NEAR_CM:
            return KID_BLOCKED_AHEAD.format(cm=max(0, round(d)))
        if self.cmd_speed < 0:
            return KID_BLOCKED_BEHIND
        return KID_BLOCKED

    # helpers for subclasses
    def drive(self, speed_cm_s: float, steering: float) -> SkillStep:
        """A running step that asks for a signed speed and a steering fraction."""
        self.cmd_speed = speed_cm_s
        return SkillStep(
            command=Command(clamp(speed_cm_s / self.top, -1.0, 1.0), clamp(steering, -1.0, 1.0)),
            status="running",
            progress=clamp(self.progress, 0.0, 1.0),
        )

    def hold(self, steering: float = 0.0) -> SkillStep:
        self.cmd_speed = 0.0
        return SkillStep(command=Command(0.0, clamp(steering, -1.0, 1.0)), progress=clamp(self.progress, 0.0, 1.0))

    def done(self, kid_text: str | None = None, note: str = "") -> SkillStep:
        """Finished. `note`: a machine reason when it finished differently than asked (the kid text says how)."""
        self.progress = 1.0
        return SkillStep(command=NEUTRAL, status="done", progress=1.0, reason=note, kid_text=kid_text or self.kid_done)

    def fail(self, reason: str, kid_text: str) -> SkillStep:
        return SkillStep(command=NEUTRAL, status="failed", progress=clamp(self.progress, 0.0, 1.0), reason=reason, kid_text=kid_text)

    def steer_for_curvature(self, kappa: float) -> float:
        """Steering fraction for a path curvature (1/cm, + left) under the kinematic bicycle model."""
        return math.degrees(math.atan(kappa * self.ctx.spec.wheelbase_cm)) / self.ctx.spec.max_steer_deg

    def _is_blocked(self, state: CarState, dt: float) -> bool:
        want = abs(self.cmd_speed)
        if want >= BLOCKED_MIN_CMD_CM_S and abs(state.speed_cm_s) < BLOCKED_SPEED_FRACTION * want:
            self._blocked_for += dt
        else:
            self._blocked_for = 0.0
        return self._blocked_for > BLOCKED_AFTER_S
