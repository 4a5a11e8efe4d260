"""Classroom server benchmark (`make bench`): block -> car latency, emergency stop, memory.

What runs, all real and on loopback: the classroom server (its own process; benchmarks/server_probe.py
runs it exactly as `dojo server` does, plus an event-loop-lag and GC probe), 30 `dojo car --sim` processes
each with a flight recorder, and kids as socket.io clients in this process sending the same `block`
event the SDK sends. Side by side in the same run, the BASELINE (benchmarks/ws_relay.py): a bare
aiohttp WebSocket relay making the same two hops, kid socket -> relay -> car-side socket.

Latency = the car side's time.monotonic() when the request is in the car runtime (flight recorder
`request` record, written right after the executor took it) minus this process's time.monotonic()
just before the kid's emit. CLOCK_MONOTONIC is one clock for every process on the machine.
Phases: all 30 kids connected (their cars' telemetry flowing to them) with 1 of them driving, then
all 30 driving. Also shown: until the first control-loop tick that drives the skill (`cmd` record), which adds the
tick wait (50 Hz: up to 20 ms), and the emergency stop from the teacher's HTTP request to each car's
`estop` record.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests
import socketio
from aiohttp import ClientSession

from robot_runtime.recorder import read_log

REPO_ROOT = Path(__file__).resolve().parent.parent
CARS = 30  # a full class: 30 kids, each on their own simulated car
PHASES = (1, 30)  # concurrent kids driving: one alone, then the whole class
PHASE_S = {1: 12.0, 30: 5.0}  # seconds per phase: a lone kid waits ~0.4 s per 2 cm move, so it needs longer
CALL_PERIOD_S = 0.25  # a kid's program sends at most 4 blocks a second (short moves back and forth)
ESTOP_REPS = 6  # emergency stops of the whole class: 6 x 30 = 180 car samples
TARGET_P99_MS = 10.0
TARGET_RATIO = 3.0
TARGET_ESTOP_P99_MS = 50.0

STARTUP_TIMEOUT_S = 120.0  # 30 car processes importing pydantic/socketio on a shared 2-core box
HTTP_TIMEOUT_S = 10.0  # loopback HTTP under benchmark load
CALL_TIMEOUT_S = 15.0  # a 2 cm move finishes in ~0.2 s; the server answers everything within its own timeouts
STOP_TIMEOUT_S = 15.0  # processes get this long to exit after SIGTERM before SIGKILL
SETTLE_S = 0.5  # after an e-stop, before the reset: every car has logged its stop by then


@dataclass
class Call:
    phase: int
    kid: int
    key: str  # request_id (classroom) or message id (baseline)
    t_sent: float
    t_reply: float


@dataclass
class Run:
    calls: list[Call] = field(default_factory=list)
    arrived: dict[str, float] = field(default_factory=dict)  # key -> car-side arrival time
    first_tick: dict[str, float] = field(default_factory=dict)  # key -> first motor tick of it (classroom only)
    estops_sent: list[float] = field(default_factory=list)  # t just before each teacher e-stop request
    estop_ms: list[float] = field(default_factory=list)  # per car and e-stop: request sent -> car latched
    estop_missed: int = 0
    rss_mb: float = 0.0
    server_cpu: dict[int, float] = field(default_factory=dict)  # phase -> server CPU % (100 = one core)
    machine_cpu: dict[int, float] = field(default_factory=dict)  # phase -> whole machine CPU % (all cores)
    cars_cpu: dict[int, float] = field(default_factory=dict)  # phase -> the 30 car processes together
    kids_cpu: dict[int, float] = field(default_factory=dict)  # phase -> this process (the 30 kids' clients)
    statuses: dict[str, int] = field(default_factory=dict)
    phase_windows: dict[int, tuple[float, float]] = field(default_factory=dict)  # phase -> (start, end)
    loop_lag_ms: dict[int, list[float]] = field(default_factory=dict)  # phase -> server event-loop lag samples
    gc_pauses_ms: dict[int, list[tuple[int, float]]] = field(default_factory=dict)  # phase -> (generation, ms)

    def latencies_ms(self, phase: int, until: dict[str, float] | None = None) -> list[float]:
        until = self.arrived if until is None else until
        return [(until[c.key] - c.t_sent) * 1000 for c in self.calls if c.phase == phase and c.key in until]


# --- processes ---------------------------------------------------------------------------------


def spawn(args: list[str], log_path: Path | None = None, **kw) -> subprocess.Popen:
    out = open(log_path, "ab") if log_path else subprocess.PIPE
    return subprocess.Popen([sys.executable, *args], cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, **kw)


def terminate(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def read_line_with(proc: subprocess.Popen, prefix: str) -> str:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        line = proc.stdout.readline().decode()
        if not line:
            raise RuntimeError(f"process exited before printing {prefix!r}")
        if line.startswith(prefix):
            return line
    raise RuntimeError(f"no {prefix!r} within {STARTUP_TIMEOUT_S} s")


def wait_for_line_in(path: Path, proc: subprocess.Popen, prefix: str) -> str:
    """For chatty processes: their output goes to a file (a pipe nobody drains would block them)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith(prefix):
                return line
        if proc.poll() is not None:
            raise RuntimeError(f"process exited before printing {prefix!r}: {path.read_text()[-2000:]}")
        time.sleep(0.05)
    raise RuntimeError(f"no {prefix!r} within {STARTUP_TIMEOUT_S} s")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


# --- the classroom server ----------------------------------------------------------------------


def run_classroom(tmp: Path) -> Run:
    """The real server with 30 real car runtimes as `dojo car --sim` processes (what `dojo demo` runs)."""
    tokens = {f"car-{i}": secrets.token_hex(16) for i in range(1, CARS + 1)}
    password = secrets.token_hex(8)
    config = tmp / "server.json"
    config.write_text(json.dumps({
        "teacher_password": password, "car_tokens": tokens, "default_class_code": "BENCH",
        # Measure latency, not the per-kid rate limiter (5/s by default): 4 calls/s per kid stay well under.
        "rate_limits": {"blocks_per_s": 50, "burst": 50},
    }))
    server = spawn(["-m", "benchmarks.server_probe", "--data-dir", str(tmp / "server"), "--config", str(config),
                    "--probe-file", str(tmp / "probe.json")], log_path=tmp / "server.out")
    cars: list[subprocess.Popen] = []
    try:
        url = wait_for_line_in(tmp / "server.out", server, "MIKRO-DOJO server on ").split()[3]
        for car_id, token in tokens.items():
            cars.append(spawn(["-m", "dojo", "car", "--sim", "--name", car_id, "--server", url, f"--token={token}",
                               "--log", str(tmp / f"{car_id}.jsonl")], log_path=tmp / f"{car_id}.out"))
        wait_for_cars(url, CARS)
        kids = [requests.post(f"{url}/api/join", json={"class_code": "BENCH", "name": f"Kid{chr(65 + i // 26)}{chr(65 + i % 26)}"},
                              timeout=HTTP_TIMEOUT_S).json() for i in range(CARS)]
        cars_of_kids = sorted(str(k.get("car_id")) for k in kids)
        assert len(set(cars_of_kids)) == CARS, f"every kid should have a car of their own: {cars_of_kids}"
        run = asyncio.run(drive_classroom(url, kids, psutil.Process(server.pid), [psutil.Process(c.pid) for c in cars]))
        run.estops_sent = emergency_stops(url, password, list(tokens))
    finally:
        terminate(cars)  # cars flush their flight recorders on SIGTERM
        terminate([server])
    for car_id in tokens:
        read_flight_log(tmp / f"{car_id}.jsonl", run)
    probe = json.loads((tmp / "probe.json").read_text())
    for phase, (start, end) in run.phase_windows.items():
        run.loop_lag_ms[phase] = [ms for t, ms in probe["lag"] if start <= t < end]
        run.gc_pauses_ms[phase] = [(gen, ms) for t, gen, ms in probe["gc"] if start <= t < end]
    return run


def wait_for_cars(url: str, n: int) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if requests.get(f"{url}/api/health", timeout=HTTP_TIMEOUT_S).json()["cars_connected"] == n:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{n} cars did not connect within {STARTUP_TIMEOUT_S} s")


async def drive_classroom(url: str, kids: list[dict], server: psutil.Process, cars: list[psutil.Process]) -> Run:
    run = Run()
    clients = []
    for kid in kids:
        sio = socketio.AsyncClient(reconnection=False)
        await sio.connect(url, namespaces=["/kid"], auth={"token": kid["token"]}, transports=["websocket"],
                          wait_timeout=HTTP_TIMEOUT_S)
        clients.append(sio)

    async def kid_loop(i: int, phase: int, until: float) -> None:
        forward = True
        while time.monotonic() < until:
            block = "move_forward" if forward else "move_backward"  # back and forth: the car stays in its lane
            forward = not forward
            t0 = time.monotonic()
            reply = await clients[i].call("block", {"block": block, "args": {"distance": 2}, "source": "python"},
                                          namespace="/kid", timeout=CALL_TIMEOUT_S)
            status = f"{reply.get('status', '?')}" + (f" ({reply['rule']})" if reply.get("rule") else "")
            run.statuses[status] = run.statuses.get(status, 0) + 1
            if reply.get("request_id"):
                run.calls.append(Call(phase, i, reply["request_id"], t0, time.monotonic()))
            await asyncio.sleep(max(0.0, t0 + CALL_PERIOD_S - time.monotonic()))

    me = psutil.Process()

    async def sample(phase: int, until: float) -> None:
        server.cpu_percent(None)
        me.cpu_percent(None)
        for car in cars:
            car.cpu_percent(None)
        psutil.cpu_percent(None)
        while time.monotonic() < until:
            run.rss_mb = max(run.rss_mb, server.memory_info().rss / 2**20)
            await asyncio.sleep(0.25)
        run.server_cpu[phase] = server.cpu_percent(None)
        run.cars_cpu[phase] = sum(car.cpu_percent(None) for car in cars)
        run.kids_cpu[phase] = me.cpu_percent(None)
        run.machine_cpu[phase] = psutil.cpu_percent(None)

    for phase in PHASES:
        start = time.monotonic()
        until = start + PHASE_S[phase]
        await asyncio.gather(sample(phase, until), *(kid_loop(i, phase, until) for i in range(phase)))
        run.phase_windows[phase] = (start, time.monotonic())
    for sio in clients:
        await sio.disconnect()
    return run


def emergency_stops(url: str, password: str, car_ids: list[str]) -> list[float]:
    """The teacher's e-stop button ESTOP_REPS times (each followed by a reset of every car)."""
    teacher = requests.Session()
    login = teacher.post(f"{url}/api/teacher/login", json={"password": password}, timeout=HTTP_TIMEOUT_S)
    login.raise_for_status()
    teacher.headers["X-CSRF-Token"] = login.json()["csrf_token"]
    sent = []
    for _ in range(ESTOP_REPS):
        t0 = time.monotonic()
        teacher.post(f"{url}/api/teacher/estop", json={"reason": "benchmark"}, timeout=HTTP_TIMEOUT_S).raise_for_status()
        sent.append(t0)
        time.sleep(SETTLE_S)
        with ThreadPoolExecutor(max_workers=8) as pool:  # the teacher resets every car
            for resp in pool.map(lambda car_id: teacher.post(f"{url}/api/teacher/cars/{car_id}/reset", json={},
                                                             timeout=HTTP_TIMEOUT_S), car_ids):
                resp.raise_for_status()
    return sent


def read_flight_log(path: Path, run: Run) -> None:
    records = read_log(path)
    requests_at = {}
    for rec in records:
        if rec["k"] == "request" and isinstance(rec.get("request"), dict):
            requests_at[rec["request"]["request_id"]] = rec["t"]
    run.arrived.update(requests_at)
    ticks = [r["t"] for r in records if r["k"] == "cmd" and r.get("src") not in (None, "", "idle")]
    ticks.sort()

    for key, t in requests_at.items():
        i = bisect.bisect_left(ticks, t)
        if i < len(ticks) and ticks[i] - t < 1.0:
            run.first_tick[key] = ticks[i]
    latched = sorted(r["t"] for r in records if r["k"] == "note" and r.get("what") == "estop")
    for i, t_sent in enumerate(run.estops_sent):
        t_next = run.estops_sent[i + 1] if i + 1 < len(run.estops_sent) else float("inf")
        hit = next((t for t in latched if t_sent <= t < t_next), None)
        if hit is None:
            run.estop_missed += 1
        else:
            run.estop_ms.append((hit - t_sent) * 1000)


# --- the baseline ------------------------------------------------------------------------------


def run_baseline() -> Run:
    """The relay and one car-side process per car, like the classroom's 30 car processes."""
    relay = spawn(["-m", "benchmarks.ws_relay", "relay", "--port", "0"], stdin=subprocess.PIPE)
    cars: list[subprocess.Popen] = []
    try:
        port = int(read_line_with(relay, "RELAY PORT ").split()[2])
        url = f"ws://127.0.0.1:{port}"
        cars = [spawn(["-m", "benchmarks.ws_relay", "cars", "--url", url, "--cars", "1", "--first", str(i)],
                      stdin=subprocess.PIPE) for i in range(1, CARS + 1)]
        for car in cars:
            read_line_with(car, "CARS READY")
        run = asyncio.run(drive_baseline(url))
        for car in cars:
            car.stdin.close()  # the car side prints what arrived when, then exits
            for car_id, items in json.loads(car.stdout.readline()).items():
                for msg_id, t in items:
                    run.arrived[str(msg_id)] = t
    finally:
        for p in (relay, *cars):
            if p.stdin and not p.stdin.closed:
                p.stdin.close()
        terminate([relay, *cars])
    return run


async def drive_baseline(url: str) -> Run:
    run = Run()
    ids = iter(range(1, 10**9))
    async with ClientSession() as session:
        sockets = [await session.ws_connect(f"{url}/kid?car=car-{i + 1}", timeout=HTTP_TIMEOUT_S) for i in range(CARS)]
        waiting: dict[int, asyncio.Future] = {}

        async def reader(ws) -> None:  # every kid reads its car's telemetry all the time, like the SDK
            async for msg in ws:
                data = json.loads(msg.data)
                if "ok" in data and data["id"] in waiting:
                    waiting.pop(data["id"]).set_result(data)

        readers = [asyncio.create_task(reader(ws)) for ws in sockets]

        async def kid_loop(i: int, phase: int, until: float) -> None:
            forward = True
            while time.monotonic() < until:
                msg_id = next(ids)
                block = "move_forward" if forward else "move_backward"
                forward = not forward
                waiting[msg_id] = asyncio.get_running_loop().create_future()
                t0 = time.monotonic()
                await sockets[i].send_str(json.dumps({"id": msg_id, "block": block, "args": {"distance": 2}}))
                await asyncio.wait_for(waiting[msg_id], CALL_TIMEOUT_S)
                run.calls.append(Call(phase, i, str(msg_id), t0, time.monotonic()))
                await asyncio.sleep(max(0.0, t0 + CALL_PERIOD_S - time.monotonic()))

        for phase in PHASES:
            until = time.monotonic() + PHASE_S[phase]
            await asyncio.gather(*(kid_loop(i, phase, until) for i in range(phase)))
        for ws in sockets:
            await ws.close()
        await asyncio.gather(*readers, return_exceptions=True)
    return run


# --- report ------------------------------------------------------------------------------------


def row(label: str, ms: list[float]) -> str:
    return f"  {label:<46} {pct(ms, 50):8.2f} {pct(ms, 99):8.2f} {max(ms, default=float('nan')):8.2f} {len(ms):6d}"


def main() -> None:
    load = os.getloadavg()
    print(f"{CARS} cars, phases of {'/'.join(f'{v:g}' for v in PHASE_S.values())} s, one block per kid every {CALL_PERIOD_S * 1000:.0f} ms at most; "
          f"load average before: {load[0]:.2f} ({os.cpu_count()} cores, shared)", flush=True)
    base = run_baseline()
    with tempfile.TemporaryDirectory(prefix="bench-server-") as tmp:
        real = run_classroom(Path(tmp))
    print(f"\n  {'block sent -> car (ms)':<46} {'p50':>8} {'p99':>8} {'max':>8} {'n':>6}")
    for phase in PHASES:
        kids = f"{phase} kid{'s' if phase > 1 else ''}"
        print(row(f"MIKRO-DOJO {kids}: in the car runtime", real.latencies_ms(phase)))
        print(row(f"baseline relay {kids}: at the car socket", base.latencies_ms(phase)))
        print(row(f"MIKRO-DOJO {kids}: first motor tick (50 Hz)", real.latencies_ms(phase, real.first_tick)))
    p99, base_p99 = pct(real.latencies_ms(PHASES[-1]), 99), pct(base.latencies_ms(PHASES[-1]), 99)
    ratio = p99 / base_p99 if base_p99 else float("nan")
    print(f"\n  p99 at {PHASES[-1]} kids: {p99:.2f} ms (target <= {TARGET_P99_MS:g} ms: "
          f"{'met' if p99 <= TARGET_P99_MS else 'MISSED'}), {ratio:.1f}x the baseline "
          f"(target <= {TARGET_RATIO:g}x: {'met' if ratio <= TARGET_RATIO else 'MISSED'})")
    print(f"  block answers: {real.statuses}")
    for phase in PHASES:
        lag, pauses = real.loop_lag_ms.get(phase, []), real.gc_pauses_ms.get(phase, [])
        worst_gc = max((ms for _, ms in pauses), default=0.0)
        print(f"  server event-loop lag, {phase} kid{'s' if phase > 1 else ''}: p50 {pct(lag, 50):.2f} ms, "
              f"p99 {pct(lag, 99):.2f} ms, max {max(lag, default=float('nan')):.2f} ms; GC pauses: {len(pauses)} "
              f"(gen2: {sum(1 for g, _ in pauses if g == 2)}), longest {worst_gc:.2f} ms")
    for p in PHASES:
        print(f"  CPU, {p} kid{'s' if p > 1 else ''} (100 % = one core): server {real.server_cpu.get(p, 0):.1f} %, "
              f"30 cars {real.cars_cpu.get(p, 0):.1f} %, kid clients {real.kids_cpu.get(p, 0):.1f} %; "
              f"whole machine {real.machine_cpu.get(p, 0):.0f} % busy of {os.cpu_count()} cores")
    e99 = pct(real.estop_ms, 99)
    print(f"\n  {'teacher e-stop request -> car latched (ms)':<46} {'p50':>8} {'p99':>8} {'max':>8} {'n':>6}")
    print(row(f"{ESTOP_REPS} stops x {CARS} cars", real.estop_ms))
    print(f"  p99 {e99:.2f} ms (target <= {TARGET_ESTOP_P99_MS:g} ms: {'met' if e99 <= TARGET_ESTOP_P99_MS else 'MISSED'}); "
          f"car stops never logged: {real.estop_missed}")
    print(f"\n  server RSS with {CARS} kids and {CARS} cars: {real.rss_mb:.1f} MB (peak, sampled every 250 ms)")
    print(f"  load average after: {os.getloadavg()[0]:.2f}  (other work on the machine inflates every number above)")


if __name__ == "__main__":
    main()
