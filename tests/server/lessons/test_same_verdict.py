"""Same program, same verdict, whatever the front end: each lesson's reference solution, run as a kid runs
it in Scratch (a headless scratch-vm with the served extension, over /scratch/ble), in Blockly (headless
Blockly's JavaScript with the app's runner, over /kid) and in Python (the Blockly app's "Export to Python",
run with the dojo SDK), against one real classroom server, gets the same grade: the same stars and the
same result for every check. Each kid drives a fast simulated car (tests/server/fast_car.py: the real car
runtime, its clock jumping through each skill), so the whole course takes seconds, not minutes."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from core_harness import CLASS, Srv, classroom_server, token_for
from curriculum.loader import default_lessons
from fast_car import FastSimCar
from server.core.config import RateLimits

REPO = Path(__file__).resolve().parents[3]
RUNNER = REPO / "tests" / "node" / "helpers" / "front_end_runner.mjs"
KIDS = {"scratch": "Scratchy", "blockly": "Blocky", "python": "Pyra"}
LINE_TIMEOUT_S = 90.0  # one lesson through a front end: its blocks on a fast car, then grading
GRADED_TIMEOUT_S = 60.0
POLL_S = 0.1
LESSONS = sorted(default_lessons().lessons.values(), key=lambda item: (item.lesson.level, item.lesson.order))

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


class NodeFrontEnd:
    """A front_end_runner.mjs process: one JSON line in per lesson, one JSON line out."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> "NodeFrontEnd":
        self.proc = await asyncio.create_subprocess_exec(
            "node", str(RUNNER), *self.args, cwd=str(REPO), stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        assert await self.read() == "ready", f"{self.args[0]} runner did not start"
        return self

    async def read(self) -> Any:
        assert self.proc and self.proc.stdout
        line = await asyncio.wait_for(self.proc.stdout.readline(), LINE_TIMEOUT_S)
        if not line:
            err = await self.proc.stderr.read() if self.proc.stderr else b""
            raise AssertionError(f"{self.args[0]} runner stopped: {err.decode()[-3000:]}")
        return json.loads(line)

    async def ask(self, job: dict[str, Any]) -> dict[str, Any]:
        assert self.proc and self.proc.stdin
        self.proc.stdin.write((json.dumps(job) + "\n").encode())
        await self.proc.stdin.drain()
        out = await self.read()
        assert "error" not in out, out["error"]
        return out

    async def close(self) -> None:
        if self.proc and self.proc.returncode is None:
            self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except asyncio.TimeoutError:
                self.proc.kill()


async def python_front_end(srv: Srv, kid: dict[str, Any], lesson_id: str, script: Path) -> dict[str, Any]:
    """Pick the lesson and run the exported script the way a kid does: `python <file>`."""
    bearer = {"Authorization": f"Bearer {kid['token']}"}
    async with srv.http.post(f"{srv.url}/api/lessons/select", json={"lesson_id": lesson_id}, headers=bearer) as r:
        assert r.status == 200, await r.text()
    proc = await asyncio.create_subprocess_exec(sys.executable, str(script), cwd=str(REPO),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), LINE_TIMEOUT_S)
    assert proc.returncode == 0, (out + err).decode()[-3000:]
    deadline = time.monotonic() + GRADED_TIMEOUT_S
    while time.monotonic() < deadline:
        async with srv.http.get(f"{srv.url}/api/attempts?lesson={lesson_id}", headers=bearer) as r:
            graded = [a for a in (await r.json())["attempts"] if a["status"] == "graded"]
        if graded:
            async with srv.http.get(f"{srv.url}/api/attempts/{graded[0]['attempt_id']}", headers=bearer) as r:
                fb = (await r.json())["feedback"]
            return {"lesson_id": lesson_id, "stars": fb["stars"], "passed": fb["passed"],
                    "checks": {c["id"]: c["passed"] for c in fb["checks"]}, "said": [c["kid_text"] for c in fb["checks"]]}
        await asyncio.sleep(POLL_S)
    raise AssertionError(f"the Python run of {lesson_id} was never graded")


async def test_every_lessons_reference_solution_gets_the_same_verdict_in_scratch_blockly_and_python(tmp_path):
    car_of = {front: f"car-{front}" for front in KIDS}
    # A fast car answers a move in milliseconds, so a loop of small moves (and 13 lessons run back to back
    # by one kid) would trip the per-kid block and run limits that real cars and kids never reach; this
    # test is about grades, so the limits are lifted (they have their own tests: tests/server/test_floods.py).
    unlimited = RateLimits(blocks_per_s=1000, burst=10_000, runs_per_s=100, run_burst=1000)
    async with classroom_server(tmp_path, extra_cars=list(car_of.values()), auto_assign_cars=False,
                                rate_limits=unlimited) as srv:
        cars = [await FastSimCar(srv.url, car, token_for(car), srv.classroom.default_arena).start()
                for car in car_of.values()]
        teacher = await srv.teacher()
        runners: list[NodeFrontEnd] = []
        try:
            kids = {front: await srv.join(name) for front, name in KIDS.items()}
            for front, kid in kids.items():
                status, body = await teacher.post(f"/api/teacher/cars/{car_of[front]}/assign", {"kid_ids": [kid["kid_id"]]})
                assert status == 200, body
            for item in LESSONS:  # every lesson open for the class: the test is about grading, not progress
                status, _ = await teacher.post(f"/api/teacher/classes/{CLASS}/lessons/{item.lesson.id}/unlock")
                assert status == 200
            exporter = await NodeFrontEnd("export", srv.url, CLASS, KIDS["python"]).start()
            runners.append(exporter)
            scripts = {}
            for item in LESSONS:
                exported = await exporter.ask({"lesson_id": item.lesson.id, "program": item.lesson.solution.blockly})
                scripts[item.lesson.id] = tmp_path / f"{item.lesson.id.replace('-', '_')}.py"
                scripts[item.lesson.id].write_text(exported["python"])
            scratch = await NodeFrontEnd("scratch", srv.url, kids["scratch"]["token"], car_of["scratch"]).start()
            blockly = await NodeFrontEnd("blockly", srv.url, kids["blockly"]["token"], car_of["blockly"]).start()
            runners += [scratch, blockly]

            verdicts: dict[str, dict[str, Any]] = {}
            for item in LESSONS:
                lesson = item.lesson
                for kid in kids.values():  # the lesson's own level: its speed cap is part of the lesson
                    status, _ = await teacher.post(f"/api/teacher/classes/{CLASS}/kids/{kid['kid_id']}/level",
                                                   {"level": lesson.level})
                    assert status == 200
                job = {"lesson_id": lesson.id, "program": lesson.solution.blockly}
                got = await asyncio.gather(scratch.ask(job), blockly.ask(job),
                                           python_front_end(srv, kids["python"], lesson.id, scripts[lesson.id]))
                verdicts[lesson.id] = dict(zip(KIDS, got))

            for lesson_id, by_front in verdicts.items():
                grades = {front: (v["stars"], v["passed"], v["checks"]) for front, v in by_front.items()}
                said = {front: v["said"] for front, v in by_front.items()}
                assert grades["scratch"] == grades["blockly"] == grades["python"], f"{lesson_id}: {grades} {said}"
                assert by_front["blockly"]["passed"], f"{lesson_id}: the reference solution did not pass: {grades}"
        finally:
            for runner in runners:
                await runner.close()
            await teacher.http.close()
            for car in cars:
                await car.stop()
