"""The lens board in the measure step, against a real server and the simulated camera, whose simulated
parent holds the printed ChArUco board up in a new place every picture while the step looks for it:
progress n of needed, refusals while there are too few views, the fitted lens close to the simulated
camera's true lens with its error in pixels and a light, the floor measured again with it, and the
saved arena file carrying it."""

from __future__ import annotations

import asyncio

import pytest
import yaml

from core_harness import classroom_server, wait_for
from perception.arena_file import load_arena_file
from perception.lens import MIN_VIEWS
from robot_runtime.arena import Arena
from robot_runtime.protocol import Pose
from server.arena_camera import CAMERA, SIM_ROOM

pytestmark = pytest.mark.timeout(180)
ROOM = Arena(name="living room", width_cm=200.0, height_cm=150.0, start=Pose(x_cm=50.0, y_cm=75.0, heading_deg=0.0))
COLLECT_S = 90.0  # 10 pictures a second, each looked at for the board in a thread: ~15 views in seconds when idle


async def test_the_lens_board_measures_the_lens_and_the_floor_is_measured_again_with_it(tmp_path):
    room = tmp_path / "room.yaml"
    room.write_text(yaml.safe_dump(ROOM.model_dump(mode="json")))
    async with classroom_server(tmp_path / "srv", arena_path=room, camera_source="sim") as srv:
        app = srv.handle.app
        camera, sim = app[CAMERA], app[SIM_ROOM]
        teacher = await srv.teacher()
        try:
            status, body = await teacher.post("/api/setup/lens/start")
            assert status == 400 and body["error"]["rule"] == "camera_not_chosen", body  # no camera looked at yet
            assert (await teacher.get("/api/setup"))[0] == 200  # the first look starts the simulated camera
            await wait_for(lambda: camera.latest and camera.latest[1].detections is not None
                           and not camera.latest[1].corners_missing, "all four corners in view", 30)
            status, first = await teacher.post("/api/setup/measure", {"width_cm": 200})
            assert status == 200 and camera.calibration.intrinsics.source != "charuco", first

            status, body = await teacher.post("/api/setup/lens/finish")
            assert status == 400 and body["error"]["rule"] == "lens_not_started", body
            status, lens = await teacher.post("/api/setup/lens/start")
            assert status == 200 and lens["collecting"] and lens["views"] == 0 and lens["needed"] == MIN_VIEWS, lens
            status, body = await teacher.post("/api/setup/lens/finish")  # too early: says what is missing, keeps looking
            assert status == 400 and body["error"]["rule"] in ("lens_needs_views", "lens_needs_edges"), body
            assert body["error"]["fix"]

            async def progress() -> dict:
                return (await teacher.get("/api/setup/lens"))[1]

            seen: list[dict] = []
            for _ in range(int(COLLECT_S / 0.25)):
                seen.append(await progress())
                if seen[-1]["ready"] and seen[-1]["views"] >= 8:
                    break
                await asyncio.sleep(0.25)
            now = seen[-1]
            assert now["ready"] and now["collecting"] and now["views"] >= 8, now
            assert now["regions_missing"] == [] or len(now["regions_missing"]) <= 1, now
            assert now["pictures"] >= now["views"] and now["last"] is not None
            counts = [s["views"] for s in seen]
            assert counts == sorted(counts) and len(set(counts)) > 2  # the page sees n of needed go up

            status, done = await teacher.post("/api/setup/lens/finish")
            assert status == 200, done
            result = done["result"]
            assert not done["collecting"] and result["light"] in ("green", "amber") and result["rms_px"] < 1.0, result
            assert result["words"].startswith(f"Lens measured from {result['views']} views") and not done["in_use"]
            truth = sim.lens
            fitted = result["intrinsics"]
            assert fitted["source"] == "charuco" and fitted["fx"] == pytest.approx(truth.fx, rel=0.02), (fitted, truth)
            assert fitted["dist"][0] == pytest.approx(truth.dist[0], abs=0.03)
            assert sim._board is None  # the simulated parent put the board away
            _, view = await teacher.get("/api/setup")
            step4 = next(s for s in view["steps"] if s["n"] == 4)
            assert step4["status"] == "todo" and "measure the floor again" in step4["message"], step4

            # the floor measured again uses the board's lens; the saved file keeps it
            await wait_for(lambda: camera.latest and camera.latest[1].detections is not None
                           and not camera.latest[1].corners_missing, "all four corners in view again", 30)
            status, again = await teacher.post("/api/setup/measure", {"width_cm": 200})
            assert status == 200 and again["light"] == "green", again
            assert camera.calibration.intrinsics.source == "charuco"
            assert camera.calibration.intrinsics.fx == pytest.approx(fitted["fx"], rel=1e-6)
            _, view = await teacher.get("/api/setup")
            assert next(s for s in view["steps"] if s["n"] == 4)["status"] == "green"
            assert view["lens"]["in_use"] and view["lens"]["result"]["rms_px"] == result["rms_px"]
            status, saved = await teacher.post("/api/setup/save", {"name": "Living room"})
            assert status == 200, saved
            assert load_arena_file(saved["path"]).camera.calibration.intrinsics.source == "charuco"
        finally:
            await teacher.http.close()
