"""Record a drive that someone else steers (a kid on the drive page, a teacher) as an Episode.

    rec = DriveRecorder(get_trick("park"), source="kid:Mia")
    rec.start(state)                               # the car's state when the drive begins
    for each control tick:
        rec.add(state, requested, applied)         # what the kid asked, what the supervisor applied
    episode = rec.finish()                         # outcome from the task: done / failed / timeout
    lab.save_episodes("park", [episode, ...])      # -> a LeRobot dataset like the expert's

The observation is built exactly as for the expert and on the car (robot_runtime/task_features.py),
from the car's state: telemetry carries what it needs (pose, speed, distance). The narration column
says where the box or the next gate is, so a kid's recording reads like the expert's.
"""

from __future__ import annotations

from robot_runtime.hardware import CarSpec, CarState, Command
from robot_runtime.task_features import observation_row

from learning.expert import narrate
from learning.rollout import Episode
from learning.tricks import Trick

FPS = 50  # the car's control rate: one frame per tick (recording from 20 Hz telemetry: pass fps=20)
PATH_EVERY = 5  # trajectory at 10 Hz, as in evaluation


class DriveRecorder:
    def __init__(self, trick: Trick, source: str, spec: CarSpec | None = None, seed: int = -1, fps: int = FPS) -> None:
        self.trick = trick
        self.spec = spec or CarSpec()
        self.tracker = trick.tracker(self.spec)
        self.episode = Episode(trick.name, seed, float(fps), source)
        self._t0: float | None = None
        self._last: CarState | None = None

    def start(self, state: CarState) -> None:
        self.tracker.start(state)
        self._t0 = state.t

    def add(self, state: CarState, requested: Command, applied: Command) -> str:
        """One tick of the drive; returns the task's status after it (running / done / failed)."""
        if self._t0 is None:
            self.start(state)
        status = self.tracker.update(state)
        if status != "running":
            return status
        ep = self.episode
        row = self.tracker.features(state)
        if len(ep.actions) % PATH_EVERY == 0:
            ep.path.append((state.t - self._t0, state.x_cm, state.y_cm, state.heading_deg))
        ep.observations.append(observation_row(state, row, self.spec.sensor_range_cm))
        ep.actions.append((applied.throttle, applied.steering))
        ep.requests.append((requested.throttle, requested.steering))
        ep.narration.append(narrate(row, abs(applied.throttle) * self.spec.top_speed_cm_s, applied.steering))
        ep.collisions += len(state.collisions)
        self._last = state
        return status

    def finish(self, outcome: str | None = None) -> Episode:
        """The episode; its outcome is the task's (done / failed), else `outcome` or "timeout"."""
        ep = self.episode
        status = self.tracker.status
        ep.outcome = status if status != "running" else (outcome or "timeout")
        ep.kid_text = self.tracker.kid_text
        if self._last is not None and self._t0 is not None:
            ep.duration_s = self._last.t - self._t0
        return ep
