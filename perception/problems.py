"""Everything that can go wrong with the camera, in plain words for a parent, one sentence per rule.

A :class:`Problem` says what is wrong and what to do (the setup wizard shows both; the server logs the
code). Errors that stop a step raise a :class:`PerceptionError` carrying its problem; the tracker
never raises on a bad frame, it reports the problem and keeps what it had.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal


@dataclass(frozen=True)
class Problem:
    code: str  # stable, for programs: "blank_frame", "corner_missing", ...
    message: str  # what is wrong
    fix: str  # what to do about it
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.message} {self.fix}"

    def as_dict(self) -> dict:
        return asdict(self)


class PerceptionError(ValueError):
    """A step could not be done; `.problem` says why and what to do."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class FrameError(PerceptionError):
    """The picture itself is unusable (not an image, blank, undecodable)."""


class CalibrationError(PerceptionError):
    """The floor or lens calibration could not be made from this picture."""


class SourceError(ConnectionError):
    """A camera could not be opened or stopped giving pictures (builtin ConnectionError, like a lost link)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


# --- the catalogue ---------------------------------------------------------------------------------


def not_a_picture(detail: str) -> Problem:
    return Problem("not_a_picture", f"That is not a camera picture ({detail}).",
                   "Send an 8-bit colour or grey image, e.g. a JPEG from the camera.")


def blank_frame(brightness: float) -> Problem:
    look = "black" if brightness < 40 else "white" if brightness > 215 else "all one colour"
    return Problem("blank_frame", f"The camera picture is {look}.",
                   "Take the cover off the lens, turn on a light, or check the camera points at the floor.")


def no_markers() -> Problem:
    return Problem("no_markers", "No markers are in the picture.",
                   "Put the printed corner markers on the floor where the camera can see them, flat and not covered.",
                   "warning")


def corners_missing(names: list[str], ids: list[int]) -> Problem:
    which = ", ".join(f"{n} (marker {i})" for n, i in zip(names, ids))
    return Problem("corner_missing", f"The camera cannot see the {which} corner marker{'s' if len(ids) > 1 else ''}.",
                   "Lay each corner marker flat just outside its corner of the arena, uncovered, inside the picture.")


def duplicate_marker(marker_id: int, owner: str) -> Problem:
    return Problem("duplicate_marker", f"Marker {marker_id} ({owner}) is in the picture twice.",
                   "Each marker must be printed once: remove the spare copy or give one car another marker.")


def unknown_dictionary(name: str) -> Problem:
    return Problem("bad_plan", f"The arena's marker set {name!r} is unknown.", "Use DICT_4X4_50, the set the printed sheets use.")


def camera_moved(shift_px: float) -> Problem:
    return Problem("camera_moved", f"The camera has moved (the corners shifted by {shift_px:.0f} pixels).",
                   "Fix the camera firmly; the floor is calibrated again as soon as all four corners are seen.",
                   "warning")


def calibration_kept(reason: Problem) -> Problem:
    return Problem("calibration_kept", f"Using the last good calibration: {reason.message}", reason.fix, "warning")


def picture_size_changed(detail: str) -> Problem:
    return Problem("calibration_size", f"The camera's pictures changed shape: {detail}.",
                   "Set the camera back to the size it was calibrated at, or calibrate again.")


def not_calibrated() -> Problem:
    return Problem("not_calibrated", "The floor is not calibrated yet, so cars cannot be placed.",
                   "Show the camera all four corner markers.")


def calibration_poor(error_cm: float) -> Problem:
    return Problem("calibration_poor", f"The floor calibration is off by {error_cm:.1f} cm on average.",
                   "Check each corner marker lies flat at its corner, the arena size you typed, and that the camera "
                   "did not move; a printed lens board (ChArUco) helps a wide-angle camera.")


def camera_underneath() -> Problem:
    return Problem("calibration_failed", "The corner markers do not fit together as a flat floor.",
                   "Check each marker is at the right corner (the sheet names it) and lies flat.")


def roof_marker_odd(car_id: str, ratio: float) -> Problem:
    return Problem("roof_marker_size", f"{car_id}'s roof marker looks {abs(ratio - 1) * 100:.0f} % "
                   f"{'bigger' if ratio > 1 else 'smaller'} than it should.",
                   "Check the marker's printed size (the 10 cm check line) and the roof height in the arena file.",
                   "warning")


def car_lost(car_id: str, seconds: float) -> Problem:
    return Problem("car_lost", f"The camera has not seen {car_id} for {seconds:.1f} s.",
                   "Make sure its roof marker is uncovered and the car is inside the picture.", "warning")


def camera_gone(source: str, detail: str = "") -> Problem:
    return Problem("camera_gone", f"The camera {source} stopped sending pictures{': ' + detail if detail else ''}.",
                   "Check its cable or network, then choose the camera again.")


def camera_not_opened(source: str, detail: str = "") -> Problem:
    return Problem("camera_not_opened", f"The camera {source} could not be opened{': ' + detail if detail else ''}.",
                   "Check it is plugged in and no other program uses it, or choose another camera.")
