"""`make soak`, the 2-minute version: 30 kids (Blockly, Scratch-Link, SDK) on 30 real simulated car runtimes
with every fault of the schedule once (car killed mid-skill, server stalled 1 s and 5 s, server killed and
restarted, kids dropping, coach slow/down/hanging, a flood). The promises, from the soak's own figures:
every request has exactly one final answer, no attempt is lost (each is graded or marked interrupted),
the server ran again after the kill, and the plot was drawn."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOAK_MINUTES = 2.0  # the CI version of the 30-minute soak
RUN_TIMEOUT_S = 900.0  # 2 minutes of soak + starting 30 car runtimes + a server restart + settling, on a busy box
pytestmark = [pytest.mark.slow, pytest.mark.timeout(RUN_TIMEOUT_S + 60)]


def test_a_two_minute_soak_with_faults_loses_no_request_and_no_attempt(tmp_path: Path) -> None:
    out = tmp_path / "soak"
    proc = subprocess.run([sys.executable, "-m", "stress.soak", "--minutes", str(SOAK_MINUTES), "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    report = proc.stdout[-6000:] + proc.stderr[-3000:]
    assert proc.returncode == 0, report
    figures = json.loads((out / "soak.json").read_text())
    req = figures["requests"]
    assert req["sent"] > 300 and req["lost"] == 0 and req["duplicates"] == 0 and req["pending"] == 0, report
    assert req["by_server"] + req["link_lost"] + req["client_timeout"] == req["sent"], report
    assert set(req["by_front_end"]) >= {"blockly", "scratch", "sdk", "flood", "probe"}, report
    attempts = figures["attempts"]
    assert attempts.get("graded", 0) > 0, report
    assert sum(attempts.values()) == attempts.get("graded", 0) + attempts.get("interrupted", 0), report
    assert {name for _, name in figures["faults"]} >= {"car_kill", "stall_1s", "stall_5s", "server_kill", "kids_drop",
                                                       "flood", "coach_slow", "coach_down", "coach_hang"}, report
    assert "server starts 2" in proc.stdout, report
    assert (out / "soak.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
