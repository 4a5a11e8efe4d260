"""The tricks a kid can teach a car: each an arena, a task (gates and a box, see
robot_runtime/task_features.py), randomized seeded start poses, a speed and a time limit.

    trick = get_trick("slalom")
    pose = trick.start_pose(seed=7)          # the same seed always gives the same start
    tracker = trick.tracker()                # TaskTracker for the trick's arena

Arenas come from the lessons where one fits (the slalom lane of l4-slalom, the cone road of
l2-around-the-cone); parking in a box has its own small garage.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from robot_runtime.arena import Arena, Cone, NamedZone
from robot_runtime.hardware import CarSpec
from robot_runtime.protocol import Pose
from robot_runtime.task_features import TaskSpec, TaskTracker

LESSONS_DIR = Path(__file__).resolve().parent.parent / "lessons"


@dataclass(frozen=True)
class Trick:
    name: str  # lower_snake_case: park, slalom, around_cone
    title: str  # for the kid: "Park in the box"
    task_text: str  # the dataset's task sentence (LeRobot's `task`)
    arena: Arena
    task: TaskSpec
    jitter: tuple[float, float, float]  # start poses: arena start +- (x cm, y cm, heading deg), uniform
    speed_cm_s: float  # how fast the expert drives it (the learned skill drives the same way)
    time_limit_s: float

    def start_pose(self, seed: int) -> Pose:
        rng = np.random.default_rng(seed)
        dx, dy, dh = (float(v) for v in rng.uniform(-1.0, 1.0, 3) * np.array(self.jitter))
        s = self.arena.start
        return Pose(x_cm=s.x_cm + dx, y_cm=s.y_cm + dy, heading_deg=s.heading_deg + dh)

    def tracker(self, spec: CarSpec | None = None) -> TaskTracker:
        return TaskTracker(self.task, self.arena, spec)


def lesson_arena(relative: str) -> Arena:
    """The arena of a lesson file under lessons/."""
    path = LESSONS_DIR / relative
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Arena.model_validate(data["arena"])


GARAGE = Arena(
    name="garage",
    width_cm=400,
    height_cm=250,
    start=Pose(x_cm=80, y_cm=125, heading_deg=0),
    # The back of the garage: two cones just behind the box, so overshooting is a bump.
    cones=[Cone(x_cm=368, y_cm=101), Cone(x_cm=368, y_cm=149)],
    zones=[NamedZone(name="box", kind="parking", x0=285, y0=103, x1=355, y1=147, heading_deg=0)],
)


def _tricks() -> dict[str, Trick]:
    return {t.name: t for t in (
        Trick(
            name="park", title="Park in the box", task_text="drive into the box and stop, lined up with it",
            arena=GARAGE, task=TaskSpec(kind="park", goal_zone="box", heading_tolerance_deg=12),
            jitter=(30.0, 50.0, 30.0), speed_cm_s=60.0, time_limit_s=20.0,
        ),
        Trick(
            name="slalom", title="Slalom", task_text="weave through the cones, left of the first, and stop in the finish box",
            arena=lesson_arena("level-4/l4-slalom.yaml"),
            task=TaskSpec(kind="slalom", goal_zone="finish", gates=True, min_gates=3),
            jitter=(15.0, 15.0, 10.0), speed_cm_s=80.0, time_limit_s=25.0,
        ),
        Trick(
            name="around_cone", title="Around the cone", task_text="drive around the cone on its left and stop in the blue box",
            arena=lesson_arena("level-2/l2-around-the-cone.yaml"),
            task=TaskSpec(kind="around_cone", goal_zone="blue_box", gates=True, min_gates=1),
            jitter=(15.0, 40.0, 20.0), speed_cm_s=80.0, time_limit_s=20.0,
        ),
    )}


TRICKS = _tricks()


def get_trick(name: str) -> Trick:
    try:
        return TRICKS[name]
    except KeyError:
        raise KeyError(f"unknown trick {name!r}: the tricks are {', '.join(sorted(TRICKS))}") from None


def trick_env(name: str, **options):
    """The trick as a Gymnasium environment (robot_runtime.sim.gym_env.TaskEnv), supervisor on."""
    from robot_runtime.sim.gym_env import TaskEnv  # gymnasium only when asked for

    trick = get_trick(name)
    return TaskEnv(trick.arena, trick.task, start_jitter=trick.jitter, time_limit_s=trick.time_limit_s, **options)


def register_gym_envs() -> list[str]:
    """Register every trick with Gymnasium as MikroDojo/<trick>-v0 (gymnasium.make then works)."""
    import gymnasium

    ids = []
    for name in TRICKS:
        env_id = f"MikroDojo/{name}-v0"
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point="learning.tricks:trick_env", kwargs={"name": name})
        ids.append(env_id)
    return ids
