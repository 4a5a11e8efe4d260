"""The classroom under test, as separate processes it can fault: the server exactly as `dojo server` runs
it, one killable `dojo car --sim` process, the rest of the cars in one fleet process (stress/car_fleet.py).

    cluster = Cluster(workdir, cars=30)
    cluster.start()              # server on a fixed free port (a restart comes back on the same URL)
    cluster.stall(5.0)           # SIGSTOP, wait, SIGCONT: the whole server stands still
    cluster.kill_server(); cluster.start_server()    # SIGKILL and a restart on the same data
    cluster.kill_car(); cluster.start_car()          # car-1's process, mid-skill

Tokens go to car processes through the environment (never argv, which `ps` shows to everyone).

The children run in sessions of their own (a stall or kill of one never reaches the others), so a Ctrl-C
in the terminal reaches only the soak or fuzz process: ``stopping_children()`` around its main makes
SIGTERM and SIGHUP a Ctrl-C too (the run's own cleanup stops the cluster) and, whatever happened, stops
every child still running before the process exits: no orphan server, car or kid is left behind.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
CLASS_CODE = "SOAK"
KILLABLE_CAR = "car-1"  # its own `dojo car --sim` process; the others share the fleet process

STARTUP_TIMEOUT_S = 120.0  # the server and 30 car runtimes importing pydantic/socketio on a busy 2-core box
HTTP_TIMEOUT_S = 10.0  # loopback HTTP under soak load (a stalled server is waited out by the caller)
STOP_TIMEOUT_S = 20.0  # SIGTERM -> exit; the server flushes its request log and closes attempts
POLL_S = 0.1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CHILDREN: list[subprocess.Popen] = []  # every child this process started: stopped on the way out
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def adopt(proc: subprocess.Popen) -> subprocess.Popen:
    """A child to stop when this process ends (by its end, an exception, Ctrl-C or SIGTERM)."""
    CHILDREN[:] = [c for c in CHILDREN if c.poll() is None]
    CHILDREN.append(proc)
    return proc


def spawn(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """A Python child whose output goes to a file (a pipe nobody drains would block it)."""
    return adopt(subprocess.Popen([sys.executable, *args], cwd=REPO_ROOT, stdout=open(log, "ab"),
                                  stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
                                  start_new_session=True))


@contextmanager
def stopping_children() -> Iterator[None]:
    """Around a soak's or fuzz's main: SIGTERM/SIGHUP act as Ctrl-C (asyncio.run cancels the run, whose own
    cleanup stops the cluster), and every child still running at the end is stopped (SIGTERM, then SIGKILL)."""
    previous = {sig: signal.signal(sig, lambda *_: signal.raise_signal(signal.SIGINT)) for sig in STOP_SIGNALS}
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with Ctrl-C ignored (a `&` job)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        try:
            for proc in list(CHILDREN):
                terminate(proc, STOP_TIMEOUT_S / 2)
            CHILDREN.clear()
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def wait_for_text(path: Path, proc: subprocess.Popen, text: str, timeout_s: float = STARTUP_TIMEOUT_S,
                  after: int = 0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if text.encode() in path.read_bytes()[after:]:  # bytes: `after` is a file size
            return
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[1:3]} exited ({proc.returncode}) before {text!r}: "
                               f"{path.read_text(errors='replace')[-3000:]}")
        time.sleep(POLL_S)
    raise RuntimeError(f"no {text!r} in {path} within {timeout_s} s")


def terminate(proc: subprocess.Popen | None, timeout_s: float = STOP_TIMEOUT_S) -> int | None:
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGCONT)  # a stalled process cannot handle SIGTERM
        except ProcessLookupError:
            pass
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


@dataclass
class Cluster:
    workdir: Path
    cars: int = 30
    car_rate_hz: float = 50.0
    coach_host: str | None = None
    coach_timeout_s: float = 10.0
    extra_cars: tuple[str, ...] = ()  # tokens configured for cars this cluster does not start (the fuzzer's car)
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_hex(8))
    tokens: dict[str, str] = field(default_factory=dict)
    server: subprocess.Popen | None = None
    car: subprocess.Popen | None = None
    fleet: subprocess.Popen | None = None
    server_starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.workdir / "server"

    def start(self) -> None:
        """A fresh classroom: the work dir (data, logs) of an earlier run is removed first."""
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir.mkdir(parents=True)
        self.tokens = {f"car-{i}": secrets.token_hex(16) for i in range(1, self.cars + 1)}
        self.tokens.update({car_id: secrets.token_hex(16) for car_id in self.extra_cars})
        # Every kid of the soak joins from this one computer, and scripted kids press the green flag as fast
        # as their cars finish: the join and run limits (tested in tests/server/test_floods.py) are lifted
        # so the soak measures what is lost, not what the limits refuse. Block limits stay (the flood fault).
        limits = {"joins_per_address_per_min": 10_000, "join_burst_per_address": 1000,
                  "joins_per_class_per_min": 10_000, "join_burst_per_class": 1000, "runs_per_s": 100, "run_burst": 1000}
        (self.workdir / "server.json").write_text(json.dumps({
            "teacher_password": self.password, "car_tokens": self.tokens, "default_class_code": CLASS_CODE,
            "rate_limits": limits}))
        self.start_server()
        self.start_car()
        fleet_tokens = {k: v for k, v in self.tokens.items() if k != KILLABLE_CAR and k not in self.extra_cars}
        if fleet_tokens:
            log = self.workdir / "fleet.out"
            self.fleet = spawn(["-m", "stress.car_fleet", "--server", self.url, "--rate", f"{self.car_rate_hz:g}"], log,
                               env={"DOJO_FLEET_TOKENS": json.dumps(fleet_tokens)})
            wait_for_text(log, self.fleet, "FLEET READY")
        self.wait_for_cars(self.cars)

    def start_server(self) -> None:
        log = self.workdir / "server.out"
        before = log.stat().st_size if log.exists() else 0
        env = {"DOJO_COACH_TIMEOUT_S": f"{self.coach_timeout_s:g}"}
        if self.coach_host:
            env["DOJO_OLLAMA_HOST"] = self.coach_host
        self.server = spawn(["-m", "dojo", "server", "--config", str(self.workdir / "server.json"), "--port",
                             str(self.port), "--data-dir", str(self.data_dir)], log, env=env)
        wait_for_text(log, self.server, "MIKRO-DOJO server on", after=before)
        self.server_starts += 1

    def start_car(self) -> None:
        log = self.workdir / f"{KILLABLE_CAR}.out"
        self.car = spawn(["-m", "dojo", "car", "--sim", "--name", KILLABLE_CAR, "--server", self.url,
                          "--rate", f"{self.car_rate_hz:g}"], log, env={"DOJO_CAR_TOKEN": self.tokens[KILLABLE_CAR]})

    def kill_car(self) -> None:
        if self.car is not None and self.car.poll() is None:
            self.car.kill()
            self.car.wait()

    def kill_server(self) -> None:
        if self.server is not None and self.server.poll() is None:
            os.kill(self.server.pid, signal.SIGKILL)
            self.server.wait()

    def stall(self, seconds: float) -> None:
        """The whole server process stands still (a GC storm, a swapped-out laptop, a debugger)."""
        assert self.server is not None
        os.kill(self.server.pid, signal.SIGSTOP)
        try:
            time.sleep(seconds)
        finally:
            os.kill(self.server.pid, signal.SIGCONT)

    def server_process(self) -> psutil.Process | None:
        try:
            return psutil.Process(self.server.pid) if self.server and self.server.poll() is None else None
        except psutil.NoSuchProcess:
            return None

    def health(self) -> dict:
        return requests.get(f"{self.url}/api/health", timeout=HTTP_TIMEOUT_S).json()

    def wait_for_cars(self, n: int, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        seen = -1
        while time.monotonic() < deadline:
            try:
                seen = self.health()["cars_connected"]
                if seen >= n:
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.25)
        raise RuntimeError(f"only {seen} of {n} cars connected within {timeout_s} s")

    def teacher(self) -> requests.Session:
        session = requests.Session()
        resp = session.post(f"{self.url}/api/teacher/login", json={"password": self.password}, timeout=HTTP_TIMEOUT_S)
        resp.raise_for_status()
        session.headers["X-CSRF-Token"] = resp.json()["csrf_token"]
        return session

    def stop(self) -> dict[str, int | None]:
        codes = {"fleet": terminate(self.fleet), KILLABLE_CAR: terminate(self.car)}
        codes["server"] = terminate(self.server)
        return codes
