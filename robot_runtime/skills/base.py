"""What every skill is: a small controller stepped by the control loop.

A skill turns the car's state into a command each tick and says when it is done. It never talks to
hardware: its command always passes the safety supervisor first, whatever kind of skill it is
(scripted or an ONNX policy).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

from robot_runtime.arena import Arena
from robot_runtime.hardware import NEUTRAL, CarSpec, CarState, Command

StepStatus = Literal["running", "done", "failed"]


@dataclass(frozen=True)
class SkillContext:
    spec: CarSpec
    arena: Arena
    speed_pct: float  # the speed the request asked for (percent of top speed), already within limits
    max_throttle: float = 1.0  # the throttle cap in force when the skill starts (the level's and the car's own)
    realtime: bool = True  # False in a headless run: simulated time stands still while the skill thinks


@dataclass(frozen=True)
class SkillStep:
    command: Command = NEUTRAL
    status: StepStatus = "running"
    progress: float = 0.0  # 0..1
    reason: str = ""  # machine reason when failed: collision, timeout, blocked_by_safety, ...
    kid_text: str = ""  # short sentence for the kid when it ends


class Skill(ABC):
    name: str = "skill"
    time_limit_s: float = 30.0  # a skill that has not finished by then ends `failed` with reason timeout

    def __init__(self, ctx: SkillContext) -> None:
        self.ctx = ctx

    @abstractmethod
    def start(self, state: CarState) -> None:
        """Called once, on the tick the skill begins."""

    @abstractmethod
    def step(self, state: CarState, dt: float) -> SkillStep:
        """One control tick: the command to send and whether the skill has ended."""
