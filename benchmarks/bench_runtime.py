"""Car runtime benchmarks (printed numbers):

1. loop timing: 60 s at 50 Hz in real time with the simulator, the supervisor, skills and telemetry
   (built at 20 Hz and serialised to JSON as the link does): tick work median/p99, jitter, late ticks;
   target p99 tick work < 2 ms.
2. watchdog latency: last heartbeat -> first zero throttle applied (target <= 300 ms + one tick).
3. e-stop latency: e-stop handled -> hardware neutral, and -> the next tick's command (target <= one
   tick); and end to end over socket.io on loopback: a real server emits `estop` -> the car's hardware
   is neutral (car and server in one process, so both ends read the same clock).

BENCH_RUNTIME_SECONDS shortens the loop run (default 60) for a quick look.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

from robot_runtime.arena import Arena
from robot_runtime.clock import MonotonicClock
from robot_runtime.config import CarConfig
from robot_runtime.protocol import HEARTBEAT_PERIOD_S, WATCHDOG_S
from robot_runtime.recorder import FlightRecorder, read_log
from robot_runtime.runtime import CarRuntime
from robot_runtime.sim import SimCar
from robot_runtime.timing import percentile

LOOP_SECONDS = float(os.environ.get("BENCH_RUNTIME_SECONDS", "60"))
TRIALS = 10  # watchdog and e-stop trials (each ~1 s of real driving)
ARENA = Arena(name="bench", width_cm=800, height_cm=800, start={"x_cm": 400, "y_cm": 400, "heading_deg": 0})
PROGRAM = [  # a square, over and over: drive and turn skills keep every stage busy
    {"kind": "drive", "distance_cm": 60, "speed_pct": 60},
    {"kind": "turn", "degrees": 90, "speed_pct": 50},
]


def make(rate_hz: float = 50.0, log: Path | None = None) -> tuple[CarRuntime, SimCar]:
    car = SimCar(arena=ARENA, clock=time.monotonic)  # on the wall clock, as `dojo car --sim` runs it
    recorder = FlightRecorder(log, fsync=False) if log else None
    rt = CarRuntime(CarConfig(car_id="bench", rate_hz=rate_hz), car, MonotonicClock(), arena=ARENA, recorder=recorder)
    rt.handle_limits({"max_speed_pct": 100})  # as the server does on connect: no skill runs before limits
    return rt, car


async def heartbeats(rt: CarRuntime, alive: asyncio.Event) -> None:
    while True:
        if alive.is_set():
            rt.handle_heartbeat({"seq": 0})
        await asyncio.sleep(HEARTBEAT_PERIOD_S)


async def keep_driving(rt: CarRuntime) -> None:
    n = 0
    while True:
        if rt.executor.running is None:
            rt.handle_skill({"request_id": f"b{n}", "action": PROGRAM[n % len(PROGRAM)], "timeout_s": 30})
            n += 1
        await asyncio.sleep(0.05)


def ms(values: list[float]) -> str:
    v = sorted(values)
    return f"median {percentile(v, 50) * 1e3:.3f} ms  p99 {percentile(v, 99) * 1e3:.3f} ms  max {v[-1] * 1e3:.3f} ms"


async def bench_loop() -> None:
    rt, car = make()
    rt.telemetry_sinks.append(lambda tm: tm.model_dump_json())  # the link's serialisation cost
    ticks: list[float] = []
    jitter: list[float] = []
    orig_tick = rt.loop.tick
    loop = rt.loop

    def timed_tick():
        t0 = time.perf_counter()
        out = orig_tick()
        ticks.append(time.perf_counter() - t0)
        return out

    loop.tick = timed_tick  # every sample, not only the ring buffer's last 500
    alive = asyncio.Event()
    alive.set()
    tasks = [asyncio.create_task(heartbeats(rt, alive)), asyncio.create_task(keep_driving(rt))]
    run = asyncio.create_task(loop.run_realtime())
    started = time.monotonic()
    while time.monotonic() - started < LOOP_SECONDS:
        await asyncio.sleep(0.5)
        jitter += loop.timer.rings["jitter"].values()[-25:]
    loop.stop()
    await run
    for t in tasks:
        t.cancel()
    elapsed = time.monotonic() - started
    summary = loop.timer.summary()
    print(f"loop: {loop.ticks} ticks in {elapsed:.1f} s = {loop.ticks / elapsed:.2f} Hz (target 50), "
          f"late ticks {loop.late_ticks}, results {len(rt.results)}")
    print(f"  tick work   {ms(ticks)}   (target p99 < 2 ms)")
    for stage in ("skill", "supervisor", "hardware", "telemetry"):
        s = summary[stage]
        print(f"  {stage:<11} p50 {s.p50_ms:.4f} ms  p99 {s.p99_ms:.4f} ms  (last {len(loop.timer.rings[stage])} ticks)")
    print(f"  jitter      {ms(jitter)}   (tick start vs its slot)")


async def bench_watchdog(tmp: Path) -> None:
    lat = []
    for trial in range(TRIALS):
        log = tmp / f"wd{trial}.jsonl"
        rt, car = make(log=log)
        alive = asyncio.Event()
        alive.set()
        tasks = [asyncio.create_task(heartbeats(rt, alive)), asyncio.create_task(keep_driving(rt))]
        run = asyncio.create_task(rt.loop.run_realtime())
        await asyncio.sleep(0.6 + 0.013 * trial)  # driving; trials cut the link at different phases
        alive.clear()
        await asyncio.sleep(WATCHDOG_S + 0.2)
        last = rt.supervisor.watchdog.last_heartbeat
        rt.loop.stop()
        await run
        for t in tasks:
            t.cancel()
        rt.recorder.close()
        recs = read_log(log)
        moving = [r for r in recs if r["k"] == "cmd" and r["t"] < last and r["out"][0] > 0]
        zero = next(r["t"] for r in recs if r["k"] == "cmd" and r["t"] >= last and r["out"][0] == 0.0)
        if moving:
            lat.append(zero - last)
    print(f"watchdog: last heartbeat -> zero throttle applied, {len(lat)} trials: {ms(lat)}   "
          f"(target <= {WATCHDOG_S * 1e3:.0f} + 20 ms)")


async def bench_estop(tmp: Path) -> None:
    lat, direct = [], []
    for trial in range(TRIALS):
        log = tmp / f"es{trial}.jsonl"
        rt, car = make(log=log)
        alive = asyncio.Event()
        alive.set()
        tasks = [asyncio.create_task(heartbeats(rt, alive)), asyncio.create_task(keep_driving(rt))]
        run = asyncio.create_task(rt.loop.run_realtime())
        await asyncio.sleep(0.6 + 0.007 * trial)
        for t in tasks[1:]:
            t.cancel()
        pressed = rt.clock.now()
        t0 = time.perf_counter()
        rt.handle_estop({"reason": "bench"})
        assert car.command.throttle == 0.0 and car.command.steering == 0.0
        direct.append(time.perf_counter() - t0)
        await asyncio.sleep(0.1)
        rt.loop.stop()
        await run
        tasks[0].cancel()
        rt.recorder.close()
        recs = read_log(log)
        zero = next(r["t"] for r in recs if r["k"] == "cmd" and r["t"] >= pressed and r["out"] == [0.0, 0.0])
        lat.append(zero - pressed)
    print(f"e-stop: message handled -> hardware neutral (immediate), {TRIALS} trials: {ms(direct)}")
    print(f"e-stop: message handled -> next loop tick sends neutral, {TRIALS} trials: {ms(lat)}   "
          f"(target <= one tick = 20 ms)")


async def bench_estop_over_socketio() -> None:
    import socketio
    from aiohttp import web

    from robot_runtime.link import CarLink
    from robot_runtime.protocol import CAR_NAMESPACE

    sio = socketio.AsyncServer(async_mode="aiohttp")
    app = web.Application()
    sio.attach(app)
    sids: list[str] = []
    sio.on("connect", lambda sid, environ, auth=None: sids.append(sid), namespace=CAR_NAMESPACE)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    rt, car = make()
    link = CarLink(rt, url, "bench-token", rt.clock)
    tasks = [asyncio.create_task(rt.loop.run_realtime()), asyncio.create_task(link.run())]
    while not sids:
        await asyncio.sleep(0.01)
    lat = []
    for trial in range(20):
        await sio.emit("heartbeat", {"seq": trial}, to=sids[0], namespace=CAR_NAMESPACE)
        await asyncio.sleep(0.05)
        t0 = time.monotonic()
        await sio.emit("estop", {"reason": "bench"}, to=sids[0], namespace=CAR_NAMESPACE)
        while not (rt.supervisor.estopped and car.command.throttle == 0.0):
            await asyncio.sleep(0)
        lat.append(time.monotonic() - t0)
        await sio.emit("reset_estop", {"reason": "bench"}, to=sids[0], namespace=CAR_NAMESPACE)
        while rt.supervisor.estopped:
            await asyncio.sleep(0.001)
    rt.loop.stop()
    await link.close(0.5)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await runner.cleanup()
    print(f"e-stop over socket.io (loopback): server emit -> car hardware neutral, 20 trials: {ms(lat)}")


async def main_async() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        await bench_loop()
        await bench_watchdog(Path(tmp))
        await bench_estop(Path(tmp))
    await bench_estop_over_socketio()


def main() -> None:
    asyncio.run(main_async())


if __name__ == "__main__":
    main()
