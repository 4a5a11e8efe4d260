"""The set-up wizard's API against a real server with the simulated overhead camera and a real simulated
car: every step in order, then the saved arena file loads and lessons fit it; bad input on the way."""

from __future__ import annotations

import math

import cv2
import numpy as np
import yaml

from core_harness import classroom_server, wait_for
from perception.arena_file import load_arena_file
from robot_runtime.arena import Arena, load_arena
from robot_runtime.protocol import Pose
from server.arena_camera import CAMERA, WIZARD

SMALL = Arena(name="living room", width_cm=200.0, height_cm=150.0, start=Pose(x_cm=50.0, y_cm=75.0, heading_deg=0.0))


def write_arena(tmp_path, arena: Arena = SMALL):
    path = tmp_path / "room.yaml"
    path.write_text(yaml.safe_dump(arena.model_dump(mode="json")))
    return path


def step(view: dict, n: int) -> dict:
    return next(s for s in view["steps"] if s["n"] == n)


async def test_every_step_of_the_wizard_with_the_simulated_camera_and_a_simulated_car(tmp_path):
    async with classroom_server(tmp_path / "srv", cars=["car-1"], arena_path=write_arena(tmp_path)) as srv:
        teacher = await srv.teacher()
        try:
            # 1 camera
            status, view = await teacher.post("/api/setup/camera", {"source": "sim"})
            assert status == 200, view
            camera = srv.handle.app[CAMERA]
            await wait_for(lambda: camera.frames >= 3, "three pictures from the simulated camera")
            status, view = await teacher.get("/api/setup")
            assert step(view, 1)["status"] == "green" and step(view, 3)["status"] == "green", view["steps"]
            async with teacher.http.get(srv.url + "/api/camera/preview.jpg") as resp:
                assert resp.status == 200 and resp.content_type == "image/jpeg"
                picture = cv2.imdecode(np.frombuffer(await resp.read(), np.uint8), cv2.IMREAD_COLOR)
            assert picture.shape == (480, 640, 3)
            # 2 print: a real PDF, both papers
            for paper in ("a4", "letter"):
                async with teacher.http.get(srv.url + f"/api/setup/markers.pdf?paper={paper}&cars=2") as resp:
                    assert resp.status == 200 and (await resp.read()).startswith(b"%PDF")
            async with teacher.http.get(srv.url + "/api/setup/markers.pdf?paper=a3") as resp:
                assert resp.status == 400 and "A4 or Letter" in (await resp.json())["error"]["fix"]
            # 4 measure: bad distances first, then the tape's 200 cm
            for bad in ("lots", -5, 1e9, None):
                status, body = await teacher.post("/api/setup/measure", {"width_cm": bad})
                assert status == 400 and body["error"]["rule"] == "bad_distance", body
            status, measured = await teacher.post("/api/setup/measure", {"width_cm": 200})
            assert status == 200, measured
            assert measured["light"] == "green" and measured["error_cm"] < 0.5
            assert abs(measured["height_cm"] - 150.0) < 2.0
            # 5 pair: the car's roof marker is the one new marker the camera sees
            status, body = await teacher.post("/api/setup/cars", {"car_id": "car-9", "height_cm": 12})
            assert status == 400 and body["error"]["rule"] == "car_not_connected"
            status, car = await teacher.post("/api/setup/cars", {"car_id": "car-1", "height_cm": 12})
            assert status == 200 and car["marker_id"] == 10, car
            await wait_for(lambda: camera.pose_of("car-1") is not None, "the camera tracking car-1")
            truth = srv.cars["car-1"].pose
            seen = camera.pose_of("car-1").motion
            assert math.hypot(seen.x_cm - truth.x_cm, seen.y_cm - truth.y_cm) < 2.0
            # 6 test drive: the car really drives; the camera measures it
            status, drive = await teacher.post("/api/setup/test-drive", {"car_id": "car-1"})
            assert status == 200, drive
            assert 40.0 < drive["distance_cm"] < 60.0 and abs(drive["drift_cm"]) < 3.0, drive
            assert 70.0 < drive["turn_deg"] < 110.0 and drive["light"] in ("green", "amber"), drive
            assert abs(drive["car_config"]["steering_trim"]) < 0.1
            if drive["speed_measured"]:  # the camera sent enough pictures of the moving car (a busy machine may not)
                # the simulated car's 300 cm/s, within what a tracker's smoothing at a few pictures a second allows
                # (the maths itself is checked exactly in test_lesson_fit_and_drive_maths.py)
                assert 100 < drive["car_config"]["top_speed_cm_s"] < 450, drive
            else:
                assert "too few pictures" in drive["words"]
            # 7 save: an arena file lessons can read
            status, saved = await teacher.post("/api/setup/save", {"name": "Living room"})
            assert status == 200, saved
            af = load_arena_file(saved["path"])
            assert af.arena.name == "Living room" and af.camera.calibration is not None
            assert [r.car_id for r in af.camera.roof_markers] == ["car-1"]
            assert load_arena(saved["path"]).width_cm == af.arena.width_cm  # the cars' plain loader too
            fits = {row["id"]: row for row in saved["lessons"]}
            assert fits and all(row["fit"] in ("fits", "moved", "scaled", "too_big") for row in fits.values())
            assert any(row["fit"] == "too_big" for row in fits.values())  # a 200 x 150 floor is small
            status, view = await teacher.get("/api/setup")
            assert [s["status"] for s in view["steps"]] == ["green"] * 7, view["steps"]
        finally:
            await teacher.http.close()


async def test_progress_is_kept_server_side_and_the_calibration_is_reloaded_after_a_restart(tmp_path):
    arena_path = write_arena(tmp_path)
    async with classroom_server(tmp_path / "srv", cars=["car-1"], arena_path=arena_path, camera_source="sim") as srv:
        camera = srv.handle.app[CAMERA]
        teacher = await srv.teacher()
        try:
            assert (await teacher.get("/api/setup"))[0] == 200  # the first look starts the simulated camera
            await wait_for(lambda: camera.frames >= 2, "pictures", 20)
            await wait_for(lambda: camera.latest and camera.latest[1].detections is not None
                           and not camera.latest[1].corners_missing, "all four corners in view (step 3)", 20)
            status, body = await teacher.post("/api/setup/measure", {"width_cm": 200})
            assert status == 200, body
            assert (await teacher.post("/api/setup/cars", {"car_id": "car-1"}))[0] == 200
            status, saved = await teacher.post("/api/setup/save", {})
            assert status == 200
            calibration = camera.calibration
        finally:
            await teacher.http.close()
    async with classroom_server(tmp_path / "srv", arena_path=arena_path) as srv:
        app = srv.handle.app
        assert app[CAMERA].calibration == calibration and "car-1" in app[CAMERA].plan.roofs
        assert app[WIZARD].state["saved"]["path"] == saved["path"] and app[WIZARD].state["measure"]["light"] == "green"
        teacher = await srv.teacher()
        try:
            assert (await teacher.get("/api/camera"))[0] == 200  # the first look starts the saved (sim) camera
            await wait_for(lambda: app[CAMERA].frames >= 1, "the saved camera (sim) started again", 20)
        finally:
            await teacher.http.close()
