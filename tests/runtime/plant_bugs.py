"""Plant each bug the car-safety review found, one at a time, and show which tests catch it.

    .venv/bin/python tests/runtime/plant_bugs.py            # every bug; prints a table
    .venv/bin/python tests/runtime/plant_bugs.py steering   # the bugs whose name contains "steering"

Each bug is a small text patch to a copy of robot_runtime/ (and server/ for the e-stop delivery) in a
temporary directory; pytest runs the named test files with that copy first on the path (the real tree is
never touched). A bug the tests miss makes the script exit 1. Not part of the default test run: it runs
the suite once per bug (a few minutes in all).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PER_BUG_TIMEOUT_S = 600  # one pytest run over a handful of test files


@dataclass(frozen=True)
class Bug:
    name: str
    what: str  # the finding it re-creates
    file: str  # relative to the repo root
    old: str
    new: str
    tests: tuple[str, ...]  # test files to run (relative to tests/)
    more: tuple[tuple[str, str, str], ...] = ()  # further (file, old, new) patches of the same bug


RT = "runtime/"
NB = (RT + "test_neighbours_properties.py", RT + "test_neighbours_runtime.py")
BUGS = [
    Bug("steering_unlimited", "1: the fence caps throttle but never steering", "robot_runtime/safety.py",
        "            if not moving.stoppable:\n                s_lim", "            if False:\n                s_lim",
        (RT + "test_safety_properties.py", RT + "test_safety_closed_loop.py", RT + "test_fence_steering.py")),
    Bug("slide_ignored", "1: the fence ignores sideways motion and slip", "robot_runtime/fence_guard.py",
        "        slide = _slide_per_cm(state)\n", "        slide = 0.0\n",
        (RT + "test_fence_steering.py", RT + "test_safety_closed_loop.py")),
    Bug("server_arena_replaces_own", "2: a server arena replaces the car's own", "robot_runtime/runtime.py",
        "        fenced = arena if self.own_arena is None else bounded_by(arena, self.own_arena)",
        "        fenced = arena", (RT + "test_arena_bound.py",)),
    Bug("no_deadman", "3: nothing guards a stalled loop", "robot_runtime/deadman.py",
        "                    if wait <= 0.0:\n                        trip =", "                    if False:\n                        trip =",
        (RT + "test_deadman.py",)),
    Bug("stale_command_applied", "3: a command computed before a stall reaches the motors", "robot_runtime/deadman.py",
        "            if self._estop is not None or self._trip is not None:\n                held = True\n            elif now - computed_at",
        "            if self._estop is not None:\n                held = True\n            elif False and now - computed_at",
        (RT + "test_deadman.py",)),
    Bug("estop_waits_for_loop", "3: the e-stop is handled on the loop's thread only", "robot_runtime/runtime.py",
        "        self.deadman.latch_estop(reason)  # neutral right now", "        pass  # neutral right now",
        (RT + "test_deadman.py", RT + "test_estop.py")),
    Bug("stall_blamed_on_link", "3: a stall is reported as a lost link", "robot_runtime/loop.py",
        "            self.executor.car_fault(detail, now)", "            self.executor.link_lost(now)",
        (RT + "test_deadman.py",)),
    Bug("session_starts_open", "4: session limits start at 100 %", "robot_runtime/safety.py",
        "PRE_SESSION_LIMITS = SessionLimits(max_speed_pct=30, allowed_skills=[], level=1)",
        "PRE_SESSION_LIMITS = SessionLimits()", (RT + "test_safety_properties.py", RT + "test_fail_closed.py")),
    Bug("skills_before_limits", "4: skills are accepted before any limits arrive", "robot_runtime/executor.py",
        "        if self.needs_limits and not self.supervisor.session_received",
        "        if False and not self.supervisor.session_received", (RT + "test_fail_closed.py",)),
    Bug("watchdog_off_in_realtime", "4: watchdog: false is allowed on a real-time car", "robot_runtime/config.py",
        '        if self.mode == "realtime" and not self.watchdog:', "        if False:",
        (RT + "test_fail_closed.py", RT + "test_loop.py")),
    Bug("realtime_loop_without_watchdog", "4: the real-time loop runs with its watchdog off", "robot_runtime/loop.py",
        "        if not self.supervisor.watchdog.enabled:\n            raise", "        if False:\n            raise",
        (RT + "test_loop.py",)),
    Bug("reaction_unchecked", "4: reaction_s is not checked against the tick period", "robot_runtime/config.py",
        "        if self.limits.reaction_s + 1e-9 < need:", "        if False:", (RT + "test_fail_closed.py",)),
    Bug("slew_uncapped_dt", "4: slew limits scale with an uncapped dt", "robot_runtime/safety.py",
        "min(SLEW_DT_MAX_S, max(0.0, now - self._prev_now))", "max(0.0, now - self._prev_now)",
        (RT + "test_safety_properties.py", RT + "test_fail_closed.py")),
    Bug("dead_sensor_is_open_space", "4: a dead or NaN distance sensor counts as open space", "robot_runtime/safety.py",
        "        if state.distance_fault is not None or (d is not None and not math.isfinite(d)):",
        "        if d is not None and not math.isfinite(d):\n            return math.inf, math.inf\n        if False:",
        (RT + "test_safety_properties.py", RT + "test_fail_closed.py")),
    Bug("reverse_uncapped", "4: reversing has no cap of its own", "robot_runtime/safety.py",
        "            max_reverse=min(hard.max_speed_pct, hard.max_reverse_pct, session.max_speed_pct) / 100.0,",
        "            max_reverse=min(hard.max_speed_pct, session.max_speed_pct) / 100.0,",
        (RT + "test_safety_properties.py", RT + "test_fail_closed.py")),
    Bug("one_nan_pose_stops", "4: one NaN pose sample ends the run", "robot_runtime/loop.py",
        "        if self._bad_run >= BAD_STATE_RUN or good is None:", "        if True:", (RT + "test_fail_closed.py",)),
    Bug("nan_pose_drives_on", "4: a run of bad pose samples does not stop the car", "robot_runtime/safety.py",
        "        pose_cap = 0.0 if not pose_ok else math.inf", "        pose_cap = math.inf",
        (RT + "test_safety_properties.py", RT + "test_fail_closed.py")),
    Bug("zone_stays_open", "5: a closed zone stays open once the car started inside it", "robot_runtime/fence_guard.py",
        "            if left:\n", "            if False:\n", (RT + "test_arena_bound.py",)),
    Bug("latch_in_memory", "5: the e-stop latch lives only in memory", "robot_runtime/estop_latch.py",
        "        if self.path is None or not self.path.exists():\n            return None",
        "        if True:\n            return None", (RT + "test_estop.py",)),
    Bug("estop_plain_emit", "5: the server's e-stop is a plain emit, no ack, no retry", "server/cars/estop_delivery.py",
        "                if isinstance(ack, dict) and ack.get(\"ok\"):", "                if True:",
        ("server/cars/test_estop_delivery.py",)),
    Bug("policy_shadows_builtin", "5: a policy may take a built-in skill's name", "robot_runtime/policy.py",
        "    if manifest.name in RESERVED_NAMES:", "    if False:", (RT + "test_policy.py",)),
    Bug("too_fast_not_zero", "the already-too-fast-to-stop car keeps its throttle", "robot_runtime/fence_guard.py",
        "/ top if stoppable else 0.0", "/ top", (RT + "test_safety_properties.py", RT + "test_fence_steering.py"),
        more=(("robot_runtime/safety.py", "                    check = FenceCheck(0.0, moving.clear, False)",
               "                    pass"),)),
    Bug("estop_not_immediate", "e-stop waits for the next tick instead of stopping the hardware at once",
        "robot_runtime/deadman.py", "        with self._lock:\n            self._estop = reason\n        self._stop_hardware()",
        "        with self._lock:\n            self._estop = reason", (RT + "test_estop.py",)),
    Bug("malformed_reset_resets", "a malformed reset_estop resets the latch", "robot_runtime/runtime.py",
        "        if bad:\n            return bad  # a reset must be deliberate", "        if False:\n            return bad  # a reset",
        (RT + "test_estop.py",)),
    Bug("no_inference_deadline", "ONNX inference has no deadline", "robot_runtime/policy.py",
        "            return self._pending.result(timeout=self.deadline_s if deadline_s is None else deadline_s)",
        "            return self._pending.result()",
        (RT + "test_policy.py",)),
    # Cars that see each other (issue 18): other cars as moving obstacles.
    Bug("neighbours_not_avoided", "the neighbours message is stored but the fence never sees it", "robot_runtime/safety.py",
        "            self.fence.moving, inside_cars = self.neighbours.segments(",
        "            _ignored, inside_cars = self.neighbours.segments(", NB),
    Bug("neighbour_velocity_ignored", "other cars are avoided where they were, not where they are going",
        "robot_runtime/neighbours.py", "    dx, dy = car.vx_cm_s * ahead, car.vy_cm_s * ahead",
        "    dx, dy = 0.0, 0.0", NB),
    Bug("stale_neighbour_not_grown", "a stale pose is used as if it were fresh", "robot_runtime/neighbours.py",
        "    grow = min(MAX_GROW_CM, car.uncertainty_cm + STRAY_CM_S2 * age_s * age_s / 2.0)",
        "    grow = min(MAX_GROW_CM, car.uncertainty_cm)", NB,
        more=(("robot_runtime/neighbours.py", "    ahead = age_s + horizon_s", "    ahead = horizon_s"),)),
    Bug("stale_neighbour_dropped", "a neighbour with no news for a while is forgotten", "robot_runtime/neighbours.py",
        "            age = n.age(now)\n", "            age = n.age(now)\n            if age > STALE_S:\n                continue\n",
        NB),
]


def plant(bug: Bug, into: Path) -> None:
    for pkg in ("robot_runtime", "server"):
        shutil.copytree(ROOT / pkg, into / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    for file, old, new in ((bug.file, bug.old, bug.new), *bug.more):
        path = into / file
        text = path.read_text(encoding="utf-8")
        if text.count(old) != 1:
            raise SystemExit(f"{bug.name}: the patch no longer applies to {file} (found {text.count(old)}x)")
        path.write_text(text.replace(old, new), encoding="utf-8")


def run(bug: Bug) -> tuple[list[str], str]:
    with tempfile.TemporaryDirectory(prefix=f"bug-{bug.name}-") as tmp:
        plant(bug, Path(tmp))
        env = {**__import__("os").environ, "PYTHONPATH": tmp, "PYTHONDONTWRITEBYTECODE": "1"}
        cmd = [str(ROOT / ".venv/bin/pytest"), "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-x",
               "--hypothesis-seed=0", *(str(ROOT / "tests" / t) for t in bug.tests)]
        proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=PER_BUG_TIMEOUT_S)
    failed = re.findall(r"^FAILED \S*?([^/\s]+\.py::\S+)", proc.stdout, re.M)
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-300:]
    return failed, tail


def main(argv: list[str]) -> int:
    chosen = [b for b in BUGS if not argv or any(a in b.name for a in argv)]
    missed = []
    print(f"{'bug':32} {'finding':58} caught by")
    for bug in chosen:
        failed, tail = run(bug)
        caught = ", ".join(failed) or f"NOT CAUGHT ({tail})"
        if not failed:
            missed.append(bug.name)
        print(f"{bug.name:32} {bug.what[:58]:58} {caught}", flush=True)
    if missed:
        print(f"\n{len(missed)} planted bug(s) not caught: {', '.join(missed)}")
        return 1
    print(f"\nall {len(chosen)} planted bugs caught")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
