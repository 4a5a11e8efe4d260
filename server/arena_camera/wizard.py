"""The home-arena set-up wizard's steps: what each needs, what it does, and whether it is done.

Seven steps, one screen each (static/): 1 choose the camera, 2 print the markers, 3 place the corners,
4 measure (with, optionally, the lens board first: lens_step.py), 5 pair a car and find its roof marker,
6 test drive, 7 save the arena file. Progress is
kept server-side (the storage's key-value place, ``setup/wizard``), so closing the laptop and coming
back later resumes where the parent stopped. Each step's status is worked out live from the camera:

    {"n": 3, "key": "corners", "status": "green" | "red" | "todo", "message": "...", "fix": "..."}

Every refusal is a :class:`WizardError` carrying a plain sentence (what is wrong, what to do); the
last good calibration is never given up because of one (the camera keeps it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curriculum.lesson_fit import fit_lesson
from curriculum.loader import LessonSet, load_lessons
from perception.arena_file import ArenaFile, CameraSection, load_arena_file, save_arena_file
from perception.camera import Intrinsics
from perception.markers import FIRST_CAR_MARKER_ID, MarkerPlan, RoofMarker
from perception.problems import CalibrationError, PerceptionError, Problem, SourceError
from perception.sheets import marker_sheets
from robot_runtime.arena import Arena
from robot_runtime.hardware import CarSpec
from robot_runtime.protocol import DriveAction, TurnAction
from server.arena_camera.camera import SIM, ArenaCamera
from server.arena_camera.lens_step import LensStep, lens_report
from server.arena_camera.test_drive import SPEED_PCT, STRAIGHT_CM, TURN_DEG, DriveError, Sample, analyse
from server.core.classroom import Classroom
from server.core.home_floor import HomeFloor
from server.core.storage import Storage

KV_NAMESPACE, KV_KEY = "setup", "wizard"
STEPS = ("camera", "print", "corners", "measure", "pair", "drive", "save")
PAPERS = ("a4", "letter")
MAX_PRINT_CARS = 40
MIN_SIDE_CM, MAX_SIDE_CM = 50.0, 5000.0  # a tape measure's range; the arena's own bounds are 20..5000
SETTLE_S = 0.5  # after a move, the camera's pictures of the car standing still: at least this long,
SETTLE_PICTURES = 2  # and until this many pictures taken after the car stopped have arrived,
SETTLE_MAX_S = 6.0  # but no longer than this (the analysis then says what the camera missed)
SEEN_LATELY_S = 2.0  # the car is in the picture (a slow camera or a busy laptop may track at a few fps)


class WizardError(ValueError):
    def __init__(self, code: str, message: str, fix: str) -> None:
        super().__init__(f"{message} {fix}")
        self.problem = Problem(code, message, fix)


def _from(problem: Problem) -> WizardError:
    return WizardError(problem.code, problem.message, problem.fix)


def home_floor_of(af: ArenaFile) -> HomeFloor:
    """The saved floor as the core keeps it: simulated cars stand on it only if the simulated room was measured."""
    return HomeFloor(af.arena, sim_cars=af.camera.source == SIM)


@dataclass
class Wizard:
    camera: ArenaCamera
    classroom: Classroom
    storage: Storage
    arena_path: Path  # where step 7 writes the arena file
    lessons: LessonSet | None = None  # loaded on first use (the lessons feature has its own copy)
    # the simulated room's "hold the lens board up" (only used while the simulated camera is the chosen one)
    rehearse_board: Callable[[bool], None] | None = None
    state: dict[str, Any] = field(default_factory=dict)
    busy: set[str] = field(default_factory=set)  # cars on a test drive
    lens: LensStep = field(init=False)

    def __post_init__(self) -> None:
        self.state = dict(self.storage.kv_get(KV_NAMESPACE, KV_KEY, {}) or {})
        self.lens = LensStep(self.camera)
        measured = self.state.get("lens")
        cal = self.camera.calibration
        if measured and (cal is None or cal.intrinsics.source != "charuco"):  # measured, floor not measured again yet
            self.camera.set_lens(Intrinsics.model_validate(measured["intrinsics"]))

    def _save(self) -> None:
        self.state["updated_at"] = time.time()
        self.storage.kv_put(KV_NAMESPACE, KV_KEY, self.state)

    def reset(self) -> None:
        self.state = {}
        self._save()

    # --- step 1: the camera ---------------------------------------------------------------------

    async def choose_camera(self, source: Any) -> None:
        if not isinstance(source, str) or not source.strip() or len(source) > 500:
            raise WizardError("bad_camera", "Pick a camera from the list, or type its address.",
                              "For a phone or IP camera type its address, like http://192.168.1.20:8080/video.")
        if self.lens.collecting:  # another camera, another lens: the views so far mean nothing for it
            await self.lens_stop()
        try:
            await self.camera.choose(source)
        except SourceError as exc:
            raise _from(exc.problem) from None
        except ValueError as exc:
            raise WizardError("bad_camera", f"That camera address does not work: {exc}.",
                              "Use usb:0 for the first USB camera, or an http:// or rtsp:// address.") from None
        if (self.state.get("lens") or {}).get("camera") not in (None, source.strip()):
            self.state.pop("lens")  # measured on another camera: it means nothing for this one
        self.state["camera"] = source.strip()
        self.state.setdefault("step", 1)
        self._save()

    # --- step 2: print ---------------------------------------------------------------------------

    def sheets(self, paper: str, cars: int) -> bytes:
        if paper not in PAPERS:
            raise WizardError("bad_paper", f"The paper size {paper!r} is not one we print on.", "Choose A4 or Letter.")
        if not 1 <= cars <= MAX_PRINT_CARS:
            raise WizardError("bad_cars", f"{cars} cars is not a number of cars we can print markers for.",
                              f"Choose between 1 and {MAX_PRINT_CARS} cars.")
        roofs = [RoofMarker(car_id=f"car-{i}", marker_id=FIRST_CAR_MARKER_ID + i - 1) for i in range(1, cars + 1)]
        pdf = marker_sheets(MarkerPlan(self.camera.plan.arena, roofs), paper)
        self.state["printed"] = {"paper": paper, "cars": cars}
        self._save()
        return pdf

    # --- step 4: measure -------------------------------------------------------------------------

    async def measure(self, width_cm: Any) -> dict[str, Any]:
        try:
            width = float(width_cm)
        except (TypeError, ValueError):
            width = float("nan")
        if not MIN_SIDE_CM <= width <= MAX_SIDE_CM:
            raise WizardError("bad_distance", f"{width_cm!r} is not a distance in centimetres between "
                              f"{MIN_SIDE_CM:g} and {MAX_SIDE_CM:g}.",
                              "Measure from the lower-left to the lower-right corner with a tape and type the "
                              "number of centimetres, like 240.")
        try:
            arena, calibration, tips = await asyncio.to_thread(self.camera.measure, width)
        except PerceptionError as exc:
            raise _from(exc.problem) from None
        result = {"width_cm": arena.width_cm, "height_cm": arena.height_cm, "error_cm": round(calibration.error_cm, 2),
                  "max_error_cm": round(calibration.max_error_cm, 2), "light": calibration.light,
                  "tips": [t.as_dict() for t in tips], "measured_width_cm": width}
        self.state["measure"] = result
        self.state["calibration"] = calibration.model_dump(mode="json")
        self.state["arena"] = arena.model_dump(mode="json")
        self._save()
        return result

    # --- step 4, optional: the lens board (lens_step.py) -----------------------------------------------

    def lens_start(self) -> dict[str, Any]:
        if not self.camera.source_spec:
            raise WizardError("camera_not_chosen", "No camera is chosen yet.", "Choose the camera in step 1 first.")
        self.lens.start()
        if self.camera.source_spec == SIM and self.rehearse_board is not None:
            self.rehearse_board(True)
        return self.lens_status()

    def lens_status(self) -> dict[str, Any]:
        """The lens step's progress; `result` once measured, `in_use` once the floor was measured with it."""
        cal = self.camera.calibration
        return {**self.lens.status(), "result": self.state.get("lens"),
                "in_use": bool(self.state.get("lens") and cal is not None and cal.intrinsics.source == "charuco")}

    async def lens_stop(self) -> dict[str, Any]:
        await self.lens.stop()
        if self.rehearse_board is not None:
            self.rehearse_board(False)
        return self.lens_status()

    async def lens_finish(self) -> dict[str, Any]:
        """Fit the lens to the views so far: the tracker uses it from the next floor measurement on."""
        calibrator = self.lens.calibrator
        if calibrator is None:
            raise WizardError("lens_not_started", "The camera is not looking for the lens board.",
                              "Press \"I have the lens board\" and hold the board in front of the camera.")
        if not calibrator.ready:  # says how many views or which edges are missing; the camera keeps looking
            try:
                calibrator.solve()
            except CalibrationError as exc:
                raise _from(exc.problem) from None
        calibrator = await self.lens.stop()
        if self.rehearse_board is not None:
            self.rehearse_board(False)
        assert calibrator is not None
        try:
            lens, rms = await asyncio.to_thread(calibrator.solve)
        except CalibrationError as exc:
            raise _from(exc.problem) from None
        self.camera.set_lens(lens)
        report = lens_report(lens, rms, calibrator.views)
        self.state["lens"] = {**report, "camera": self.camera.source_spec}
        self._save()
        return self.lens_status()

    # --- step 5: pair ----------------------------------------------------------------------------

    def add_car(self, car_id: Any, marker_id: Any = None, height_cm: Any = 12.0) -> dict[str, Any]:
        if not isinstance(car_id, str) or car_id not in self.classroom.connected_car_ids():
            raise WizardError("car_not_connected", f"The car {car_id!r} is not connected to this server.",
                              "Pair it with the code (dojo car pair ...), switch it on, and wait until it shows up.")
        try:
            height = float(height_cm)
        except (TypeError, ValueError):
            height = -1.0
        if not 0 <= height <= 100:
            raise WizardError("bad_height", f"{height_cm!r} is not a roof height in centimetres.",
                              "Measure from the floor to the top of the roof marker, like 12.")
        latest = self.camera.latest[1] if self.camera.latest else None
        if marker_id in (None, ""):
            plan = self.camera.plan
            unknown = [m for m in (latest.unknown_markers if latest else []) if m not in plan.corner_ids]
            if latest is not None and latest.detections is not None:
                unknown = [m for m in unknown if m in latest.detections.markers]
            if not unknown:
                raise WizardError("no_roof_marker", "The camera sees no new roof marker.",
                                  "Put the car with its printed roof marker (FRONT to the nose) inside the arena.")
            if len(unknown) > 1:
                raise WizardError("several_roof_markers", f"The camera sees several new markers ({', '.join(map(str, unknown))}).",
                                  "Leave only this car in the arena, or type its marker number (printed under it).")
            marker_id = unknown[0]
        try:
            mid = int(marker_id)
        except (TypeError, ValueError):
            raise WizardError("bad_marker", f"{marker_id!r} is not a marker number.",
                              "Type the number printed under the car's roof marker, like 10.") from None
        roofs = [r for r in self.camera.plan.roofs.values() if r.car_id != car_id]
        try:
            plan = MarkerPlan(self.camera.plan.arena, [*roofs, RoofMarker(car_id=car_id, marker_id=mid, height_cm=height)])
        except ValueError as exc:
            raise WizardError("marker_taken", f"Marker {mid} cannot be this car's: {exc}.",
                              "Each car needs its own marker: use another printed roof marker.") from None
        if latest is not None and latest.detections is not None and mid in latest.detections.duplicates:
            raise WizardError("duplicate_marker", f"Marker {mid} is in the picture twice.",
                              "Each marker must be printed once: take the spare copy away.")
        self.camera.set_plan(plan)
        self.state["cars"] = [r.model_dump(mode="json") for r in plan.roofs.values()]
        self._save()
        return {"car_id": car_id, "marker_id": mid, "height_cm": height}

    # --- step 6: test drive ----------------------------------------------------------------------

    async def test_drive(self, car_id: Any) -> dict[str, Any]:
        if not isinstance(car_id, str) or car_id not in self.camera.plan.roofs:
            raise WizardError("car_not_paired", f"{car_id!r} has no roof marker yet.", "Do step 5 for this car first.")
        if self.camera.calibration is None:
            raise WizardError("not_calibrated", "The floor is not measured yet.", "Do step 4 first.")
        if car_id in self.busy:
            raise WizardError("driving", f"{car_id} is already on its test drive.", "Wait until it has finished.")
        if self.camera.pose_of(car_id, within_s=SEEN_LATELY_S) is None:
            raise WizardError("car_not_seen", f"The camera does not see {car_id} right now.",
                              "Put the car inside the arena with its roof marker uncovered, FRONT to the nose.")
        self.busy.add(car_id)
        try:
            straight = await self._record(car_id, DriveAction(distance_cm=STRAIGHT_CM, speed_pct=SPEED_PCT))
            turn = await self._record(car_id, TurnAction(degrees=TURN_DEG, speed_pct=SPEED_PCT))
        finally:
            self.busy.discard(car_id)
        try:
            report = analyse(straight, turn, CarSpec(), SPEED_PCT)
        except DriveError as exc:
            raise WizardError("drive_not_seen", str(exc), "") from None
        data = {**report.as_dict(), "words": report.words(), "car_id": car_id,
                "car_config": {"steering_trim": round(report.steering_trim, 3),
                               "top_speed_cm_s": round(report.top_speed_cm_s, 1)}}
        drives = dict(self.state.get("drives") or {})
        drives[car_id] = data
        self.state["drives"] = drives
        self._save()
        return data

    async def _record(self, car_id: str, action: DriveAction | TurnAction) -> list[Sample]:
        samples: list[Sample] = []

        def listen(_summary: dict) -> None:
            seen = self.camera.pose_of(car_id, within_s=SEEN_LATELY_S)
            if seen is not None and (not samples or seen.motion.t > samples[-1].t):
                m = seen.motion
                samples.append(Sample(m.t, m.x_cm, m.y_cm, m.heading_deg))

        listen({})
        self.camera.listeners.append(listen)
        try:
            outcome = await self.classroom.drive_for_setup(car_id, action)
            # the car at rest: wait for the camera's next pictures of it (a slow camera sends few)
            stopped_at, deadline = time.monotonic(), time.monotonic() + SETTLE_MAX_S
            await asyncio.sleep(SETTLE_S)
            while time.monotonic() < deadline and sum(s.t > stopped_at for s in samples) < SETTLE_PICTURES:
                await asyncio.sleep(0.05)
        finally:
            self.camera.listeners.remove(listen)
        if outcome.status != "done":
            raise WizardError("drive_failed", f"The car did not finish the test drive: {outcome.detail or outcome.reason}.",
                              "Give it room to drive 50 cm ahead and turn left, then try again.")
        return samples

    # --- step 7: save ----------------------------------------------------------------------------

    def arena_file(self, name: Any = None) -> ArenaFile:
        calibration = self.camera.calibration
        if calibration is None or "arena" not in self.state:
            raise WizardError("not_calibrated", "The floor is not measured yet.", "Do step 4 first.")
        arena = Arena.model_validate(self.state["arena"])
        if isinstance(name, str) and name.strip():
            arena = arena.model_copy(update={"name": name.strip()[:60]})
        start_x = min(arena.width_cm / 2, 50.0)
        arena = Arena.model_validate({**arena.model_dump(), "start": {"x_cm": start_x, "y_cm": arena.height_cm / 2,
                                                                      "heading_deg": 0.0}})
        source = self.state.get("camera") or self.camera.source_spec
        return ArenaFile(arena, CameraSection(source=source, roof_markers=list(self.camera.plan.roofs.values()),
                                              calibration=calibration))

    def save(self, name: Any = None) -> dict[str, Any]:
        af = self.arena_file(name)
        self.arena_path.parent.mkdir(parents=True, exist_ok=True)
        save_arena_file(self.arena_path, af)
        load_arena_file(self.arena_path)  # what lessons will read: it must load
        self.classroom.set_home_floor(home_floor_of(af))  # lessons picked or run from now on are fitted into it
        self.state["saved"] = {"path": str(self.arena_path), "at": time.time(), "name": af.arena.name}
        self._save()
        return {"path": str(self.arena_path), "yaml": af.to_yaml(), "lessons": self.lesson_fits(af.arena)}

    def lesson_fits(self, home: Arena) -> list[dict[str, Any]]:
        if self.lessons is None:
            self.lessons = load_lessons(strict=False)[0]
        book = self.lessons
        rows = []
        for lesson_id in sorted(book.lessons, key=lambda i: (book.get(i).level, book.get(i).order)):
            lesson = book.get(lesson_id)
            fit = fit_lesson(lesson.arena, home)
            rows.append({"id": lesson.id, "title": lesson.title, "level": lesson.level, "fit": fit.kind,
                         "scale": round(fit.scale, 2), "words": fit.words(home),
                         "arena": None if fit.arena is None else fit.arena.model_dump(mode="json")})
        return rows

    # --- every step's status ---------------------------------------------------------------------

    def steps(self) -> list[dict[str, Any]]:
        cam = self.camera
        latest = cam.latest[1] if cam.latest else None
        plan = cam.plan

        def row(n: int, status: str, message: str, fix: str = "") -> dict[str, Any]:
            return {"n": n, "key": STEPS[n - 1], "status": status, "message": message, "fix": fix}

        rows = []
        if cam.problem is not None:
            rows.append(row(1, "red", cam.problem.message, cam.problem.fix))
        elif not cam.source_spec:
            rows.append(row(1, "todo", "No camera chosen yet.", "Pick one from the list."))
        elif latest is None:
            rows.append(row(1, "todo", "Waiting for the camera's first picture ...", "This takes a second or two."))
        elif latest.detections is None:
            p = latest.problems[0] if latest.problems else None
            rows.append(row(1, "red", p.message if p else "The picture cannot be used.", p.fix if p else ""))
        else:
            rows.append(row(1, "green", f"The camera works ({cam.frames} pictures so far)."))
        printed = self.state.get("printed")
        rows.append(row(2, "green", f"Markers made for {printed['cars']} car(s) on {printed['paper'].upper()} paper."
                        if printed else "Not printed yet.") if printed else
                    row(2, "todo", "Not printed yet.", "Download the PDF, print it at 100 %, check the 10 cm line."))
        if latest is None or latest.detections is None:
            rows.append(row(3, "todo", "Waiting for a camera picture.", "Finish step 1 first."))
        else:
            dup = [m for m in plan.corner_ids if m in latest.detections.duplicates]
            missing = [plan.corner_name(m) for m in latest.corners_missing]
            if dup:
                rows.append(row(3, "red", f"Corner marker {dup[0]} is in the picture twice.",
                                "Each marker must be printed once: take the spare copy away."))
            elif missing:
                rows.append(row(3, "red", f"The camera cannot see the {', '.join(missing)} corner marker"
                                f"{'s' if len(missing) > 1 else ''}.",
                                "Lay each corner marker flat just outside its corner, inside the picture."))
            else:
                rows.append(row(3, "green", "All four corner markers are in the picture."))
        measured = self.state.get("measure")
        cal = cam.calibration
        lens = self.state.get("lens")
        if cal is None or not measured:
            rows.append(row(4, "todo", "Not measured yet.", "Measure the lower edge with a tape and type it in."))
        elif lens and cal.intrinsics.source != "charuco":
            rows.append(row(4, "todo", "The lens is measured: measure the floor again to use it.",
                            "Put the lens board away and press Measure."))
        else:
            light = {"green": "green", "amber": "green", "red": "red"}[cal.light]
            rows.append(row(4, light, f"Arena {measured['width_cm']:.0f} x {measured['height_cm']:.0f} cm, "
                            f"the camera is within {cal.error_cm:.1f} cm.",
                            "" if light == "green" else "See the tips below, then measure again."))
        cars = list(plan.roofs)
        seen = [c for c in cars if cam.pose_of(c, within_s=SEEN_LATELY_S) is not None]
        rows.append(row(5, "green" if seen else "todo", f"The camera sees {', '.join(seen)}." if seen else
                        ("No car paired yet." if not cars else f"The camera does not see {', '.join(cars)} now."),
                        "" if seen else "Pair a car, put it in the arena, then press Find my car."))
        drives = self.state.get("drives") or {}
        good = [d for d in drives.values() if d.get("light") in ("green", "amber")]
        rows.append(row(6, "green" if good else ("red" if drives else "todo"),
                        next(iter(drives.values()))["words"] if drives else "No test drive yet.",
                        "" if good or not drives else "The car drifts a lot: check its wheels, then use the trim shown."))
        saved = self.state.get("saved")
        rows.append(row(7, "green" if saved else "todo", f"Saved as {saved['path']}." if saved else "Not saved yet.",
                        "" if saved else "Give your arena a name and save it."))
        return rows

    def view(self) -> dict[str, Any]:
        return {"state": {k: v for k, v in self.state.items() if k != "calibration"}, "steps": self.steps(),
                "lens": self.lens_status(),
                "camera": self.camera.summary(), "cars_connected": sorted(self.classroom.connected_car_ids()),
                "cars_paired": [r.model_dump(mode="json") for r in self.camera.plan.roofs.values()]}
