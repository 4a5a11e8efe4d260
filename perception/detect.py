"""Finding ArUco markers in one picture (cv2.aruco.ArucoDetector), after checking it is a usable picture.

A picture that is not an image, or is blank (lens covered, lights off), raises a :class:`FrameError`
with the reason. Ids seen twice in one picture are kept apart as `duplicates`: nobody can tell which
copy is the real one, so neither is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from perception import problems
from perception.markers import aruco_dictionary

BLANK_STD = 4.0  # grey-level spread below this is a covered lens or a dark room (sensor noise alone is ~2-3)
MIN_SIDE_PX = 16  # smaller pictures cannot hold a marker


@dataclass
class Detections:
    """Markers found in one picture: corners in ArUco order (top-left, top-right, bottom-right, bottom-left)."""

    image_size: tuple[int, int]  # width, height
    markers: dict[int, np.ndarray] = field(default_factory=dict)  # id -> (4, 2) float64 pixels, seen once
    duplicates: dict[int, list[np.ndarray]] = field(default_factory=dict)  # id -> every copy, seen twice or more

    @property
    def ids(self) -> list[int]:
        return sorted(self.markers)

    def side_px(self, marker_id: int) -> float:
        """The marker's shortest side in the picture."""
        c = self.markers[marker_id]
        return float(np.min(np.linalg.norm(c - np.roll(c, -1, axis=0), axis=1)))


def to_gray(image: np.ndarray) -> np.ndarray:
    """Check a picture and return it as 8-bit grey; raise FrameError naming what is wrong."""
    if not isinstance(image, np.ndarray):
        raise problems.FrameError(problems.not_a_picture(f"got {type(image).__name__}"))
    if image.dtype != np.uint8:
        raise problems.FrameError(problems.not_a_picture(f"pixels are {image.dtype}, not 8-bit"))
    if image.ndim == 3 and image.shape[2] == 3:
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    elif image.ndim == 3 and image.shape[2] == 4:
        gray = cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    elif image.ndim == 2:
        gray = image
    else:
        raise problems.FrameError(problems.not_a_picture(f"shape {image.shape}"))
    if min(gray.shape) < MIN_SIDE_PX:
        raise problems.FrameError(problems.not_a_picture(f"only {gray.shape[1]}x{gray.shape[0]} pixels"))
    mean, std = cv2.meanStdDev(gray[::4, ::4])  # every 16th pixel is plenty to tell a blank picture
    if float(std[0, 0]) < BLANK_STD:
        raise problems.FrameError(problems.blank_frame(float(mean[0, 0])))
    return gray


class MarkerDetector:
    """One ArucoDetector, set up once, for one dictionary."""

    def __init__(self, dictionary: str = "DICT_4X4_50") -> None:
        params = cv2.aruco.DetectorParameters()
        # Sub-pixel corners: about a third of a pixel better than the contour's own corners on small markers.
        params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
        self._detector = cv2.aruco.ArucoDetector(aruco_dictionary(dictionary), params)

    def detect(self, image: np.ndarray) -> Detections:
        """Markers in a BGR or grey picture. Raises FrameError for a picture that cannot hold any."""
        gray = to_gray(image)
        corners, ids, _ = self._detector.detectMarkers(gray)
        found = Detections(image_size=(gray.shape[1], gray.shape[0]))
        if ids is None:
            return found
        seen: dict[int, list[np.ndarray]] = {}
        for mid, c in zip(ids.ravel().tolist(), corners):
            seen.setdefault(int(mid), []).append(c.reshape(4, 2).astype(np.float64))
        for mid, copies in seen.items():
            if len(copies) == 1:
                found.markers[mid] = copies[0]
            else:
                found.duplicates[mid] = copies
        return found
