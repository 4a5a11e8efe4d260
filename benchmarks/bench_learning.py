"""Learned tricks: how few demonstrations, how fast training, how good the result, how cheap a tick.

For each trick (park, slalom, around_cone), in one run on this machine:
  - demos needed: the fewest of DEMO_COUNTS nudged expert demonstrations whose trained policy succeeds
    on >= 80 % of EVAL_EPISODES seeded starts with 0 collisions
  - training wall and CPU time for 10 demonstrations (target <= 60 s), steps, why it stopped
  - success, collisions, safety stops, minimum clearance and mean time over EVAL_EPISODES starts,
    next to the scripted expert on the same starts (the same-run baseline)
  - ONNX inference per tick: one observation through the car's own runner (LoadedPolicy.infer, one
    thread), median and p99 (target <= 0.1 ms), against the same model in torch eager
  - evaluation throughput: car-steps per second with every car in one lockstep batch (one ONNX call
    per tick) against one car at a time

    python -m benchmarks learning
"""

from __future__ import annotations

import statistics
import tempfile
import time

import numpy as np
import torch

from learning.evaluate import EvalConfig, evaluate
from learning.service import SkillLab
from learning.train import Budget
from learning.tricks import get_trick
from robot_runtime.policy import load_policy

TRICK_NAMES = ("park", "slalom", "around_cone")
DEMO_COUNTS = (3, 5, 10)
EVAL_EPISODES = 50
TARGET_SUCCESS = 0.8
TARGET_TRAIN_S = 60.0
TARGET_INFER_MS = 0.1
INFER_CALLS = 5000
THROUGHPUT_EPISODES = 20  # batched vs one at a time, on the same starts


def _pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def _teach(lab: SkillLab, trick: str, demos: int, tag: str) -> tuple[str, dict, float, float]:
    ds = lab.record_demos(trick, demos)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    v = lab.train(f"bench_{trick}_{tag}", trick, ds, budget=Budget(max_seconds=TARGET_TRAIN_S))
    return v.id, v.train, time.perf_counter() - wall0, time.process_time() - cpu0


def torch_twin(policy) -> torch.nn.Module:
    """The same MLP in torch eager, rebuilt from the ONNX file's weights (the same-run baseline)."""
    import onnx
    from onnx import numpy_helper

    inits = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(policy.path)).graph.initializer}
    layers: list[torch.nn.Module] = []
    for idx in sorted({int(k.split(".")[0]) for k in inits}):
        w, b = inits[f"{idx}.weight"], inits[f"{idx}.bias"]
        lin = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w.copy()))
            lin.bias.copy_(torch.from_numpy(b.copy()))
        layers += [lin, torch.nn.Tanh()]
    net = torch.nn.Sequential(*layers).eval()
    probe = np.random.default_rng(1).normal(size=(8, len(policy.manifest.observation))).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(probe)).numpy()
    assert np.allclose(policy.session.run(None, {policy.input_name: probe})[0], ref, atol=1e-5), "twin differs"
    return net


def bench_inference(manifest) -> tuple[float, float, float]:
    policy = load_policy(manifest)
    n = len(policy.manifest.observation)
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(INFER_CALLS, 1, n)).astype(np.float32)
    for o in obs[:200]:
        policy.infer(o)  # warm-up
    ort_us = []
    for o in obs:
        t0 = time.perf_counter()
        policy.infer(o)
        ort_us.append((time.perf_counter() - t0) * 1e6)
    net = torch_twin(policy)
    torch_us = []
    with torch.no_grad():
        t_obs = torch.from_numpy(obs[:1000])
        for o in t_obs:
            t0 = time.perf_counter()
            net(o)
            torch_us.append((time.perf_counter() - t0) * 1e6)
    return statistics.median(ort_us), _pct(ort_us, 0.99), statistics.median(torch_us)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        lab = SkillLab(tmp, eval_config=EvalConfig(episodes=EVAL_EPISODES))
        for name in TRICK_NAMES:
            trick = get_trick(name)
            expert = evaluate(trick, None, lab.eval_config)
            print(f"\n[{name}] {trick.title}: {EVAL_EPISODES} seeded starts")
            print(f"  expert (baseline)      {expert.line()}")
            needed = None
            ten = None
            for demos in DEMO_COUNTS:
                vid, train, wall, cpu = _teach(lab, name, demos, f"{demos}")
                report = lab.evaluate(f"bench_{name}_{demos}", vid)
                ok = report.success_rate >= TARGET_SUCCESS and report.collisions == 0
                if ok and needed is None:
                    needed = demos
                print(f"  {demos:2d} demos: trained in {wall:5.1f} s wall / {cpu:5.1f} s CPU ({train['steps']} steps, "
                      f"{train['stopped_because']}); {report.line()}")
                if demos == 10:
                    ten = (f"bench_{name}_{demos}", vid, wall, report)
            print(f"  demos needed for >= {TARGET_SUCCESS:.0%} success with 0 collisions: {needed or 'more than 10'}")
            skill, vid, wall, report = ten
            print(f"  10 demos: training {wall:.1f} s (target <= {TARGET_TRAIN_S:.0f} s: "
                  f"{'ok' if wall <= TARGET_TRAIN_S else 'MISSED'}), success {report.success_rate:.0%} vs expert "
                  f"{expert.success_rate:.0%} (ratio {report.success_rate / max(expert.success_rate, 1e-9):.2f}), "
                  f"collisions {report.collisions} vs expert {expert.collisions}")
            manifest = lab.store.verify(skill, vid)
            med, p99, torch_med = bench_inference(manifest)
            print(f"  ONNX inference per tick: median {med:.1f} us, p99 {p99:.1f} us (target <= {TARGET_INFER_MS * 1000:.0f} "
                  f"us: {'ok' if med <= TARGET_INFER_MS * 1000 else 'MISSED'}); torch eager {torch_med:.1f} us "
                  f"(onnxruntime {torch_med / med:.1f}x faster)")
            batched = evaluate(trick, manifest, EvalConfig(episodes=THROUGHPUT_EPISODES))
            single = evaluate(trick, manifest, EvalConfig(episodes=THROUGHPUT_EPISODES, batch_size=1))
            print(f"  evaluation throughput: batched {batched.steps_per_s:,.0f} car-steps/s, one car at a time "
                  f"{single.steps_per_s:,.0f} car-steps/s (batched {batched.steps_per_s / single.steps_per_s:.1f}x); "
                  f"{batched.steps_per_s * 0.02:,.0f}x real time")


if __name__ == "__main__":
    main()
