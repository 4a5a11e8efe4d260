"""Safety supervisor benchmarks (printed numbers, ratios against a baseline measured in the same run):

1. supervisor cost per tick, steering-aware fence vs the fence before it (the base commit's code, run
   from `git archive` of that commit in a subprocess, so nothing old stays in the tree): the same
   2000 ticks in an arena with walls and cones, near them (the fence computes) and on open floor (its
   fast path skips the geometry). The old fence ignores cones; the new one fences them too.
2. supervisor cost with N other cars near (0, 1, 3, 8; the regions they may cover are fenced every
   tick), the same walls-and-cones run, against N = 0 in this run.
3. dead-man reaction time: a skill that stalls the real-time loop 20 times; from the last supervised
   command to neutral at the hardware, on the simulator's own timestamped record. Beside it, the same
   run's time the motors would have kept the last command without a dead-man (the stall itself).

BENCH_SUPERVISOR_BASE names the baseline commit (default: the commit this work started from).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = os.environ.get("BENCH_SUPERVISOR_BASE", "ef1f64c")  # main when the steering-aware fence was started
TICKS = 2000
STALLS = 20
STALL_S = 0.25  # each stall: longer than the dead-man's 100 ms, shorter than the 0.5 s that ends a move
BETWEEN_STALLS_S = 0.3

# Runs under either tree (PYTHONPATH decides which robot_runtime it imports); prints per-tick seconds.
COST_SCRIPT = r"""
import json, math, random, sys, time
from robot_runtime.arena import Arena, Cone, Wall
from robot_runtime.config import HardLimits
from robot_runtime.hardware import CarSpec, CarState, Command
from robot_runtime.protocol import SessionLimits
from robot_runtime.safety import SafetySupervisor

rng = random.Random(7)
walls = [Wall(x0=100, y0=80, x1=100, y1=320), Wall(x0=250, y0=0, x1=250, y1=150), Wall(x0=250, y0=250, x1=250, y1=400),
         Wall(x0=400, y0=100, x1=520, y1=180), Wall(x0=330, y0=330, x1=560, y1=330), Wall(x0=180, y0=200, x1=230, y1=200)]
cones = [Cone(x_cm=160 + 60 * i, y_cm=60 + 70 * (i % 2)) for i in range(5)]
arena = Arena(width_cm=600, height_cm=400, start={"x_cm": 50, "y_cm": 50, "heading_deg": 0}, walls=walls, cones=cones)
open_floor = Arena(width_cm=5000, height_cm=5000, start={"x_cm": 2500, "y_cm": 2500, "heading_deg": 0})
out = {}
for name, where, box in (("walls_and_cones", arena, (20, 20, 580, 380)), ("open_floor", open_floor, (2000, 2000, 3000, 3000))):
    sup = SafetySupervisor(HardLimits(), CarSpec(), where, watchdog=False)
    sup.set_session(SessionLimits())
    x, y, h, v, yaw = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, 0.0, 0.0, 0.0
    times = []
    now = 0.0
    cmd = Command(0.8, 0.0)
    for i in range(int(sys.argv[1])):
        if i % 25 == 0:  # a new wish every half second: full throttle, full lock either way, reverse
            cmd = Command(rng.choice([1.0, 0.6, -0.5]), rng.choice([-1.0, -0.4, 0.0, 0.4, 1.0]))
        if i % 200 == 0:  # a new place now and then, anywhere in the box
            x, y, h = rng.uniform(box[0], box[2]), rng.uniform(box[1], box[3]), rng.uniform(-180, 180)
        state = CarState(t=now, x_cm=x, y_cm=y, heading_deg=h, speed_cm_s=v, yaw_rate_dps=yaw)
        t0 = time.perf_counter()
        sent, _ = sup.filter(cmd, state, now)
        times.append(time.perf_counter() - t0)
        v = sent.throttle * 300.0  # a kinematic car that does what it was sent (its tyres grip)
        yaw = math.degrees(v * math.tan(math.radians(27 * sent.steering)) / 26.0)
        h += yaw * 0.02
        x += v * 0.02 * math.cos(math.radians(h))
        y += v * 0.02 * math.sin(math.radians(h))
        now += 0.02
    out[name] = times
print(json.dumps(out))
"""


def base_tree(commit: str, into: Path) -> Path:
    """The baseline's robot_runtime/, unpacked from `git archive` (nothing is checked out)."""
    blob = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", commit, "robot_runtime"],
                          capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(blob)) as tar:
        tar.extractall(into, filter="data")
    return into


def per_tick_costs(tree: Path) -> dict[str, list[float]]:
    proc = subprocess.run([sys.executable, "-c", COST_SCRIPT, str(TICKS)], cwd=tree, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(tree)}, check=True)
    return json.loads(proc.stdout)


def stats(values: list[float]) -> tuple[float, float, float, float]:
    v = sorted(values)
    return (sum(v) / len(v), v[len(v) // 2], v[min(len(v) - 1, int(0.99 * len(v)))], v[-1])


def bench_cost() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-base-") as tmp:
        try:
            base = per_tick_costs(base_tree(BASE, Path(tmp)))
        except subprocess.CalledProcessError as exc:
            print(f"supervisor cost: baseline {BASE} not measurable ({exc.stderr.strip()[-200:] if exc.stderr else exc})")
            base = None
    new = per_tick_costs(ROOT)
    print(f"supervisor cost per tick ({TICKS} ticks each; ms: mean / p50 / p99 / max)")
    for name in ("walls_and_cones", "open_floor"):
        n = stats(new[name])
        line = f"  {name:<16} steering-aware fence {n[0] * 1e3:.3f} / {n[1] * 1e3:.3f} / {n[2] * 1e3:.3f} / {n[3] * 1e3:.3f}"
        if base is not None:
            b = stats(base[name])
            line += (f"   base {BASE} {b[0] * 1e3:.3f} / {b[1] * 1e3:.3f} / {b[2] * 1e3:.3f} / {b[3] * 1e3:.3f}"
                     f"   ratio mean {n[0] / b[0]:.2f}x, p99 {n[2] / b[2]:.2f}x")
        print(line)


async def bench_deadman() -> None:
    from robot_runtime.clock import MonotonicClock
    from robot_runtime.config import CarConfig
    from robot_runtime.hardware import NEUTRAL, Command
    from robot_runtime.runtime import CarRuntime
    from robot_runtime.sim import SimCar
    from robot_runtime.skills.base import Skill, SkillStep
    from robot_runtime.skills.registry import register_skill, unregister_skill

    class Stutter(Skill):
        """Drives at 50 %, and every BETWEEN_STALLS_S one step blocks for STALL_S."""

        name = "bench_stutter"
        time_limit_s = 60.0

        def start(self, state) -> None:
            self.next_at, self.stalls = state.t + BETWEEN_STALLS_S, 0

        def step(self, state, dt) -> SkillStep:
            if state.t >= self.next_at and self.stalls < STALLS:
                self.stalls += 1
                time.sleep(STALL_S)
                self.next_at = state.t + STALL_S + BETWEEN_STALLS_S
            return SkillStep(command=Command(0.5, 0.0), status="done" if self.stalls >= STALLS else "running")

    register_skill("bench_stutter", Stutter)
    arena_w = 5000.0  # a long straight floor (the 20 stalls need ~17 m): nothing else stops the car
    from robot_runtime.arena import Arena

    arena = Arena(width_cm=arena_w, height_cm=400, start={"x_cm": 100, "y_cm": 200, "heading_deg": 0})
    born = time.monotonic()
    car = SimCar(arena=arena, record=True, clock=time.monotonic)
    rt = CarRuntime(CarConfig(car_id="bench"), car, MonotonicClock(), arena=arena)
    rt.handle_limits({"max_speed_pct": 100})
    stop = asyncio.Event()

    async def heartbeats() -> None:
        while not stop.is_set():
            rt.handle_heartbeat(None)
            await asyncio.sleep(0.1)

    beats = asyncio.create_task(heartbeats())
    run = asyncio.create_task(rt.loop.run_realtime())
    rt.handle_skill({"request_id": "stutter", "action": {"kind": "skill", "name": "bench_stutter"}, "timeout_s": 60})
    deadline = time.monotonic() + STALLS * (STALL_S + BETWEEN_STALLS_S) * 3 + 5
    while not rt.results and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    rt.loop.stop()
    await run
    stop.set()
    await beats
    unregister_skill("bench_stutter")
    hist = car.history
    reaction = []
    for trip in (t for t in rt.deadman.trips if t.stage == "skill"):
        t_last = trip.last_apply - born
        reaction.append(next(t for t, c in hist if t > t_last + 1e-4 and c == NEUTRAL) - t_last)
    if not reaction:
        print("dead-man: no stall was caught (!)")
        return
    v = sorted(reaction)
    print(f"dead-man: last supervised command -> neutral at the hardware, {len(v)} stalls of {STALL_S * 1e3:.0f} ms: "
          f"median {v[len(v) // 2] * 1e3:.1f} ms  p95 {v[min(len(v) - 1, int(0.95 * len(v)))] * 1e3:.1f} ms  "
          f"max {v[-1] * 1e3:.1f} ms   (timeout 100 ms; promise <= 150 ms; without a dead-man the motors keep "
          f"the last command for the whole stall: {STALL_S * 1e3:.0f} ms here, 1500 ms in the review's case)")
    print(f"  result: {rt.results[0].status if rt.results else 'none'}; stalls reported {rt.loop.stalls}")


NEIGHBOUR_COUNTS = (0, 1, 3, 8)  # none (the baseline), one car, a few, a crowded corner of a classroom
NEIGHBOUR_MSG_EVERY = 5  # ticks between neighbours messages: 10 Hz at the loop's 50 Hz


def neighbour_costs(n_cars: int, ticks: int = TICKS) -> list[float]:
    """Per-tick supervisor seconds on the walls-and-cones floor with `n_cars` other cars moving around it
    (a neighbours message every NEIGHBOUR_MSG_EVERY ticks, as the relay sends them)."""
    import math
    import random

    from robot_runtime.arena import Arena, Cone, Wall
    from robot_runtime.config import HardLimits
    from robot_runtime.hardware import CarSpec, CarState, Command
    from robot_runtime.protocol import NearbyCar, Neighbours, SessionLimits
    from robot_runtime.safety import SafetySupervisor

    rng = random.Random(7)
    walls = [Wall(x0=100, y0=80, x1=100, y1=320), Wall(x0=250, y0=0, x1=250, y1=150), Wall(x0=400, y0=100, x1=520, y1=180)]
    cones = [Cone(x_cm=160 + 60 * i, y_cm=60 + 70 * (i % 2)) for i in range(5)]
    arena = Arena(width_cm=600, height_cm=400, start={"x_cm": 50, "y_cm": 50, "heading_deg": 0}, walls=walls, cones=cones)
    sup = SafetySupervisor(HardLimits(), CarSpec(), arena, watchdog=False)
    sup.set_session(SessionLimits())
    others = [[rng.uniform(20, 580), rng.uniform(20, 380), rng.uniform(-180, 180), rng.uniform(-100, 100),
               rng.uniform(-100, 100)] for _ in range(n_cars)]
    x, y, h, v, yaw, now = 300.0, 200.0, 0.0, 0.0, 0.0, 0.0
    cmd = Command(0.8, 0.0)
    times = []
    for i in range(ticks):
        if i % 25 == 0:
            cmd = Command(rng.choice([1.0, 0.6, -0.5]), rng.choice([-1.0, -0.4, 0.0, 0.4, 1.0]))
        if i % 200 == 0:
            x, y, h = rng.uniform(20, 580), rng.uniform(20, 380), rng.uniform(-180, 180)
        if i % NEIGHBOUR_MSG_EVERY == 0 and n_cars:
            for o in others:  # they drive on, bouncing off the edge
                o[0] += o[3] * 0.1
                o[1] += o[4] * 0.1
                o[3] = -o[3] if not 20 < o[0] < 580 else o[3]
                o[4] = -o[4] if not 20 < o[1] < 380 else o[4]
            sup.set_neighbours(Neighbours(seq=i, cars=[
                NearbyCar(car_id=f"car-{k}", x_cm=o[0], y_cm=o[1], heading_deg=o[2], vx_cm_s=o[3], vy_cm_s=o[4],
                          age_s=0.05) for k, o in enumerate(others)]), now)
        state = CarState(t=now, x_cm=x, y_cm=y, heading_deg=h, speed_cm_s=v, yaw_rate_dps=yaw)
        t0 = time.perf_counter()
        sent, _ = sup.filter(cmd, state, now)
        times.append(time.perf_counter() - t0)
        v = sent.throttle * 300.0
        yaw = math.degrees(v * math.tan(math.radians(27 * sent.steering)) / 26.0)
        h += yaw * 0.02
        x += v * 0.02 * math.cos(math.radians(h))
        y += v * 0.02 * math.sin(math.radians(h))
        now += 0.02
    return times


def bench_neighbours() -> None:
    """Supervisor cost with other cars near (moving obstacles) vs none, in this run."""
    runs = {n: neighbour_costs(n) for n in NEIGHBOUR_COUNTS}
    base = stats(runs[0])
    print(f"supervisor cost with N cars near ({TICKS} ticks each, walls and cones too; ms: mean / p50 / p99 / max)")
    for n, times in runs.items():
        m = stats(times)
        ratio = "" if n == 0 else (f"   ratio vs none: mean {m[0] / base[0]:.2f}x, p50 {m[1] / base[1]:.2f}x, "
                                    f"p99 {m[2] / base[2]:.2f}x")
        print(f"  {n} car{'s' if n != 1 else ' '} near  {m[0] * 1e3:.3f} / {m[1] * 1e3:.3f} / {m[2] * 1e3:.3f} / "
              f"{m[3] * 1e3:.3f}{ratio}")


def main() -> None:
    bench_cost()
    bench_neighbours()
    asyncio.run(bench_deadman())


if __name__ == "__main__":
    main()
