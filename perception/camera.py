"""The camera model: intrinsics (focal length, centre, lens distortion), pose over the arena, projection.

Conventions (OpenCV's): the camera looks along its +z axis, image x grows right, image y grows down.
The world is the arena's: centimetres from its lower-left corner, x right, y up (away from the person
standing at the lower edge), z up from the floor. A pose maps world to camera: p_cam = R @ p_world + t.

:func:`default_intrinsics` guesses a webcam from its resolution and field of view (used until a ChArUco
board calibrates the real lens), :func:`look_at` places a camera, and :class:`PinholeCamera` projects
world points to pixels and casts pixels back onto a horizontal plane (the floor, or a car's roof).
"""

from __future__ import annotations

import math
from typing import Annotated

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

# A typical USB / laptop webcam sees 60-70 degrees across (a Logitech C920: 70 degrees); the middle of that
# range keeps a wrong guess within ~8 % of the real focal length.
DEFAULT_HFOV_DEG = 65.0

Finite = Annotated[float, Field(allow_inf_nan=False)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Intrinsics(_Frozen):
    """A pinhole camera with OpenCV's 5-term lens distortion (k1, k2, p1, p2, k3), for one image size."""

    width: Annotated[int, Field(ge=16, le=8192)]
    height: Annotated[int, Field(ge=16, le=8192)]
    fx: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    fy: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    cx: Finite
    cy: Finite
    dist: Annotated[list[Finite], Field(min_length=5, max_length=5)] = [0.0, 0.0, 0.0, 0.0, 0.0]
    source: str = "default"  # "default" (guessed from the field of view), "charuco", "floor", "simulated"

    @property
    def K(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def D(self) -> np.ndarray:
        return np.array(self.dist, dtype=np.float64)

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    @property
    def hfov_deg(self) -> float:
        return math.degrees(2 * math.atan(self.width / (2 * self.fx)))

    def scaled_to(self, width: int, height: int) -> "Intrinsics":
        """The same lens at another resolution of the same aspect (a webcam switched from 720p to 480p, say)."""
        if abs(width / height - self.width / self.height) > 0.01:
            raise ValueError(f"it was calibrated at {self.width}x{self.height} and {width}x{height} has another shape, "
                             "so the calibration does not carry over")
        s = width / self.width
        return self.model_copy(update={"width": width, "height": height, "fx": self.fx * s, "fy": self.fy * s,
                                       "cx": (self.cx + 0.5) * s - 0.5, "cy": (self.cy + 0.5) * s - 0.5})


def default_intrinsics(width: int, height: int, hfov_deg: float = DEFAULT_HFOV_DEG) -> Intrinsics:
    """A webcam guess: square pixels, centred, no distortion, `hfov_deg` across the image."""
    if not 20.0 <= hfov_deg <= 170.0:
        raise ValueError(f"field of view must be between 20 and 170 degrees (got {hfov_deg})")
    f = width / (2 * math.tan(math.radians(hfov_deg) / 2))
    return Intrinsics(width=width, height=height, fx=f, fy=f, cx=(width - 1) / 2, cy=(height - 1) / 2)


class CameraPose(_Frozen):
    """Where the camera is: world -> camera rotation (Rodrigues vector) and translation, in centimetres."""

    rvec: Annotated[list[Finite], Field(min_length=3, max_length=3)]
    tvec: Annotated[list[Finite], Field(min_length=3, max_length=3)]

    @property
    def R(self) -> np.ndarray:
        return cv2.Rodrigues(np.array(self.rvec, dtype=np.float64))[0]

    @property
    def t(self) -> np.ndarray:
        return np.array(self.tvec, dtype=np.float64)

    @property
    def position_cm(self) -> np.ndarray:
        """The camera's centre in arena coordinates."""
        return -self.R.T @ self.t

    @property
    def tilt_deg(self) -> float:
        """Angle between the optical axis and straight down (0 = looking straight down at the floor)."""
        axis = self.R.T @ np.array([0.0, 0.0, 1.0])
        return math.degrees(math.acos(max(-1.0, min(1.0, -axis[2]))))

    @classmethod
    def from_matrix(cls, R: np.ndarray, t: np.ndarray) -> "CameraPose":
        rvec = cv2.Rodrigues(np.asarray(R, dtype=np.float64))[0].ravel()
        return cls(rvec=[float(v) for v in rvec], tvec=[float(v) for v in np.asarray(t, dtype=np.float64).ravel()])


def look_at(eye_cm: tuple[float, float, float], target_cm: tuple[float, float, float]) -> CameraPose:
    """A camera at `eye` looking at `target`, rolled so the arena's +y points up the image where it can.

    Looking straight down, the picture is the arena's map (x right, y up); tilted, "up the image" is the
    direction the camera looks along the floor.
    """
    eye, target = np.array(eye_cm, dtype=np.float64), np.array(target_cm, dtype=np.float64)
    z = target - eye
    if np.linalg.norm(z) < 1e-6:
        raise ValueError("the camera cannot look at its own position: give a target away from the eye")
    z /= np.linalg.norm(z)
    up = np.array([0.0, 1.0, 0.0]) if abs(z[2]) > 0.999 or np.hypot(z[0], z[1]) < 1e-6 else np.array([z[0], z[1], 0.0])
    down = -(up - np.dot(up, z) * z)  # image y grows down: the world's "up the image" projected, negated
    y = down / np.linalg.norm(down)
    x = np.cross(y, z)
    R = np.stack([x, y, z])
    return CameraPose.from_matrix(R, -R @ eye)


class PinholeCamera:
    """Intrinsics + pose with the matrices worked out once: project and back-project many points fast."""

    def __init__(self, intrinsics: Intrinsics, pose: CameraPose) -> None:
        self.intrinsics = intrinsics
        self.pose = pose
        self.K, self.D = intrinsics.K, intrinsics.D
        self.R, self.t = pose.R, pose.t
        self.rvec = np.array(pose.rvec, dtype=np.float64)
        self.centre = -self.R.T @ self.t
        self._distorted = bool(np.any(self.D != 0.0))

    def project(self, points_world: np.ndarray) -> np.ndarray:
        """(N, 3) world points -> (N, 2) pixels, lens distortion included."""
        pts = np.asarray(points_world, dtype=np.float64).reshape(-1, 3)
        px, _ = cv2.projectPoints(pts, self.rvec, self.t, self.K, self.D)
        return px.reshape(-1, 2)

    def depth(self, points_world: np.ndarray) -> np.ndarray:
        """Distance in front of the camera along its optical axis, per point (negative: behind it)."""
        pts = np.asarray(points_world, dtype=np.float64).reshape(-1, 3)
        return pts @ self.R[2] + self.t[2]

    def normalized(self, pixels: np.ndarray) -> np.ndarray:
        """(N, 2) pixels -> (N, 2) undistorted normalized image coordinates (x/z, y/z in the camera frame)."""
        px = np.asarray(pixels, dtype=np.float64).reshape(-1, 1, 2)
        if not self._distorted:
            return ((px.reshape(-1, 2) - (self.K[0, 2], self.K[1, 2])) / (self.K[0, 0], self.K[1, 1]))
        return cv2.undistortPoints(px, self.K, self.D).reshape(-1, 2)

    def to_plane(self, pixels: np.ndarray, z_cm: float = 0.0) -> np.ndarray:
        """(N, 2) pixels -> (N, 2) world (x, y) where each pixel's ray meets the horizontal plane z = z_cm.

        Rays parallel to or pointing away from the plane give NaN.
        """
        n = self.normalized(pixels)
        rays = np.column_stack([n, np.ones(len(n))]) @ self.R  # camera -> world directions (R^T @ d, row-wise)
        dz = rays[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            s = (z_cm - self.centre[2]) / dz
        s = np.where(s > 0, s, np.nan)
        return self.centre[:2] + rays[:, :2] * s[:, None]
