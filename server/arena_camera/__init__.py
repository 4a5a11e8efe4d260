"""The arena camera and the home-arena set-up wizard (issue 18): see every car from above.

- ``camera``: one ArenaCamera per server — a camera source (simulated, USB, MJPEG/RTSP URL, or the
  browser's camera over the page's socket) through perception's tracker in its own thread; the latest
  picture, the overlay preview, each car's tracked pose at camera rate.
- ``sim_room``: the simulated overhead camera over the server's arena and its simulated cars (`dojo
  demo`, rehearsals, tests: everything works with no camera).
- ``truth``: a classroom pose filter — a real car the camera tracks gets the camera's pose in its
  telemetry (pose_source "camera"), so its lesson attempts are graded from camera poses.
- ``wizard``, ``test_drive``, ``lens_step``: the seven steps of /setup/, the test drive's maths, the
  optional lens board in the measure step; which lessons fit the
  measured arena is curriculum/lesson_fit.py. The saved floor becomes the core's home floor
  (``Classroom.set_home_floor``, at start and on save): the lessons feature fits lessons into it.
- ``routes`` (HTTP, /setup/ and /api/setup/..., /api/camera...), ``hub`` (socket.io /camera: browser
  frames in, the camera's state out), ``static/`` (the wizard page).

Reads the core only (the Classroom's pose_filters and drive_for_setup hooks, its home floor, its telemetry, the
storage's key-value place); imports no other feature. The saved arena file is <data_dir>/arena.yaml.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import AsyncIterator

from aiohttp import web

from perception.arena_file import ArenaFileError, load_arena_file
from perception.markers import MarkerPlan
from robot_runtime.protocol import Pose, Telemetry
from server.arena_camera import hub, routes
from server.arena_camera.camera import BROWSER, SIM, ArenaCamera
from server.arena_camera.routes import CAMERA, WIZARD
from server.arena_camera.sim_room import SimRoom
from server.arena_camera.truth import CameraTruth
from server.arena_camera.wizard import Wizard, home_floor_of
from server.web.state import CLASSROOM, CONFIG, STORAGE

log = logging.getLogger(__name__)

ARENA_FILE = "arena.yaml"
TRUTH: web.AppKey[CameraTruth] = web.AppKey("camera_truth", CameraTruth)
SIM_ROOM: web.AppKey[SimRoom] = web.AppKey("sim_room", SimRoom)

__all__ = ["ARENA_FILE", "CAMERA", "SIM_ROOM", "TRUTH", "WIZARD", "setup", "setup_pages"]


def setup(app: web.Application) -> None:
    classroom, config = app[CLASSROOM], app[CONFIG]
    arena_path = Path(config.data_dir) / ARENA_FILE
    sim_poses: dict[str, Pose] = {}

    def record_sim_pose(car_id: str, tel: Telemetry) -> None:
        """The simulator's own pose (before the camera's replaces it): what the simulated room draws."""
        if tel.pose_source in (None, "sim"):
            sim_poses[car_id] = tel.pose
        return None

    def live_sim_poses() -> dict[str, Pose]:
        connected = set(classroom.connected_car_ids())
        return {c: p for c, p in list(sim_poses.items()) if c in connected}

    room = SimRoom(classroom.default_arena, live_sim_poses)
    plan, calibration, saved_source = MarkerPlan(classroom.default_arena, []), None, None
    if arena_path.is_file():
        try:
            saved = load_arena_file(arena_path)
            plan, calibration, saved_source = saved.plan(), saved.camera.calibration, saved.camera.source
            classroom.set_home_floor(home_floor_of(saved))  # the lessons feature fits its lessons into it
        except ArenaFileError as exc:  # a broken file must not keep the class from starting
            log.error("arena file not used: %s", exc)
    camera = ArenaCamera(plan, room.source, room.max_fps, calibration, calibrated_with=saved_source)
    app[CAMERA], app[SIM_ROOM] = camera, room
    app[TRUTH] = truth = CameraTruth(camera)
    classroom.pose_filters.extend([record_sim_pose, truth])

    def tracked(car_id: str, sighting) -> None:
        """Every car the camera sees goes to the classroom at camera rate (the neighbours relay, the car)."""
        m, cal = sighting.car.motion, camera.calibration
        classroom.on_tracked_pose(car_id, Pose(x_cm=m.x_cm, y_cm=m.y_cm, heading_deg=m.heading_deg),
                                  vx_cm_s=m.vx_cm_s, vy_cm_s=m.vy_cm_s,
                                  uncertainty_cm=cal.error_cm if cal is not None else 0.0, t=sighting.at)

    camera.on_sighting = tracked
    app[WIZARD] = Wizard(camera, classroom, app[STORAGE], arena_path, rehearse_board=room.hold_board)
    hub.setup(app, camera)
    routes.setup_routes(app)
    start = config.camera_source or (saved_source if saved_source != BROWSER else None)

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        if start == SIM:  # drawn in this process: only once someone looks (the wizard, the console's view)
            camera.pending_source = SIM
        elif start:
            try:
                await camera.choose(start)
            except (ConnectionError, ValueError) as exc:
                log.warning("arena camera %s not started: %s", start, exc)
        yield
        await camera.close()

    app.cleanup_ctx.append(lifetime)


def setup_pages(app: web.Application) -> None:
    routes.setup_pages(app)
