"""A car's pose from its roof marker: PnP constrained to the plane at roof height.

The roof marker lies flat at a known height, so a car has only three unknowns (x, y, heading), not
the six a free marker has. Each detected corner's ray is cut with the plane z = roof height, and the
marker's known shape is fitted to those four points (a 2-D rigid fit, closed form). This is the
least-squares PnP of a planar square whose plane is known; it has none of the flip ambiguity a free
6-DoF solvePnP has on a small marker, and it is exact where a floor homography is not (a marker 12 cm
up, 1 m off-axis under a 2 m camera, sits 6 cm away from where the floor homography puts it).

What is left over says how far to trust the fit: `residual_cm` (corners off the marker's shape) and
`scale` (the marker's size on the roof plane over its true size; far from 1: wrong roof height or
marker size). The scale cannot measure a roof height in turn: ArUco's corners sit ~0.3 px inside a
marker, which at 25 px is a 2 % smaller marker, i.e. ~4 cm lower under a 2 m camera — ask for a ruler.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from perception.camera import PinholeCamera
from perception.markers import RoofMarker

@dataclass(frozen=True, slots=True)
class CarFix:
    """One measurement of one car in one picture."""

    car_id: str
    x_cm: float
    y_cm: float
    heading_deg: float
    residual_cm: float
    scale: float


def fit_marker(plane_pts: np.ndarray, model_pts: np.ndarray) -> tuple[float, float, float, float, float]:
    """Rigid 2-D fit of `model_pts` (car frame) onto `plane_pts` (world): x, y, heading (deg), rms residual, scale."""
    pm, mm = plane_pts.mean(axis=0), model_pts.mean(axis=0)
    p, m = plane_pts - pm, model_pts - mm
    a = float(np.sum(m[:, 0] * p[:, 0] + m[:, 1] * p[:, 1]))
    b = float(np.sum(m[:, 0] * p[:, 1] - m[:, 1] * p[:, 0]))
    theta = math.atan2(b, a)
    c, s = math.cos(theta), math.sin(theta)
    R = np.array([[c, -s], [s, c]])
    t = pm - R @ mm
    residual = float(np.sqrt(np.mean(np.sum((m @ R.T - p) ** 2, axis=1))))
    scale = float(np.sqrt(np.sum(p ** 2) / np.sum(m ** 2)))
    return float(t[0]), float(t[1]), math.degrees(theta), residual, scale


def locate_car(corners_px: np.ndarray, roof: RoofMarker, camera: PinholeCamera) -> CarFix | None:
    """The car under a detected roof marker, or None when the marker's rays miss the roof plane."""
    plane = camera.to_plane(corners_px, roof.height_cm)
    if not np.all(np.isfinite(plane)):
        return None
    x, y, heading, residual, scale = fit_marker(plane, roof.model_points())
    return CarFix(roof.car_id, x, y, heading, residual, scale)
