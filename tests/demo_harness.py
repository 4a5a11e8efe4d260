"""Shared test harness: a real `dojo demo` (server + simulated car processes) and kid helpers
(its fixtures are in tests/conftest.py; import helpers with `from demo_harness import ...`).

    def test_something(demo_server, join_kid, kid_socket):
        kid = join_kid(demo_server, "Mia")                 # POST /api/join -> {token, kid_id, car_id, ...}
        sio = kid_socket(demo_server, kid["token"])        # real socket.io client on /kid
        reply = sio.call("block", {"block": "move_forward", "args": {"distance": 10}},
                         namespace="/kid", timeout=BLOCK_TIMEOUT_S)

`demo_server` is module-scoped (one demo per test file: kids that join in one file never take cars
from another). For other sizes use `start_demo(tmp_dir, cars=N)` as a context manager.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
import socketio

REPO_ROOT = Path(__file__).resolve().parent.parent
CLASS_CODE = "DEMO"
READY_PREFIX = "MIKRO-DOJO READY "

READY_TIMEOUT_S = 60.0  # server + N car processes importing socketio/pydantic on a loaded 2-core box
STOP_TIMEOUT_S = 15.0  # the demo stops cars and reaps subprocesses in well under a second; 15 s is a hang
HTTP_TIMEOUT_S = 5.0  # loopback HTTP answers in milliseconds; seconds means the server is stuck
CONNECT_TIMEOUT_S = 5.0  # socket.io handshake on loopback
BLOCK_TIMEOUT_S = 30.0  # a block waits for the car to finish; the longest demo move is ~10 s


@dataclass
class DemoServer:
    base_url: str
    class_code: str
    teacher_password: str
    data_dir: Path
    process: subprocess.Popen
    cars: int
    output_lines: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "".join(self.output_lines)

    def url(self, path: str) -> str:
        return self.base_url + path


def _drain(stream, lines: list[str], ready: threading.Event, found: list[str]) -> None:
    """Read the demo's output to the end (a full pipe would block the demo) and spot READY."""
    for line in iter(stream.readline, ""):
        lines.append(line)
        if not found and line.startswith(READY_PREFIX):
            found.append(line[len(READY_PREFIX):].strip())
            ready.set()
    ready.set()  # EOF: the process ended (with or without READY)


def stop_demo(demo: DemoServer) -> int:
    """SIGTERM, wait for a clean exit; a demo that hangs is killed with its whole group and reported."""
    proc = demo.process
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise AssertionError(f"dojo demo ignored SIGTERM for {STOP_TIMEOUT_S} s; output:\n{demo.output[-4000:]}")
    return proc.returncode


@contextmanager
def start_demo(data_dir: Path, cars: int = 4, teacher_password: str | None = None,
               extra_args: tuple[str, ...] = ()) -> Iterator[DemoServer]:
    """Start `python -m dojo demo --port 0` and yield once it printed its READY line."""
    password = teacher_password or f"test-{secrets.token_hex(6)}"
    cmd = [sys.executable, "-m", "dojo", "demo", "--port", "0", "--cars", str(cars),
           "--data-dir", str(data_dir), "--teacher-password", password, "--no-open", *extra_args]
    proc = subprocess.Popen(
        cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,  # own process group; its car processes die with it (PR_SET_PDEATHSIG)
    )
    lines: list[str] = []
    ready, found = threading.Event(), []
    threading.Thread(target=_drain, args=(proc.stdout, lines, ready, found), daemon=True).start()
    demo = DemoServer("", CLASS_CODE, password, data_dir, proc, cars, lines)
    try:
        if not ready.wait(READY_TIMEOUT_S) or not found:
            raise AssertionError(
                f"dojo demo was not READY within {READY_TIMEOUT_S} s (exit code {proc.poll()}); "
                f"output:\n{demo.output[-4000:]}")
        demo.base_url = found[0]
        yield demo
    finally:
        if proc.poll() is None:
            stop_demo(demo)


# --- kids -------------------------------------------------------------------------------------


def join_kid_http(demo: DemoServer | str, name: str, class_code: str = CLASS_CODE) -> dict:
    """POST /api/join -> {token, kid_id, name, level, car_id, class_code}; raises with the server's text."""
    base = demo if isinstance(demo, str) else demo.base_url
    resp = requests.post(f"{base}/api/join", json={"class_code": class_code, "name": name}, timeout=HTTP_TIMEOUT_S)
    if resp.status_code != 200:
        raise AssertionError(f"join as {name!r} failed: HTTP {resp.status_code} {resp.text}")
    return resp.json()


def connect_kid_socket(demo: DemoServer | str, token: str, events: dict[str, Callable] | None = None) -> socketio.Client:
    """A real socket.io client on /kid (websocket transport), connected with the kid's token."""
    base = demo if isinstance(demo, str) else demo.base_url
    sio = socketio.Client(reconnection=False)
    for name, handler in (events or {}).items():
        sio.on(name, handler, namespace="/kid")
    sio.connect(base, namespaces=["/kid"], auth={"token": token}, transports=["websocket"],
                wait_timeout=CONNECT_TIMEOUT_S)
    return sio


# --- teacher ----------------------------------------------------------------------------------


def teacher_login(demo: DemoServer) -> requests.Session:
    """A logged-in teacher: session cookie plus the CSRF header every state-changing call needs."""
    session = requests.Session()
    resp = session.post(demo.url("/api/teacher/login"), json={"password": demo.teacher_password}, timeout=HTTP_TIMEOUT_S)
    if resp.status_code != 200:
        raise AssertionError(f"teacher login failed: HTTP {resp.status_code} {resp.text}")
    session.headers["X-CSRF-Token"] = resp.json()["csrf_token"]
    return session


def set_kid_level(demo: DemoServer, kid: dict, level: int, teacher: requests.Session | None = None) -> None:
    teacher = teacher or teacher_login(demo)
    resp = teacher.post(demo.url(f"/api/teacher/classes/{kid['class_code']}/kids/{kid['kid_id']}/level"),
                        json={"level": level}, timeout=HTTP_TIMEOUT_S)
    if resp.status_code != 200:
        raise AssertionError(f"setting level {level} for {kid['name']} failed: HTTP {resp.status_code} {resp.text}")


def wait_until(predicate: Callable[[], object], timeout_s: float, what: str, poll_s: float = 0.02):
    """Poll until predicate() is truthy; fail naming what we waited for (no bare sleeps in tests)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(poll_s)
