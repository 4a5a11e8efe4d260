"""A server process freezes what start-up built and collects its young objects less often
(server/runner.py freeze_startup_objects), in its own process as `dojo server` does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_after_start_up_the_collector_skips_the_frozen_app_and_runs_less_often():
    code = ("import gc, json; import server.app; from server.runner import GC_THRESHOLDS, freeze_startup_objects; "
            "before = gc.get_threshold(); freeze_startup_objects(); "
            "print(json.dumps([before, gc.get_threshold(), list(GC_THRESHOLDS), gc.get_freeze_count()]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120, check=True)
    before, after, wanted, frozen = json.loads(out.stdout.strip().splitlines()[-1])
    assert after == wanted and after[0] > before[0]
    assert frozen > 10_000  # the imported server (modules, schemas) is out of every collection
