"""Driving by hand: a `remote` request runs this skill, and `steer` messages move its stick.

The command is the stick as last received (throttle scaled by the request's speed, already capped by
the session's level), and it goes through the safety supervisor like every skill's. A hand is a
dead-man switch: when no `steer` arrived for STEER_DEADMAN_S the skill asks for throttle 0 (the
steering is held), and after LET_GO_S without one it ends ``done`` ("you let go"). The control loop's
own watchdog still stops the car if the server goes silent.
"""

from __future__ import annotations

from robot_runtime.hardware import CarState, Command
from robot_runtime.skills.base import Skill, SkillContext, SkillStep

STEER_DEADMAN_S = 0.3  # a page sends its stick at 10-20 Hz; three missed messages: hold still
LET_GO_S = 10.0  # nobody steered for this long: the drive is over
REMOTE_TIME_LIMIT_S = 120.0  # the longest request the protocol allows


class RemoteSkill(Skill):
    name = "remote"
    time_limit_s = REMOTE_TIME_LIMIT_S

    def __init__(self, ctx: SkillContext) -> None:
        super().__init__(ctx)
        self.throttle = 0.0
        self.steering = 0.0
        self.since_steer_s = 0.0
        self.steers = 0

    def set(self, throttle: float, steering: float) -> None:
        """A new stick position (called under the control loop's lock)."""
        self.throttle = max(-1.0, min(1.0, throttle))
        self.steering = max(-1.0, min(1.0, steering))
        self.since_steer_s = 0.0
        self.steers += 1

    def start(self, state: CarState) -> None:
        self.since_steer_s = 0.0

    def step(self, state: CarState, dt: float) -> SkillStep:
        self.since_steer_s += dt
        if self.since_steer_s >= LET_GO_S:
            return SkillStep(status="done", progress=1.0, kid_text="You let go of the car, so I stopped.")
        if self.since_steer_s >= STEER_DEADMAN_S:
            return SkillStep(command=Command(0.0, self.steering))
        return SkillStep(command=Command(self.throttle * self.ctx.speed_pct / 100.0, self.steering))
