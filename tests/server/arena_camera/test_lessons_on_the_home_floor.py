"""Lessons run on the floor the set-up wizard measured (issue 18, step 7): a real server with the simulated
overhead camera over a small room and a real simulated car. The wizard measures and saves the room; a
lesson whose layout needs moving is picked: the car gets the moved arena and start, the reference program
passes, and the judge read the moved zone (the same drive fails against the lesson as written). A lesson
too big for the room is refused when picked or run, with a sentence naming the fix."""

from __future__ import annotations

import asyncio
import math
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "curriculum"))  # fake_ollama
from core_harness import CALL_TIMEOUT_S, classroom_server, wait_for  # noqa: E402
from fake_ollama import FakeOllama  # noqa: E402

from curriculum.coach import Coach, CoachConfig  # noqa: E402
from curriculum.judge import judge  # noqa: E402
from curriculum.lesson_fit import fitted_lesson  # noqa: E402
from curriculum.recording import read_recording  # noqa: E402
from robot_runtime.arena import Arena  # noqa: E402
from robot_runtime.protocol import Pose  # noqa: E402
from server.arena_camera import CAMERA  # noqa: E402
from server.lessons.service import ATTEMPTS  # noqa: E402

pytestmark = pytest.mark.timeout(180)
# A hall 4.2 m long and 2.05 m deep: "around the cone" (4 x 3 m, its road 2 m deep) must move 45 cm down,
# which takes its blue box off the lesson's own box; the donut (4 x 4 m of skidding) cannot fit at all.
HALL = Arena(name="hall", width_cm=420.0, height_cm=205.0, start=Pose(x_cm=50.0, y_cm=100.0, heading_deg=0.0))
MOVED, TOO_BIG = "l2-around-the-cone", "l4-donut"
SOLUTION = [("move_forward", {"distance": 40}), ("turn", {"direction": "left", "degrees": 45}),
            ("move_forward", {"distance": 40}), ("turn", {"direction": "right", "degrees": 90}),
            ("move_forward", {"distance": 40}), ("turn", {"direction": "left", "degrees": 45}),
            ("move_forward", {"distance": 60})]  # l2-around-the-cone's reference (its .py twin), block by block
FEEDBACK_WAIT_S = 30.0


async def test_a_lesson_runs_moved_onto_the_measured_floor_and_one_too_big_is_refused(tmp_path):
    room = tmp_path / "hall.yaml"
    room.write_text(yaml.safe_dump(HALL.model_dump(mode="json")))
    fake = await FakeOllama().start()  # answers "{}": checks-only feedback, no model needed
    try:
        async with classroom_server(tmp_path / "srv", cars=["car-1"], arena_path=room, camera_source="sim") as srv:
            app = srv.handle.app
            app[ATTEMPTS].coach = Coach(CoachConfig(host=fake.url, timeout_s=5))
            assert srv.classroom.home_floor is None  # nothing measured yet: lessons as written
            teacher = await srv.teacher()
            try:
                assert (await teacher.get("/api/setup"))[0] == 200  # the first look starts the simulated camera
                camera = app[CAMERA]
                await wait_for(lambda: camera.latest and camera.latest[1].detections is not None
                               and not camera.latest[1].corners_missing, "all four corners in view (step 3)", 30)
                status, measured = await teacher.post("/api/setup/measure", {"width_cm": 420})
                assert status == 200 and abs(measured["height_cm"] - 205.0) < 2.0, measured
                status, saved = await teacher.post("/api/setup/save", {"name": "Hall"})
                assert status == 200, saved
                fits = {row["id"]: row for row in saved["lessons"]}
                assert fits[MOVED]["fit"] == "moved" and fits[TOO_BIG]["fit"] == "too_big", fits
                kid = await srv.join("Mia")
                srv.classroom.set_level(kid["kid_id"], 4)  # level 2's lessons open; level 4's first one too
                status, body = await teacher.post(f"/api/teacher/kids/{kid['kid_id']}/lessons/{TOO_BIG}/unlock")
                assert status == 200, body
            finally:
                await teacher.http.close()

            home = srv.classroom.home_floor_for("car-1")  # a simulated car: on the floor, as the simulated room was measured
            assert home is not None and home.width_cm == measured["width_cm"]
            lesson = app[ATTEMPTS].lesson_set.get(MOVED)
            fit, moved = fitted_lesson(lesson, home)
            dx, dy = fit.offset_cm
            assert fit.kind == "moved" and dx == 0 and -48 < dy < -42, fit

            # the lesson list says how each lesson was fitted, with the arena as it will be
            auth = {"Authorization": f"Bearer {kid['token']}"}
            async with srv.http.get(f"{srv.url}/api/lessons", headers=auth) as resp:
                listed = {item["id"]: item for item in (await resp.json())["lessons"]}
            assert listed[MOVED]["floor"]["fit"] == "moved" and "moved" in listed[MOVED]["floor"]["words"]
            assert listed[MOVED]["arena"]["start"]["y_cm"] == moved.arena.start.y_cm
            assert listed["l4-slalom"]["floor"]["fit"] == "scaled"
            assert listed["l4-slalom"]["floor"]["words"].startswith("Shrunk to 70 %"), listed["l4-slalom"]["floor"]
            assert listed[TOO_BIG]["floor"]["fit"] == "too_big" and not listed[TOO_BIG]["locked"]

            # too big: refused with a sentence naming the fix, the car's arena untouched
            async with srv.http.post(f"{srv.url}/api/lessons/select", json={"lesson_id": TOO_BIG}, headers=auth) as r:
                refused = await r.json()
                assert r.status == 409, refused
            assert refused["error"]["rule"] == "lesson_too_big"
            assert "needs more room than your" in refused["error"]["message"]
            assert "measure it again in the set-up" in refused["error"]["message"]
            assert srv.classroom.known_arena("car-1") is None
            feedback: list[dict] = []
            sio = await srv.kid_socket(kid["token"], {"feedback": feedback.append})
            run = await sio.call("run_start", {"source": "blockly", "program": {"blocks": {}}, "lesson_id": TOO_BIG},
                                 namespace="/kid", timeout=CALL_TIMEOUT_S)  # nor run by naming it
            assert run["status"] == "refused" and run["rule"] == "lesson_too_big", run
            assert "needs more room" in run["kid_text"] and srv.classroom.active_run(kid["kid_id"]) is None

            # moved: the car gets the moved arena and start
            async with srv.http.post(f"{srv.url}/api/lessons/select", json={"lesson_id": MOVED}, headers=auth) as r:
                assert r.status == 200, await r.text()
            assert srv.classroom.known_arena("car-1") == moved.arena
            assert srv.cars["car-1"].runtime.arena.zone("blue_box") == moved.arena.zone("blue_box")
            start = moved.arena.start
            assert (start.x_cm, start.y_cm) == (50.0, round(150.0 + dy, 1))
            await wait_for(lambda: math.dist((srv.cars["car-1"].pose.x_cm, srv.cars["car-1"].pose.y_cm),
                                             (start.x_cm, start.y_cm)) < 2, "the car at the moved start", 10)
            async with srv.http.get(f"{srv.url}/api/arena?car=car-1") as resp:
                assert (await resp.json())["arena"]["zones"] == moved.arena.model_dump(mode="json")["zones"]

            # the reference program passes, graded on the moved zones
            started = await sio.call("run_start", {"source": "blockly", "program": lesson.solution.blockly,
                                                   "lesson_id": MOVED}, namespace="/kid", timeout=CALL_TIMEOUT_S)
            assert started["status"] == "ok", started
            for block, args in SOLUTION:
                reply = await srv.block(sio, block, args, run_id=started["run_id"])
                assert reply["status"] == "done", reply
            await asyncio.sleep(0.3)
            await sio.call("run_end", {"run_id": started["run_id"], "reason": "finished"}, namespace="/kid",
                           timeout=CALL_TIMEOUT_S)
            await wait_for(lambda: feedback, "the attempt graded", FEEDBACK_WAIT_S)
            assert feedback[-1]["passed"], feedback[-1]
            row = app[ATTEMPTS].store.row(feedback[-1]["attempt_id"])
            rec = read_recording(Path(row["dir"]) / "recording.jsonl")
            end = rec.samples[-1]
            box = moved.arena.zone("blue_box")
            assert box.x0 < end.x < box.x1 and box.y0 < end.y < box.y1
            as_written = judge(lesson, rec)  # the same drive against the lesson's own zones: not in its box
            assert not as_written.check("reach_zone").passed and judge(moved, rec).passed
            assert row["verdict"]["passed"] and (Path(row["dir"]) / "overlay.png").is_file()
    finally:
        await fake.stop()
