"""Camera frame -> pose at the server: how long after a picture leaves the browser the classroom has the
car's tracked pose (the grading truth), through the real path.

A real classroom server on 127.0.0.1 (port 0) with the arena camera on "this computer's camera"; a real
socket.io client on /camera (the teacher's session) sends JPEG pictures from our simulated overhead
camera, one at a time, like the set-up page; the time is taken from just before the send to the moment
the camera's result with car-1's new sighting reaches the server's event loop (where the truth filter
and the grading read it). The baseline in the same run is the tracker alone on the same pictures
(decode + track, no network, no thread hand-offs): the ratio is what the server path adds.

    python -m benchmarks camera_server
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from perception.markers import MarkerPlan, RoofMarker
from perception.sim_camera import Scene, random_car_poses
from perception.sim_rigs import overhead_rig
from perception.sources import decode_picture
from perception.tracker import Tracker
from robot_runtime.arena import Arena
from robot_runtime.protocol import Pose

FRAMES = 120
WARMUP = 10
ARENA = Arena(name="bench room", width_cm=200.0, height_cm=150.0, start=Pose(x_cm=40, y_cm=40, heading_deg=0))
PASSWORD = "bench-password-1"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _pictures() -> list[bytes]:
    plan = MarkerPlan(ARENA, [RoofMarker(car_id="car-1", marker_id=10)])
    camera = overhead_rig(plan).camera(seed=7)
    rng = np.random.default_rng(7)
    out = []
    for i in range(FRAMES + WARMUP):
        cars = random_car_poses(plan, rng)
        image = camera.render(Scene(plan, cars=cars), frame_seed=i).image
        out.append(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())
    return out


def _baseline(pictures: list[bytes]) -> list[float]:
    """Decode + track in this thread: what the tracker itself costs per picture."""
    tracker = Tracker(MarkerPlan(ARENA, [RoofMarker(car_id="car-1", marker_id=10)]))
    times = []
    for i, data in enumerate(pictures):
        t0 = time.perf_counter()
        tracker.process(decode_picture(data), i / 30)
        times.append(time.perf_counter() - t0)
    return times[WARMUP:]


async def _through_server(pictures: list[bytes]) -> tuple[list[float], int]:
    import aiohttp
    import socketio

    from server.arena_camera import CAMERA
    from server.core.config import ServerConfig
    from server.runner import start_server

    with tempfile.TemporaryDirectory() as tmp:
        arena_path = Path(tmp) / "room.yaml"
        arena_path.write_text(ARENA.model_dump_json())
        handle = await start_server(ServerConfig(port=0, data_dir=Path(tmp) / "srv", teacher_password=PASSWORD,
                                                 arena_path=arena_path))
        camera = handle.app[CAMERA]
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        page = socketio.AsyncClient(reconnection=False)
        try:
            async with http.post(f"{handle.base_url}/api/teacher/login", json={"password": PASSWORD}) as r:
                csrf = (await r.json())["csrf_token"]
            async with http.post(f"{handle.base_url}/api/setup/camera", json={"source": "browser"},
                                 headers={"X-CSRF-Token": csrf}) as r:
                assert r.status == 200, await r.text()
            # car-1's roof marker (the wizard's pairing step needs the car connected; here only its pictures are)
            camera.set_plan(MarkerPlan(camera.plan.arena, [RoofMarker(car_id="car-1", marker_id=10)]))
            cookie = "; ".join(f"{c.key}={c.value}" for c in http.cookie_jar)
            await page.connect(handle.base_url, namespaces=["/camera"], transports=["websocket"], headers={"Cookie": cookie})
            loop = asyncio.get_running_loop()
            arrived: asyncio.Future | None = None

            def on_result(_summary: dict) -> None:
                seen = camera.sightings.get("car-1")
                if arrived is not None and not arrived.done() and seen is not None and seen.at >= sent_at:
                    arrived.set_result(time.monotonic())

            camera.listeners.append(on_result)
            latencies, misses = [], 0
            for i, data in enumerate(pictures):
                arrived = loop.create_future()
                sent_at = time.monotonic()
                await page.call("frame", data, namespace="/camera", timeout=10)
                try:
                    done = await asyncio.wait_for(arrived, 2.0)
                except asyncio.TimeoutError:
                    misses += 1 if i >= WARMUP else 0
                    continue
                if i >= WARMUP:
                    latencies.append(done - sent_at)
            return latencies, misses
        finally:
            await page.disconnect()
            await http.close()
            await handle.close()


def main() -> None:
    cv2.setNumThreads(1)
    pictures = _pictures()
    base = _baseline(pictures)
    lat, misses = asyncio.run(_through_server(pictures))
    b50, s50 = statistics.median(base) * 1000, statistics.median(lat) * 1000
    print(f"{FRAMES} JPEG pictures 640x480 (one car, 4 corners), one OpenCV thread, one picture in flight at a time")
    print(f"baseline  decode + track in-process : p50 {b50:6.2f} ms   p99 {_pct(base, 0.99) * 1000:6.2f} ms")
    print(f"browser picture -> pose at the server: p50 {s50:6.2f} ms   p99 {_pct(lat, 0.99) * 1000:6.2f} ms   "
          f"(x{s50 / b50:.1f} the baseline; {misses} of {FRAMES} not seen within 2 s)")


if __name__ == "__main__":
    main()
