"""A trick in the simulator as a Gymnasium environment, for your own reinforcement learning.

    from robot_runtime.sim.gym_env import TaskEnv
    env = TaskEnv(arena, TaskSpec(kind="park", goal_zone="box", heading_tolerance_deg=12))
    obs, info = env.reset(seed=3)
    obs, reward, terminated, truncated, info = env.step(np.array([0.2, 0.0], dtype=np.float32))

(`learning.tricks.trick_env("slalom")` builds one for each trick with its arena and start poses.)

- observation: OBSERVATION_FIELDS of robot_runtime/task_features.py (speed, forward distance, the
  goal box and the next gate in the car's frame ...), unscaled, float32 — what a learned skill sees;
- action: (throttle, steering) in -1..1, as robot_runtime.hardware.Command;
- every action passes the car's safety supervisor (speed, steering and slew limits, the arena fence,
  the obstacle stop) unless ``supervised=False``; ``info["interventions"]`` counts what it changed;
- reward: centimetres of progress towards the next gate or the box per step / 100, +10 when the trick
  is done, -10 for a collision or a gate passed on the wrong side; terminated then, truncated at the
  time limit;
- reset(seed) places the car at the arena's start pose plus a uniform random offset (`start_jitter`:
  x cm, y cm, heading deg) from the environment's seeded generator: the same seed, the same episode;
  ``options={"pose": {...}}`` chooses the start pose instead.

Gymnasium is imported here only: the car runtime never imports this module, so cars do not need it.
"""

from __future__ import annotations

import math

import gymnasium
import numpy as np
from gymnasium import spaces

from robot_runtime.arena import Arena
from robot_runtime.hardware import Command
from robot_runtime.protocol import Pose
from robot_runtime.sim.lane import SimLane
from robot_runtime.sim.noise import NoiseSpec
from robot_runtime.task_features import FIELD_INDEX, OBSERVATION_FIELDS, TaskSpec, TaskTracker, observation_row

DONE_REWARD = 10.0
FAIL_REWARD = -10.0
PROGRESS_PER_REWARD_CM = 100.0  # one unit of reward per metre of progress


class TaskEnv(gymnasium.Env):
    metadata = {"render_modes": []}

    def __init__(self, arena: Arena, task: TaskSpec, *, start_jitter: tuple[float, float, float] = (0.0, 0.0, 0.0),
                 time_limit_s: float = 30.0, supervised: bool = True, noise: bool = False, rate_hz: float = 50.0) -> None:
        self.arena, self.task = arena, task
        self.start_jitter = start_jitter
        self.time_limit_s = time_limit_s
        self.supervised = supervised
        self.noise = noise
        self.rate_hz = rate_hz
        TaskTracker(task, arena)  # fail now (TaskError) if the arena does not fit the task
        reach = 2.0 * math.hypot(arena.width_cm, arena.height_cm) + 1000.0
        low = np.full(len(OBSERVATION_FIELDS), -reach, dtype=np.float32)
        high = np.full(len(OBSERVATION_FIELDS), reach, dtype=np.float32)
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.lane: SimLane | None = None
        self.tracker: TaskTracker | None = None

    def _obs(self) -> np.ndarray:
        state = self.lane.state
        row = observation_row(state, self.tracker.features(state), self.lane.spec.sensor_range_cm)
        return np.clip(np.asarray(row, dtype=np.float32), self.observation_space.low, self.observation_space.high)

    def _target_distance(self) -> float:
        f = self.tracker.features(self.lane.state)
        return math.hypot(f[FIELD_INDEX["gate_ahead_cm"]], f[FIELD_INDEX["gate_left_cm"]])

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        dx, dy, dh = (self.np_random.uniform(-1.0, 1.0, 3) * np.asarray(self.start_jitter)).tolist()
        s = self.arena.start
        pose = Pose(x_cm=s.x_cm + dx, y_cm=s.y_cm + dy, heading_deg=s.heading_deg + dh)
        if options and "pose" in options:  # a chosen start, e.g. {"pose": {"x_cm": 80, "y_cm": 200, "heading_deg": 0}}
            pose = Pose.model_validate(options["pose"])
        noise = NoiseSpec(seed=int(self.np_random.integers(2**31))) if self.noise else None
        self.lane = SimLane(self.arena, pose, noise=noise, rate_hz=self.rate_hz)
        self.tracker = TaskTracker(self.task, self.arena, self.lane.spec)
        self.tracker.start(self.lane.read())
        self._last_distance = self._target_distance()
        self._gates_left = len(self.tracker.gates)
        return self._obs(), {"status": "running"}

    def step(self, action):
        if self.lane is None:
            raise RuntimeError("call reset() before step()")
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        wish = Command(float(np.clip(a[0], -1, 1)), float(np.clip(a[1], -1, 1)))
        if self.supervised:
            self.lane.apply(wish)
        else:
            self.lane.car.apply(wish)
            self.lane.car.advance(self.lane.dt)
            self.lane.t += self.lane.dt
        state = self.lane.read()
        status = self.tracker.update(state)
        distance = self._target_distance()
        gates_left = len(self.tracker.gates) - self.tracker.next_gate
        # a gate passed: the target jumps to the next one, so progress restarts from there
        progress = 0.0 if gates_left != self._gates_left else self._last_distance - distance
        self._last_distance, self._gates_left = distance, gates_left
        reward = progress / PROGRESS_PER_REWARD_CM
        collided = bool(state.collisions)
        terminated = collided or status != "running"
        if status == "done" and not collided:
            reward += DONE_REWARD
        elif terminated:
            reward += FAIL_REWARD
        truncated = not terminated and self.lane.t >= self.time_limit_s - 1e-9
        info = {"status": "failed" if collided else status, "kid_text": self.tracker.kid_text,
                "collisions": len(self.lane.collisions), "interventions": dict(self.lane.interventions)}
        return self._obs(), float(reward), terminated, truncated, info
