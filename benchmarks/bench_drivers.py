"""Hardware driver benchmarks (printed numbers, ratios against the simulator measured in the same run):

1. loop tick time with each driver on its fake: sim (SimCar), gpio (fake pins, in the process), gpio
   through the pin guard (a pipe to a guard thread on fake pins), pca9685 (fake I2C chip), serial (the
   Pico firmware under CPython on a pty) — p50/p99 of the whole tick, headless, the same square program.
2. serial round trip: a command line -> the board's ack line, over the pty.
3. pose drift of dead reckoning over a 5 m lesson path (a square of 1.25 m sides, driven by the real
   runtime on a pin-driven simulated plant): the speed model vs the wheel encoder, against the
   simulator's truth, with the uncertainty the car reported.

BENCH_DRIVER_TICKS sets the ticks per driver (default 3000).
"""

from __future__ import annotations

import math
import os
import select
import sys
import threading
import time
from pathlib import Path

from robot_runtime.arena import Arena
from robot_runtime.calibration import PLANNED_REACTION_MIN_S
from robot_runtime.clock import ManualClock
from robot_runtime.config import CarConfig
from robot_runtime.devices.esc import ARM_S
from robot_runtime.drivers import gpio, pca9685, serial_board
from robot_runtime.drivers.fake_i2c import FakeSMBus
from robot_runtime.drivers.fake_pins import mock_factory
from robot_runtime.drivers.fake_plant import PinPlant
from robot_runtime.drivers.gpio import GpioPulses
from robot_runtime.drivers.pin_guard import GuardedPulses, run_guard
from robot_runtime.runtime import CarRuntime
from robot_runtime.sim import SimCar
from robot_runtime.timing import percentile

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "cars"))  # the Pico firmware on a pty
# The fake Pico is a thread of this process: with CPython's default 5 ms GIL switch interval the driver and
# the "board" would take turns in 5 ms slices, which a real board never imposes. 0.5 ms keeps them close.
FAKE_BOARD_SWITCH_S = 0.0005

TICKS = int(os.environ.get("BENCH_DRIVER_TICKS", "3000"))
ROUND_TRIPS = 2000
ARENA = Arena(name="bench", width_cm=3000, height_cm=3000, start={"x_cm": 1500, "y_cm": 1500, "heading_deg": 0})
PROGRAM = [{"kind": "drive", "distance_cm": 60, "speed_pct": 60}, {"kind": "turn", "degrees": 90, "speed_pct": 50}]
# A 5 m lesson path: 150 cm, a left turn (~80 cm of arc), 120 cm, a right turn (~80 cm), 70 cm.
PATH = [{"kind": "drive", "distance_cm": 150, "speed_pct": 40}, {"kind": "turn", "degrees": 90, "speed_pct": 30},
        {"kind": "drive", "distance_cm": 120, "speed_pct": 40}, {"kind": "turn", "degrees": -90, "speed_pct": 30},
        {"kind": "drive", "distance_cm": 70, "speed_pct": 40}]


def run_ticks(rt: CarRuntime, clock: ManualClock, n: int, settle=None) -> list[float]:
    """n headless ticks driving the square program; the tick durations (s). `settle` runs between ticks,
    untimed (the serial board, which runs in real time, takes each command before the next one)."""
    arming = int((ARM_S + 0.1) / rt.loop.period)  # the ESC arms first (neutral ticks, not timed)
    out, k = [], 0
    for i in range(arming + n):
        if i < arming:
            rt.loop.tick()
            clock.advance(rt.loop.period)
            if settle is not None:
                settle()
            continue
        if rt.executor.running is None:
            rt.handle_skill({"request_id": f"b{k}", "action": PROGRAM[k % 2], "timeout_s": 30})
            k += 1
        t0 = time.perf_counter()
        rt.loop.tick()
        out.append(time.perf_counter() - t0)
        clock.advance(rt.loop.period)
        if settle is not None:
            settle()
    return sorted(out)


def config(kind: str, **opts) -> CarConfig:
    return CarConfig(car_id="bench", hardware=kind, watchdog=False, mode="headless", hardware_options=opts)


def bench_ticks() -> None:
    results: dict[str, list[float]] = {}

    clock = ManualClock()
    results["sim"] = run_ticks(CarRuntime(config("sim"), SimCar(arena=ARENA), clock, arena=ARENA), clock, TICKS)

    clock = ManualClock()
    car = gpio.create(config("gpio", pin_factory="mock"), ARENA, pin_factory=mock_factory(), clock=clock.now)
    results["gpio (fake pins)"] = run_ticks(CarRuntime(config("gpio"), car, clock, arena=ARENA), clock, TICKS)
    car.close()

    r, w = os.pipe()
    guard_pins = GpioPulses(12, 13, 1500, 1500, pin_factory=mock_factory())
    guard = threading.Thread(target=run_guard, args=(r, guard_pins), daemon=True)
    guard.start()
    clock = ManualClock()
    car = gpio.create(config("gpio", pin_factory="mock"), ARENA, pin_factory=mock_factory(), clock=clock.now,
                      outputs=GuardedPulses(w))
    results["gpio + pin guard"] = run_ticks(CarRuntime(config("gpio"), car, clock, arena=ARENA), clock, TICKS)
    car.close()
    guard.join(2)

    clock = ManualClock()
    car = pca9685.create(config("pca9685", guard=False), ARENA, smbus=FakeSMBus(), clock=clock.now)
    results["pca9685 (fake I2C)"] = run_ticks(CarRuntime(config("pca9685"), car, clock, arena=ARENA), clock, TICKS)
    car.close()

    from pico import PicoOnPty

    with PicoOnPty() as pico:
        clock = ManualClock()
        car = serial_board.create(config("serial", port=pico.path), ARENA, clock=clock.now)
        link = car.outputs.link
        results["serial (Pico on a pty)"] = run_ticks(CarRuntime(config("serial"), car, clock, arena=ARENA), clock,
                                                      TICKS, settle=lambda: wait_ack(link, link.seq))
        car.close()

    base = percentile(results["sim"], 50), percentile(results["sim"], 99)
    print(f"loop tick, {TICKS} headless ticks per driver (the square program), ms; ratio vs sim in brackets")
    for name, vals in results.items():
        p50, p99 = percentile(vals, 50), percentile(vals, 99)
        print(f"  {name:<24} p50 {p50 * 1e3:7.3f} ({p50 / base[0]:4.2f}x)   p99 {p99 * 1e3:7.3f} ({p99 / base[1]:4.2f}x)")


def wait_ack(link, seq: int, timeout_s: float = 0.5) -> None:
    """Block (in select, as a driver thread would) until the board acked `seq`."""
    deadline = time.perf_counter() + timeout_s
    while (link.last_ack is None or link.last_ack[0] != seq) and time.perf_counter() < deadline:
        select.select([link.port.fileno()], [], [], 0.01)
        link.poll()


def bench_round_trip() -> None:
    from pico import PicoOnPty

    with PicoOnPty() as pico:
        car = serial_board.create(config("serial", port=pico.path), ARENA)
        link = car.outputs.link
        times = []
        for i in range(ROUND_TRIPS):
            t0 = time.perf_counter()
            wait_ack(link, link.command(1500, 1500))
            times.append(time.perf_counter() - t0)
        car.close()
    times.sort()
    print(f"serial round trip (command line -> board ack, pty, firmware under CPython), {ROUND_TRIPS} trips: "
          f"p50 {percentile(times, 50) * 1e3:.3f} ms, p99 {percentile(times, 99) * 1e3:.3f} ms "
          f"({link.dropped_writes} writes dropped)")


def drift(encoder: bool) -> tuple[float, float, float]:
    """(final position error cm, reported uncertainty cm, distance driven cm) over the 5 m path."""
    pins = mock_factory()
    plant = PinPlant(pins, ARENA, cm_per_tick=0.5, encoder_pin=5 if encoder else None)
    opts = {"pin_factory": "mock"} | ({"encoder": {"pin": 5, "cm_per_tick": 0.5}} if encoder else {})
    # the speed model as `dojo car calibrate` measured it on this plant (tests/cars/test_calibrate.py), with the
    # stopping delay every car plans with at least (the dead-man's 100 ms plus a tick)
    cfg = CarConfig(car_id="bench", hardware="gpio", watchdog=False, mode="headless", hardware_options=opts,
                    spec={"top_speed_cm_s": 294.8},
                    limits={"brake_decel_cm_s2": 411.9, "reaction_s": round(PLANNED_REACTION_MIN_S, 3)})
    car = gpio.create(cfg, ARENA, pin_factory=pins, clock=plant.clock.now)
    rt = CarRuntime(cfg, car, plant.clock, arena=ARENA)
    rt.loop.run_headless(ARM_S + 0.1)
    for i, action in enumerate(PATH):
        n = len(rt.results)
        rt.handle_skill({"request_id": f"d{i}", "action": action, "timeout_s": 30})
        rt.loop.run_headless(30, until=lambda: len(rt.results) > n)
    rt.loop.run_headless(1.0)
    truth, est = plant.sim.pose, car.pose
    err = math.hypot(truth.x_cm - est.x, truth.y_cm - est.y)
    car.close()
    return err, est.uncertainty_cm, est.odometer_cm


def bench_drift() -> None:
    print("pose drift of dead reckoning over a 5 m lesson path (150 cm, left turn, 120 cm, right turn, 70 cm):")
    for name, enc in (("encoder", True), ("speed model", False)):
        err, sigma, dist = drift(enc)
        print(f"  {name:<12} final error {err:6.1f} cm ({err / dist * 100:4.1f} % of {dist:.0f} cm), "
              f"reported uncertainty {sigma:5.1f} cm")


def main() -> None:
    sys.setswitchinterval(FAKE_BOARD_SWITCH_S)
    bench_ticks()
    bench_round_trip()
    bench_drift()


if __name__ == "__main__":
    main()
