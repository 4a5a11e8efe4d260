"""A lesson's Python twin, run as a kid would run it (`python l1-around-the-corner.py` with the dojo SDK)
against a real server and a real simulated car, ends where the Blockly reference ends in the simulator."""

from __future__ import annotations

import asyncio
import json
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "curriculum"))  # fake_ollama
from core_harness import CLASS, classroom_server, wait_for  # noqa: E402

from curriculum.simrun import run_program  # noqa: E402
from server.lessons.service import ATTEMPTS  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
PROGRAM_TIMEOUT_S = 60.0  # three moves of a few seconds each, plus starting Python with socketio (~1 s)
SAME_PLACE_CM = 10.0  # the live car has sensor/actuator noise and real-time jitter; the headless one has none
pytestmark = pytest.mark.timeout(120)


async def car_at(srv, start) -> None:
    await wait_for(lambda: math.dist((srv.classroom.latest_telemetry("car-1").pose.x_cm,
                                      srv.classroom.latest_telemetry("car-1").pose.y_cm),
                                     (start.x_cm, start.y_cm)) < 2, "car at the lesson's start")


async def run_lesson_script(srv, lesson_id: str, tmp_path: Path) -> None:
    """Run the lesson's Python twin as a kid would, pointed at this test's server and class."""
    source = srv.handle.app[ATTEMPTS].lesson_set.lessons[lesson_id].python_path().read_text(encoding="utf-8")
    script = tmp_path / f"{lesson_id}.py"
    script.write_text(source.replace("http://127.0.0.1:8080", srv.url).replace('class_code="DEMO"',
                                                                                  f'class_code="{CLASS}"'))
    proc = await asyncio.create_subprocess_exec(sys.executable, str(script), cwd=str(REPO),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), PROGRAM_TIMEOUT_S)
    assert proc.returncode == 0, err.decode()[-2000:]


async def test_python_twin_drives_like_the_blockly_reference(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        lesson = srv.handle.app[ATTEMPTS].lesson_set.get("l1-around-the-corner")
        kid = await srv.join("Kid")  # the name the exported program joins with
        await srv.classroom.set_arena("car-1", lesson.arena, lesson.arena.start)
        await car_at(srv, lesson.arena.start)
        await run_lesson_script(srv, lesson.id, tmp_path)
        await asyncio.sleep(0.3)  # the last telemetry after the stop
        pose = srv.classroom.latest_telemetry(srv.classroom.car_of(kid["kid_id"])).pose
        expected = run_program(lesson, lesson.solution.blockly).truth_end
        assert math.dist((pose.x_cm, pose.y_cm), expected[:2]) < SAME_PLACE_CM, (pose, expected)


async def test_a_python_program_on_a_picked_lesson_is_a_graded_attempt(tmp_path):
    """The kid moving to text keeps their lessons: the exported script's run is graded like a Blockly run."""
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        kid = await srv.join("Kid")
        bearer = {"Authorization": f"Bearer {kid['token']}"}
        async with srv.http.post(f"{srv.url}/api/lessons/select", json={"lesson_id": "l1-wake-up"}, headers=bearer) as r:
            assert r.status == 200, await r.text()
        await car_at(srv, srv.handle.app[ATTEMPTS].lesson_set.get("l1-wake-up").arena.start)
        await run_lesson_script(srv, "l1-wake-up", tmp_path)

        async def attempts() -> list[dict]:
            async with srv.http.get(f"{srv.url}/api/attempts", headers=bearer) as r:
                return (await r.json())["attempts"]

        graded: list[dict] = []

        async def poll() -> None:
            for _ in range(200):
                graded[:] = [a for a in await attempts() if a["status"] == "graded"]
                if graded:
                    return
                await asyncio.sleep(0.1)

        await asyncio.wait_for(poll(), 30)
        assert [a["lesson_id"] for a in graded] == ["l1-wake-up"]
        assert graded[0]["passed"] and graded[0]["end_reason"] == "program_finished", graded[0]
        async with srv.http.get(f"{srv.url}/api/attempts/{graded[0]['attempt_id']}", headers=bearer) as r:
            detail = await r.json()
        assert "car.forward(180)" in json.dumps(detail), "the attempt keeps the kid's Python program"
