"""A real car's lesson attempt is graded from the camera's poses: a simulated car stands in for a real
one (its own pose is never used), the simulated overhead camera sees it, the tracker's poses replace the
car's in its telemetry, and the lesson's recording, the judge and the kid's stars all come from them.
The car is its own process (`dojo car --sim`), as a real car is."""

from __future__ import annotations

import asyncio
import contextlib
import math
import json
import os
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "curriculum"))  # fake_ollama
from core_harness import CALL_TIMEOUT_S, classroom_server, token_for, wait_for  # noqa: E402
from fake_ollama import FakeOllama  # noqa: E402

from curriculum.coach import Coach, CoachConfig  # noqa: E402
from robot_runtime.arena import Arena  # noqa: E402
from robot_runtime.protocol import Pose  # noqa: E402
from server.arena_camera import CAMERA, TRUTH  # noqa: E402
from server.lessons.service import ATTEMPTS  # noqa: E402

pytestmark = pytest.mark.timeout(240)
REPO = Path(__file__).resolve().parents[3]


@contextlib.asynccontextmanager
async def car_process(url: str, car_id: str, log: Path):
    with open(log, "wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "dojo", "car", "--sim", "--name", car_id, "--server", url, f"--token={token_for(car_id)}",
            cwd=REPO, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()
ROOM = Arena(name="classroom floor", width_cm=250.0, height_cm=200.0, start=Pose(x_cm=50.0, y_cm=100.0, heading_deg=0.0))
FEEDBACK_WAIT_S = 30.0


async def test_a_stand_in_real_car_is_graded_from_camera_poses_only(tmp_path):
    room = tmp_path / "room.yaml"
    room.write_text(yaml.safe_dump(ROOM.model_dump(mode="json")))
    fake = await FakeOllama().start()  # answers "{}": checks-only feedback, no model needed
    try:
        async with classroom_server(tmp_path / "srv", extra_cars=["car-1"], arena_path=room, camera_source="sim") as srv, \
                car_process(srv.url, "car-1", tmp_path / "car-1.log"):
            await wait_for(lambda: srv.classroom.latest_telemetry("car-1") is not None, "car-1 connected", 60)
            raw: list = []  # the car's own telemetry, before the camera's pose replaces it (the truth to compare)
            srv.classroom.pose_filters.insert(0, lambda car_id, tel: raw.append(tel) if car_id == "car-1" else None)
            app = srv.handle.app
            app[ATTEMPTS].coach = Coach(CoachConfig(host=fake.url, timeout_s=5))
            camera, truth = app[CAMERA], app[TRUTH]
            teacher = await srv.teacher()
            try:
                assert camera.frames == 0 and not camera.running  # drawn only once someone looks
                assert (await teacher.get("/api/setup"))[0] == 200  # the first look starts it
                await wait_for(lambda: camera.frames >= 2, "pictures from the simulated camera", 20)
                await wait_for(lambda: app[CAMERA].latest and app[CAMERA].latest[1].detections is not None
                               and not app[CAMERA].latest[1].corners_missing, "all four corners in view (step 3)", 20)
                status, body = await teacher.post("/api/setup/measure", {"width_cm": 250})
                assert status == 200, body
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
            # the car is put at the lesson's start (a parent puts a real car there by hand): the camera sees it there
            await wait_for(lambda: (seen := app[CAMERA].pose_of("car-1")) is not None
                           and math.hypot(seen.motion.x_cm - 50.0, seen.motion.y_cm - 100.0) < 3.0,
                           "the camera seeing car-1 at the lesson's start", 20)
            feedback: list[dict] = []
            sio = await srv.kid_socket(kid["token"], {"feedback": feedback.append})
            lesson = app[ATTEMPTS].lesson_set.get("l1-wake-up")
            started = await sio.call("run_start", {"source": "blockly", "program": lesson.solution.blockly,
                                                   "lesson_id": "l1-wake-up"}, namespace="/kid", timeout=CALL_TIMEOUT_S)
            assert started["status"] == "ok", started
            reply = await sio.call("block", {"block": "move_forward", "args": {"distance": 180}, "run_id": started["run_id"]},
                                   namespace="/kid", timeout=CALL_TIMEOUT_S)
            assert reply["status"] == "done", reply
            await asyncio.sleep(0.3)
            true_end = raw[-1].pose
            await sio.call("run_end", {"run_id": started["run_id"], "reason": "finished"}, namespace="/kid",
                           timeout=CALL_TIMEOUT_S)
            await wait_for(lambda: feedback, "the attempt graded", FEEDBACK_WAIT_S)
            assert feedback[-1]["passed"], feedback[-1]
            assert "stopped inside the garage" in [c["kid_text"] for c in feedback[-1]["checks"] if c["passed"]]

            row = app[ATTEMPTS].store.row(feedback[-1]["attempt_id"])
            lines = [json.loads(x) for x in (Path(row["dir"]) / "recording.jsonl").read_text().splitlines() if x.strip()]
            samples = [x for x in lines if x.get("type") == "sample"]
            assert len(samples) > 10, lines[:3]
            # the samples the judge read are the camera poses the classroom passed on, not the car's own: all of
            # them while the camera keeps up (a camera silent for over a second, which a machine under heavy load
            # can make it, hands a sample back to the car's own pose, marked with its own pose_source)
            camera_poses = {(t.pose.x_cm, t.pose.y_cm) for t in passed_on if t.pose_source == "camera"}
            own_poses = {(t.pose.x_cm, t.pose.y_cm) for t in passed_on if t.pose_source != "camera"}
            from_camera = [(x["x"], x["y"]) in camera_poses for x in samples]
            assert sum(from_camera) >= 0.9 * len(samples), f"{sum(from_camera)} of {len(samples)} from the camera"
            assert all(from_camera[-5:]), "the end pose the garage check reads is the camera's"
            assert all((x["x"], x["y"]) in camera_poses | own_poses for x in samples)
            last = samples[-1]
            # the camera's last look at the car is where the car really stopped (its motion filter settles within
            # a few pictures; at the few pictures a second a heavily loaded machine gives, a few cm behind)
            assert math.hypot(last["x"] - true_end.x_cm, last["y"] - true_end.y_cm) < 6.0
            assert truth.replaced["car-1"] >= len(samples)
    finally:
        await fake.stop()
