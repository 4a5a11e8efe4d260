"""Several server processes (`python -m benchmarks cluster`): what a block and an e-stop cost when the kid and
the car are on different processes, against one process, in the same run (docs/cluster.md).

Three systems, each with the same stand-in cars (benchmarks/car_standin.py) and kids (benchmarks/kid_clients.py),
all real processes on 127.0.0.1:

- BASELINE, one process: `dojo server` as a classroom runs it (no Redis), kids and cars on it;
- one process with ``--redis``: the same, with python-socketio's Redis manager and the cluster machinery on
  (what Redis costs when nothing has to cross);
- two processes with ``--redis``: every kid on process A, every car on process B — each block is forwarded
  A -> Redis -> B's queue for the car -> the car, the answer back the same way; telemetry B -> Redis -> A;
- the same two processes on PostgreSQL (a throwaway server whose commits wait for the disk) instead of
  one SQLite file: what a classroom costs the district's database, in transactions per second.

Phases per system: everybody connected and idle (telemetry only), then every kid driving (a 2 cm move each
CALL_PERIOD_S at most), then the teacher's e-stop ESTOP_REPS times, pressed on the kids' process (A).
Figures: block -> car arrival and the kid's whole round trip (p50/p99), e-stop -> each car latched
(p50/p99), CPU per block of all server processes together and of redis-server (the driving phase's CPU
time / blocks answered; telemetry, heartbeats and the teacher's view included).

BENCH_CLUSTER_CARS (default 10) cars and kids; the machine this runs on is shared, so compare the systems
of one run with each other, not runs with runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import socket
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

from benchmarks.bench_server import pct, spawn, terminate, wait_for_line

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the tests' throwaway PostgreSQL
from services.postgres import PostgresServer  # noqa: E402

CARS = int(os.environ.get("BENCH_CLUSTER_CARS", "10"))
STANDIN_PROCESSES = 2
IDLE_S, DRIVE_S = 3.0, 8.0
ESTOP_REPS = 5
SETTLE_S = 0.4  # after an e-stop, before the reset: every car has latched
STARTUP_S = 120.0
HTTP_TIMEOUT_S = 30.0


@dataclass
class Result:
    name: str
    car_ms: list[float] = field(default_factory=list)
    reply_ms: list[float] = field(default_factory=list)
    estop_ms: list[float] = field(default_factory=list)
    estop_missed: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    blocks: int = 0
    server_cpu_s: float = 0.0  # the driving phase
    redis_cpu_s: float = 0.0
    idle_server_cpu_s: float = 0.0  # the idle phase: telemetry, heartbeats, the teacher's view
    idle_redis_cpu_s: float = 0.0
    redis_cmds: dict[str, float] = field(default_factory=dict)  # phase -> Redis commands per second
    pg_commits: dict[str, float] = field(default_factory=dict)  # phase -> PostgreSQL transactions per second
    teacher_telemetry: int = 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_commands(url: str | None) -> int:
    """Redis's own count of commands processed so far (INFO stats); 0 without Redis."""
    if not url:
        return 0
    host, port = url.split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"INFO stats\r\n")
        data = b""
        while b"total_commands_processed" not in data or not data.endswith(b"\r\n"):
            data += s.recv(65536)
    for line in data.decode().splitlines():
        if line.startswith("total_commands_processed:"):
            return int(line.split(":")[1])
    return 0


def pg_commits(url: str | None) -> int:
    """PostgreSQL's own count of committed transactions in the classroom's database so far; 0 without one.
    The statistics are flushed about once a second, so a phase's rate is good to a second's worth."""
    if not url:
        return 0
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()").fetchone()[0]


def start_redis(tmp: Path) -> tuple[subprocess.Popen, str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is missing: apt-get install redis-server (`make redis`)")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp)], stdout=open(tmp / "redis.out", "w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("redis-server did not start")


def start_server(tmp: Path, name: str, config: Path, redis_url: str | None) -> tuple[subprocess.Popen, str]:
    log = tmp / f"server-{name}.out"
    args = ["-m", "server.main", "--port", "0", "--config", str(config)] + (["--redis", redis_url] if redis_url else [])
    proc = spawn(args, log)
    url = wait_for_line(log, proc, "MIKRO-DOJO server on ").split()[3]
    return proc, url


async def wait_health(http: ClientSession, url: str, check: Any, what: str) -> None:
    deadline = time.monotonic() + STARTUP_S
    while True:
        async with http.get(f"{url}/api/health") as resp:
            if check(await resp.json()):
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} within {STARTUP_S} s")
        await asyncio.sleep(0.2)


def run_system(name: str, processes: int, with_redis: bool, postgres: bool = False) -> Result:
    result = Result(name)
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as d:
        tmp = Path(d)
        # durable: a commit waits for its log write, as on a district's database
        pg = PostgresServer.start(durable=True) if postgres else None
        database_url = pg.create_database("classroom") if pg else None
        tokens = {f"car-{i}": secrets.token_hex(16) for i in range(1, CARS + 1)}
        password = secrets.token_hex(8)
        config = tmp / "server.json"
        config.write_text(json.dumps({"teacher_password": password, "car_tokens": tokens, "default_class_code": "BENCH",
                                      "data_dir": str(tmp / "data"), **({"database": database_url} if pg else {}),
                                      "rate_limits": {"blocks_per_s": 50, "burst": 50}}))  # latency, not the limiter
        procs: list[subprocess.Popen] = []
        standins: list[subprocess.Popen] = []
        redis = None
        try:
            redis_url = None
            if with_redis:
                redis, redis_url = start_redis(tmp)
            servers = []
            for i in range(processes):
                proc, url = start_server(tmp, "AB"[i], config, redis_url)
                procs.append(proc)
                servers.append(url)
            kid_url, car_url = servers[0], servers[-1]
            token_file = tmp / "tokens.json"
            token_file.write_text(json.dumps(tokens))
            per = -(-CARS // STANDIN_PROCESSES)
            logs = []
            for i in range(STANDIN_PROCESSES):
                log = tmp / f"cars-{i}.out"
                log.write_text("")
                logs.append(log)
                standins.append(spawn(["-m", "benchmarks.car_standin", "--url", car_url, "--first", str(1 + i * per),
                                       "--cars", str(min(per, CARS - i * per)), "--tokens", str(token_file)], log,
                                      stdin=subprocess.PIPE))
            for proc, log in zip(standins, logs):
                wait_for_line(log, proc, "CARS READY")
            records = asyncio.run(_drive(result, kid_url, car_url, password, [psutil.Process(p.pid) for p in procs],
                                         psutil.Process(redis.pid) if redis else None, redis_url, database_url, tmp))
            for proc in standins:
                proc.stdin.close()
            for proc, log in zip(standins, logs):
                proc.wait(timeout=30)
                line = [l for l in log.read_text().splitlines() if l.startswith("{")][-1]
                rec = json.loads(line)
                for request_id, t in rec["arrived"].items():
                    if request_id in records["sent"]:
                        result.car_ms.append((t - records["sent"][request_id]) * 1000)
                for times in rec["estop"].values():
                    for i, t0 in enumerate(records["estops"]):
                        t1 = records["estops"][i + 1] if i + 1 < len(records["estops"]) else float("inf")
                        hit = next((t for t in times if t0 <= t < t1), None)
                        if hit is None:
                            result.estop_missed += 1
                        else:
                            result.estop_ms.append((hit - t0) * 1000)
                result.estop_missed += (min(per, CARS - logs.index(log) * per) - len(rec["estop"])) * len(records["estops"])
        finally:
            terminate([p for p in standins if p.poll() is None])
            terminate(procs)
            if redis is not None:
                terminate([redis])
            if pg is not None:
                pg.stop()
    return result


def _cpu(p: psutil.Process | None) -> float:
    if p is None:
        return 0.0
    t = p.cpu_times()
    return t.user + t.system


async def _drive(result: Result, kid_url: str, car_url: str, password: str, servers: list[psutil.Process],
                 redis: psutil.Process | None, redis_url: str | None, database_url: str | None,
                 tmp: Path) -> dict[str, Any]:
    async with ClientSession(timeout=ClientTimeout(total=HTTP_TIMEOUT_S)) as http:
        await wait_health(http, car_url, lambda h: h["cars_connected"] == CARS, f"{CARS} cars on {car_url}")
        await wait_health(http, kid_url, lambda h: h.get("cluster", {}).get("cars_in_cluster", h["cars_connected"]) == CARS,
                          f"{kid_url} knowing {CARS} cars")
        kids = []
        for i in range(CARS):
            async with http.post(f"{kid_url}/api/join", json={"class_code": "BENCH", "name": f"Kid{chr(65 + i)}"}) as resp:
                kids.append(await resp.json())
        assert len({k.get("car_id") for k in kids}) == CARS, f"every kid should have a car of their own: {kids}"
        async with http.post(f"{kid_url}/api/teacher/login", json={"password": password}) as resp:
            csrf = (await resp.json())["csrf_token"]
            cookie = "; ".join(f"{n}={m.value}" for n, m in resp.cookies.items())
    kid_file = tmp / "kids.json"
    kid_file.write_text(json.dumps([[i, {"token": k["token"]}] for i, k in enumerate(kids)]))
    log = tmp / "kids.out"
    log.write_text("")
    kid_proc = spawn(["-m", "benchmarks.kid_clients", "--url", kid_url, "--kids", str(kid_file)], log, stdin=subprocess.PIPE)
    teacher = socketio.AsyncClient(reconnection=False)
    seen = [0]
    teacher.on("telemetry", lambda data: seen.__setitem__(0, seen[0] + 1), namespace="/teacher")
    teacher.on("telemetry_batch", lambda data: seen.__setitem__(0, seen[0] + len(data)), namespace="/teacher")
    await teacher.connect(kid_url, namespaces=["/teacher"], headers={"Cookie": cookie}, transports=["websocket"],
                          wait_timeout=HTTP_TIMEOUT_S)
    try:
        await asyncio.get_running_loop().run_in_executor(None, wait_for_line, log, kid_proc, "KIDS READY")
        start = time.monotonic() + 0.5
        drive_at = start + IDLE_S
        end = drive_at + DRIVE_S
        kid_proc.stdin.write((json.dumps([[CARS, drive_at, end]]) + "\n").encode())
        kid_proc.stdin.flush()
        await asyncio.sleep(max(0.0, start + 0.5 - time.monotonic()))  # the idle phase, its first half second aside
        marks = [(time.monotonic(), sum(map(_cpu, servers)), _cpu(redis), redis_commands(redis_url),
                  pg_commits(database_url))]
        await asyncio.sleep(max(0.0, drive_at - time.monotonic()))
        marks.append((time.monotonic(), sum(map(_cpu, servers)), _cpu(redis), redis_commands(redis_url),
                      pg_commits(database_url)))
        await asyncio.sleep(max(0.0, end - time.monotonic()))
        marks.append((time.monotonic(), sum(map(_cpu, servers)), _cpu(redis), redis_commands(redis_url),
                      pg_commits(database_url)))
        (t0, s0, r0, c0, x0), (t1, s1, r1, c1, x1), (t2, s2, r2, c2, x2) = marks
        result.idle_server_cpu_s, result.idle_redis_cpu_s = (s1 - s0) / (t1 - t0), (r1 - r0) / (t1 - t0)  # per second
        result.server_cpu_s, result.redis_cpu_s = s2 - s1, r2 - r1
        result.redis_cmds = {"idle": (c1 - c0) / (t1 - t0), "driving": (c2 - c1) / (t2 - t1)}
        if database_url:  # minus our own counting query, one per mark
            result.pg_commits = {"idle": (x1 - x0 - 1) / (t1 - t0), "driving": (x2 - x1 - 1) / (t2 - t1)}
        await asyncio.get_running_loop().run_in_executor(None, kid_proc.wait, 60)
        rec = json.loads([l for l in log.read_text().splitlines() if l.startswith("{")][-1])
        sent = {}
        for _phase, _ref, t0, t1, request_id in rec["calls"]:
            result.blocks += 1
            result.reply_ms.append((t1 - t0) * 1000)
            if request_id:
                sent[request_id] = t0
        result.statuses = rec["statuses"]
        estops = []
        headers = {"Cookie": cookie, "X-CSRF-Token": csrf}
        async with ClientSession(timeout=ClientTimeout(total=HTTP_TIMEOUT_S), headers=headers) as t:
            for _ in range(ESTOP_REPS):
                t0 = time.monotonic()
                async with t.post(f"{kid_url}/api/teacher/estop", json={"reason": "benchmark"}) as resp:
                    resp.raise_for_status()
                estops.append(t0)
                await asyncio.sleep(SETTLE_S)
                for i in range(1, CARS + 1):
                    async with t.post(f"{kid_url}/api/teacher/cars/car-{i}/reset", json={}) as resp:
                        resp.raise_for_status()
                await asyncio.sleep(0.2)
        result.teacher_telemetry = seen[0]
        return {"sent": sent, "estops": estops}
    finally:
        await teacher.disconnect()
        terminate([kid_proc])


def report(results: list[Result]) -> None:
    base = results[0]
    print(f"\n  {CARS} kids and {CARS} stand-in cars; kids on the first process, cars on the last")
    print(f"  {'':<38} {'p50 ms':>8} {'p99 ms':>8} {'n':>6}  p99 vs 1 process")
    for label, get in (("block -> car arrival", lambda r: r.car_ms), ("block -> the kid's answer", lambda r: r.reply_ms),
                       ("e-stop (on A) -> car latched", lambda r: r.estop_ms)):
        for r in results:
            v = get(r)
            ratio = pct(v, 99) / pct(get(base), 99) if get(base) else float("nan")
            print(f"  {label + ': ' + r.name:<38} {pct(v, 50):8.2f} {pct(v, 99):8.2f} {len(v):6d}  {ratio:5.2f}x")
    print(f"\n  {'CPU per block (driving phase)':<38} {'servers':>10} {'redis':>8} {'blocks':>7}  vs 1 process")
    for r in results:
        per = r.server_cpu_s * 1000 / max(1, r.blocks)
        redis = r.redis_cpu_s * 1000 / max(1, r.blocks)
        ratio = (r.server_cpu_s + r.redis_cpu_s) / max(1, r.blocks) / (base.server_cpu_s / max(1, base.blocks))
        print(f"  {r.name:<38} {per:8.2f}ms {redis:6.2f}ms {r.blocks:7d}  {ratio:5.2f}x")
    print(f"\n  {'idle class (telemetry only)':<38} {'servers':>10} {'redis':>8}   Redis commands/s idle / driving")
    for r in results:
        per_car = r.idle_server_cpu_s * 1000 / CARS
        print(f"  {r.name:<38} {per_car:6.2f}ms/s {r.idle_redis_cpu_s * 1000 / CARS:5.2f}ms/s   "
              f"{r.redis_cmds.get('idle', 0):8.0f} / {r.redis_cmds.get('driving', 0):8.0f}")
    print("  (idle: CPU milliseconds per second per connected car, 20 Hz telemetry to its kid and the teacher)")
    for r in results:
        if r.pg_commits:
            print(f"  {r.name}: PostgreSQL transactions/s idle / driving "
                  f"{r.pg_commits['idle']:.1f} / {r.pg_commits['driving']:.1f}")
    for r in results:
        bad = {s: n for s, n in r.statuses.items() if s != "done"}
        print(f"  {r.name}: answers {r.statuses}; e-stops missed {r.estop_missed}; teacher telemetry {r.teacher_telemetry}"
              + (f"  NOT DONE: {bad}" if bad else ""))


def main() -> None:
    results = [run_system("1 process", 1, False), run_system("1 process + Redis", 1, True),
               run_system("2 processes (kid A, car B)", 2, True),
               run_system("2 processes on PostgreSQL", 2, True, postgres=True)]
    report(results)


if __name__ == "__main__":
    main()
