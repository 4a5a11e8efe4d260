"""Simulator speed: one car, headless, 50 Hz control, with and without the safety supervisor.

Prints physics substeps per second, control ticks per second and how many times faster than real time
the simulation runs (issue 2 target: >= 500x with the supervisor on). Workloads:
  - sim:        SimCar.apply/advance/read only (a scripted weave restarted from the middle every 5 s),
                on an open floor and in a 6 x 4 m arena with two walls and five cones (many hits)
  - supervised: the same commands through SafetySupervisor.filter every tick
  - full loop:  the real ControlLoop (executor + skill + supervisor + telemetry) running skills headless
"""

from __future__ import annotations

import math
import statistics
import time

from robot_runtime.arena import Arena, Cone, Wall
from robot_runtime.clock import ManualClock
from robot_runtime.config import CarConfig, HardLimits
from robot_runtime.hardware import CarSpec, Command
from robot_runtime.protocol import DriveAction, NamedSkillAction, Pose, SessionLimits, TurnAction
from robot_runtime.runtime import CarRuntime
from robot_runtime.safety import SafetySupervisor
from robot_runtime.sim import PHYSICS_HZ, SimCar

CONTROL_HZ = 50.0
# CPU time of this process, not wall time: the machine is shared (2 cores, several engineers), and CPU
# time is what one car costs; on an idle machine the two agree.
_now = time.process_time
SIM_SECONDS = 120.0  # simulated time per workload
REPEATS = 3  # best-of, the machine is shared
REPLACE_EVERY_TICKS = 250  # raw workloads: the weave restarts from the middle every 5 s (else it ends pinned to a wall)

ARENA = Arena(
    name="bench",
    width_cm=600,
    height_cm=400,
    start=Pose(x_cm=300, y_cm=200, heading_deg=0),
    walls=[Wall(x0=100, y0=100, x1=100, y1=300), Wall(x0=500, y0=100, x1=500, y1=300)],
    cones=[Cone(x_cm=200 + 40 * i, y_cm=60) for i in range(5)],
)


def _commands(n: int) -> list[Command]:
    return [Command(0.5 + 0.4 * math.sin(i / 37.0), math.sin(i / 23.0)) for i in range(n)]


OPEN_FLOOR = Arena(name="open floor", width_cm=2000, height_cm=2000, start=Pose(x_cm=1000, y_cm=1000, heading_deg=0))


def bench_raw(supervised: bool, arena: Arena = ARENA) -> float:
    dt = 1.0 / CONTROL_HZ
    n = int(SIM_SECONDS * CONTROL_HZ)
    cmds = _commands(n)
    car = SimCar(arena=arena)
    sup = SafetySupervisor(HardLimits(), CarSpec(), arena, watchdog=False, session=SessionLimits()) if supervised else None
    t0 = _now()
    now = 0.0
    for i, cmd in enumerate(cmds):
        if i % REPLACE_EVERY_TICKS == 0:  # back to the middle, a new heading: free driving, some wall hits
            car.place(arena.start.model_copy(update={"heading_deg": (i // REPLACE_EVERY_TICKS) * 37.0}))
        state = car.read()
        if sup is not None:
            cmd, _ = sup.filter(cmd, state, now)
        car.apply(cmd)
        car.advance(dt)
        now += dt
    return _now() - t0


def bench_loop() -> tuple[float, float, dict]:
    """The whole car runtime ticking skills back to back: (CPU seconds, simulated seconds, stage p50s)."""
    car = SimCar(arena=Arena(width_cm=1000, height_cm=1000, start=Pose(x_cm=500, y_cm=500, heading_deg=0)))
    clock = ManualClock()
    rt = CarRuntime(CarConfig(car_id="bench", watchdog=False, mode="headless"), car, clock, arena=car.arena)
    actions = [DriveAction(distance_cm=80, speed_pct=70), TurnAction(degrees=180, speed_pct=50),
               DriveAction(distance_cm=-40, speed_pct=40), NamedSkillAction(name="figure_eight", speed_pct=70)]
    t0 = _now()
    sim0 = clock.now()
    k = 0
    while clock.now() - sim0 < SIM_SECONDS:
        if rt.executor.running is None:
            car.place(Pose(x_cm=500, y_cm=500, heading_deg=0))
            action = actions[k % len(actions)]
            rt.handle_skill({"request_id": f"b{k}", "action": action.model_dump(mode="json"), "timeout_s": 60})
            k += 1
        rt.loop.run_headless(1.0, until=lambda: rt.executor.running is None)
    stages = {name: t.p50_ms * 1e3 for name, t in rt.loop.timer.summary().items() if name != "jitter"}
    return _now() - t0, clock.now() - sim0, stages


def main() -> None:
    substeps_per_tick = PHYSICS_HZ / CONTROL_HZ
    ticks = SIM_SECONDS * CONTROL_HZ
    print(f"one car, {CONTROL_HZ:.0f} Hz control, physics {PHYSICS_HZ:.0f} Hz ({substeps_per_tick:.0f} substeps/tick, "
          f"more near walls), {SIM_SECONDS:.0f} s simulated per run, best of {REPEATS}, CPU time")
    workloads = (
        ("sim, open floor", False, OPEN_FLOOR),
        ("sim + supervisor, open floor", True, OPEN_FLOOR),
        ("sim, walls and cones", False, ARENA),
        ("sim + supervisor, walls and cones", True, ARENA),
    )
    for label, supervised, arena in workloads:
        wall = min(bench_raw(supervised, arena) for _ in range(REPEATS))
        print(f"{label:34s} {ticks / wall:9.0f} ticks/s  {ticks * substeps_per_tick / wall:9.0f} substeps/s  "
              f"{wall / ticks * 1e6:6.1f} us/tick  {SIM_SECONDS / wall:6.0f}x real time"
              + ("  (target >= 500x)" if supervised else ""))
    runs = [bench_loop() for _ in range(REPEATS)]
    wall, sim, stages = min(runs, key=lambda r: r[0] / r[1])
    print(f"{'full control loop running skills':34s} {sim * CONTROL_HZ / wall:9.0f} ticks/s  {'':20s}"
          f"{wall / (sim * CONTROL_HZ) * 1e6:6.1f} us/tick  {sim / wall:6.0f}x real time")
    print("  per stage, p50 as the loop measures it (skill includes hardware.read, hardware is apply+advance): "
          + ", ".join(f"{k} {v:.1f} us" for k, v in stages.items()))
    print(f"(median of runs: {statistics.median(s / w for w, s, _ in runs):.0f}x real time for the full loop; target >= 500x)")


if __name__ == "__main__":
    main()
