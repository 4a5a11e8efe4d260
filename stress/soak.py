"""`make soak`: a class of 30 kids on 30 simulated cars for 30 minutes, with faults on a schedule, and
the figures that show nothing was lost.

    python -m stress.soak [--minutes 30] [--kids 30] [--out artifacts/soak]      (make soak; SOAK_MINUTES=2)

Who: 30 kids, a third each through Blockly's run path (/kid), the Scratch extension's wire protocol
(/scratch/ble) and the Python SDK (a process per kid running the lessons' Python twins), each on a car
of their own, running level-1 lesson programs again and again (every run is a graded attempt). 30 real car
runtimes: car-1 as its own `dojo car --sim` process (so it can be killed mid-skill), the others in one
fleet process (stress/car_fleet.py). The server is `dojo server` in its own process; the coach model is a
local stand-in (stress/coach_standin.py). Faults, repeated every FAULT_CYCLE_S (fractions of the cycle):

    coach slow · car-1 killed mid-skill and restarted · server stalled 1 s (SIGSTOP/SIGCONT) · three kids
    drop and rejoin · coach down · a flood from one kid · server stalled 5 s · coach hanging · server killed
    (SIGKILL) and restarted · coach back

What it prints: requests sent vs final answers (each exactly one; lost = no answer within
ANSWER_TIMEOUT_S), attempts started vs graded or interrupted (none lost), the server's RSS and fd growth,
latency percentiles per window, and a PNG of latency and memory (artifacts/soak/soak.png).
Exit code 1 if any promise failed (a lost or doubled answer, a lost attempt).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from curriculum.loader import load_lessons
from stress import plot
from stress.cluster import CLASS_CODE, KILLABLE_CAR, REPO_ROOT, Cluster, adopt, free_port, stopping_children, terminate
from stress.coach_standin import CoachStandIn
from stress.kids import BlocklyKid, Kid, ScratchKid
from stress.ledger import FAULT_NEAR_S, Ledger

log = logging.getLogger("stress.soak")

LESSONS = ("l1-wake-up", "l1-square-dance", "l1-around-the-corner")  # level 1: every new kid may run them
FAULT_CYCLE_S = 600.0  # a 30-minute soak sees every fault three times; a short one once
SAMPLE_S = 1.0  # server RSS, fds and a health probe, once a second
PROBE_S = 0.5  # a reporter block (answered from telemetry, no driving): the server's own answer time
FLOOD_MESSAGES = 600  # one kid's runaway loop: valid, unknown, locked and malformed blocks
FLOOD_IN_FLIGHT = 30  # sent as fast as answers come back, 30 waiting at a time (a `forever` loop in a few sprites)
CAR_RESTART_S = 2.0  # the killed car comes back after this (someone switches it on again)
SERVER_RESTART_S = 1.0  # the killed server is started again after this (systemd's RestartSec)
DROP_BACK_S = 3.0  # a kid who dropped comes back after about this long
SETTLE_TIMEOUT_S = 90.0  # at the end: kids finish their programs, attempts finish grading
COACH_TIMEOUT_S = 10.0  # the server's coach timeout in the soak: a hanging model costs each grading 10 s
WINDOWS = 12  # latency percentiles over time: the run in this many windows

FAULTS = (  # (fraction of the cycle, name)
    (0.08, "coach_slow"), (0.14, "car_kill"), (0.22, "stall_1s"), (0.30, "kids_drop"), (0.36, "coach_down"),
    (0.42, "flood"), (0.50, "stall_5s"), (0.56, "coach_hang"), (0.66, "server_kill"), (0.80, "coach_ok"),
)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


@dataclass
class Samples:
    memory: list[tuple[float, int, float, int]] = field(default_factory=list)  # (t, pid, rss MB, fds)
    health_ms: list[tuple[float, float]] = field(default_factory=list)
    faults: list[tuple[float, str]] = field(default_factory=list)
    fault_ends: list[float] = field(default_factory=list)  # when each fault's injection returned (same order)
    health_failures: int = 0


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.duration = args.minutes * 60.0
        self.out: Path = args.out
        self.rng = random.Random(args.seed)
        self.ledger = Ledger()
        self.samples = Samples()
        self.coach = CoachStandIn(free_port())
        self.cluster = Cluster(self.out / "run", cars=args.kids, car_rate_hz=args.car_rate,
                               coach_host=f"http://127.0.0.1:{self.coach.port}", coach_timeout_s=COACH_TIMEOUT_S)
        lesson_set, _ = load_lessons(strict=False)
        self.lessons = [lesson_set.get(i) for i in LESSONS]
        self.kids: list[Kid] = []
        self.sdk: dict[str, subprocess.Popen] = {}
        self.sdk_programs: list[dict] = []
        self.sdk_killed = 0
        self.t0 = 0.0

    def now(self) -> float:
        return time.monotonic() - self.t0

    # --- setup ------------------------------------------------------------------------------------

    async def start(self, http: aiohttp.ClientSession) -> None:
        await self.coach.start()
        await asyncio.to_thread(self.cluster.start)
        teacher = await asyncio.to_thread(self.cluster.teacher)
        n = self.args.kids
        kinds = [(BlocklyKid, "B"), (ScratchKid, "S"), (None, "P")]
        kid_ids = []
        for i in range(n):
            cls, letter = kinds[i % 3]
            name = f"{letter}kid{chr(65 + i // 26)}{chr(65 + i % 26)}"
            if cls is None:  # an SDK kid: joins here (the teacher seats them), drives from its own process
                self.sdk[name] = None  # type: ignore[assignment]
                async with http.post(f"{self.cluster.url}/api/join", json={"class_code": CLASS_CODE, "name": name,
                                                                            "rejoin": True}) as r:
                    r.raise_for_status()
                    kid_ids.append((await r.json())["kid_id"])
                continue
            kid = cls(name, self.cluster.url, CLASS_CODE, self.lessons, self.ledger, http, random.Random(self.rng.random()))
            await kid.join()
            self.kids.append(kid)
            kid_ids.append(kid.kid_id)
        for i, kid_id in enumerate(kid_ids):  # the teacher seats every kid at a car of their own
            teacher.post(f"{self.cluster.url}/api/teacher/cars/car-{i + 1}/assign", json={"kid_ids": [kid_id]},
                         timeout=10).raise_for_status()
        cars = teacher.get(f"{self.cluster.url}/api/teacher/cars", timeout=10).json()["cars"]
        if sorted(len(c.get("kid_ids") or []) for c in cars) != [1] * n:
            raise RuntimeError(f"every kid should have a car of their own: {[(c['car_id'], c.get('kid_ids')) for c in cars]}")
        for kid in self.kids:
            await kid.join()  # rejoin: the token and car as they are now
        for lesson_id in LESSONS:
            teacher.post(f"{self.cluster.url}/api/teacher/classes/{CLASS_CODE}/lessons/{lesson_id}/unlock",
                         json={}, timeout=10).raise_for_status()

    def start_sdk_kid(self, name: str) -> None:
        proc = adopt(subprocess.Popen(
            [sys.executable, "-m", "stress.sdk_kid", "--server", self.cluster.url, "--class-code", CLASS_CODE,
             "--name", name, "--lessons", ",".join(LESSONS), "--seed", str(self.rng.randrange(10**6))],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=open(self.out / "run" / f"sdk-{name}.err", "ab"),
            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True))
        self.sdk[name] = proc
        threading.Thread(target=self._read_sdk, args=(name, proc), daemon=True).start()

    def _read_sdk(self, name: str, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            try:
                item = json.loads(line)
            except ValueError:
                continue
            item["kid"] = name
            self.sdk_programs.append(item)

    # --- the run ----------------------------------------------------------------------------------

    async def run(self) -> int:
        self.out.mkdir(parents=True, exist_ok=True)
        async with aiohttp.ClientSession() as http:
            try:
                await self.start(http)
                self.t0 = time.monotonic()
                loop = asyncio.get_running_loop()
                until = loop.time() + self.duration
                for name in self.sdk:
                    self.start_sdk_kid(name)
                lives = [asyncio.create_task(kid.live(until)) for kid in self.kids]
                sampler = asyncio.create_task(self.sample(until, http))
                probe = asyncio.create_task(self.probe(until))
                await self.faults(until)
                await asyncio.gather(sampler, probe, return_exceptions=True)
                print(f"[{self.now():6.1f} s] time is up: kids finish their programs", flush=True)
                for kid in self.kids:
                    kid.stopping = True
                for proc in self.sdk.values():
                    if proc is not None and proc.poll() is None:
                        proc.terminate()
                await asyncio.wait(lives, timeout=SETTLE_TIMEOUT_S)
                await asyncio.to_thread(lambda: [terminate(p, SETTLE_TIMEOUT_S) for p in self.sdk.values()])
                await self.settle_attempts()
            finally:
                for kid in self.kids:
                    kid.stopping = True
                    try:
                        await kid.close()
                    except Exception as exc:  # whatever happened, the processes below must be stopped
                        log.warning("closing %s: %r", kid.name, exc)
                codes = await asyncio.to_thread(self.cluster.stop)
                for proc in self.sdk.values():
                    terminate(proc, 5)
                await self.coach.stop()
        return self.report(codes)

    async def sample(self, until: float, http: aiohttp.ClientSession) -> None:
        loop = asyncio.get_running_loop()
        while loop.time() < until:
            proc = self.cluster.server_process()
            if proc is not None:
                try:
                    self.samples.memory.append((self.now(), proc.pid, proc.memory_info().rss / 2**20, proc.num_fds()))
                except Exception:
                    pass
            t = time.monotonic()
            try:
                async with http.get(f"{self.cluster.url}/api/health", timeout=aiohttp.ClientTimeout(10)) as r:
                    await r.json()
                self.samples.health_ms.append((t - self.t0, (time.monotonic() - t) * 1000))
            except (aiohttp.ClientError, asyncio.TimeoutError):
                self.samples.health_failures += 1
            await asyncio.sleep(max(0.0, SAMPLE_S - (time.monotonic() - t)))

    async def probe(self, until: float) -> None:
        """A second tab of the first Blockly kid asks `distance` twice a second: the server's answer time."""
        loop = asyncio.get_running_loop()
        first = self.kids[0]
        tab = BlocklyKid(first.name, first.url, CLASS_CODE, [], self.ledger, first.http, random.Random(1))
        tab.front_end = "probe"
        while loop.time() < until:
            try:
                tab.token = first.token
                if tab.sio is None or not tab.sio.connected:
                    await tab.open()
                await tab.call("block", {"block": "distance", "args": {}, "source": "blockly"}, kind="reporter")
            except Exception as exc:  # a dropped link: the next round reconnects
                log.debug("probe: %s", exc)
                await tab.close()
            await asyncio.sleep(PROBE_S)
        await tab.close()

    async def faults(self, until: float) -> None:
        loop = asyncio.get_running_loop()
        cycle = min(FAULT_CYCLE_S, self.duration)
        start = loop.time()
        schedule = sorted((start + k * cycle + f * cycle, name) for k in range(int(self.duration // cycle + 1))
                          for f, name in FAULTS if k * cycle + f * cycle < self.duration)
        for at, name in schedule:
            await asyncio.sleep(max(0.0, at - loop.time()))
            self.samples.faults.append((self.now(), name))
            print(f"[{self.now():6.1f} s] fault: {name}", flush=True)
            await self.inject(name)
            self.samples.fault_ends.append(self.now())
        await asyncio.sleep(max(0.0, until - loop.time()))

    async def inject(self, name: str) -> None:
        c = self.cluster
        if name.startswith("coach_"):
            await self.coach.set_mode(name.removeprefix("coach_"))  # type: ignore[arg-type]
        elif name == "car_kill":
            await asyncio.to_thread(c.kill_car)
            await asyncio.sleep(CAR_RESTART_S)
            await asyncio.to_thread(c.start_car)
        elif name == "stall_1s":
            await asyncio.to_thread(c.stall, 1.0)
        elif name == "stall_5s":
            await asyncio.to_thread(c.stall, 5.0)
        elif name == "server_kill":
            await asyncio.to_thread(c.kill_server)
            await asyncio.sleep(SERVER_RESTART_S)
            await asyncio.to_thread(c.start_server)
        elif name == "kids_drop":
            blockly = next(k for k in self.kids if isinstance(k, BlocklyKid) and k is not self.kids[0])
            scratch = next(k for k in self.kids if isinstance(k, ScratchKid))
            blockly.drop()
            scratch.drop()
            sdk_name, proc = next(iter(self.sdk.items()))
            if proc is not None and proc.poll() is None:
                proc.kill()  # the SDK kid's laptop lid closes mid-program
                self.sdk_killed += 1
            await asyncio.sleep(DROP_BACK_S)
            self.start_sdk_kid(sdk_name)
        elif name == "flood":
            await self.flood()

    async def flood(self) -> None:
        """One kid sends FLOOD_MESSAGES block calls at once on a second tab: each must get its one answer."""
        kid = next(k for k in self.kids if isinstance(k, BlocklyKid) and k is not self.kids[0])
        tab = BlocklyKid(kid.name, kid.url, CLASS_CODE, [], self.ledger, kid.http, random.Random(2), token=kid.token)
        tab.front_end = "flood"
        kinds = [{"block": "move_forward", "args": {"distance": 1}}, {"block": "fly", "args": {}},
                 {"block": "do_skill", "args": {"skill": "drift"}}, {"block": "move_forward", "args": {"distance": "far"}},
                 {"block": "set_speed", "args": {"speed": 500}}, {"block": "distance", "args": {}}]
        try:
            await tab.open()
            gate = asyncio.Semaphore(FLOOD_IN_FLIGHT)

            async def one(i: int) -> dict:
                async with gate:
                    return await tab.call("block", {**kinds[i % len(kinds)], "source": "blockly"}, kind="flood")

            replies = await asyncio.gather(*(one(i) for i in range(FLOOD_MESSAGES)), return_exceptions=True)
            statuses = Counter((r.get("status"), r.get("rule")) if isinstance(r, dict) else type(r).__name__ for r in replies)
            print(f"[{self.now():6.1f} s] flood answered: {dict(statuses.most_common(6))}", flush=True)
        except Exception as exc:
            print(f"[{self.now():6.1f} s] flood interrupted: {exc!r}", flush=True)
        finally:
            await tab.close()

    async def settle_attempts(self) -> None:
        """Wait until no attempt is still recording or grading (the last coach calls may hang 10 s)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_TIMEOUT_S
        while loop.time() < deadline:
            if not self.attempt_statuses().get("recording") and not self.attempt_statuses().get("grading"):
                return
            await asyncio.sleep(0.5)

    def attempt_statuses(self) -> Counter:
        db = self.cluster.data_dir / "classroom.sqlite3"
        if not db.exists():
            db = next(self.cluster.data_dir.glob("*.sqlite*"), db)
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
                return Counter(dict(conn.execute("SELECT status, COUNT(*) FROM attempts GROUP BY status").fetchall()))
        except sqlite3.Error:
            return Counter()

    # --- the figures ------------------------------------------------------------------------------

    def fault_windows(self) -> list[tuple[float, float, str]]:
        """(start, end, name) of every fault, seconds from the start: a stall, a kill (until the restarted
        process is up), a drop or the flood as long as its injection ran; a coach mode until the next one."""
        faults, ends = self.samples.faults, self.samples.fault_ends + [self.now()] * len(self.samples.faults)
        out = []
        for i, (t, name) in enumerate(faults):
            if name == "coach_ok":
                continue
            end = ends[i]
            if name.startswith("coach_"):
                end = next((t2 for t2, n2 in faults[i + 1:] if n2.startswith("coach_")), self.duration)
            out.append((t, end, name))
        return out

    def report(self, codes: dict) -> int:
        for item in self.sdk_programs:  # the SDK kids' programs: each block answered, the last maybe not `done`
            for _ in range(int(item["done"])):
                key = self.ledger.sent("sdk", "block")
                self.ledger.answered(key, "server", "done")
            if item["outcome"] == "finished":
                continue
            key = self.ledger.sent("sdk", "block" if item.get("connected") else "run_start")
            if item["outcome"] == "no_answer":  # the SDK's own wait ran out: the kid got its "did not answer in time"
                self.ledger.answered(key, "client_timeout", item["status"])
            else:
                self.ledger.answered(key, "link_lost" if item["outcome"] == "link_lost" else "server", item["status"])
        s = self.ledger.summary(t0=self.t0, faults=self.fault_windows())
        attempts = self.attempt_statuses()
        started = sum(k.runs_started for k in self.kids)
        sdk_runs = sum(1 for p in self.sdk_programs if p.get("connected"))
        failed: list[str] = []
        print(f"\n== soak: {self.args.kids} kids, {self.args.kids} cars, {self.duration / 60:g} min, "
              f"{len(self.samples.faults)} faults; load average now {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        print(f"faults: {', '.join(f'{n}@{t:.0f}s' for t, n in self.samples.faults)}")
        print(f"\nrequests sent {s['sent']} (by front end {dict(s['by_front_end'])})")
        print(f"  final answers from the server {s['by_server']}, from the client on a dropped link {s['link_lost']}, "
              f"from the SDK's own timeout {s['client_timeout']}, still waiting {s['pending']}, LOST {s['lost']}, "
              f"second answers {s['duplicates']}")
        print(f"  server answers: {dict(s['statuses'].most_common())}")
        if s["lost"] or s["duplicates"] or s["pending"]:
            failed.append("requests")
            for item in s["lost_shown"]:
                print(f"  {item['state']}: {item['key']} ({item['front_end']} {item['kind']}) sent at {item['sent_s']:.1f} s; "
                      f"faults then or within {FAULT_NEAR_S:g} s: {', '.join(item['faults']) or 'none'}")
            for d in self.ledger.duplicates[:5]:
                print(f"  duplicate: {d}")
        finished = attempts.get("graded", 0) + attempts.get("interrupted", 0)
        total = sum(attempts.values())
        print(f"\nattempts: runs started on a lesson {started} (Blockly + Scratch) + {sdk_runs} SDK programs; "
              f"attempt rows {total}: graded {attempts.get('graded', 0)}, interrupted {attempts.get('interrupted', 0)}, "
              f"other {dict((k, v) for k, v in attempts.items() if k not in ('graded', 'interrupted'))}")
        lost_attempts = total - finished
        print(f"  attempts lost (not graded, not marked interrupted): {lost_attempts}")
        if lost_attempts:
            failed.append("attempts")
        print(f"  coach stand-in: {self.coach.requests_seen} requests, {self.coach.answered} answered")
        incarnations: dict[int, list[tuple[float, float, int]]] = {}
        for t, pid, rss, fds in self.samples.memory:
            incarnations.setdefault(pid, []).append((t, rss, fds))
        print(f"\nserver memory and file descriptors ({len(incarnations)} server processes: killed and restarted):")
        for pid, rows in incarnations.items():
            warm = [r for r in rows if r[0] - rows[0][0] >= min(30.0, (rows[-1][0] - rows[0][0]) / 4)] or rows
            print(f"  pid {pid}: {rows[0][0]:.0f}-{rows[-1][0]:.0f} s, RSS {warm[0][1]:.1f} -> {rows[-1][1]:.1f} MB "
                  f"(max {max(r[1] for r in rows):.1f}; growth after warm-up {rows[-1][1] - warm[0][1]:+.1f} MB), "
                  f"fds {warm[0][2]} -> {rows[-1][2]} (max {max(r[2] for r in rows)})")
        edges = [self.duration * i / WINDOWS for i in range(WINDOWS + 1)]
        probe = [(t - self.t0, ms) for t, ms in self.ledger.latencies(front_end="probe")]
        blocks = [(t - self.t0, ms) for t, ms in self.ledger.latencies(kind="block") if t - self.t0 >= 0]
        print(f"\nlatency per window (ms): reporter probe = the server's own answer time; block = sent -> car done")
        print(f"  {'window':>13} {'probe p50':>10} {'p99':>8} {'max':>8} {'n':>5} {'block p50':>10} {'p99':>8} "
              f"{'n':>5} {'health p99':>10}")
        series: dict[str, list[tuple[float, float]]] = {"p50 probe": [], "p99 probe": [], "p99 health": []}
        for a, b in zip(edges, edges[1:]):
            pw = [ms for t, ms in probe if a <= t < b]
            bw = [ms for t, ms in blocks if a <= t < b]
            hw = [ms for t, ms in self.samples.health_ms if a <= t < b]
            mid = (a + b) / 2
            if pw:
                series["p50 probe"].append((mid, pct(pw, 50)))
                series["p99 probe"].append((mid, pct(pw, 99)))
            if hw:
                series["p99 health"].append((mid, pct(hw, 99)))
            print(f"  {a:5.0f}-{b:5.0f} s {pct(pw, 50):10.1f} {pct(pw, 99):8.1f} {max(pw, default=float('nan')):8.1f} "
                  f"{len(pw):5d} {pct(bw, 50):10.0f} {pct(bw, 99):8.0f} {len(bw):5d} {pct(hw, 99):10.1f}")
        allp = [ms for _, ms in probe]
        print(f"  whole run: probe p50 {pct(allp, 50):.1f} ms, p99 {pct(allp, 99):.1f} ms, max {max(allp, default=0):.0f} ms "
              f"(n {len(allp)}); health checks that failed (server stalled or down) {self.samples.health_failures}")
        print(f"\nkids: programs run {sum(k.programs for k in self.kids)} (Blockly + Scratch) + {len(self.sdk_programs)} SDK; "
              f"reconnects {sum(k.reconnects for k in self.kids)}; SDK kids killed mid-program {self.sdk_killed}; "
              f"SDK outcomes {dict(Counter(p['outcome'] for p in self.sdk_programs))}")
        why = Counter(f"{p['outcome']}: {p['detail'][:70]}" for p in self.sdk_programs if p["outcome"] != "finished")
        for text, count in why.most_common(4):
            print(f"  SDK program ended early x{count}: {text}")
        print(f"exit codes at the end: {codes}; server starts {self.cluster.server_starts}")
        png = self.out / "soak.png"
        plot.draw(png, self.duration, series,
                  [(t, rss) for t, _, rss, _ in self.samples.memory], [(t, fds) for t, _, _, fds in self.samples.memory],
                  self.samples.faults, f"MIKRO-DOJO soak: {self.args.kids} kids, {self.duration / 60:g} min")
        print(f"plot: {png}")
        summary = {"requests": {k: (dict(v) if isinstance(v, Counter) else v) for k, v in s.items()},
                   "attempts": dict(attempts), "runs_started": started, "sdk_runs": sdk_runs,
                   "faults": self.samples.faults, "fault_windows": self.fault_windows(), "failed": failed, "sdk_programs": self.sdk_programs}
        (self.out / "soak.json").write_text(json.dumps(summary, indent=1))
        print("RESULT: " + ("every request answered exactly once, no attempt lost" if not failed
                            else f"FAILED: {', '.join(failed)}"))
        return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m stress.soak", description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES", 30)))
    p.add_argument("--kids", type=int, default=30, help="kids and cars (a third each: Blockly, Scratch, SDK)")
    p.add_argument("--car-rate", type=float, default=50.0, help="the cars' control-loop rate in Hz")
    p.add_argument("--seed", type=int, default=17)
    p.add_argument("--out", type=Path, default=REPO_ROOT / "artifacts" / "soak")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # python-socketio's client leaves its aiohttp session to the garbage collector when a connect fails
    # (the server is down): asyncio then logs "Unclosed client session" once per kid per retry.
    logging.getLogger("asyncio").addFilter(lambda record: "Unclosed client session" not in record.getMessage())
    with stopping_children():  # Ctrl-C or SIGTERM: the cluster and the SDK kids stop too
        return asyncio.run(Soak(args).run())


if __name__ == "__main__":
    sys.exit(main())
