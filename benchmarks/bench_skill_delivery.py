"""A learned skill from "Teach" to the car: how long a kid waits, how big and how quick a delivery is.

In one run on this machine:
  - teach from 10 good drives (the scripted expert's nudged demonstrations filed as a kid's drives, as
    the drive page leaves them): dataset, training (<= 2000 steps / 60 s, the teach job's budget),
    evaluation on 20 starts, promotion: wall time per phase, and the total a kid waits (target: the
    issue's 60 s for training alone)
  - the package a car gets (model + manifest in base64): bytes, against the protocol's 64 KiB message cap
  - a car installing it (robot_runtime.skill_shelf: base64, SHA-256 per file, write, swap, onnxruntime
    load): median and p95 over INSTALLS, against the baseline of loading the same policy from disk
    (robot_runtime.policy.load_policy, which every policy start-up does anyway)

    python -m benchmarks skill_delivery
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from learning.evaluate import EvalConfig
from learning.rollout import rollout
from learning.service import SkillLab
from learning.train import Budget
from learning.tricks import get_trick
from robot_runtime.policy import load_policy
from robot_runtime.protocol import MAX_MESSAGE_BYTES, SkillPackage
from robot_runtime.skill_shelf import SkillShelf
from robot_runtime.skills.registry import unregister_skill

DRIVES = 10
INSTALLS = 20
TEACH_BUDGET = Budget(max_steps=2000, max_seconds=60.0)  # server/skills/teach.py
TEACH_EVAL = EvalConfig(episodes=20)


def _pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        lab = SkillLab(tmp, eval_config=TEACH_EVAL)
        trick = get_trick("park")
        eps = [e for e in rollout(trick, range(2_200_000, 2_200_000 + 2 * DRIVES), expert=True, record=True, nudge=0.3)
               if e.success][:DRIVES]
        for e in eps:
            lab.drives.add("kid-bench", e)
        t0 = time.perf_counter()
        ds = lab.dataset_from_drives("kid-bench", "park", min_good=3)
        t1, c1 = time.perf_counter(), time.process_time()
        version = lab.train("bench_park", "park", ds, budget=TEACH_BUDGET, taught_by="bench")
        t2, c2 = time.perf_counter(), time.process_time()
        report = lab.evaluate("bench_park", version.id)
        t3 = time.perf_counter()
        decision = lab.promote("bench_park", version.id)
        t4 = time.perf_counter()
        print(f"machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall times grow with it, CPU times less)")
        print(f"teach from {len(eps)} drives: dataset {t1 - t0:.2f} s, training {t2 - t1:.2f} s wall / {c2 - c1:.2f} s CPU "
              f"({version.train.get('steps')} steps, stopped: {version.train.get('stopped_because')}), evaluation {t3 - t2:.2f} s "
              f"({report.successes}/{report.episodes} succeeded, {report.collisions} collisions), promotion "
              f"{t4 - t3:.2f} s ({'promoted' if decision.promote else 'refused'}); a kid waits {t4 - t0:.1f} s "
              f"(target: training <= 60 s)")

        manifest = lab.deployable("bench_park")
        vdir = manifest.parent
        rec = lab.store.get("bench_park")
        import base64
        files = {f: base64.b64encode((vdir / f).read_bytes()).decode() for f in rec.version(rec.current).files}
        package = SkillPackage(name="bench_park", version=rec.current, files=files, sha256=dict(rec.version(rec.current).files))
        size = len(json.dumps(package.model_dump(mode="json")))
        print(f"package for a car: {size} bytes ({size / MAX_MESSAGE_BYTES:.0%} of the {MAX_MESSAGE_BYTES}-byte message cap)")

        shelf = SkillShelf(Path(tmp) / "car")
        installs, loads = [], []
        try:
            for _ in range(INSTALLS):
                s = time.perf_counter()
                ack = shelf.install(package)
                installs.append(time.perf_counter() - s)
                assert ack.ok, ack
                s = time.perf_counter()
                load_policy(manifest)
                loads.append(time.perf_counter() - s)
        finally:
            unregister_skill("bench_park")
        med_i, med_l = statistics.median(installs), statistics.median(loads)
        print(f"install on a car: median {med_i * 1000:.1f} ms, p95 {_pct(installs, 0.95) * 1000:.1f} ms; "
              f"baseline load_policy from disk: median {med_l * 1000:.1f} ms, p95 {_pct(loads, 0.95) * 1000:.1f} ms; "
              f"ratio {med_i / med_l:.2f}x")


if __name__ == "__main__":
    main()
