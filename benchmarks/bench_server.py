"""Classroom server benchmark (`python -m benchmarks server`): where a block's time goes, and how much is ours.

Two systems in one run, with the same kids, cars and teacher, all real processes on loopback:

- BASELINE, the bare relay (benchmarks/sio_relay.py): python-socketio, kid -> server -> car and back,
  telemetry forwarded to the kid and the teacher, heartbeats, e-stop to every car; no logic at all;
- MIKRO-DOJO: the classroom server exactly as `dojo server` runs it (benchmarks/server_probe.py adds the
  event-loop, GC and hop probes).

On the car side both get the same stand-ins (benchmarks/car_standin.py: the /car protocol, telemetry at
20 Hz, a 50 Hz tick timer, CAR_PROCESSES processes), so the car side costs the machine the same in both;
the real car runtime is measured on its own (benchmarks/bench_runtime.py). 30 kids are socket.io clients
in KID_PROCESSES processes (benchmarks/kid_clients.py), sending the `block` event the SDK sends (with a
`ref` the hop probes key on); one teacher socket in this process watches every car's telemetry. Phases: everybody connected and idle (telemetry only),
one kid driving, all 30 driving (a block each every CALL_PERIOD_S at most), then the teacher's
e-stop ESTOP_REPS times (each followed by a reset of every car).

Hops, all time.monotonic() (CLOCK_MONOTONIC: one clock for every process on the machine): kid send ->
server receive -> gate passed -> emit to the car link -> car receive -> first motor tick (the stand-in's
next 50 Hz tick). Server CPU per block = the server process's CPU time in the 30-kid phase / blocks
answered in it (telemetry, heartbeats and the teacher's view included: what a block costs in a class).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import socketio
from aiohttp import ClientSession, ClientTimeout

from benchmarks.kid_clients import CALL_PERIOD_S

REPO_ROOT = Path(__file__).resolve().parent.parent
# A full class: 30 kids, each on their own car. BENCH_SERVER_CARS=10 runs a smaller class, for a
# machine too busy to carry 30 (the report says which size it ran; compare only runs of one size).
CARS = int(os.environ.get("BENCH_SERVER_CARS", "30"))
CAR_PROCESSES = min(5, CARS)  # stand-ins per process: CARS / CAR_PROCESSES
KID_PROCESSES = min(5, CARS)  # kids per process: CARS / KID_PROCESSES
PHASES = (0, 1, CARS)  # kids driving: none (telemetry only), one alone, the whole class
PHASE_S = {0: 3.0, 1: 5.0, CARS: 10.0}
PHASE_GAP_S = 0.5  # between phases: the last answers of one phase are not counted in the next
ESTOP_REPS = 6  # 6 x 30 = 180 car samples
SETTLE_S = 0.4  # after an e-stop, before the reset: every car has latched by then
TARGET_RATIO = 2.0  # block -> car p99 at 30 kids, times the bare relay's
TARGET_LAG_P99_MS = 5.0
TARGET_ESTOP_P99_MS = 20.0

# The kids' editors and the cars are other machines in a classroom; here 60 clients in 10 processes share
# the server's 2 cores and kept them 100 % busy, so the server (and the relay) waited for the CPU
# (BENCH_SLOW_CALLBACKS showed its long callbacks using < 1.5 ms of CPU). The clients run this much
# nicer than the server under test, the same for both systems; BENCH_SERVER_CLIENT_NICE=0 turns it off.
CLIENT_NICE = int(os.environ.get("BENCH_SERVER_CLIENT_NICE", "5"))

STARTUP_TIMEOUT_S = 120.0  # processes importing pydantic/socketio on a shared 2-core box
HTTP_TIMEOUT_S = 30.0  # loopback HTTP on a busy machine
CALL_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 15.0


@dataclass
class Call:
    phase: int
    ref: str
    t_sent: float
    t_reply: float
    request_id: str


@dataclass
class Run:
    name: str
    calls: list[Call] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    hops: dict[str, dict[str, Any]] = field(default_factory=dict)  # ref -> recv / gate / emit / request_id
    arrived: dict[str, float] = field(default_factory=dict)  # request_id -> car receive
    tick: dict[str, float] = field(default_factory=dict)  # request_id -> first motor tick
    estops_sent: list[float] = field(default_factory=list)
    estop_ms: list[float] = field(default_factory=list)  # per car and stop: request sent -> car latched
    estop_missed: int = 0
    windows: dict[int, tuple[float, float]] = field(default_factory=dict)  # phase -> (start, end)
    server_cpu_s: dict[int, float] = field(default_factory=dict)  # phase -> server CPU seconds
    machine_cpu: dict[int, float] = field(default_factory=dict)  # phase -> whole machine % busy
    blocks: dict[int, int] = field(default_factory=dict)  # phase -> blocks answered
    lag: list[tuple[float, float]] = field(default_factory=list)
    gc: list[tuple[float, int, float]] = field(default_factory=list)
    slow: list[tuple[float, float, float, str]] = field(default_factory=list)  # BENCH_SLOW_CALLBACKS: t, wall, cpu, name
    rss_mb: float = 0.0

    def car_ms(self, phase: int, until: dict[str, float] | None = None) -> list[float]:
        until = self.arrived if until is None else until
        return [(until[c.request_id] - c.t_sent) * 1000 for c in self.calls if c.phase == phase and c.request_id in until]

    def hop_ms(self, phase: int, a: str, b: str) -> list[float]:
        """Milliseconds between two hops of the phase's calls (a, b: send, recv, gate, emit, car, tick)."""
        out = []
        for c in self.calls:
            if c.phase != phase:
                continue
            h = self.hops.get(c.ref, {})
            at = {"send": c.t_sent, "recv": h.get("recv"), "gate": h.get("gate"), "emit": h.get("emit"),
                  "car": self.arrived.get(c.request_id), "tick": self.tick.get(c.request_id)}
            if at.get(a) is not None and at.get(b) is not None:
                out.append((at[b] - at[a]) * 1000)
        return out

    def lag_ms(self, phase: int) -> list[float]:
        start, end = self.windows.get(phase, (0, 0))
        return [ms for t, ms in self.lag if start <= t < end]

    def gc_ms(self, phase: int) -> list[tuple[int, float]]:
        start, end = self.windows.get(phase, (0, 0))
        return [(gen, ms) for t, gen, ms in self.gc if start <= t < end]

    def cpu_ms_per_block(self, phase: int) -> float:
        return self.server_cpu_s.get(phase, 0.0) * 1000 / max(1, self.blocks.get(phase, 0))


# --- processes ---------------------------------------------------------------------------------


def spawn(args: list[str], log_path: Path, stdin: Any = subprocess.DEVNULL, *, client: bool = False) -> subprocess.Popen:
    """A benchmark process; ``client``: a kid or car stand-in, run CLIENT_NICE lower than the server under test."""
    nice = (lambda: os.nice(CLIENT_NICE)) if client and CLIENT_NICE else None
    return subprocess.Popen([sys.executable, *args], cwd=REPO_ROOT, stdin=stdin, stdout=open(log_path, "ab"),
                            stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}, preexec_fn=nice)


def wait_for_line(path: Path, proc: subprocess.Popen, prefix: str) -> str:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith(prefix):
                return line
        if proc.poll() is not None:
            raise RuntimeError(f"process exited before printing {prefix!r}: {path.read_text()[-2000:]}")
        time.sleep(0.05)
    raise RuntimeError(f"no {prefix!r} within {STARTUP_TIMEOUT_S} s")


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


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


class CarStandins:
    """CARS stand-in cars in CAR_PROCESSES processes; their records come back when they are stopped."""

    def __init__(self, url: str, tmp: Path, tokens: dict[str, str]) -> None:
        token_file = tmp / "car-tokens.json"
        token_file.write_text(json.dumps(tokens))
        per = -(-CARS // CAR_PROCESSES)
        self.logs = [tmp / f"cars-{i}.out" for i in range(CAR_PROCESSES)]
        for log in self.logs:
            log.write_text("")
        self.procs = [spawn(["-m", "benchmarks.car_standin", "--url", url, "--first", str(1 + i * per),
                             "--cars", str(min(per, CARS - i * per)),
                             "--tokens", str(token_file)], self.logs[i], stdin=subprocess.PIPE, client=True)
                      for i in range(CAR_PROCESSES)]

    def wait_ready(self) -> None:
        for proc, log in zip(self.procs, self.logs):
            wait_for_line(log, proc, "CARS READY")

    def stop(self, run: Run) -> None:
        for proc in self.procs:
            if proc.stdin and not proc.stdin.closed:
                proc.stdin.close()  # the stand-ins print their records, then exit
        for proc, log in zip(self.procs, self.logs):
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                terminate([proc])
                continue
            lines = [l for l in log.read_text().splitlines() if l.startswith("{")]
            if lines:
                rec = json.loads(lines[-1])
                run.arrived.update(rec["arrived"])
                run.tick.update(rec["tick"])
                cars_here = min(-(-CARS // CAR_PROCESSES), CARS - self.procs.index(proc) * -(-CARS // CAR_PROCESSES))
                run.estop_missed += (cars_here - len(rec["estop"])) * len(run.estops_sent)  # never latched at all
                for times in rec["estop"].values():
                    for i, t_sent in enumerate(run.estops_sent):
                        t_next = run.estops_sent[i + 1] if i + 1 < len(run.estops_sent) else float("inf")
                        hit = next((t for t in times if t_sent <= t < t_next), None)
                        if hit is None:
                            run.estop_missed += 1
                        else:
                            run.estop_ms.append((hit - t_sent) * 1000)


# --- one system: kids, teacher, phases, e-stops -------------------------------------------------


@dataclass
class System:
    """How this run talks to one of the two servers."""

    name: str
    url: str
    kid_auth: list[dict[str, Any]]  # per kid: the socket.io auth
    teacher_headers: dict[str, str]
    estop: Any  # async (session) -> None: one e-stop of every car, returns once the server answered
    reset: Any  # async (session) -> None: every car reset


async def drive(system: System, server: psutil.Process, run: Run, tmp: Path) -> None:
    kids = KidClients(system.url, tmp, system.kid_auth)
    kids.wait_ready()
    teacher = socketio.AsyncClient(reconnection=False)
    seen = [0]
    teacher.on("telemetry", lambda data: seen.__setitem__(0, seen[0] + 1), namespace="/teacher")
    teacher.on("telemetry_batch", lambda data: seen.__setitem__(0, seen[0] + len(data)), namespace="/teacher")
    await teacher.connect(system.url, namespaces=["/teacher"], headers=system.teacher_headers, transports=["websocket"],
                          wait_timeout=HTTP_TIMEOUT_S)
    t = time.monotonic() + 1.0  # the welcome messages settle
    schedule = []
    for phase in PHASES:
        schedule.append((phase, t, t + PHASE_S[phase]))
        t += PHASE_S[phase] + PHASE_GAP_S
    kids.start(schedule)
    for phase, start, end in schedule:
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        cpu0 = server.cpu_times()
        psutil.cpu_percent(None)
        while time.monotonic() < end:
            run.rss_mb = max(run.rss_mb, server.memory_info().rss / 2**20)
            await asyncio.sleep(0.25)
        cpu1 = server.cpu_times()
        run.server_cpu_s[phase] = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
        run.machine_cpu[phase] = psutil.cpu_percent(None)
        run.windows[phase] = (start, time.monotonic())
    await asyncio.get_running_loop().run_in_executor(None, kids.results, run)
    async with ClientSession(timeout=ClientTimeout(total=HTTP_TIMEOUT_S)) as http:
        for _ in range(ESTOP_REPS):
            t0 = time.monotonic()
            await system.estop(http)
            run.estops_sent.append(t0)
            await asyncio.sleep(SETTLE_S)
            await system.reset(http)
            await asyncio.sleep(0.2)
    await teacher.disconnect()
    if not seen[0]:
        raise RuntimeError(f"{system.name}: the teacher saw no telemetry")


class KidClients:
    """CARS kids in KID_PROCESSES processes (benchmarks/kid_clients.py)."""

    def __init__(self, url: str, tmp: Path, auths: list[dict[str, Any]]) -> None:
        self.procs, self.logs = [], []
        for p in range(KID_PROCESSES):
            mine = [[i, auth] for i, auth in enumerate(auths) if i % KID_PROCESSES == p]
            kid_file = tmp / f"kids-{p}.json"
            kid_file.write_text(json.dumps(mine))
            log = tmp / f"kids-{p}.out"
            log.write_text("")
            self.logs.append(log)
            self.procs.append(spawn(["-m", "benchmarks.kid_clients", "--url", url, "--kids", str(kid_file)], log,
                                    stdin=subprocess.PIPE, client=True))

    def wait_ready(self) -> None:
        for proc, log in zip(self.procs, self.logs):
            wait_for_line(log, proc, "KIDS READY")

    def start(self, schedule: list[tuple[int, float, float]]) -> None:
        for proc in self.procs:
            proc.stdin.write((json.dumps(schedule) + "\n").encode())
            proc.stdin.flush()

    def results(self, run: Run) -> None:
        for proc, log in zip(self.procs, self.logs):
            proc.wait(timeout=STARTUP_TIMEOUT_S)
            lines = [l for l in log.read_text().splitlines() if l.startswith("{")]
            if not lines:
                raise RuntimeError(f"kid clients printed no results: {log.read_text()[-2000:]}")
            rec = json.loads(lines[-1])
            for phase, ref, t0, t1, request_id in rec["calls"]:
                run.blocks[phase] = run.blocks.get(phase, 0) + 1
                if request_id:
                    run.calls.append(Call(phase, ref, t0, t1, request_id))
            for status, n in rec["statuses"].items():
                run.statuses[status] = run.statuses.get(status, 0) + n


def run_relay(tmp: Path) -> Run:
    run = Run("bare relay")
    probe_file = tmp / "relay-probe.json"
    log = tmp / "relay.out"
    relay = spawn(["-m", "benchmarks.sio_relay", "--port", "0", "--probe-file", str(probe_file)], log, stdin=subprocess.PIPE)
    cars = None
    try:
        url = wait_for_line(log, relay, "RELAY ON ").split()[2]
        cars = CarStandins(url, tmp, {})
        cars.wait_ready()

        async def estop(http: ClientSession) -> None:
            async with http.post(f"{url}/estop") as resp:
                resp.raise_for_status()

        async def reset(http: ClientSession) -> None:
            async with http.post(f"{url}/reset") as resp:
                resp.raise_for_status()

        system = System(run.name, url, [{"car": f"car-{i + 1}"} for i in range(CARS)], {}, estop, reset)
        asyncio.run(drive(system, psutil.Process(relay.pid), run, tmp))
    finally:
        if cars is not None:
            cars.stop(run)
        if relay.stdin and not relay.stdin.closed:
            relay.stdin.close()  # the relay writes its probe file, then exits
        try:
            relay.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            terminate([relay])
    _read_probe(probe_file, run)
    return run


def run_classroom(tmp: Path) -> Run:
    run = Run("MIKRO-DOJO")
    tokens = {f"car-{i}": secrets.token_hex(16) for i in range(1, CARS + 1)}
    password = secrets.token_hex(8)
    config = tmp / "server.json"
    config.write_text(json.dumps({
        "teacher_password": password, "car_tokens": tokens, "default_class_code": "BENCH",
        # Measure latency, not the per-kid rate limiter (5/s by default): 4 calls/s per kid stay well under.
        "rate_limits": {"blocks_per_s": 50, "burst": 50},
    }))
    probe_file = tmp / "server-probe.json"
    log = tmp / "server.out"
    server = spawn(["-m", "benchmarks.server_probe", "--data-dir", str(tmp / "server"), "--config", str(config),
                    "--probe-file", str(probe_file)], log)
    cars = None
    try:
        url = wait_for_line(log, server, "MIKRO-DOJO server on ").split()[3]
        cars = CarStandins(url, tmp, tokens)
        cars.wait_ready()
        asyncio.run(_classroom(url, password, psutil.Process(server.pid), run, tmp))
    finally:
        if cars is not None:
            cars.stop(run)
        terminate([server])
    _read_probe(probe_file, run)
    return run


async def _classroom(url: str, password: str, server: psutil.Process, run: Run, tmp: Path) -> None:
    async with ClientSession(timeout=ClientTimeout(total=HTTP_TIMEOUT_S)) as http:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while (await (await http.get(f"{url}/api/health")).json())["cars_connected"] < CARS:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{CARS} cars did not connect within {STARTUP_TIMEOUT_S} s")
            await asyncio.sleep(0.2)
        kids = []
        for i in range(CARS):
            async with http.post(f"{url}/api/join", json={"class_code": "BENCH",
                                                          "name": f"Kid{chr(65 + i // 26)}{chr(65 + i % 26)}"}) as resp:
                kids.append(await resp.json())
        assert len({k.get("car_id") for k in kids}) == CARS, "every kid should have a car of their own"
        async with http.post(f"{url}/api/teacher/login", json={"password": password}) as resp:
            resp.raise_for_status()
            csrf = (await resp.json())["csrf_token"]
            cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in resp.cookies.items())
    car_ids = [f"car-{i}" for i in range(1, CARS + 1)]

    def teacher_session() -> ClientSession:
        return ClientSession(timeout=ClientTimeout(total=HTTP_TIMEOUT_S), headers={"Cookie": cookie, "X-CSRF-Token": csrf})

    async def estop(_: ClientSession) -> None:
        async with teacher_session() as t, t.post(f"{url}/api/teacher/estop", json={"reason": "benchmark"}) as resp:
            resp.raise_for_status()

    async def reset(_: ClientSession) -> None:
        async with teacher_session() as t:
            for car_id in car_ids:
                async with t.post(f"{url}/api/teacher/cars/{car_id}/reset", json={}) as resp:
                    resp.raise_for_status()

    system = System(run.name, url, [{"token": k["token"]} for k in kids], {"Cookie": cookie}, estop, reset)
    await drive(system, server, run, tmp)


def _read_probe(path: Path, run: Run) -> None:
    probe = json.loads(path.read_text())
    run.lag, run.gc, run.hops = probe["lag"], probe["gc"], probe["hops"]
    run.slow = probe.get("slow", [])


# --- report ------------------------------------------------------------------------------------


def row(label: str, ms: list[float]) -> str:
    return f"  {label:<52} {pct(ms, 50):8.2f} {pct(ms, 99):8.2f} {max(ms, default=float('nan')):8.2f} {len(ms):6d}"


def met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report(base: Run, real: Run) -> dict[str, float]:
    full = PHASES[-1]
    print(f"\n  {'block sent -> (ms)':<52} {'p50':>8} {'p99':>8} {'max':>8} {'n':>6}")
    for phase in PHASES[1:]:
        kids = f"{phase} kid{'s' if phase > 1 else ''}"
        print(row(f"bare relay, {kids}: at the car", base.car_ms(phase)))
        print(row(f"MIKRO-DOJO, {kids}: at the car", real.car_ms(phase)))
        print(row(f"MIKRO-DOJO, {kids}: first motor tick (50 Hz)", real.car_ms(phase, real.tick)))
    print(f"\n  {f'where the time goes at {full} kids (ms)':<52} {'p50':>8} {'p99':>8} {'max':>8} {'n':>6}")
    for a, b, what in (("send", "recv", "kid send -> server receive"), ("recv", "gate", "server receive -> gate passed"),
                       ("gate", "emit", "gate -> emit to the car link"), ("recv", "emit", "server receive -> emit"),
                       ("emit", "car", "emit -> car receive"), ("car", "tick", "car receive -> first motor tick")):
        for run in (base, real):
            ms = run.hop_ms(full, a, b)
            if ms:
                print(row(f"{run.name}: {what}", ms))
    p99, base_p99 = pct(real.car_ms(full), 99), pct(base.car_ms(full), 99)
    ratio = p99 / base_p99 if base_p99 else float("nan")
    print(f"\n  block -> car p99 at {full} kids: {p99:.2f} ms = {ratio:.2f}x the bare relay's {base_p99:.2f} ms "
          f"(target <= {TARGET_RATIO:g}x: {met(ratio <= TARGET_RATIO)})")
    print(f"  block answers: MIKRO-DOJO {real.statuses}, bare relay {base.statuses}")
    for run in (base, real):
        for phase in PHASES:
            lag, pauses = run.lag_ms(phase), run.gc_ms(phase)
            print(f"  {run.name} event-loop lag, {phase} kids driving: p50 {pct(lag, 50):.2f} ms, p99 {pct(lag, 99):.2f} ms, "
                  f"max {max(lag, default=float('nan')):.2f} ms; GC pauses {len(pauses)} (gen2 "
                  f"{sum(1 for g, _ in pauses if g == 2)}), longest {max((ms for _, ms in pauses), default=0.0):.2f} ms")
    for run in (base, real):
        start, end = run.windows.get(full, (0, 0))
        slow = [(wall, cpu, name) for t, wall, cpu, name in run.slow if start <= t < end]
        if slow:  # BENCH_SLOW_CALLBACKS=1: what the loop's long callbacks were, at full class
            by_name: dict[str, list[tuple[float, float]]] = {}
            for wall, cpu, name in slow:
                by_name.setdefault(name, []).append((wall, cpu))
            print(f"  {run.name} callbacks > 5 ms at {full} kids (n, wall max, CPU max): " + "; ".join(
                f"{name} {len(v)}x {max(w for w, _ in v):.1f}/{max(c for _, c in v):.1f} ms"
                for name, v in sorted(by_name.items(), key=lambda kv: -sum(w for w, _ in kv[1]))[:8]))
    lag99 = pct(real.lag_ms(full), 99)
    print(f"  MIKRO-DOJO lag p99 at {full} kids: {lag99:.2f} ms (target <= {TARGET_LAG_P99_MS:g} ms: "
          f"{met(lag99 <= TARGET_LAG_P99_MS)})")
    print()
    for run in (base, real):
        print(f"  {run.name} server CPU: idle class {run.server_cpu_s.get(0, 0) / PHASE_S[0] * 100:.1f} % of a core "
              f"(telemetry, heartbeats); {full} kids {run.server_cpu_s.get(full, 0) / PHASE_S[full] * 100:.1f} %, "
              f"{run.cpu_ms_per_block(full):.2f} ms CPU per block ({run.blocks.get(full, 0)} blocks); "
              f"machine {run.machine_cpu.get(full, 0):.0f} % busy of {os.cpu_count()} cores")
    cpu_ratio = real.cpu_ms_per_block(full) / max(1e-9, base.cpu_ms_per_block(full))
    print(f"  MIKRO-DOJO CPU per block = {cpu_ratio:.2f}x the bare relay's")
    print(f"\n  {'teacher e-stop request -> car latched (ms)':<52} {'p50':>8} {'p99':>8} {'max':>8} {'n':>6}")
    for run in (base, real):
        print(row(f"{run.name}: {ESTOP_REPS} stops x {CARS} cars", run.estop_ms))
    e99 = pct(real.estop_ms, 99)
    print(f"  MIKRO-DOJO p99 {e99:.2f} ms (target <= {TARGET_ESTOP_P99_MS:g} ms: {met(e99 <= TARGET_ESTOP_P99_MS)}); "
          f"car stops never latched: {real.estop_missed} (relay {base.estop_missed})")
    print(f"\n  server RSS: MIKRO-DOJO {real.rss_mb:.1f} MB, bare relay {base.rss_mb:.1f} MB (peak)")
    return {"p99_ms": p99, "relay_p99_ms": base_p99, "ratio": ratio, "lag_p99_ms": lag99, "estop_p99_ms": e99,
            "cpu_ms_per_block": real.cpu_ms_per_block(full), "relay_cpu_ms_per_block": base.cpu_ms_per_block(full)}


def main() -> None:
    load = os.getloadavg()
    print(f"{CARS} kids, {CARS} stand-in cars in {CAR_PROCESSES} processes, 1 teacher; phases "
          f"{', '.join(f'{p} driving {s:g} s' for p, s in PHASE_S.items())}; a block per kid every "
          f"{CALL_PERIOD_S * 1000:.0f} ms at most; load average before: {load[0]:.2f} ({os.cpu_count()} cores, shared)",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-server-") as tmp:
        base = run_relay(Path(tmp))
        real = run_classroom(Path(tmp))
    summary = report(base, real)
    print(f"  load average after: {os.getloadavg()[0]:.2f}  (other work on the machine inflates every number above)")
    if os.environ.get("BENCH_SERVER_JSON"):
        Path(os.environ["BENCH_SERVER_JSON"]).write_text(json.dumps(summary))


if __name__ == "__main__":
    main()
