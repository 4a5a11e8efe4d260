"""`make soak` / `make fuzz` stopped by Ctrl-C or SIGTERM leave no process behind: the server, the car
runtimes and the kids run in sessions of their own (so a fault can stall or kill one), and the run stops
every one of them on its way out (stress/cluster.py stopping_children). Real processes, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
STARTUP_S = 180.0  # a server and two car runtimes importing pydantic/socketio on a busy 2-core box
EXIT_S = 60.0  # the run's clean-up: SIGTERM to each child, SIGKILL after 10 s
pytestmark = pytest.mark.timeout(STARTUP_S + 2 * EXIT_S + 30)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_fuzz_run_stopped_by_a_signal_leaves_no_child_running(tmp_path: Path, sig: signal.Signals) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "stress.fuzz", "--messages", "1000000", "--out", str(tmp_path / "fuzz")],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    children: set[int] = set()
    try:
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline and proc.poll() is None:  # the server, car-1 and the fleet
            children |= {c.pid for c in psutil.Process(proc.pid).children(recursive=True)}
            if len(children) >= 3 and (tmp_path / "fuzz" / "run").is_dir():
                break
            time.sleep(0.2)
        assert proc.poll() is None and len(children) >= 3, f"the fuzz run did not start its cluster: {children}"
        time.sleep(2.0)  # mid-run: messages are flowing
        children |= {c.pid for c in psutil.Process(proc.pid).children(recursive=True)}
        proc.send_signal(sig)
        proc.wait(timeout=EXIT_S)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and any(_alive(pid) for pid in children):
            time.sleep(0.1)
        assert not [pid for pid in children if _alive(pid)], "children left running after the run stopped"
        assert proc.returncode != 0  # an interrupted run is not a passed one
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in children:  # never leave them to the next test, whatever happened
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
