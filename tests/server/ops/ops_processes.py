"""Real `dojo server` and `dojo car --sim` processes for the operations tests (drain, nginx).

    with ServerFleet(tmp_path) as fleet:          # from ops_processes import ServerFleet
        server = fleet.server(config={...})           # `python -m dojo server --config ... --port 0`
        fleet.car(server.base_url, "car-1")          # `python -m dojo car --sim --name car-1`

Every process started here is in its own process group and is stopped (SIGTERM, then SIGKILL) when the
fleet closes, also when a test fails.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
START_TIMEOUT_S = 30.0  # importing the server on a loaded 2-core box takes a few seconds
STOP_TIMEOUT_S = 10.0
SERVER_LINE = re.compile(r"MIKRO-DOJO server on (http://\S+)")
CAR_TOKEN = "car-token-0123456789abcdef"


@dataclass
class Proc:
    process: subprocess.Popen
    lines: list[str] = field(default_factory=list)
    base_url: str = ""

    @property
    def output(self) -> str:
        return "".join(self.lines)

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _read(proc: Proc, seen: threading.Event, pattern: re.Pattern | None) -> None:
    for line in iter(proc.process.stdout.readline, ""):
        proc.lines.append(line)
        if pattern is not None and not proc.base_url and (m := pattern.search(line)):
            proc.base_url = m.group(1)
            seen.set()
    seen.set()


def base_config(data_dir: Path, **extra: object) -> dict:
    """One class (DEMO), a teacher password and one car token every process of a pool shares."""
    return {"data_dir": str(data_dir), "default_class_code": "DEMO", "teacher_password": "teach-1234",
            "car_tokens": {f"car-{i}": CAR_TOKEN for i in range(1, 4)}, "secret_key": "k" * 32, **extra}


class ServerFleet:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: list[Proc] = []

    def __enter__(self) -> "ServerFleet":
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in reversed(self.procs):
            stop(proc)

    def _spawn(self, cmd: list[str], env: dict[str, str] | None = None, pattern: re.Pattern | None = None) -> Proc:
        process = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   bufsize=1, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
                                   start_new_session=True)
        proc = Proc(process)
        self.procs.append(proc)
        seen = threading.Event()
        threading.Thread(target=_read, args=(proc, seen, pattern), daemon=True).start()
        if pattern is not None and (not seen.wait(START_TIMEOUT_S) or not proc.base_url):
            raise AssertionError(f"{' '.join(cmd[2:5])} did not start within {START_TIMEOUT_S} s "
                                 f"(exit {process.poll()}):\n{proc.output[-3000:]}")
        return proc

    def server(self, config: dict, port: int = 0, extra_args: tuple[str, ...] = ()) -> Proc:
        path = self.tmp / f"server-{len(self.procs)}.json"
        path.write_text(json.dumps(config))
        return self._spawn([sys.executable, "-m", "dojo", "server", "--config", str(path), "--port", str(port),
                            *extra_args], pattern=SERVER_LINE)

    def car(self, server_url: str, car_id: str) -> Proc:
        return self._spawn([sys.executable, "-m", "dojo", "car", "--sim", "--name", car_id, "--server", server_url],
                           env={"DOJO_CAR_TOKEN": CAR_TOKEN})


def stop(proc: Proc) -> int:
    """SIGTERM, then SIGKILL for the whole group if it does not go."""
    process = proc.process
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            pass
    return process.returncode


