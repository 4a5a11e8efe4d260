"""A real car's lesson attempt is graded from the camera's poses: a simulated car stands in for a real
one (its own pose is never used), the simulated overhead camera sees it, the tracker's poses replace the
car's in its telemetry, and the lesson's recording, the judge and the kid's stars all come from them."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "curriculum"))  # fake_ollama
from core_harness import CALL_TIMEOUT_S, classroom_server, wait_for  # noqa: E402
from fake_ollama import FakeOllama  # noqa: E402

from curriculum.coach import Coach, CoachConfig  # noqa: E402
from robot_runtime.arena import Arena  # noqa: E402
from robot_runtime.protocol import Pose  # noqa: E402
from server.arena_camera import CAMERA, TRUTH  # noqa: E402
from server.lessons.service import ATTEMPTS  # noqa: E402

pytestmark = pytest.mark.timeout(180)
ROOM = Arena(name="classroom floor", width_cm=250.0, height_cm=200.0, start=Pose(x_cm=50.0, y_cm=100.0, heading_deg=0.0))
FEEDBACK_WAIT_S = 30.0


async def test_a_stand_in_real_car_is_graded_from_camera_poses_only(tmp_path):
    room = tmp_path / "room.yaml"
    room.write_text(yaml.safe_dump(ROOM.model_dump(mode="json")))
    fake = await FakeOllama().start()  # answers "{}": checks-only feedback, no model needed
    try:
        async with classroom_server(tmp_path / "srv", cars=["car-1"], arena_path=room, camera_source="sim") as srv:
            app = srv.handle.app
            app[ATTEMPTS].coach = Coach(CoachConfig(host=fake.url, timeout_s=5))
            camera, truth = app[CAMERA], app[TRUTH]
            await wait_for(lambda: camera.frames >= 2, "pictures from the simulated camera", 20)
            teacher = await srv.teacher()
            try:
                assert (await teacher.post("/api/setup/measure", {"width_cm": 250}))[0] == 200
                status, body = await teacher.post("/api/setup/cars", {"car_id": "car-1", "height_cm": 12})
                assert status == 200, body
            finally:
                await teacher.http.close()
            truth.stand_in.add("car-1")  # graded as a real car: only the camera says where it is
            await wait_for(lambda: (srv.classroom.latest_telemetry("car-1").pose_source == "camera"),
                           "car-1's telemetry carrying the camera's pose", 10)

            passed_on = []
            srv.classroom.events.subscribe("telemetry", lambda car_id, tel: passed_on.append(tel) if car_id == "car-1" else None)
            kid = await srv.join("Mia")
            auth = {"Authorization": f"Bearer {kid['token']}"}
            async with srv.http.post(f"{srv.url}/api/lessons/select", json={"lesson_id": "l1-wake-up"}, headers=auth) as r:
                assert r.status == 200, await r.text()
            feedback: list[dict] = []
            sio = await srv.kid_socket(kid["token"], {"feedback": feedback.append})
            lesson = app[ATTEMPTS].lesson_set.get("l1-wake-up")
            started = await sio.call("run_start", {"source": "blockly", "program": lesson.solution.blockly,
                                                   "lesson_id": "l1-wake-up"}, namespace="/kid", timeout=CALL_TIMEOUT_S)
            assert started["status"] == "ok", started
            reply = await sio.call("block", {"block": "move_forward", "args": {"distance": 180}, "run_id": started["run_id"]},
                                   namespace="/kid", timeout=CALL_TIMEOUT_S)
            assert reply["status"] == "done", reply
            true_end = srv.cars["car-1"].pose
            await sio.call("run_end", {"run_id": started["run_id"], "reason": "finished"}, namespace="/kid",
                           timeout=CALL_TIMEOUT_S)
            await wait_for(lambda: feedback, "the attempt graded", FEEDBACK_WAIT_S)
            assert feedback[-1]["passed"], feedback[-1]
            assert "stopped inside the garage" in [c["kid_text"] for c in feedback[-1]["checks"] if c["passed"]]

            row = app[ATTEMPTS].store.row(feedback[-1]["attempt_id"])
            lines = [json.loads(x) for x in (Path(row["dir"]) / "recording.jsonl").read_text().splitlines() if x.strip()]
            samples = [x for x in lines if x.get("type") == "sample"]
            assert len(samples) > 10, lines[:3]
            # every sample the judge read is a camera pose the classroom passed on, none the car's own
            camera_poses = {(t.pose.x_cm, t.pose.y_cm) for t in passed_on if t.pose_source == "camera"}
            own_poses = {(t.pose.x_cm, t.pose.y_cm) for t in passed_on if t.pose_source != "camera"}
            assert all((x["x"], x["y"]) in camera_poses for x in samples)
            assert not own_poses & {(x["x"], x["y"]) for x in samples if x["speed"] > 0}
            last = samples[-1]
            assert math.hypot(last["x"] - true_end.x_cm, last["y"] - true_end.y_cm) < 3.0  # the camera is right
            assert truth.replaced["car-1"] >= len(samples)
    finally:
        await fake.stop()
