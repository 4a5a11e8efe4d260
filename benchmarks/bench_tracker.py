"""The arena camera's tracker: speed (one thread), accuracy against the simulated camera's truth, latency.

Rigs (perception.sim_rigs): "overhead" 640x480 straight down and "shelf" 1280x720 34 degrees off, over a
2 x 1.5 m arena with four cars carrying 10 cm roof markers; barrel lens, blur, noise and uneven light on.

- speed: Tracker.process (grey conversion, ArUco with sub-pixel corners, floor-plane fits for four cars,
  motion filters) on pre-rendered pictures, one OpenCV thread. Baseline in the same run: bare
  ArucoDetector.detectMarkers with default parameters on the same grey pictures (the note says 160-200
  fps at 640x480 on this machine). Target: >= 100 fps at 640x480.
- accuracy: every car in every picture measured on its own (no filter), against the truth; median and
  p95 position error, median heading error, misses. Targets: <= 1 cm, <= 2.5 cm, <= 2 deg, <= 1 %. Once
  with the lens measured by the simulated ChArUco sweep, once with the lens guessed from the picture size.
- latency: camera picture -> tracked poses in-process, as pixels (a webcam) and as JPEG bytes (the
  browser's camera: decode + track).
"""

from __future__ import annotations

import math
import statistics
import time

import cv2
import numpy as np

from perception.camera import default_intrinsics
from perception.markers import MarkerPlan, default_roof_markers
from perception.sim_camera import Imperfections, Scene, random_car_poses
from perception.sim_rigs import Rig, measure_lens_with_board, overhead_rig, shelf_rig
from perception.sources import PushedSource
from perception.tracker import Tracker
from robot_runtime.arena import Arena
from robot_runtime.protocol import Pose

ARENA = Arena(name="bench", width_cm=200, height_cm=150, start=Pose(x_cm=40, y_cm=40, heading_deg=0))
PLAN = MarkerPlan(ARENA, default_roof_markers(["car-1", "car-2", "car-3", "car-4"]))
PICTURES = 150  # x 4 cars = 600 poses per rig
SPEED_ROUNDS = 5  # best of: the machine is shared
JPEG_QUALITY = 80  # what a browser's canvas.toBlob('image/jpeg', 0.8) sends


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _render(rig: Rig) -> tuple[np.ndarray, list[tuple[dict[str, Pose], np.ndarray]]]:
    camera = rig.camera(seed=21, imperfections=Imperfections())
    rng = np.random.default_rng(21)
    shots = []
    for _ in range(PICTURES):
        truth = random_car_poses(PLAN, rng)
        shots.append((truth, camera.render(Scene(PLAN, cars=truth)).image))
    return camera.render(Scene(PLAN)).image, shots


def _fps(*runs: tuple) -> list[float]:
    """Frames per second of each (function, pictures) run: best of SPEED_ROUNDS, the runs interleaved so a
    busy moment on the shared machine slows them alike."""
    best = [math.inf] * len(runs)
    for _ in range(SPEED_ROUNDS):
        for k, (fn, images) in enumerate(runs):
            t0 = time.perf_counter()
            for img in images:
                fn(img)
            best[k] = min(best[k], time.perf_counter() - t0)
    return [len(images) / b for (_, images), b in zip(runs, best)]


def _accuracy(calibration, shots) -> dict[str, float]:
    pos, head, misses, n = [], [], 0, 0
    for i, (truth, image) in enumerate(shots):
        result = Tracker(PLAN, calibration=calibration).process(image, float(i))
        for car_id, pose in truth.items():
            n += 1
            fix = result.cars[car_id].fix if car_id in result.cars else None
            if fix is None:
                misses += 1
                continue
            pos.append(math.hypot(fix.x_cm - pose.x_cm, fix.y_cm - pose.y_cm))
            head.append(abs((fix.heading_deg - pose.heading_deg + 180) % 360 - 180))
    return {"median": statistics.median(pos), "p95": _pct(pos, 0.95), "heading": statistics.median(head),
            "misses": misses / n, "n": n}


def main() -> None:
    cv2.setNumThreads(1)
    print(f"OpenCV {cv2.__version__}, {cv2.getNumThreads()} thread; {PICTURES} pictures x {len(PLAN.roofs)} cars per rig, "
          f"10 cm roof markers")
    for rig in (overhead_rig(PLAN), shelf_rig(PLAN)):
        t0 = time.perf_counter()
        empty, shots = _render(rig)
        render_s = (time.perf_counter() - t0) / (PICTURES + 1)
        images = [img for _, img in shots]
        greys = [cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) for img in images]
        bare = cv2.aruco.ArucoDetector(cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50),
                                       cv2.aruco.DetectorParameters())
        w, h = rig.lens.size
        print(f"\n--- {rig.name} (camera {rig.pose.position_cm[2]:.0f} cm up, {rig.pose.tilt_deg:.0f} deg from straight "
              f"down); simulated camera draws {1 / render_s:.0f} fps")
        tracker = Tracker(PLAN)
        tracker.calibrate(empty)
        base_fps, track_fps = _fps((bare.detectMarkers, greys), (lambda img: tracker.process(img, 0.0), images))
        print(f"speed {w}x{h}: tracker {track_fps:6.0f} fps   bare ArUco detection (baseline) {base_fps:6.0f} fps   "
              f"ratio {track_fps / base_fps:.2f}" + ("   target >= 100 fps" if w == 640 else ""))
        for lens_name, lens in (("ChArUco-measured lens", measure_lens_with_board(rig, PLAN)),
                                ("guessed lens", default_intrinsics(w, h))):
            calibration = Tracker(PLAN, lens).calibrate(empty)
            a = _accuracy(calibration, shots)
            print(f"accuracy, {lens_name:>21}: position median {a['median']:.2f} cm  p95 {a['p95']:.2f} cm   "
                  f"heading median {a['heading']:.2f} deg   misses {a['misses'] * 100:.1f} % of {a['n']}   "
                  f"(floor calibration {calibration.error_cm:.2f} cm)")
        pixels_ms, jpeg_ms = [], []
        pushed = PushedSource()
        jpegs = [cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])[1].tobytes() for img in images]
        for i, (img, jpg) in enumerate(zip(images, jpegs)):
            t0 = time.perf_counter()
            tracker.process(img, i / 30)
            t1 = time.perf_counter()
            frame = pushed.push(jpg)
            tracker.process(frame.image, frame.t)
            t2 = time.perf_counter()
            pixels_ms.append((t1 - t0) * 1000)
            jpeg_ms.append((t2 - t1) * 1000)
        for name, values in (("picture -> poses", pixels_ms), (f"JPEG ({len(jpegs[0]) // 1024} KiB) -> poses", jpeg_ms)):
            print(f"latency {name:>24}: p50 {statistics.median(values):6.2f} ms   p99 {_pct(values, 0.99):6.2f} ms")


if __name__ == "__main__":
    main()
