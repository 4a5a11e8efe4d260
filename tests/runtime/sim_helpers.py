"""Helpers for the simulator and skill tests: arenas, and running a skill against a SimCar.

`run_direct` steps skill -> SimCar with no supervisor (the simulator's own promises);
`run_supervised` goes through the real safety supervisor and control loop when they exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from robot_runtime.hardware import CarState
from robot_runtime.sim import SimCar
from robot_runtime.skills.base import Skill, SkillStep

CONTROL_DT = 0.02  # the control loop's default 50 Hz


@dataclass
class Run:
    final: SkillStep
    start: CarState
    end: CarState
    states: list[CarState] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def max_abs_slip_deg(self) -> float:
        return max((abs(s.slip_deg) for s in self.states), default=0.0)


def run_direct(car: SimCar, skill: Skill, max_s: float = 60.0, settle_s: float = 0.3) -> Run:
    """Step the skill on the car at 50 Hz until it ends; then let the car settle (so `end` is at rest)."""
    state = car.read()
    start = state
    skill.start(state)
    states = [state]
    step = SkillStep()
    t0 = state.t
    while state.t - t0 < max_s:
        step = skill.step(state, CONTROL_DT)
        car.apply(step.command)
        car.advance(CONTROL_DT)
        state = car.read()
        states.append(state)
        if step.status != "running":
            break
    car.stop()
    for _ in range(int(settle_s / CONTROL_DT)):
        car.advance(CONTROL_DT)
        s = car.read()
        states.append(s)
    return Run(final=step, start=start, end=car.read(), states=states, duration_s=state.t - t0)
