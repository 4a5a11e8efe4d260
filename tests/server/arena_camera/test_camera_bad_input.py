"""Bad input through the browser's camera path (real server, real socket.io client sending JPEGs like the
set-up page does): bytes that are not a picture, a blank picture, a picture with no markers, a marker
printed twice, and a camera that stops sending mid-setup. Each time: a plain message naming what is
wrong and what to do, the socket stays up, nothing crashes, and the last good calibration is kept."""

from __future__ import annotations

import asyncio

import cv2
import numpy as np
import pytest
import socketio
import yaml

from core_harness import CONNECT_TIMEOUT_S, classroom_server, wait_for
from perception.markers import MarkerPlan, RoofMarker, marker_image
from perception.sim_camera import Scene, Sheet
from perception.sim_rigs import overhead_rig
from robot_runtime.arena import Arena
from robot_runtime.protocol import Pose
from server.arena_camera import CAMERA

pytestmark = pytest.mark.timeout(120)
ROOM = Arena(name="hall", width_cm=200.0, height_cm=150.0, start=Pose(x_cm=40.0, y_cm=40.0, heading_deg=0.0))
PLAN = MarkerPlan(ROOM, [RoofMarker(car_id="car-1", marker_id=10)])
CAR = {"car-1": Pose(x_cm=90.0, y_cm=70.0, heading_deg=30.0)}


def jpeg(image: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


def floor_marker(marker_id: int, x: float, y: float, size: float = 10.0) -> Sheet:
    tex = marker_image(PLAN.dictionary, marker_id, 20)
    h = size / 2 * 8 / 6  # the texture's quiet zone: one cell each side of the 6-cell marker
    corners = np.array([[x - h, y + h, 0], [x + h, y + h, 0], [x + h, y - h, 0], [x - h, y - h, 0]], float)
    return Sheet(tex, corners)


async def test_bad_pictures_and_a_camera_that_goes_away_keep_the_last_good_calibration(tmp_path):
    camera_sim = overhead_rig(PLAN).camera(seed=3)
    good = jpeg(camera_sim.render(Scene(PLAN, cars=CAR)).image)
    async with classroom_server(tmp_path / "srv", cars=[]) as srv:
        app = srv.handle.app
        app[CAMERA].browser_timeout_s = 2.0  # the page's pause before the camera counts as gone (10 s live)
        teacher = await srv.teacher()
        cookie = "; ".join(f"{c.key}={c.value}" for c in teacher.http.cookie_jar)
        page = socketio.AsyncClient(reconnection=False)
        stranger = socketio.AsyncClient(reconnection=False)
        try:
            with pytest.raises(socketio.exceptions.ConnectionError, match="failed to connect: /camera"):
                await stranger.connect(srv.url, namespaces=["/camera"], transports=["websocket"],
                                       wait_timeout=CONNECT_TIMEOUT_S)
            await page.connect(srv.url, namespaces=["/camera"], transports=["websocket"], headers={"Cookie": cookie},
                               wait_timeout=CONNECT_TIMEOUT_S)

            async def send(data, n: int = 1) -> dict:
                reply = {}
                for _ in range(n):
                    reply = await page.call("frame", data, namespace="/camera", timeout=10)
                    await asyncio.sleep(0.05)
                return reply

            showing = {"picture": good}

            async def webcam() -> None:
                """Like the page: the webcam's current picture, five times a second, until it is unplugged."""
                while True:
                    await page.call("frame", showing["picture"], namespace="/camera", timeout=10)
                    await asyncio.sleep(0.2)

            # pictures before the browser's camera is chosen are refused, plainly
            reply = await send(good)
            assert reply == {"ok": False, "error": {"rule": "not_browser_camera", "message": reply["error"]["message"],
                                                    "fix": "Choose \"this computer's camera\" in step 1 first."}}
            status, view = await teacher.post("/api/setup/camera", {"source": "browser"})
            assert status == 200, view
            assert (await send(good, 3)) == {"ok": True}
            plugged_in = asyncio.create_task(webcam())
            await wait_for(lambda: app[CAMERA].frames >= 2, "the good pictures tracked")
            status, measured = await teacher.post("/api/setup/measure", {"width_cm": 200})
            assert status == 200 and measured["light"] == "green", measured
            calibration = app[CAMERA].calibration

            async def steps() -> dict:
                return {s["n"]: s for s in (await teacher.get("/api/setup"))[1]["steps"]}

            # not a picture: refused in the ack, the socket stays up
            reply = await send(b"this is not a jpeg")
            assert not reply["ok"] and reply["error"]["rule"] == "not_a_picture" and page.connected
            reply = await send("a string")
            assert not reply["ok"] and reply["error"]["rule"] == "not_a_picture"

            # a blank picture (lens covered): step 1 says so and what to do; the calibration stays
            showing["picture"] = jpeg(np.full((480, 640, 3), 12, np.uint8))
            assert (await send(showing["picture"]))["ok"]
            await wait_for(lambda: app[CAMERA].latest and app[CAMERA].latest[1].detections is None, "the blank picture tracked")
            s = await steps()
            assert s[1]["status"] == "red" and "black" in s[1]["message"] and "cover off the lens" in s[1]["fix"]
            assert app[CAMERA].calibration == calibration

            # a picture with no markers at all: step 3 names every missing corner
            no_markers = jpeg(camera_sim.render(Scene(PLAN, hidden_corners=frozenset(PLAN.corner_ids))).image)
            showing["picture"] = no_markers
            await wait_for(lambda: app[CAMERA].latest and app[CAMERA].latest[1].detections is not None
                           and len(app[CAMERA].latest[1].corners_missing) == 4, "the empty floor tracked")
            s = await steps()
            assert s[3]["status"] == "red" and all(n in s[3]["message"] for n in
                                                   ("lower left", "lower right", "upper right", "upper left"))
            codes = [p["code"] for p in app[CAMERA].summary()["result"]["problems"]]
            assert "no_markers" in codes and "calibration_kept" in codes
            status, body = await teacher.post("/api/setup/measure", {"width_cm": 200})
            assert status == 400 and "cannot see" in body["error"]["message"], body
            assert app[CAMERA].calibration == calibration

            # the lower-left corner marker printed twice: nobody can tell which is right
            twice = jpeg(camera_sim.render(Scene(PLAN, cars=CAR, sheets=(floor_marker(PLAN.corner_ids[0], 140, 100),))).image)
            showing["picture"] = twice
            await wait_for(lambda: app[CAMERA].latest and app[CAMERA].latest[1].detections is not None
                           and PLAN.corner_ids[0] in app[CAMERA].latest[1].detections.duplicates, "the spare copy seen")
            s = await steps()
            assert s[3]["status"] == "red" and "twice" in s[3]["message"] and "printed once" in s[3]["fix"]
            status, body = await teacher.post("/api/setup/measure", {"width_cm": 200})
            assert status == 400 and body["error"]["rule"] == "duplicate_marker", body
            assert app[CAMERA].calibration == calibration

            # the camera goes away mid-setup (the page stops sending): step 1 says so; the calibration stays
            plugged_in.cancel()
            await wait_for(lambda: app[CAMERA].problem is not None, "the silent camera noticed", 10)
            s = await steps()
            assert s[1]["status"] == "red" and "stopped sending pictures" in s[1]["message"]
            assert "choose the camera again" in s[1]["fix"]
            assert app[CAMERA].calibration == calibration and page.connected
            async with teacher.http.get(srv.url + "/api/camera/preview.jpg") as resp:
                assert resp.status == 200  # the last picture is still shown
            # choosing it again carries on with the same calibration
            assert (await teacher.post("/api/setup/camera", {"source": "browser"}))[0] == 200
            assert (await send(good, 2))["ok"]
            await wait_for(lambda: app[CAMERA].frames >= 1 and app[CAMERA].problem is None, "the camera back")
            assert app[CAMERA].calibration == calibration
        finally:
            await page.disconnect()
            await teacher.http.close()


async def test_a_roof_marker_used_twice_or_taken_by_another_car_is_refused_with_the_fix(tmp_path):
    room = tmp_path / "room.yaml"
    room.write_text(yaml.safe_dump(ROOM.model_dump(mode="json")))
    async with classroom_server(tmp_path / "srv", cars=["car-1", "car-2"], arena_path=room, camera_source="sim") as srv:
        app = srv.handle.app
        teacher = await srv.teacher()
        try:
            assert (await teacher.get("/api/setup"))[0] == 200  # the first look starts the simulated camera
            await wait_for(lambda: app[CAMERA].frames >= 2, "pictures", 20)
            assert (await teacher.post("/api/setup/measure", {"width_cm": 200}))[0] == 200
            status, body = await teacher.post("/api/setup/cars", {"car_id": "car-1"})
            assert status == 400 and body["error"]["rule"] == "several_roof_markers" and "10, 11" in body["error"]["message"]
            assert (await teacher.post("/api/setup/cars", {"car_id": "car-1", "marker_id": 10}))[0] == 200
            status, body = await teacher.post("/api/setup/cars", {"car_id": "car-2", "marker_id": 10})
            assert status == 400 and body["error"]["rule"] == "marker_taken" and "used twice" in body["error"]["message"]
            status, body = await teacher.post("/api/setup/cars", {"car_id": "car-2", "marker_id": 0})
            assert status == 400 and body["error"]["rule"] == "marker_taken" and "corner" in body["error"]["message"]
            status, body = await teacher.post("/api/setup/cars", {"car_id": "car-2", "height_cm": "tall"})
            assert status == 400 and body["error"]["rule"] == "bad_height"
            assert list(app[CAMERA].plan.roofs) == ["car-1"]  # nothing half-added
        finally:
            await teacher.http.close()
