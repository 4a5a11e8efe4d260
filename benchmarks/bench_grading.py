"""Grading time for a 30-second attempt without the model: judge + key frames + trajectory overlay.

The attempt is real: lesson l1-square-dance's loop run twice round (8 sides, about 30 s of 20 Hz
telemetry) in the headless simulator through the car runtime. Each round grades it the way the
server does after the car stops (server/attempts._judge_and_draw without the file writes).
"""

from __future__ import annotations

import statistics
import time

from curriculum.blockly_json import forward, program, repeat, turn
from curriculum.frames import render_attempt_images
from curriculum.judge import judge
from curriculum.loader import default_lessons
from curriculum.simrun import run_program

ROUNDS = 40
WARMUP = 3


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    lesson = default_lessons().get("l1-square-dance")
    lesson = lesson.model_copy(update={"time_limit_s": 60.0})
    started = time.perf_counter()
    sim = run_program(lesson, program(repeat(8, forward(60), turn("left", 90))))
    sim_wall = time.perf_counter() - started
    rec = sim.recording
    print(f"attempt: {rec.duration_s:.1f} s simulated, {len(rec.samples)} samples "
          f"(simulated in {sim_wall * 1000:.0f} ms wall, {rec.duration_s / sim_wall:.0f}x real time)")
    judge_ms, frames_ms, total_ms = [], [], []
    for i in range(WARMUP + ROUNDS):
        t0 = time.perf_counter()
        verdict = judge(lesson, rec)
        t1 = time.perf_counter()
        images = render_attempt_images(rec, lesson.arena)
        t2 = time.perf_counter()
        if i >= WARMUP:
            judge_ms.append((t1 - t0) * 1000)
            frames_ms.append((t2 - t1) * 1000)
            total_ms.append((t2 - t0) * 1000)
    print(f"verdict: passed={verdict.passed} stars={verdict.stars}; images: {len(images)} PNGs, "
          f"{sum(map(len, images.values())) // 1024} KiB")
    for name, values in (("judge", judge_ms), ("frames+overlay", frames_ms), ("grading total", total_ms)):
        print(f"{name:>15}: p50 {statistics.median(values):7.1f} ms   p99 {_pct(values, 0.99):7.1f} ms   "
              f"(n={len(values)})")


if __name__ == "__main__":
    main()
