"""Optional: does LeRobot itself load one of our datasets, with the same numbers our reader gives?

    python -m learning.lerobot_check <data>/learning/datasets/park-001

Needs `lerobot` installed (not a dependency of this project: it pulls several GB). Never run in CI.
Exit code 0 when LeRobot's frames, episodes, tasks and stats agree with ours, 1 otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from learning.dataset_check import read_dataset

SAMPLES = 5  # frames compared one by one (first, last and some between)


def check(root: Path) -> list[str]:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    ours = read_dataset(root)
    theirs = LeRobotDataset(f"local/{root.name}", root=root)
    problems = []
    if len(theirs) != ours.info["total_frames"] or theirs.num_episodes != ours.info["total_episodes"]:
        problems.append(f"LeRobot sees {len(theirs)} frames / {theirs.num_episodes} episodes, we wrote "
                        f"{ours.info['total_frames']} / {ours.info['total_episodes']}")
    states, actions = ours.states, ours.actions
    for i in np.linspace(0, len(theirs) - 1, SAMPLES).astype(int):
        item = theirs[int(i)]
        if not np.allclose(item["observation.state"].numpy(), states[i]) or not np.allclose(item["action"].numpy(), actions[i]):
            problems.append(f"frame {i}: observation.state or action differ")
        if item["task"] != ours.tasks[int(ours.column("task_index")[i])]:
            problems.append(f"frame {i}: task {item['task']!r} differs")
        if abs(float(item["timestamp"]) - float(ours.column("timestamp")[i])) > 1e-6:
            problems.append(f"frame {i}: timestamp differs")
    for key in ("observation.state", "action"):
        if not np.allclose(np.asarray(theirs.meta.stats[key]["mean"]), np.asarray(ours.stats[key]["mean"])):
            problems.append(f"stats {key} mean differs")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m learning.lerobot_check DATASET_DIR", file=sys.stderr)
        return 2
    problems = check(Path(args[0]).resolve())
    for p in problems:
        print(f"lerobot_check: {p}", file=sys.stderr)
    print("LeRobot loads it: frames, episodes, tasks and stats agree" if not problems else "LeRobot disagrees")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
