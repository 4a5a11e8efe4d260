"""Floor calibration: where the camera is over the arena, from the four corner markers.

The corner markers' 16 corners have known floor positions (see markers.py); PnP on them gives the
camera's pose, and the leftover error — each detected corner cast back onto the floor, compared with
where it truly lies — is the calibration's error in centimetres, shown to the user as a traffic light.
Each corner marker may lie any way round: its rotation is read from the picture.

:func:`measure_arena` finds the arena's size from the picture when the user has measured only one side
(or none: then the printed marker size sets the scale), and :func:`floor_tips` says what would make a
poor set-up better (camera too flat, markers too small on screen).
"""

from __future__ import annotations

from typing import Annotated, Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from perception import problems
from perception.camera import CameraPose, Intrinsics, PinholeCamera, default_intrinsics
from perception.detect import Detections
from perception.markers import ROOF_HEIGHT_CM, ROOF_MARKER_CM, MarkerPlan, square

GREEN_CM = 0.5  # well inside the 1 cm the tracker aims for
AMBER_CM = 1.5  # still fine for grading (zones and checks have several cm of slack); above: fix the set-up
MIN_MARKER_PX = 20  # ArUco needs about 20 px per side to read a 4x4 marker reliably through blur and noise
MAX_TILT_DEG = 50.0  # flatter than this, far markers shrink to slivers and cars hide each other
SIZE_FIT_STEPS = 12  # Gauss-Newton steps for the arena size; it settles in 3-5
SIZE_FIT_DELTA_CM = 0.05  # finite-difference step for the size fit's Jacobian
LENS_FIT_MAX_F_CHANGE = 0.35  # webcams span ~55-90 degrees; a fit further than this from the guess is noise
LENS_FIT_MIN_TILT_DEG = 5.0  # nearer straight down than this, the focal length cannot be told from the height
LENS_FIT_MAX_F_SPREAD = 0.05  # the fit's standard deviation of f over f; above it, f is not really measured
LENS_FIT_MAX_K1 = 0.5  # stronger barrel distortion than this is a fisheye, which this model does not cover


class FloorCalibration(BaseModel):
    """The camera's lens and pose over one arena, with how well the corners agree."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    intrinsics: Intrinsics
    pose: CameraPose
    arena_width_cm: Annotated[float, Field(gt=0)]
    arena_height_cm: Annotated[float, Field(gt=0)]
    error_cm: Annotated[float, Field(ge=0)]  # root mean square over the corners used
    max_error_cm: Annotated[float, Field(ge=0)]
    error_px: Annotated[float, Field(ge=0)]
    corner_centres_px: dict[int, tuple[float, float]]  # where each corner marker was: tells if the camera moves

    @property
    def light(self) -> Literal["green", "amber", "red"]:
        return "green" if self.error_cm <= GREEN_CM else "amber" if self.error_cm <= AMBER_CM else "red"

    def camera(self) -> PinholeCamera:
        return PinholeCamera(self.intrinsics, self.pose)

    def shift_px(self, detections: Detections) -> float | None:
        """How far the corner markers seen now sit from where they were at calibration, in the calibrated
        picture's pixels (a stream switched to another size has not moved); None: no corner seen."""
        k = self.intrinsics.width / detections.image_size[0]
        moved = [float(np.hypot(*(detections.markers[m].mean(axis=0) * k - c))) for m, c in self.corner_centres_px.items()
                 if m in detections.markers]
        return max(moved) if moved else None


def corner_correspondences(detections: Detections, plan: MarkerPlan) -> dict[int, np.ndarray]:
    """The detected corner markers, each rolled so its corners match the plan's order. Raises if one is
    missing or seen twice: a calibration from three corners would look fine and be wrong at the fourth.
    """
    for mid in plan.corner_ids:
        if mid in detections.duplicates:
            raise problems.CalibrationError(problems.duplicate_marker(mid, f"the {plan.corner_name(mid)} corner"))
    missing = [m for m in plan.corner_ids if m not in detections.markers]
    if missing:
        raise problems.CalibrationError(problems.corners_missing([plan.corner_name(m) for m in missing], missing))
    squares = plan.corner_squares()
    world_c = np.array([squares[m].mean(axis=0) for m in plan.corner_ids], dtype=np.float32)
    image_c = np.array([detections.markers[m].mean(axis=0) for m in plan.corner_ids], dtype=np.float32)
    H = cv2.getPerspectiveTransform(world_c, image_c)
    out = {}
    for m in plan.corner_ids:
        predicted = cv2.perspectiveTransform(squares[m].reshape(-1, 1, 2).astype(np.float64), H).reshape(4, 2)
        seen = detections.markers[m]
        roll = min(range(4), key=lambda k: float(np.sum((np.roll(seen, k, axis=0) - predicted) ** 2)))
        out[m] = np.roll(seen, roll, axis=0)
    return out


def _solve_pose(obj: np.ndarray, img: np.ndarray, intr: Intrinsics) -> tuple[np.ndarray, np.ndarray]:
    ok, rvec, tvec = cv2.solvePnP(obj, img, intr.K, intr.D, flags=cv2.SOLVEPNP_IPPE)
    if not ok:
        raise problems.CalibrationError(problems.camera_underneath())
    rvec, tvec = cv2.solvePnPRefineLM(obj, img, intr.K, intr.D, rvec, tvec)
    return rvec, tvec


def _stack(matched: dict[int, np.ndarray], squares: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    obj = np.vstack([np.column_stack([squares[m], np.zeros(4)]) for m in matched])
    img = np.vstack([matched[m] for m in matched])
    return obj, img


def lens_from_floor(obj: np.ndarray, img: np.ndarray, guess: Intrinsics) -> Intrinsics:
    """Barrel distortion (k1), and the focal length where the view allows, fitted to the corner markers.

    Sixteen points on one plane pin the focal length down only when the camera looks at the floor at a
    slant: straight down, a longer lens further away looks the same. So f is fitted too only if the
    camera is tilted at least LENS_FIT_MIN_TILT_DEG and the fit's own uncertainty of f is small; else
    the guessed f stays and only k1 is fitted. A fit that wanders off (f far from the guess, an
    implausible k1) is refused and the guess kept.
    """
    base = (cv2.CALIB_USE_INTRINSIC_GUESS | cv2.CALIB_FIX_PRINCIPAL_POINT | cv2.CALIB_FIX_ASPECT_RATIO
            | cv2.CALIB_ZERO_TANGENT_DIST | cv2.CALIB_FIX_K2 | cv2.CALIB_FIX_K3)

    def fit(flags: int) -> tuple[np.ndarray, np.ndarray, float, float]:
        _, K, D, rvecs, _, std, *_ = cv2.calibrateCameraExtended(
            [obj.astype(np.float32)], [img.astype(np.float32)], guess.size, guess.K.copy(), guess.D.copy(), flags=flags)
        axis = cv2.Rodrigues(rvecs[0])[0][2]  # the optical axis in arena coordinates
        tilt = float(np.degrees(np.arccos(np.clip(-axis[2], -1.0, 1.0))))
        return K, D, tilt, float(np.max(std.ravel()[:2])) / float(K[0, 0])

    try:
        K, D, tilt, f_spread = fit(base)
        if tilt < LENS_FIT_MIN_TILT_DEG or f_spread > LENS_FIT_MAX_F_SPREAD:
            K, D, _, _ = fit(base | cv2.CALIB_FIX_FOCAL_LENGTH)
    except cv2.error:
        return guess
    f, k1 = float(K[0, 0]), float(D.ravel()[0])
    if not np.isfinite(f) or abs(f / guess.fx - 1.0) > LENS_FIT_MAX_F_CHANGE or abs(k1) > LENS_FIT_MAX_K1:
        return guess
    return guess.model_copy(update={"fx": f, "fy": f * guess.fy / guess.fx, "dist": [k1, 0.0, 0.0, 0.0, 0.0],
                                    "source": "floor"})


def calibrate_floor(detections: Detections, plan: MarkerPlan, intrinsics: Intrinsics) -> FloorCalibration:
    """The camera's pose from one picture of the four corner markers. Raises CalibrationError with the reason.

    A guessed lens (source "default") is first refined from the markers themselves (lens_from_floor);
    a lens calibrated with a ChArUco board is used as it is.
    """
    if detections.image_size != intrinsics.size:
        intrinsics = intrinsics.scaled_to(*detections.image_size)
    matched = corner_correspondences(detections, plan)
    squares = plan.corner_squares()
    obj, img = _stack(matched, squares)
    if intrinsics.source in ("default", "floor"):
        intrinsics = lens_from_floor(obj, img, intrinsics if intrinsics.source == "default" else
                                     default_intrinsics(*intrinsics.size))
    rvec, tvec = _solve_pose(obj, img, intrinsics)
    pose = CameraPose(rvec=[float(v) for v in rvec.ravel()], tvec=[float(v) for v in tvec.ravel()])
    cam = PinholeCamera(intrinsics, pose)
    if cam.centre[2] <= 0:
        raise problems.CalibrationError(problems.camera_underneath())
    on_floor = cam.to_plane(img, 0.0)
    err_cm = np.linalg.norm(on_floor - obj[:, :2], axis=1)
    if not np.all(np.isfinite(err_cm)):
        raise problems.CalibrationError(problems.camera_underneath())
    err_px = np.linalg.norm(cam.project(obj) - img, axis=1)
    return FloorCalibration(
        intrinsics=intrinsics, pose=pose, arena_width_cm=plan.arena.width_cm, arena_height_cm=plan.arena.height_cm,
        error_cm=float(np.sqrt(np.mean(err_cm ** 2))), max_error_cm=float(err_cm.max()),
        error_px=float(np.sqrt(np.mean(err_px ** 2))),
        corner_centres_px={m: (float(c[0]), float(c[1])) for m, c in ((m, matched[m].mean(axis=0)) for m in matched)})


def measure_arena(detections: Detections, plan: MarkerPlan, intrinsics: Intrinsics,
                  width_cm: float | None = None) -> tuple[float, float]:
    """The arena's (width, height) in cm as the picture shows it.

    With `width_cm` (the user measured the lower edge, corner to corner) only the height is fitted, which
    does not depend on the printed size (within a centimetre); without it the corner markers' printed
    size sets the scale, a few per cent off (ArUco finds corners ~0.3 px inside a small marker).
    Starts from the plan's arena size; needs all four corners.
    """
    if detections.image_size != intrinsics.size:
        intrinsics = intrinsics.scaled_to(*detections.image_size)
    matched = corner_correspondences(detections, plan)

    def residual(p: np.ndarray) -> np.ndarray:
        w, h = (width_cm, p[0]) if width_cm is not None else (p[0], p[1])
        obj, img = _stack(matched, plan.corner_squares(w, h))
        rvec, tvec = _solve_pose(obj, img, intrinsics)
        proj, _ = cv2.projectPoints(obj, rvec, tvec, intrinsics.K, intrinsics.D)
        return (proj.reshape(-1, 2) - img).ravel()

    p = np.array([plan.arena.height_cm] if width_cm is not None else [plan.arena.width_cm, plan.arena.height_cm], float)
    for _ in range(SIZE_FIT_STEPS):
        r = residual(p)
        J = np.column_stack([(residual(p + d) - r) / SIZE_FIT_DELTA_CM for d in np.eye(len(p)) * SIZE_FIT_DELTA_CM])
        step = np.linalg.lstsq(J, -r, rcond=None)[0]
        p = np.maximum(p + step, plan.corner_size_cm)
        if np.max(np.abs(step)) < 0.01:
            break
    w, h = (width_cm, p[0]) if width_cm is not None else (p[0], p[1])
    return float(w), float(h)


def floor_tips(calibration: FloorCalibration, plan: MarkerPlan, detections: Detections | None = None) -> list[problems.Problem]:
    """What would make this set-up better, most important first (empty: nothing to improve)."""
    tips: list[problems.Problem] = []
    if calibration.error_cm > AMBER_CM:
        tips.append(problems.calibration_poor(calibration.error_cm))
    tilt = calibration.pose.tilt_deg
    if tilt > MAX_TILT_DEG:
        tips.append(problems.Problem(
            "camera_too_flat", f"The camera looks across the floor at {tilt:.0f} degrees from straight down.",
            "Mount it higher and point it more downwards (under 45 degrees works best).", "warning"))
    if detections is not None:
        sides = [detections.side_px(m) for m in plan.corner_ids if m in detections.markers]
        if sides and min(sides) < MIN_MARKER_PX:
            tips.append(problems.Problem(
                "markers_too_small", f"The corner markers are only {min(sides):.0f} pixels wide in the picture.",
                f"Move the camera closer, choose a higher camera resolution, or print bigger markers "
                f"(they need {MIN_MARKER_PX} pixels).", "warning"))
    roofs = list(plan.roofs.values())
    size = min((r.size_cm for r in roofs), default=ROOF_MARKER_CM)
    height = max((r.height_cm for r in roofs), default=ROOF_HEIGHT_CM)
    cam = calibration.camera()
    w, h = calibration.arena_width_cm, calibration.arena_height_cm
    smallest = min(_side_px(cam, x, y, height, size) for x, y in ((0, 0), (w, 0), (w, h), (0, h)))
    if smallest < MIN_MARKER_PX:
        tips.append(problems.Problem(
            "roof_markers_too_small", f"A car at the far corner of the arena shows its roof marker only {smallest:.0f} "
            "pixels wide.", "Raise the camera resolution, move the camera closer to the middle, or use bigger roof "
            f"markers (they need {MIN_MARKER_PX} pixels).", "warning"))
    return tips


def _side_px(cam: PinholeCamera, x: float, y: float, z: float, size: float) -> float:
    corners = np.column_stack([square(x, y, size), np.full(4, z)])
    if np.any(cam.depth(corners) <= 0):
        return 0.0
    px = cam.project(corners)
    return float(np.min(np.linalg.norm(px - np.roll(px, -1, axis=0), axis=1)))
