"""The lens board: the optional part of the measure step (the printed sheets' last page says "show it to
the camera when the setup asks": this is where it asks).

The parent presses "I have the lens board" and holds the board in front of the camera in a few places
and angles. Every new picture goes through perception's :class:`LensCalibrator` in a thread (one at a
time; pictures arriving meanwhile are skipped): it keeps the views that add something and says where
to hold the board next. Progress is ``views`` of ``needed`` (and the parts of the picture not reached
yet). "Finish" fits the lens (focal length, centre, k1, k2) and grades the fit by its error in pixels:

    green  <= GREEN_PX       a flat board and a still camera
    amber  <= MAX_RMS_PX     usable; a flatter board (glued on card) does better
    (worse: perception refuses the fit with its own sentence)

The measured lens goes to the tracker; the floor is then measured again with it (the measure button),
and step 7 saves it in the arena file's calibration (``intrinsics.source: charuco``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from perception.camera import Intrinsics
from perception.lens import GOOD_VIEWS, MAX_RMS_PX, MIN_VIEWS, LensCalibrator, ViewResult
from perception.problems import PerceptionError
from server.arena_camera.camera import ArenaCamera

log = logging.getLogger(__name__)

GREEN_PX = 0.5  # a lens fit within half a pixel: the board was flat and the camera still


def light_of(rms_px: float) -> str:
    return "green" if rms_px <= GREEN_PX else "amber" if rms_px <= MAX_RMS_PX else "red"


@dataclass
class LensStep:
    camera: ArenaCamera
    calibrator: LensCalibrator | None = None  # None: not collecting
    last: ViewResult | None = None  # what the latest picture looked at gave
    pictures: int = 0  # pictures looked at since the start
    _busy: bool = False
    _seen: int = -1  # index of the latest picture handed to the calibrator
    _tasks: set[asyncio.Task] = field(default_factory=set)

    @property
    def collecting(self) -> bool:
        return self.calibrator is not None

    def start(self) -> None:
        """Start collecting views (again from none)."""
        self.calibrator, self.last, self.pictures, self._seen = LensCalibrator(), None, 0, -1
        if self._on_picture not in self.camera.listeners:
            self.camera.listeners.append(self._on_picture)

    async def stop(self) -> LensCalibrator | None:
        """Stop collecting; the calibrator (its views), once the picture it is looking at is done."""
        if self._on_picture in self.camera.listeners:
            self.camera.listeners.remove(self._on_picture)
        while self._busy:
            await asyncio.sleep(0.02)
        calibrator, self.calibrator = self.calibrator, None
        return calibrator

    def _on_picture(self, _summary: dict) -> None:
        latest = self.camera.latest
        calibrator = self.calibrator
        if calibrator is None or self._busy or latest is None or latest[0] is None or latest[0].index == self._seen:
            return
        self._seen, self._busy = latest[0].index, True
        task = asyncio.ensure_future(self._look(calibrator, latest[0].image))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _look(self, calibrator: LensCalibrator, image: np.ndarray) -> None:
        try:
            result = await asyncio.to_thread(calibrator.add, image)  # finding the board: ~10-30 ms a picture
        except PerceptionError as exc:  # a broken picture: said, not kept
            result = ViewResult(False, 0, calibrator.views, exc.problem, tuple(calibrator.regions_missing()),
                                calibrator.ready)
        except Exception:
            log.exception("lens board: a picture could not be looked at")
            return
        finally:
            self._busy = False
        if calibrator is self.calibrator:
            self.last, self.pictures = result, self.pictures + 1

    def status(self) -> dict[str, Any]:
        cal = self.calibrator
        last = self.last
        return {"collecting": cal is not None, "views": cal.views if cal else 0, "needed": MIN_VIEWS, "good": GOOD_VIEWS,
                "ready": bool(cal and cal.ready), "regions_missing": cal.regions_missing() if cal else [],
                "pictures": self.pictures,
                "last": None if last is None else {"kept": last.kept, "corners": last.corners,
                                                   "problem": None if last.problem is None else last.problem.as_dict()}}


def lens_report(lens: Intrinsics, rms_px: float, views: int) -> dict[str, Any]:
    """What the page shows after Finish, and what the wizard keeps."""
    light = light_of(rms_px)
    words = (f"Lens measured from {views} views of the board: within {rms_px:.2f} pixels "
             f"({'very good' if light == 'green' else 'good enough; a board glued flat on card does better'}).")
    return {"rms_px": round(rms_px, 3), "light": light, "views": views, "words": words,
            "intrinsics": lens.model_dump(mode="json")}
