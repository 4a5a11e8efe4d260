"""The arena camera of one classroom: a camera source run through the tracker, in its own thread.

One :class:`ArenaCamera` per server. ``choose(spec)`` opens a source — ``sim`` (the simulated overhead
camera over the server's own arena and cars, see sim_room.py), ``browser`` (pictures the set-up page
pushes over its socket), ``usb:N``, an ``http://``/``rtsp://`` URL — and runs it through a
:class:`perception.tracker.Tracker` with perception's CameraLoop. Every result comes back to the event
loop (``call_soon_threadsafe``), where:

- the latest picture and result are kept for the preview (``preview_jpeg``: the overlay drawn on it);
- each tracked car's pose is kept with its arrival time (``pose_of``): the truth for grading real cars
  (truth.py) at camera rate;
- listeners (the set-up page's socket, the console) get the result summary.

The last good floor calibration is never thrown away by a bad picture, a missing marker or a camera
that goes away (the tracker's promise); ``camera_gone`` says when the source has stopped, and choosing
a camera again keeps the calibration when the picture size has not changed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from perception import problems
from perception.camera import Intrinsics
from perception.floor import FloorCalibration, calibrate_floor, floor_tips, measure_arena
from perception.loop import MAX_FPS, CameraLoop
from perception.markers import MarkerPlan
from perception.overlay import draw_tracking, jpeg
from perception.problems import PerceptionError, Problem, SourceError
from perception.sources import READ_TIMEOUT_S, Frame, FrameSource, PushedSource, open_source
from perception.tracker import TrackedCar, Tracker, TrackResult
from robot_runtime.arena import Arena

log = logging.getLogger(__name__)

POSE_FRESH_S = 0.5  # a camera pose older than this (the tracker's coasting limit) is no longer the car's truth
PREVIEW_QUALITY = 75  # JPEG quality of the preview: ~40 KB at 640x480, sharp enough to read a marker id
START_ASPECTS = (0.5, 0.75, 1.0, 1.5)  # height / width starting guesses for the measure step's fit
BROWSER_TIMEOUT_S = 10.0  # a browser tab in the background or busy drawing sends late; 10 s without one: gone
SIM = "sim"
BROWSER = "browser"


@dataclass(frozen=True)
class CarSighting:
    car: TrackedCar
    at: float  # monotonic time the picture arrived


class _LockedTracker:
    """The tracker, one caller at a time: the camera thread tracks while the wizard calibrates."""

    def __init__(self, tracker: Tracker) -> None:
        self.inner = tracker
        self.lock = threading.Lock()

    def process(self, image: np.ndarray, t: float) -> TrackResult:
        with self.lock:
            return self.inner.process(image, t)

    @property
    def calibration(self) -> FloorCalibration | None:
        return self.inner.calibration


Listener = Callable[[dict], None]


class ArenaCamera:
    browser_timeout_s = BROWSER_TIMEOUT_S  # how long the browser's camera may pause before it counts as gone

    def __init__(self, plan: MarkerPlan, sim_source: Callable[[], FrameSource], sim_fps: float = MAX_FPS,
                 calibration: FloorCalibration | None = None, calibrated_with: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._sim_source, self._sim_fps = sim_source, sim_fps
        self._clock = clock
        self._tracker = _LockedTracker(Tracker(plan, calibration=calibration))
        self.calibrated_with = calibrated_with if calibration is not None else None  # the camera it belongs to
        self.source_spec: str | None = None
        self._loop_thread: CameraLoop | None = None
        self._pushed: PushedSource | None = None
        self.latest: tuple[Frame | None, TrackResult] | None = None
        self.last_image: np.ndarray | None = None  # the last usable picture (kept when the camera goes away)
        self.frames = 0
        self.sightings: dict[str, CarSighting] = {}
        self.on_sighting: Callable[[str, CarSighting], None] | None = None  # each car seen in a picture
        self.listeners: list[Listener] = []
        self.problem: Problem | None = None  # why the camera is not running (None: running or never chosen)
        self._preview: tuple[int, bytes] | None = None
        self._aio: asyncio.AbstractEventLoop | None = None
        self._generation = 0  # counts cameras chosen: results of a camera closed since are dropped
        self.pending_source: str | None = None  # started by ensure_started (the first look), not at start-up

    # --- the plan and the calibration ------------------------------------------------------------

    @property
    def plan(self) -> MarkerPlan:
        return self._tracker.inner.plan

    @property
    def calibration(self) -> FloorCalibration | None:
        return self._tracker.inner.calibration

    def set_plan(self, plan: MarkerPlan) -> None:
        with self._tracker.lock:
            self._tracker.inner.set_plan(plan)

    def set_calibration(self, calibration: FloorCalibration) -> None:
        with self._tracker.lock:
            self._tracker.inner.set_calibration(calibration)

    def set_lens(self, lens: Intrinsics) -> None:
        """A lens measured with the board: the next floor calibration (the measure step) uses it."""
        with self._tracker.lock:
            self._tracker.inner.set_lens(lens)

    def measure(self, width_cm: float) -> tuple[Arena, FloorCalibration, list[Problem]]:
        """The wizard's "measure" step on the latest picture: the lower edge is `width_cm` long (the
        parent's tape), the height comes from the picture, then the floor is calibrated. Raises
        PerceptionError (FrameError, CalibrationError) naming the problem; the last calibration stays."""
        image = self.last_image
        if image is None:
            raise PerceptionError(problems.Problem("no_picture", "The camera has not sent a picture yet.",
                                                   "Choose a camera first (step 1) and wait for its picture."))
        with self._tracker.lock:
            tracker = self._tracker.inner
            det = tracker.detect(image)
            lens = tracker.lens(det.image_size)  # the guessed (or measured) lens at this picture size
            roofs = list(tracker.plan.roofs.values())
            best: tuple[Arena, FloorCalibration] | None = None
            failure: PerceptionError | None = None
            # The height is fitted from a starting guess; a guess far off (a 4 x 3 m plan, a 2 x 1.5 m
            # floor) can fall into a mirrored fit, so a few starting shapes are tried and the best kept.
            for start in (tracker.plan.arena.height_cm, *(width_cm * r for r in START_ASPECTS)):
                guess = tracker.plan.arena.model_copy(update={"width_cm": width_cm, "height_cm": start})
                try:
                    w, h = measure_arena(det, MarkerPlan(guess, roofs), lens, width_cm)
                    arena = tracker.plan.arena.model_copy(update={"width_cm": round(w, 1), "height_cm": round(h, 1)})
                    calibration = calibrate_floor(det, MarkerPlan(arena, roofs), lens)
                except PerceptionError as exc:
                    failure = exc
                    continue
                except (ValueError, cv2.error) as exc:  # a start that leaves the arena's bounds or PnP's reach
                    failure = PerceptionError(problems.camera_underneath())
                    log.debug("measure from %s cm failed: %s", start, exc)
                    continue
                if best is None or calibration.error_cm < best[1].error_cm:
                    best = (arena, calibration)
            if best is None:
                raise failure or PerceptionError(problems.camera_underneath())
            arena, calibration = best
            plan = MarkerPlan(arena, roofs)
            tracker.set_plan(plan)
            tracker.set_calibration(calibration)
            self.calibrated_with = self.source_spec
            tips = floor_tips(calibration, plan, det)
        return arena, calibration, tips

    # --- the source ------------------------------------------------------------------------------

    async def choose(self, spec: str) -> None:
        """Open a camera and start tracking it. Raises SourceError/ValueError with a plain message; the
        previous camera is closed first (one camera per arena)."""
        self._aio = asyncio.get_running_loop()
        self.pending_source = None
        await self.close()
        spec = spec.strip()
        if self.calibrated_with is not None and spec != self.calibrated_with:
            # another camera: the old one's lens and pose mean nothing for it (the same camera chosen
            # again, after it went away, keeps its calibration)
            with self._tracker.lock:
                self._tracker.inner = Tracker(self.plan)
            self.calibrated_with = None
        self._generation += 1  # nothing the old camera still delivers counts now
        self.latest, self._preview, self.last_image = None, None, None
        spec = spec.strip()
        if spec == SIM:
            source = self._sim_source()
        elif spec == BROWSER:
            source = self._pushed = PushedSource()
        else:  # cv2.VideoCapture may take seconds to open an IP camera: not on the event loop
            source = await asyncio.to_thread(open_source, spec)
        self.source_spec, self.problem, self.frames = spec, None, 0
        self._generation += 1
        generation = self._generation
        self._loop_thread = CameraLoop(source, self._tracker,  # type: ignore[arg-type]
                                       lambda frame, result: self._from_thread(generation, frame, result),
                                       max_fps=self._sim_fps if spec == SIM else MAX_FPS,
                                       read_timeout_s=self.browser_timeout_s if spec == BROWSER else READ_TIMEOUT_S)
        self._loop_thread.start()

    async def ensure_started(self) -> None:
        """Start the camera waiting for its first look (`dojo demo`'s simulated one), once."""
        source, self.pending_source = self.pending_source, None
        if source is not None and self.source_spec is None:
            try:
                await self.choose(source)
            except (ConnectionError, ValueError) as exc:
                log.warning("arena camera %s not started: %s", source, exc)

    def push(self, data: bytes) -> None:
        """A picture from the browser's camera (JPEG/PNG bytes). Raises FrameError for a non-picture;
        SourceError when the browser camera is not the chosen one."""
        if self._pushed is None or self.source_spec != BROWSER:
            raise SourceError(problems.Problem("not_browser_camera", "This page's camera is not the chosen camera.",
                                               "Choose \"this computer's camera\" in step 1 first."))
        self._pushed.push(data)

    async def close(self) -> None:
        loop, self._loop_thread = self._loop_thread, None
        self._pushed = None
        if loop is not None:
            await asyncio.to_thread(loop.stop)
        self.source_spec = None

    @property
    def running(self) -> bool:
        return self._loop_thread is not None and self._loop_thread.running

    # --- results ---------------------------------------------------------------------------------

    def _from_thread(self, generation: int, frame: Frame | None, result: TrackResult) -> None:
        loop = self._aio
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self._arrived, generation, frame, result)
        except RuntimeError:  # the event loop is shutting down
            pass

    def _arrived(self, generation: int, frame: Frame | None, result: TrackResult) -> None:
        if generation != self._generation:  # a picture from the camera chosen before this one
            return
        self.latest = (frame, result)
        if frame is None:  # the camera went away: say so, keep the calibration and the last picture
            self.problem = result.problems[0] if result.problems else problems.camera_gone(self.source_spec or "camera")
            self._loop_thread = None
        else:
            self.frames += 1
            if result.recalibrated:
                self.calibrated_with = self.source_spec
            if result.detections is not None:
                self.last_image = frame.image
            for car_id, car in result.cars.items():
                if car.fix is not None:
                    self.sightings[car_id] = sighting = CarSighting(car, frame.t)
                    if self.on_sighting is not None:
                        self.on_sighting(car_id, sighting)
        summary = self.summary()
        for listener in list(self.listeners):
            try:
                listener(summary)
            except Exception:
                log.exception("arena camera listener failed")

    def pose_of(self, car_id: str, now: float | None = None, within_s: float = POSE_FRESH_S) -> TrackedCar | None:
        """The car as the camera saw it within `within_s`, else None."""
        seen = self.sightings.get(car_id)
        now = self._clock() if now is None else now
        if seen is None or now - seen.at > within_s:
            return None
        return seen.car

    def summary(self) -> dict:
        """What the set-up page and the console show: the camera, its state and the latest result."""
        result = self.latest[1].as_dict() if self.latest else None
        if result is not None and self.latest and self.latest[1].detections is not None:
            plan = self.plan
            result["corners_seen"] = [plan.corner_name(m) for m in plan.corner_ids if m in self.latest[1].detections.markers]
            result["corners_missing_names"] = [plan.corner_name(m) for m in self.latest[1].corners_missing]
        return {"source": self.source_spec, "running": self.running, "frames": self.frames,
                "problem": None if self.problem is None else self.problem.as_dict(),
                "calibration": None if self.calibration is None else calibration_summary(self.calibration),
                "result": result}

    def preview_jpeg(self) -> bytes | None:
        """The latest picture with what the tracker saw drawn on it (cached per picture)."""
        if self.latest is None or self.latest[0] is None:
            if self.last_image is None:
                return None
            frame_index, image, result = -1, self.last_image, self.latest[1] if self.latest else TrackResult(t=0.0)
        else:
            frame, result = self.latest
            frame_index, image = frame.index, frame.image
        cached = self._preview
        if cached is not None and cached[0] == frame_index and frame_index >= 0:
            return cached[1]
        try:
            drawn = draw_tracking(image, result, self.plan)
        except ValueError:  # a calibration for another picture size: draw what was found, not the cars
            drawn = draw_tracking(image, dataclasses.replace(result, calibration=None), self.plan)
        data = jpeg(drawn, PREVIEW_QUALITY)
        self._preview = (frame_index, data)
        return data


def calibration_summary(cal: FloorCalibration) -> dict:
    return {"error_cm": round(cal.error_cm, 2), "max_error_cm": round(cal.max_error_cm, 2), "light": cal.light,
            "arena_width_cm": cal.arena_width_cm, "arena_height_cm": cal.arena_height_cm,
            "camera_height_cm": round(float(cal.pose.position_cm[2]), 1), "tilt_deg": round(cal.pose.tilt_deg, 1)}
