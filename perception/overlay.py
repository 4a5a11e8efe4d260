"""Drawing what the tracker saw over the camera picture: the setup wizard's preview and the teacher's view.

Corner markers found are outlined green and named; missing ones are listed in red at the top; a
corner marker whose picture moved is outlined orange. Each car gets its outline on the floor, an arrow
for its heading and its name — solid when tracked, dashed-grey when coasting, and "lost" when lost.
Markers nobody owns are outlined blue with their id (the wizard asks "is this your car?").
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from perception.markers import MarkerPlan
from perception.sim_camera import car_box
from perception.tracker import TrackResult
from robot_runtime.hardware import CarSpec
from robot_runtime.protocol import Pose

GREEN, RED, ORANGE, BLUE, GREY, WHITE = (60, 200, 60), (40, 40, 230), (0, 150, 255), (230, 140, 30), (150, 150, 150), (255, 255, 255)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _label(img: np.ndarray, text: str, at: tuple[int, int], colour: tuple[int, int, int], scale: float = 0.45) -> None:
    """Text on a dark box, kept inside the picture."""
    (w, h), base = cv2.getTextSize(text, FONT, scale, 1)
    x = int(min(max(at[0], 2), img.shape[1] - w - 4))
    y = int(min(max(at[1], h + 4), img.shape[0] - base - 2))
    cv2.rectangle(img, (x - 2, y - h - 3), (x + w + 2, y + base), (30, 30, 30), -1)
    cv2.putText(img, text, (x, y), FONT, scale, colour, 1, cv2.LINE_AA)


def draw_tracking(image: np.ndarray, result: TrackResult, plan: MarkerPlan, spec: CarSpec = CarSpec()) -> np.ndarray:
    """A copy of `image` with the result drawn over it."""
    img = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    det = result.detections
    if det is not None:
        for mid, corners in det.markers.items():
            pts = corners.round().astype(np.int32)
            if mid in plan.corner_ids:
                cv2.polylines(img, [pts], True, GREEN, 2, cv2.LINE_AA)
                _label(img, plan.corner_name(mid), tuple(pts[0] + (0, -6)), GREEN)
            elif mid not in plan.by_marker:
                cv2.polylines(img, [pts], True, BLUE, 2, cv2.LINE_AA)
                _label(img, f"marker {mid}?", tuple(pts[0] + (0, -6)), BLUE)
        for mid, copies in det.duplicates.items():
            for corners in copies:
                cv2.polylines(img, [corners.round().astype(np.int32)], True, RED, 2, cv2.LINE_AA)
                _label(img, f"{mid} twice!", tuple(corners[0].astype(int) + (0, -6)), RED)
    cal = result.calibration
    if cal is not None:
        cam = cal.camera()
        if cam.intrinsics.size != (img.shape[1], img.shape[0]):
            cam = type(cam)(cal.intrinsics.scaled_to(img.shape[1], img.shape[0]), cal.pose)
        for car in result.cars.values():
            m = car.motion
            roof = plan.roofs.get(car.car_id)
            height = roof.height_cm if roof else 0.0
            box = car_box(Pose(x_cm=m.x_cm, y_cm=m.y_cm, heading_deg=m.heading_deg), spec, height)[:4]
            if np.any(cam.depth(box) <= 0):
                continue
            colour = {"tracked": GREEN, "coasting": GREY, "lost": RED}[m.state]
            floor = cam.project(box).round().astype(np.int32)
            cv2.polylines(img, [floor], True, colour, 2 if m.state == "tracked" else 1, cv2.LINE_AA)
            h = math.radians(m.heading_deg)
            nose = (m.x_cm + math.cos(h) * spec.length_cm * 0.6, m.y_cm + math.sin(h) * spec.length_cm * 0.6, 0.0)
            a, b = cam.project(np.array([[m.x_cm, m.y_cm, 0.0], nose])).round().astype(int)
            cv2.arrowedLine(img, tuple(a), tuple(b), colour, 2, cv2.LINE_AA, tipLength=0.3)
            text = car.car_id + ("" if m.state == "tracked" else f" ({m.state})")
            _label(img, text, tuple(floor.min(axis=0) + (0, -6)), colour if m.state != "tracked" else WHITE)
    y = 20
    if result.corners_missing:
        names = ", ".join(plan.corner_name(m) for m in result.corners_missing)
        _label(img, f"corner markers missing: {names}", (8, y), RED, 0.5)
        y += 20
    for p in result.problems:
        if p.code in ("corner_missing", "calibration_kept"):
            continue
        _label(img, p.message[:90], (8, y), RED if p.severity == "error" else ORANGE, 0.45)
        y += 18
    return img


def jpeg(image: np.ndarray, quality: int = 80) -> bytes:
    """A picture as JPEG bytes, for a web page's live preview."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV could not encode the picture as JPEG")
    return buf.tobytes()
