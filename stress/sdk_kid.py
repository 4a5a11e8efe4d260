"""One SDK kid for the soak, in a process of its own: picks a lesson, runs the lesson's Python twin
(`lessons/level-N/<id>.py`, exactly what Blockly's "export to Python" gives) with the `dojo` SDK, again
and again until told to stop (SIGTERM), or until killed (the soak's "kid drops" fault for SDK kids).

    python -m stress.sdk_kid --server URL --class-code SOAK --name Sam --lessons l1-wake-up,l1-square-dance

Each program runs as a script (`runpy`, `__main__` is the script, so the SDK sends its text as the run's
program). One JSON line per program on stdout:

    {"t0": ..., "t1": ..., "lesson": id, "done": n, "outcome": "finished|refused|failed|stopped|link_lost|no_answer",
     "status": the reply's status, "detail": "..."}

`done` counts the blocks the car finished (the SDK narrates one "- done" line for each); the outcome is the
final answer of the block that ended the program early, if one did. A block the SDK itself timed out
("did not answer in time") is `no_answer`: a lost request.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import io
import json
import random
import runpy
import signal
import sys
import tempfile
import time
from pathlib import Path

import requests

import dojo
from curriculum.loader import load_lessons

BETWEEN_RUNS_S = (0.5, 2.0)
HTTP_TIMEOUT_S = 10.0
RETRY_S = 1.0  # the classroom is restarting: try again after this


def outcome_of(exc: BaseException | None) -> tuple[str, str, str]:
    if exc is None:
        return "finished", "done", ""
    detail = getattr(exc, "detail", "") or str(exc)
    if isinstance(exc, dojo.ConnectionError):
        return "link_lost", "link_lost", detail
    status = getattr(exc, "status", "failed")
    if isinstance(exc, dojo.CarError) and status == "timed_out" and "no reply to" in detail:
        return "no_answer", status, detail
    if isinstance(exc, dojo.Refused):
        return "refused", status, detail
    if isinstance(exc, dojo.Stopped):
        return "stopped", status, detail
    return "failed", status, detail


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m stress.sdk_kid")
    p.add_argument("--server", required=True)
    p.add_argument("--class-code", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--lessons", required=True)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    rng = random.Random(args.seed)
    lesson_set, _ = load_lessons(strict=False)
    ids = args.lessons.split(",")
    workdir = Path(tempfile.mkdtemp(prefix=f"sdk-kid-{args.name}-"))
    while not stop:
        lesson_id = rng.choice(ids)
        source = lesson_set.lessons[lesson_id].python_path().read_text(encoding="utf-8")
        script = workdir / f"{lesson_id}.py"
        script.write_text(source.replace("http://127.0.0.1:8080", args.server)
                          .replace('class_code="DEMO"', f'class_code="{args.class_code}"')
                          .replace('name="Kid"', f'name="{args.name}"'), encoding="utf-8")
        try:  # the kid picks the lesson in the editor first (the SDK itself has no lesson picker)
            joined = requests.post(f"{args.server}/api/join", json={"class_code": args.class_code, "name": args.name,
                                                                     "rejoin": True}, timeout=HTTP_TIMEOUT_S).json()
            requests.post(f"{args.server}/api/lessons/select", json={"lesson_id": lesson_id},
                          headers={"Authorization": f"Bearer {joined['token']}"}, timeout=HTTP_TIMEOUT_S).raise_for_status()
        except (requests.RequestException, KeyError, ValueError):
            time.sleep(RETRY_S)
            continue
        narration = io.StringIO()
        error: BaseException | None = None
        t0 = time.monotonic()
        try:
            with contextlib.redirect_stdout(narration):
                runpy.run_path(str(script), run_name="__main__")
        except dojo.DojoError as exc:
            error = exc
        t1 = time.monotonic()
        atexit._run_exitfuncs()  # what the end of `python script.py` does: the SDK stops and closes its car
        outcome, status, detail = outcome_of(error)
        connected = "drives" in narration.getvalue()
        print(json.dumps({"t0": t0, "t1": t1, "lesson": lesson_id, "done": narration.getvalue().count(" - done"),
                          "outcome": outcome, "status": status, "detail": detail[:200], "connected": connected}),
              flush=True)
        if outcome == "link_lost":
            time.sleep(RETRY_S)
        else:
            time.sleep(rng.uniform(*BETWEEN_RUNS_S))
    return 0


if __name__ == "__main__":
    sys.exit(main())
