"""Two kids' programs drive two simulated cars straight at each other on one floor: both cars stop short
of contact. A real server on 127.0.0.1, two real car runtimes (simulator, supervisor, real-time loop)
over the real /car link, the kids' blocks over real socket.io (/kid) and through the Python SDK.

Where the cars are reaches the server two ways: each car's own telemetry, and the overhead camera
(perception's simulated camera renders both cars where their simulators have them, the real tracker
finds their roof markers, and its poses go in through Classroom.on_tracked_pose, the entry point the
camera service uses). The server's neighbours relay sends each car the other; each car's supervisor
keeps off it.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import pytest
import yaml
from core_harness import CLASS, classroom_server, wait_for

import dojo
from perception.markers import MarkerPlan, default_roof_markers
from perception.sim_camera import Scene
from perception.sim_rigs import overhead_rig
from perception.tracker import Tracker
from robot_runtime.arena import Arena
from robot_runtime.hardware import CarSpec
from robot_runtime.protocol import Pose

pytestmark = pytest.mark.timeout(180)

FLOOR = Arena(name="shared floor", width_cm=300, height_cm=200, start=Pose(x_cm=40, y_cm=40, heading_deg=0))
FACING = {0: Pose(x_cm=60, y_cm=100, heading_deg=0), 1: Pose(x_cm=240, y_cm=100, heading_deg=180)}  # 140 cm apart
DROVE_CM = 15.0  # each car really drove toward the other before it stopped
PLACED_CM = 1.0  # a placed car's telemetry shows its new pose within this
CAMERA_PERIOD_S = 0.05  # the simulated camera's 20 pictures a second (fewer when the box is busy)
TRACKED_CM = 1.5  # the tracker's own promise is about 1 cm here: its uncertainty, as the camera service reports it
SETTLE_S = 1.0  # after the replies: both cars at rest
HICCUP = "hiccup"  # a control loop starved of CPU on a busy box ends a move as a car fault: the kid tries again
TRIES = 5


def bumper_gap_cm(a: Pose, b: Pose, spec: CarSpec) -> float:
    """Free distance between two cars facing each other along x (front bumper to front bumper)."""
    return (b.x_cm - spec.length_cm / 2) - (a.x_cm + spec.length_cm / 2)


def true_pose(srv, car_id: str) -> Pose:
    return srv.cars[car_id].runtime.hardware.pose  # the simulator's truth, not what the car believes


async def setup_floor(srv, car_ids: list[str]) -> None:
    for i, car_id in enumerate(car_ids):
        await srv.classroom.set_arena(car_id, None, FACING[i])  # the shared default arena, at this pose

    def placed() -> bool:
        return all((tm := srv.classroom.latest_telemetry(c)) is not None
                   and math.hypot(tm.pose.x_cm - FACING[i].x_cm, tm.pose.y_cm - FACING[i].y_cm) < PLACED_CM
                   for i, c in enumerate(car_ids))

    await wait_for(placed, "both cars placed facing each other")


def record_car_collisions(srv) -> list:
    hits: list = []
    srv.classroom.events.subscribe("telemetry", lambda car_id, tm: hits.extend(
        (car_id, c.with_) for c in tm.collisions if c.with_.startswith("car:")))
    return hits


@pytest.fixture
def floor_file(tmp_path):
    path = tmp_path / "floor.yaml"
    path.write_text(yaml.safe_dump(FLOOR.model_dump(mode="json")))
    return path


async def test_two_kids_drive_their_cars_at_each_other_and_both_stop_short(tmp_path, floor_file):
    async with classroom_server(tmp_path, cars=["car-1", "car-2"], arena_path=floor_file,
                                sim_cars_see_each_other=True) as srv:
        kids = [await srv.join("Mia"), await srv.join("Leo")]
        car_ids = [k["car_id"] for k in kids]
        assert sorted(car_ids) == ["car-1", "car-2"]
        await setup_floor(srv, car_ids)
        hits = record_car_collisions(srv)
        sios = [await srv.kid_socket(k["token"]) for k in kids]

        async def drive(sio) -> dict:
            for _ in range(TRIES):
                reply = await srv.block(sio, "move_forward", {"distance": 200})
                if HICCUP not in reply["kid_text"]:
                    return reply
            return reply

        replies = await asyncio.gather(*(drive(s) for s in sios))
        await asyncio.sleep(SETTLE_S)
        a, b = (true_pose(srv, c) for c in car_ids)
        assert bumper_gap_cm(a, b, CarSpec()) > 0.0, (a, b)  # stopped short
        assert a.x_cm - FACING[0].x_cm > DROVE_CM and FACING[1].x_cm - b.x_cm > DROVE_CM, (a, b)  # after driving
        assert hits == []
        for reply in replies:
            assert reply["status"] == "failed", reply
            assert "another car" in reply["kid_text"], reply
        for c in car_ids:  # each car really heard about the other, from its telemetry
            view = srv.cars[c].runtime.supervisor.neighbours
            assert view.messages > 0 and [n.car.source for n in view.cars.values()] == ["telemetry"]


# The camera and the tracker run in a process of their own (as the camera service's work would on its
# own core): rendering and finding markers must not take the server's event loop's time on a busy box.
_rig: dict = {}


def _camera_start(car_ids: list[str], truth: dict[str, tuple[float, float, float]]) -> None:
    plan = MarkerPlan(FLOOR, default_roof_markers(car_ids))
    camera = overhead_rig(plan).camera(seed=3)
    tracker = Tracker(plan)
    tracker.calibrate(camera.render(Scene(plan, cars=_poses(truth))).image)  # the wizard's "measure" step
    _rig.update(plan=plan, camera=camera, tracker=tracker)


def _poses(truth: dict[str, tuple[float, float, float]]) -> dict[str, Pose]:
    return {c: Pose(x_cm=x, y_cm=y, heading_deg=h) for c, (x, y, h) in truth.items()}


def _camera_picture(truth: dict[str, tuple[float, float, float]], t: float) -> list[tuple]:
    """One picture of the cars where they truly are, through the tracker: (car, state, x, y, heading, vx, vy)."""
    image = _rig["camera"].render(Scene(_rig["plan"], cars=_poses(truth))).image
    result = _rig["tracker"].process(image, t)
    return [(c, m.state, m.x_cm, m.y_cm, m.heading_deg, m.vx_cm_s, m.vy_cm_s)
            for c, m in ((c, tc.motion) for c, tc in result.cars.items())]


class OverheadCamera:
    """The simulated camera over the floor and the real tracker at camera rate; each tracked pose goes to
    the server's camera entry point (Classroom.on_tracked_pose)."""

    def __init__(self, srv, car_ids: list[str], loop: asyncio.AbstractEventLoop) -> None:
        self.srv, self.car_ids, self.loop = srv, car_ids, loop
        self.pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        self.frames = 0
        self.errors_cm: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sim-camera", daemon=True)

    def _truth(self) -> dict[str, tuple[float, float, float]]:
        return {c: (p.x_cm, p.y_cm, p.heading_deg) for c in self.car_ids for p in [true_pose(self.srv, c)]}

    def calibrate(self) -> None:
        """Start the camera process and calibrate the floor (blocking: run it off the event loop)."""
        self.pool.submit(_camera_start, self.car_ids, self._truth()).result(timeout=60)

    def start(self) -> "OverheadCamera":
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            truth = self._truth()
            t = time.monotonic()  # the picture's time, on the server's clock (same machine)
            seen = self.pool.submit(_camera_picture, truth, t).result(timeout=30)
            self.frames += 1
            for car_id, state, x, y, heading, vx, vy in seen:
                if state == "lost":
                    continue
                self.errors_cm.append(math.hypot(x - truth[car_id][0], y - truth[car_id][1]))
                pose = Pose(x_cm=x, y_cm=y, heading_deg=heading)
                sure = TRACKED_CM if state == "tracked" else TRACKED_CM * 3
                self.loop.call_soon_threadsafe(self._deliver, car_id, pose, vx, vy, sure, t)
            self._stop.wait(max(0.0, CAMERA_PERIOD_S - (time.monotonic() - t)))

    def _deliver(self, car_id: str, pose: Pose, vx: float, vy: float, sure: float, t: float) -> None:
        self.srv.classroom.on_tracked_pose(car_id, pose, vx_cm_s=vx, vy_cm_s=vy, uncertainty_cm=sure, t=t)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30.0)
        self.pool.shutdown(cancel_futures=True)


async def test_with_camera_poses_two_sdk_programs_driving_at_each_other_stop_short(tmp_path, floor_file):
    async with classroom_server(tmp_path, cars=["car-1", "car-2"], arena_path=floor_file,
                                sim_cars_see_each_other=True) as srv:
        kids = [await asyncio.to_thread(dojo.connect, srv.url, class_code=CLASS, name=n) for n in ("Ava", "Noah")]
        try:
            car_ids = [k.car_id for k in kids]
            assert sorted(car_ids) == ["car-1", "car-2"]
            await setup_floor(srv, car_ids)
            camera = OverheadCamera(srv, car_ids, asyncio.get_running_loop())
            await asyncio.to_thread(camera.calibrate)
            camera.start()
            try:
                await wait_for(lambda: all(srv.classroom.latest_tracked_pose(c) for c in car_ids),
                               "the camera tracking both cars", timeout_s=20.0)
                await wait_for(lambda: all(
                    [n.car.source for n in srv.cars[c].runtime.supervisor.neighbours.cars.values()] == ["camera"]
                    for c in car_ids), "both cars hearing about each other from the camera", timeout_s=10.0)
                hits = record_car_collisions(srv)
                sources: set[str] = set()

                def watch() -> bool:  # what the cars hear while they drive
                    for c in car_ids:
                        sources.update(n.car.source for n in srv.cars[c].runtime.supervisor.neighbours.cars.values())
                    return False

                async def drive(kid: dojo.Car) -> str:
                    for _ in range(TRIES):
                        try:
                            await asyncio.to_thread(kid.forward, 200)
                            return "done"
                        except dojo.CarError as exc:
                            if HICCUP not in str(exc):
                                return str(exc)
                    return str(exc)

                driving = asyncio.gather(*(drive(k) for k in kids))
                while not driving.done():
                    watch()
                    await asyncio.sleep(0.02)
                outcomes = driving.result()
                await asyncio.sleep(SETTLE_S)
            finally:
                camera.stop()
            a, b = (true_pose(srv, c) for c in car_ids)
            assert bumper_gap_cm(a, b, CarSpec()) > 0.0, (a, b)
            assert a.x_cm - FACING[0].x_cm > DROVE_CM and FACING[1].x_cm - b.x_cm > DROVE_CM, (a, b)
            assert hits == []
            assert all("another car" in o for o in outcomes), outcomes
            # The camera's poses (a picture late by more than TRACKED_FRESH_S on a busy box: telemetry fills in).
            assert "camera" in sources
            assert camera.frames > 10 and sorted(camera.errors_cm)[len(camera.errors_cm) // 2] < 2.0
        finally:
            for k in kids:
                await asyncio.to_thread(k.close)
