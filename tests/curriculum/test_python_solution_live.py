"""A lesson's Python twin, run as a kid would run it (`python l1-around-the-corner.py` with the dojo SDK)
against a real server and a real simulated car, ends where the Blockly reference ends in the simulator."""

from __future__ import annotations

import asyncio
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))
from core_harness import CLASS, classroom_server, wait_for  # noqa: E402

from curriculum.simrun import run_program  # noqa: E402
from server.attempts import ATTEMPTS  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
PROGRAM_TIMEOUT_S = 60.0  # three moves of a few seconds each, plus starting Python with socketio (~1 s)
SAME_PLACE_CM = 10.0  # the live car has sensor/actuator noise and real-time jitter; the headless one has none
pytestmark = pytest.mark.timeout(120)


async def test_python_twin_drives_like_the_blockly_reference(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        lesson = srv.handle.app[ATTEMPTS].lessons.get("l1-around-the-corner")
        item = srv.handle.app[ATTEMPTS].lessons.lessons[lesson.id]
        source = item.python_path().read_text(encoding="utf-8")
        kid = await srv.join("Kid")  # the name the exported program joins with
        await srv.classroom.set_arena("car-1", lesson.arena, lesson.arena.start)
        await wait_for(lambda: math.dist((srv.classroom.latest_telemetry("car-1").pose.x_cm,
                                          srv.classroom.latest_telemetry("car-1").pose.y_cm),
                                         (lesson.arena.start.x_cm, lesson.arena.start.y_cm)) < 2, "car at the start")
        script = tmp_path / "kid_program.py"
        script.write_text(source.replace("http://127.0.0.1:8080", srv.url).replace('class_code="DEMO"',
                                                                                      f'class_code="{CLASS}"'))
        proc = await asyncio.create_subprocess_exec(sys.executable, str(script), cwd=str(REPO),
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), PROGRAM_TIMEOUT_S)
        assert proc.returncode == 0, err.decode()[-2000:]
        await asyncio.sleep(0.3)  # the last telemetry after the stop
        pose = srv.classroom.latest_telemetry(srv.classroom.car_of(kid["kid_id"])).pose
        expected = run_program(lesson, lesson.solution.blockly).truth_end
        assert math.dist((pose.x_cm, pose.y_cm), expected[:2]) < SAME_PLACE_CM, (pose, expected)
