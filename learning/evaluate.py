"""How good is a policy (or the expert) at a trick: N episodes from seeded random starts, batched.

    report = evaluate(trick, manifest_path, EvalConfig(episodes=50))
    report.success_rate, report.collisions, report.min_clearance_cm, report.mean_time_s, report.interventions

Every episode runs behind its car's safety supervisor (learning/rollout.py). The seeds are fixed by
the config (EVAL_SEED_BASE ...), never those demonstrations are recorded from, so two versions of a
skill evaluated with the same config meet exactly the same starts, and promotion can compare them
start by start.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from learning.rollout import Episode, rollout
from learning.tricks import Trick

EVAL_SEED_BASE = 0  # evaluation starts: seeds 0..N-1; demonstrations use DEMO_SEED_BASE and up
DEMO_SEED_BASE = 1_000_000


@dataclass(frozen=True)
class EvalConfig:
    episodes: int = 50
    seed_base: int = EVAL_SEED_BASE
    noise: bool = True  # the simulator's sensor and actuator noise
    batch_size: int | None = None  # None: every episode in one lockstep batch

    def __post_init__(self) -> None:
        if not 1 <= self.episodes <= 10_000:
            raise ValueError(f"evaluation needs 1..10000 episodes (got {self.episodes})")

    @property
    def seeds(self) -> range:
        return range(self.seed_base, self.seed_base + self.episodes)

    def key(self) -> dict:
        """What must match for two reports to be compared start by start."""
        return {"episodes": self.episodes, "seed_base": self.seed_base, "noise": self.noise}


@dataclass
class EvalReport:
    trick: str
    driver: str  # "expert" or "policy:<name>"
    config: dict
    success_rate: float
    successes: int
    episodes: int
    collisions: int
    safety_events: int  # the supervisor had to protect the car (fence, obstacle)
    interventions: dict[str, int]  # ticks each limit changed a command, all episodes
    min_clearance_cm: float
    mean_time_s: float | None  # over successful episodes
    car_steps: int
    wall_s: float
    per_episode: list[dict] = field(default_factory=list)

    @property
    def steps_per_s(self) -> float:
        return self.car_steps / self.wall_s if self.wall_s > 0 else 0.0

    def unsafe_seeds(self) -> set[int]:
        """Starts where something went wrong for safety: a collision or a supervisor intervention."""
        return {e["seed"] for e in self.per_episode if e["collisions"] or e["safety_events"]}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "EvalReport":
        return cls(**data)

    def line(self) -> str:
        t = "-" if self.mean_time_s is None else f"{self.mean_time_s:.1f} s"
        return (f"{self.driver}: {self.successes}/{self.episodes} ({self.success_rate:.0%}) succeeded, "
                f"{self.collisions} collisions, {self.safety_events} safety stops, min clearance "
                f"{self.min_clearance_cm:.1f} cm, mean time {t}")


def summarize(trick: Trick, driver: str, config: EvalConfig, episodes: list[Episode], wall_s: float) -> EvalReport:
    ok = [e for e in episodes if e.success]
    inter: Counter[str] = Counter()
    for e in episodes:
        inter.update(e.interventions)
    return EvalReport(
        trick=trick.name, driver=driver, config=config.key(),
        success_rate=len(ok) / len(episodes), successes=len(ok), episodes=len(episodes),
        collisions=sum(e.collisions for e in episodes), safety_events=sum(e.safety_events for e in episodes),
        interventions=dict(inter), min_clearance_cm=round(min(e.min_clearance_cm for e in episodes), 2),
        mean_time_s=round(sum(e.duration_s for e in ok) / len(ok), 3) if ok else None,
        car_steps=sum(round(e.duration_s * e.fps) for e in episodes), wall_s=wall_s,
        per_episode=[e.summary() for e in episodes],
    )


def evaluate(trick: Trick, manifest: str | Path | None, config: EvalConfig = EvalConfig(), *,
             clock=time.perf_counter) -> EvalReport:
    """Evaluate the policy of `manifest` (None: the scripted expert) on `config.episodes` seeded starts."""
    t0 = clock()
    if manifest is None:
        eps = rollout(trick, config.seeds, expert=True, batch_size=config.batch_size, noise=config.noise)
        driver = "expert"
    else:
        eps = rollout(trick, config.seeds, policy=manifest, batch_size=config.batch_size, noise=config.noise)
        driver = eps[0].source if eps else "policy"
    return summarize(trick, driver, config, eps, clock() - t0)
