"""The tracker: camera pictures in, car poses out, at camera rate, for every car of one arena at once.

Promises:
- Never raises on a picture: a blank, broken or empty one gives a result with the problem named, cars
  coasting on their filters, and the calibration untouched.
- The last good floor calibration is kept until a better one replaces it: a corner marker covered by a
  car, a duplicate marker or a poor fit never throws a working calibration away.
- A camera that moves (corner markers shifted by more than CAMERA_MOVED_PX) is noticed; the floor is
  calibrated again as soon as all four corners are seen, and the new one is used only if it is good.
- A marker id seen twice in one picture is used for nothing in that picture, and said so.
- Each car's pose is tracked, coasting or lost (motion.py); a car never seen has no entry.

Use: ``result = tracker.process(image, t)`` with the picture's monotonic timestamp in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from perception import problems
from perception.camera import Intrinsics, PinholeCamera, default_intrinsics
from perception.car_pose import CarFix, locate_car
from perception.detect import Detections, MarkerDetector
from perception.floor import AMBER_CM, FloorCalibration, calibrate_floor, floor_tips
from perception.markers import MarkerPlan
from perception.motion import Motion, MotionFilter
from perception.problems import Problem

CAMERA_MOVED_PX = 3.0  # corner markers jitter ~0.1 px; 3 px is a bump (about 1 cm on the floor at 640x480)
MAX_SCALE_ERROR = 0.3  # a roof marker 30 % off its size on the roof plane is not this car's marker at this height
WARN_SCALE_ERROR = 0.12  # above this, say the roof height or marker size looks wrong
MAX_RESIDUAL_FRACTION = 0.15  # corners further off the square's shape than this (of its side) are a misread


@dataclass(frozen=True, slots=True)
class TrackedCar:
    car_id: str
    motion: Motion
    fix: CarFix | None  # this picture's raw measurement (None: not seen in it)

    def as_dict(self) -> dict:
        m = self.motion
        return {"car_id": self.car_id, "state": m.state, "x_cm": round(m.x_cm, 2), "y_cm": round(m.y_cm, 2),
                "heading_deg": round(m.heading_deg, 2), "vx_cm_s": round(m.vx_cm_s, 1), "vy_cm_s": round(m.vy_cm_s, 1),
                "yaw_rate_dps": round(m.yaw_rate_dps, 1), "last_seen_t": m.last_seen_t}


@dataclass
class TrackResult:
    t: float
    cars: dict[str, TrackedCar] = field(default_factory=dict)
    calibration: FloorCalibration | None = None
    recalibrated: bool = False  # this picture made a new calibration
    detections: Detections | None = None  # None: the picture was unusable
    corners_missing: list[int] = field(default_factory=list)
    unknown_markers: list[int] = field(default_factory=list)  # seen, but neither a corner nor a known car
    problems: list[Problem] = field(default_factory=list)
    latency_s: float | None = None  # picture's arrival -> this result (set by the camera loop)

    @property
    def ok(self) -> bool:
        """The picture was usable and the floor is calibrated: the poses in `cars` mean something."""
        return self.detections is not None and self.calibration is not None

    def as_dict(self) -> dict:
        """A JSON-ready summary for a web page or a log."""
        return {"t": self.t, "ok": self.ok, "cars": [c.as_dict() for c in self.cars.values()],
                "calibrated": self.calibration is not None, "recalibrated": self.recalibrated,
                "calibration_error_cm": None if self.calibration is None else round(self.calibration.error_cm, 2),
                "calibration_light": None if self.calibration is None else self.calibration.light,
                "markers_seen": [] if self.detections is None else self.detections.ids,
                "corners_missing": self.corners_missing, "unknown_markers": self.unknown_markers,
                "problems": [p.as_dict() for p in self.problems], "latency_s": self.latency_s}


class Tracker:
    """Tracks the cars of one marker plan in the pictures of one camera."""

    def __init__(self, plan: MarkerPlan, intrinsics: Intrinsics | None = None,
                 calibration: FloorCalibration | None = None, auto_calibrate: bool = True) -> None:
        self._plan = plan
        self._detector = MarkerDetector(plan.dictionary)
        self._intrinsics = intrinsics if intrinsics is not None else (calibration.intrinsics if calibration else None)
        self._calibration = calibration
        self._camera: PinholeCamera | None = None
        self.auto_calibrate = auto_calibrate
        self._filters: dict[str, MotionFilter] = {}

    @property
    def plan(self) -> MarkerPlan:
        return self._plan

    @property
    def calibration(self) -> FloorCalibration | None:
        return self._calibration

    def set_plan(self, plan: MarkerPlan) -> None:
        """A new plan (a car paired, the arena resized): keeps the filters of cars that stay."""
        if plan.dictionary != self._plan.dictionary:
            self._detector = MarkerDetector(plan.dictionary)
        self._filters = {c: f for c, f in self._filters.items() if c in plan.roofs}
        self._plan = plan

    def set_calibration(self, calibration: FloorCalibration) -> None:
        self._calibration, self._camera = calibration, None
        self._intrinsics = calibration.intrinsics

    def set_lens(self, intrinsics: Intrinsics) -> None:
        """A lens measured with the board (lens.py): the next floor calibration uses it as it is. The current
        calibration keeps tracking with its own lens until then (it was made with it)."""
        self._intrinsics = intrinsics

    def detect(self, image: np.ndarray) -> Detections:
        """Just the markers (raises FrameError for an unusable picture)."""
        return self._detector.detect(image)

    def calibrate(self, image: np.ndarray) -> FloorCalibration:
        """Calibrate the floor from this picture now and use it (the wizard's "measure" step).

        Raises FrameError or CalibrationError; the previous calibration stays in use then.
        """
        detections = self._detector.detect(image)
        calibration = calibrate_floor(detections, self._plan, self._lens(detections.image_size))
        self.set_calibration(calibration)
        return calibration

    def lens(self, size: tuple[int, int]) -> Intrinsics:
        """The lens used for pictures of this size (measured, or guessed and refined from the floor)."""
        return self._lens(size)

    def _lens(self, size: tuple[int, int]) -> Intrinsics:
        if self._intrinsics is None:
            self._intrinsics = default_intrinsics(*size)
        return self._intrinsics if self._intrinsics.size == size else self._intrinsics.scaled_to(*size)

    def _pinhole(self, size: tuple[int, int]) -> PinholeCamera:
        cal = self._calibration
        assert cal is not None
        if self._camera is None or self._camera.intrinsics.size != size:
            lens = cal.intrinsics if cal.intrinsics.size == size else cal.intrinsics.scaled_to(*size)
            self._camera = PinholeCamera(lens, cal.pose)
        return self._camera

    # --- one picture --------------------------------------------------------------------------------

    def process(self, image: np.ndarray, t: float) -> TrackResult:
        result = TrackResult(t=t, calibration=self._calibration)
        try:
            det = self._detector.detect(image)
        except problems.FrameError as exc:
            result.problems.append(exc.problem)
            self._coast(result)
            return result
        result.detections = det
        if not det.markers and not det.duplicates:
            result.problems.append(problems.no_markers())
        result.corners_missing = [m for m in self._plan.corner_ids if m not in det.markers]
        try:
            self._maintain_calibration(det, result)
            camera = None if self._calibration is None else self._pinhole(det.image_size)
        except ValueError as exc:  # a frame at a size the lens calibration cannot take
            result.problems.append(problems.picture_size_changed(str(exc)))
            self._coast(result)
            return result
        result.calibration = self._calibration
        known = set(self._plan.corner_ids) | set(self._plan.by_marker)
        result.unknown_markers = sorted(m for m in (*det.markers, *det.duplicates) if m not in known)
        for mid in det.duplicates:
            if mid in self._plan.by_marker:
                result.problems.append(problems.duplicate_marker(mid, self._plan.by_marker[mid].car_id))
        if camera is None:
            self._coast(result)
            return result
        for mid, corners in det.markers.items():
            roof = self._plan.by_marker.get(mid)
            if roof is None:
                continue
            fix = locate_car(corners, roof, camera)
            if fix is None or fix.residual_cm > MAX_RESIDUAL_FRACTION * roof.size_cm:
                continue
            if abs(fix.scale - 1.0) > WARN_SCALE_ERROR:
                result.problems.append(problems.roof_marker_odd(roof.car_id, fix.scale))
                if abs(fix.scale - 1.0) > MAX_SCALE_ERROR:
                    continue
            motion = self._filters.setdefault(roof.car_id, MotionFilter()).update(t, fix.x_cm, fix.y_cm, fix.heading_deg)
            result.cars[roof.car_id] = TrackedCar(roof.car_id, motion, fix)
        self._coast(result)
        return result

    def _coast(self, result: TrackResult) -> None:
        """Every car with a filter and no fix in this picture: predicted, or lost."""
        for car_id, f in self._filters.items():
            if car_id not in result.cars:
                motion = f.estimate(result.t)
                result.cars[car_id] = TrackedCar(car_id, motion, None)
                if motion.state == "lost":
                    result.problems.append(problems.car_lost(car_id, result.t - motion.last_seen_t))

    def _maintain_calibration(self, det: Detections, result: TrackResult) -> None:
        plan, cal = self._plan, self._calibration
        all_corners = not result.corners_missing and not any(m in det.duplicates for m in plan.corner_ids)
        if cal is not None:
            shift = cal.shift_px(det)
            moved = shift is not None and shift > CAMERA_MOVED_PX
            if moved:
                result.problems.append(problems.camera_moved(shift))
            if not all_corners:
                reason = self._corner_problem(det)
                result.problems.append(problems.calibration_kept(reason))
                return
            if not moved or not self.auto_calibrate:
                return
        elif not all_corners:
            result.problems.append(self._corner_problem(det))
            result.problems.append(problems.not_calibrated())
            return
        elif not self.auto_calibrate:
            result.problems.append(problems.not_calibrated())
            return
        try:
            new = calibrate_floor(det, plan, self._lens(det.image_size))
        except problems.CalibrationError as exc:
            result.problems.append(problems.calibration_kept(exc.problem) if cal else exc.problem)
            return
        if cal is None or new.error_cm <= max(AMBER_CM, cal.error_cm):
            self.set_calibration(new)
            result.recalibrated = True
            result.problems.extend(floor_tips(new, plan, det))
        else:
            result.problems.append(problems.calibration_kept(problems.calibration_poor(new.error_cm)))

    def _corner_problem(self, det: Detections) -> Problem:
        plan = self._plan
        for m in plan.corner_ids:
            if m in det.duplicates:
                return problems.duplicate_marker(m, f"the {plan.corner_name(m)} corner")
        missing = [m for m in plan.corner_ids if m not in det.markers]
        return problems.corners_missing([plan.corner_name(m) for m in missing], missing)
