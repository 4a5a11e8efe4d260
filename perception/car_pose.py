"""A car's pose from its roof marker: PnP constrained to the plane at roof height.

The roof marker lies flat at a known height, so a car has only three unknowns (x, y, heading), not
the six a free marker has. Each detected corner's ray is cut with the plane z = roof height, and the
marker's known shape is fitted to those four points (a 2-D rigid fit, closed form). This is the
least-squares PnP of a planar square whose plane is known; it has none of the flip ambiguity a free
6-DoF solvePnP has on a small marker, and it is exact where a floor homography is not (a marker 12 cm
up, 1 m off-axis under a 2 m camera, sits 6 cm away from where the floor homography puts it).

What is left over says how far to trust the fit: `residual_cm` (corners off the marker's shape) and
`scale` (the marker's size on the roof plane over its true size; far from 1: wrong roof height or
marker size). :func:`roof_height` finds the height at which the scale is 1, for the setup wizard.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from perception.camera import PinholeCamera
from perception.markers import RoofMarker, square

HEIGHT_SEARCH_STEPS = 40  # bisection halvings: far below a millimetre from a 3 m camera


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


def roof_height(corners_px: np.ndarray, size_cm: float, camera: PinholeCamera) -> float:
    """The height above the floor at which a marker `size_cm` wide shows as these corners.

    The higher the plane, the smaller the marker's footprint on it: bisect for the height where it has
    its true size. Used to measure a car's roof height instead of asking for a ruler.
    """
    model = square(0.0, 0.0, size_cm)
    lo, hi = 0.0, float(camera.centre[2]) * 0.95

    def scale(z: float) -> float:
        plane = camera.to_plane(corners_px, z)
        return fit_marker(plane, model)[4] if np.all(np.isfinite(plane)) else 0.0

    for _ in range(HEIGHT_SEARCH_STEPS):
        mid = (lo + hi) / 2
        if scale(mid) > 1.0:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2
