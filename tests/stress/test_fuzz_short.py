"""`make fuzz`, the short version: a few thousand generated bad messages across /kid, /scratch/ble, /car,
connection handshakes and the HTTP API against a real server process: no crash, none unanswered, and no
state change from the refused ones (stress/fuzz.py compares snapshots around every window)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MESSAGES = 4000  # ~1 minute on a busy 2-core box; `make fuzz` sends 100,000
RUN_TIMEOUT_S = 400.0  # a server and two car runtimes starting, then the messages
pytestmark = pytest.mark.timeout(RUN_TIMEOUT_S + 60)


def test_thousands_of_bad_messages_crash_nothing_go_unanswered_and_change_nothing(tmp_path: Path) -> None:
    out = tmp_path / "fuzz"
    proc = subprocess.run([sys.executable, "-m", "stress.fuzz", "--messages", str(MESSAGES), "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    report = proc.stdout[-5000:] + proc.stderr[-3000:]
    assert proc.returncode == 0, report
    figures = json.loads((out / "fuzz.json").read_text())
    assert sum(figures["sent"].values()) >= MESSAGES * 0.95, report  # a few the client itself cannot encode
    assert set(figures["sent"]) == {"kid", "scratch", "car", "http", "handshake"}, report
    assert not figures["unanswered"] and not figures["crashes"] and not figures["state_changes"], report
    assert figures["windows_compared"] >= figures["windows_dirty"], report  # most windows were compared
