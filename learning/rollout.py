"""Run a trick from seeded starts in the headless simulator, many cars in lockstep, every command
through each car's own safety supervisor (robot_runtime.sim.lane.SimLane).

    episodes = rollout(trick, seeds=range(10), expert=True, record=True)      # demonstrations
    episodes = rollout(trick, seeds=range(50), policy=manifest_path)          # evaluation

A policy runs as the car runs it: robot_runtime.policy.PolicySkill builds each car's observation and
turns the model's output into a command (same manifest, same task tracker, same termination). Only
the model call is shared: each tick, every car's observation goes into one batch and onnxruntime runs
the batch once (``batch_size=1`` runs the cars one after another, for comparison).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from robot_runtime.hardware import Command
from robot_runtime.policy import LoadedPolicy, PolicySkill, load_policy
from robot_runtime.sim.lane import SimLane
from robot_runtime.sim.noise import NoiseSpec
from robot_runtime.skills.base import Skill, SkillContext
from robot_runtime.task_features import observation_row

from learning.expert import ExpertSkill
from learning.tricks import Trick

PATH_EVERY_TICKS = 5  # keep the trajectory at 10 Hz: enough to draw it, small enough to store per episode
SIM_NOISE = NoiseSpec()  # the simulator's default sensor and actuator noise (seeded per episode)
NUDGE_TAU_S = 0.5  # a nudge wanders over about half a second: long enough to move the car off its line
NUDGE_SHAPE = np.array([0.15, 1.0])  # throttle is nudged less than steering (speeds are small fractions)
NUDGE_SEED_OFFSET = 7919  # nudges draw from their own stream, not the simulator noise's


@dataclass
class Episode:
    trick: str
    seed: int
    fps: float
    source: str  # "expert", "policy:<name>", later "kid:<name>"
    outcome: str = "running"  # done | failed | timeout
    kid_text: str = ""
    duration_s: float = 0.0
    collisions: int = 0
    safety_events: int = 0  # the supervisor protected the car (fence, obstacle)
    interventions: dict[str, int] = field(default_factory=dict)  # ticks each limit changed the command
    min_clearance_cm: float = 0.0
    path: list[tuple[float, float, float, float]] = field(default_factory=list)  # (t, x, y, heading) at 10 Hz
    # per tick, when recorded: the observation (OBSERVATION_FIELDS), the command the supervisor applied,
    # the command the driver asked for, and what the driver said
    observations: list[list[float]] = field(default_factory=list)
    actions: list[tuple[float, float]] = field(default_factory=list)
    requests: list[tuple[float, float]] = field(default_factory=list)
    narration: list[str] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return self.outcome == "done" and self.collisions == 0

    def summary(self) -> dict:
        return {"seed": self.seed, "outcome": self.outcome, "success": self.success, "kid_text": self.kid_text,
                "duration_s": round(self.duration_s, 3), "collisions": self.collisions,
                "safety_events": self.safety_events, "interventions": self.interventions,
                "min_clearance_cm": round(self.min_clearance_cm, 1),
                "path": [[round(v, 1) for v in p] for p in self.path]}


class _BatchSlot:
    """Stands in for the LoadedPolicy inside one car's PolicySkill: keeps the observation for the
    shared batch and returns a placeholder; the real output is turned into a command afterwards."""

    def __init__(self, policy: LoadedPolicy, batch: np.ndarray, row: int) -> None:
        self._policy, self._batch, self._row = policy, batch, row
        a = policy.manifest.action
        self._placeholder = np.zeros(max(a.throttle.index, a.steering.index) + 1)

    def __getattr__(self, name: str):
        return getattr(self._policy, name)

    def infer(self, obs: np.ndarray) -> np.ndarray:
        self._batch[self._row] = obs[0]
        self.fresh = True
        return self._placeholder

    def infer_within(self, obs: np.ndarray, deadline_s: float | None = None) -> np.ndarray:
        return self.infer(obs)  # headless: the batch runs after every car has stepped, no deadline to keep

    fresh = False  # set by infer, cleared when the batch row is used: a stale row is never run


class Nudge:
    """A slowly wandering push on the driver's command (Ornstein-Uhlenbeck noise, seeded): demonstrations
    then show the expert steering back from where the push took it (DART), so a cloned policy learns to
    recover from its own small mistakes. The recorded request stays the expert's own command."""

    def __init__(self, size: float, seed: int, dt: float) -> None:
        self.size, self.dt = size, dt
        self.rng = np.random.default_rng(seed + NUDGE_SEED_OFFSET)
        self.value = np.zeros(2)

    def push(self, wish: Command) -> Command:
        a = self.dt / NUDGE_TAU_S
        self.value += -a * self.value + np.sqrt(2 * a) * self.rng.normal(0.0, 1.0, 2) * self.size * NUDGE_SHAPE
        return Command(wish.throttle + float(self.value[0]), wish.steering + float(self.value[1]))


@dataclass
class _Car:
    lane: SimLane
    skill: Skill
    episode: Episode
    nudge: Nudge | None = None
    ticks: int = 0


def rollout(
    trick: Trick,
    seeds: Iterable[int],
    *,
    expert: bool = False,
    policy: str | Path | LoadedPolicy | None = None,
    batch_size: int | None = None,
    record: bool = False,
    noise: bool = True,
    nudge: float = 0.0,
) -> list[Episode]:
    """One episode per seed (in seed order), with the expert or an ONNX policy at the wheel."""
    if expert == (policy is not None):
        raise ValueError("rollout needs exactly one driver: expert=True or policy=<manifest path>")
    seeds = list(seeds)
    loaded = policy if isinstance(policy, LoadedPolicy) or policy is None else load_policy(policy)
    size = len(seeds) if batch_size is None else max(1, batch_size)
    episodes: list[Episode] = []
    for k in range(0, len(seeds), size):
        episodes += _run_batch(trick, seeds[k:k + size], loaded, record, noise, nudge)
    return episodes


def _run_batch(trick: Trick, seeds: list[int], policy: LoadedPolicy | None, record: bool, noise: bool,
               nudge: float) -> list[Episode]:
    n_obs = len(policy.manifest.observation) if policy else 0
    batch = np.zeros((len(seeds), n_obs), dtype=np.float32)
    cars: list[_Car] = []
    for i, seed in enumerate(seeds):
        lane = SimLane(trick.arena, trick.start_pose(seed), noise=replace(SIM_NOISE, seed=seed) if noise else None)
        speed_pct = 100.0 * trick.speed_cm_s / lane.spec.top_speed_cm_s
        ctx = SkillContext(spec=lane.spec, arena=trick.arena, speed_pct=speed_pct)
        if policy is None:
            skill: Skill = ExpertSkill(ctx, trick.tracker(lane.spec), trick.speed_cm_s, trick.time_limit_s)
            source = "expert"
        else:
            skill = PolicySkill(ctx, _BatchSlot(policy, batch, i))
            source = f"policy:{policy.manifest.name}"
        skill.start(lane.read())
        cars.append(_Car(lane, skill, Episode(trick.name, seed, 1.0 / lane.dt, source),
                         Nudge(nudge, seed, lane.dt) if nudge > 0 else None))
    active = list(range(len(cars)))
    dt = cars[0].lane.dt if cars else 0.02
    n_max = int(round(trick.time_limit_s / dt))
    while active:
        stepping = []
        for i in active:
            car = cars[i]
            state = car.lane.state if car.ticks == 0 else car.lane.read()
            if car.ticks % PATH_EVERY_TICKS == 0:
                car.episode.path.append((car.lane.t, state.x_cm, state.y_cm, state.heading_deg))
            if car.ticks >= n_max:
                _finish(car, "timeout", "That took too long, so I stopped.")
                continue
            step = car.skill.step(state, dt)
            if step.status != "running":
                _finish(car, step.status, step.kid_text)
                continue
            stepping.append((i, state, step.command))
        if policy is not None and stepping:
            rows = [i for i, _, _ in stepping]
            for i in rows:
                slot = cars[i].skill.policy
                if not slot.fresh:
                    raise RuntimeError("PolicySkill.step did not call policy.infer_within this tick; learning/rollout.py "
                                       "batches through that call and must follow the policy runner")
                slot.fresh = False
            out = policy.session.run(None, {policy.input_name: batch[rows]})[0]
            wishes = [cars[i].skill.command_from(np.asarray(o, dtype=np.float64)) for i, o in zip(rows, out)]
        else:
            wishes = [cmd for _, _, cmd in stepping]
        for (i, state, _), wish in zip(stepping, wishes):
            car = cars[i]
            sent = car.lane.apply(wish if car.nudge is None else car.nudge.push(wish))
            car.ticks += 1
            if record:
                ep = car.episode
                ep.observations.append(observation_row(state, car.skill.task_row, car.lane.spec.sensor_range_cm))
                ep.actions.append((sent.throttle, sent.steering))
                ep.requests.append((wish.throttle, wish.steering))
                ep.narration.append(getattr(car.skill, "narration", ""))
        active = [i for i in active if cars[i].episode.outcome == "running"]
    return [c.episode for c in cars]


def _finish(car: _Car, outcome: str, kid_text: str) -> None:
    ep, lane = car.episode, car.lane
    ep.outcome, ep.kid_text = outcome, kid_text
    ep.duration_s = lane.t
    ep.collisions = len(lane.collisions)
    ep.safety_events = len(lane.safety_events)
    ep.interventions = dict(lane.interventions)
    ep.min_clearance_cm = lane.min_clearance_cm
    if not ep.path or ep.path[-1][0] != lane.t:
        s = lane.state
        ep.path.append((lane.t, s.x_cm, s.y_cm, s.heading_deg))
