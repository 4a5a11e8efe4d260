"""Harness for the several-processes tests: a real redis-server, real `dojo server` processes sharing it and
one database, real `dojo car --sim` processes, real socket.io clients. Everything started here is stopped
here, also when a test fails.

    with redis_server(tmp_path) as url, cluster(tmp_path, url, 3) as (a, b, c):
        car = start_car(tmp_path, "car-1", [b.url, c.url])
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

REPO = Path(__file__).resolve().parents[3]
CLASS = "CLU"
PASSWORD = "teacher-pass-123"
START_S = 30.0  # a server process imports the whole app (~3 s here) on a busy two-core machine
REDIS_START_S = 10.0


def token_for(car_id: str) -> str:
    return f"pair-{car_id}-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def need_redis_server() -> str:
    """The redis-server binary; under CI=true a missing one fails the test (make redis / .ci/run install it)."""
    path = shutil.which("redis-server")
    if path is None:
        message = "redis-server is missing: apt-get install redis-server (`make redis` does it)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message + " — CI=true: the cluster tests must run, never skip")
        pytest.skip(message)
    return path


@contextlib.contextmanager
def redis_server(tmp_path: Path) -> Iterator[str]:
    """A throwaway redis-server on a free port, no persistence; yields its URL."""
    binary = need_redis_server()
    port = free_port()
    log = open(tmp_path / "redis.log", "w")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + REDIS_START_S
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start: {(tmp_path / 'redis.log').read_text()[-500:]}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(proc)
        log.close()


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "PYTHONUNBUFFERED": "1"}


def _stop(proc: subprocess.Popen, timeout_s: float = 10.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class ServerProcess:
    name: str
    port: int
    proc: subprocess.Popen
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/api/health", timeout=2) as resp:
            return json.loads(resp.read())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


def write_config(tmp_path: Path, cars: list[str], database: str | None = None, **extra: Any) -> Path:
    """One config for every process: one data folder (the kid-token key), one database (None: the SQLite
    file in that folder, shared in WAL mode; else a PostgreSQL URL)."""
    config = {"teacher_password": PASSWORD, "car_tokens": {c: token_for(c) for c in cars},
              "default_class_code": CLASS, "data_dir": str(tmp_path / "data"), **extra}
    if database:
        config["database"] = database
    path = tmp_path / "classroom.json"
    path.write_text(json.dumps(config))
    (tmp_path / "data").mkdir(exist_ok=True, mode=0o700)
    (tmp_path / "data" / "coach.json").write_text(json.dumps({"enabled": False}))  # no Ollama: checks-only feedback
    return path


def start_server(tmp_path: Path, name: str, config: Path, redis_url: str | None) -> ServerProcess:
    port = free_port()
    log_path = tmp_path / f"server-{name}.log"
    args = [sys.executable, "-m", "server.main", "--port", str(port), "--config", str(config)]
    if redis_url:
        args += ["--redis", redis_url]
    proc = subprocess.Popen(args, cwd=REPO, env=_env(), stdout=open(log_path, "w"), stderr=subprocess.STDOUT)
    server = ServerProcess(name, port, proc, log_path)
    deadline = time.monotonic() + START_S
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server {name} exited: {server.log()}")
        try:
            server.health()
            return server
        except OSError:
            if time.monotonic() > deadline:
                _stop(proc)
                raise RuntimeError(f"server {name} did not start within {START_S} s: {server.log()}")
            time.sleep(0.1)


@contextlib.contextmanager
def cluster(tmp_path: Path, redis_url: str | None, names: list[str], cars: list[str],
            database: str | None = None) -> Iterator[list[ServerProcess]]:
    """Server processes started one after another (the first makes the schema), all stopped at the end."""
    config = write_config(tmp_path, cars, database)
    servers: list[ServerProcess] = []
    try:
        for name in names:
            servers.append(start_server(tmp_path, name, config, redis_url))
        yield servers
    finally:
        for server in servers:
            _stop(server.proc)


@dataclass
class CarProcess:
    car_id: str
    proc: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]


@contextlib.contextmanager
def car(tmp_path: Path, car_id: str, urls: list[str]) -> Iterator[CarProcess]:
    """`dojo car --sim` dialling these server URLs in turn."""
    token_file = tmp_path / f"{car_id}.token"
    token_file.write_text(token_for(car_id))
    log_path = tmp_path / f"car-{car_id}.log"
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from dojo.cli import main; sys.exit(main(sys.argv[1:]))",
                             "car", "--sim", "--name", car_id, "--server", ",".join(urls), "--token-file", str(token_file)],
                            cwd=REPO, env=_env(), stdout=open(log_path, "w"), stderr=subprocess.STDOUT)
    try:
        yield CarProcess(car_id, proc, log_path)
    finally:
        _stop(proc)


async def wait_until(check: Callable[[], Any], what: str, timeout_s: float = 15.0, every_s: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = check()
        except OSError:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(every_s)


@dataclass
class Recorder:
    """Collects socket.io events by name."""

    events: dict[str, list[Any]] = field(default_factory=dict)

    def handler(self, name: str) -> Callable[[Any], None]:
        return lambda data=None: self.events.setdefault(name, []).append(data)

    def of(self, name: str) -> list[Any]:
        return self.events.get(name, [])
