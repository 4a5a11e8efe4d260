"""Helpers for the simulator and skill tests: running a skill against a SimCar.

`run_direct` steps skill -> SimCar with no supervisor (for the simulator's and a skill's own behaviour);
`run_supervised` sends a real SkillRequest through the real car runtime (executor, safety supervisor,
control loop), headless on a ManualClock — how the skill promises are tested.
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


@dataclass
class SupervisedRun:
    result: object  # protocol.SkillResult
    start: CarState
    end: CarState
    states: list[CarState] = field(default_factory=list)
    safety_events: list = field(default_factory=list)
    sent: list = field(default_factory=list)  # commands after the supervisor, one per tick
    progress: list = field(default_factory=list)  # the skill's progress as telemetry reported it

    @property
    def max_abs_slip_deg(self) -> float:
        return max((abs(s.slip_deg) for s in self.states), default=0.0)


def run_supervised(car: SimCar, action, *, limits: dict | None = None, max_s: float = 90.0, settle_s: float = 0.5) -> SupervisedRun:
    """Run one skill request through the real car runtime: executor -> safety supervisor -> SimCar,
    ticked headless by the real control loop on a ManualClock (no server, so no watchdog)."""
    from robot_runtime.clock import ManualClock
    from robot_runtime.config import CarConfig
    from robot_runtime.runtime import CarRuntime

    rt = CarRuntime(CarConfig(car_id="sim-test", watchdog=False, mode="headless"), car, ManualClock(), arena=car.arena)
    if limits is not None:
        ack = rt.handle_limits(limits)
        assert ack["ok"], ack
    events: list = []
    progress: list = []

    def on_telemetry(tm) -> None:
        events.extend(tm.safety_events)
        if tm.skill is not None:
            progress.append(tm.skill.progress)

    rt.telemetry_sinks.append(on_telemetry)
    start = car.read()
    ack = rt.handle_skill({"request_id": "req-1", "action": action.model_dump(mode="json"), "timeout_s": 120})
    assert ack["ok"], ack
    states: list[CarState] = []
    sent: list = []

    def finished() -> bool:
        states.append(rt.loop.last_state)
        sent.append(rt.loop.last_sent)
        return bool(rt.results)

    rt.loop.run_headless(max_s, until=finished)
    assert rt.results, f"no result within {max_s} s"
    rt.loop.run_headless(settle_s, until=lambda: (states.append(rt.loop.last_state), False)[1])
    return SupervisedRun(result=rt.results[0], start=start, end=car.read(), states=states, safety_events=events, sent=sent,
                         progress=progress)
