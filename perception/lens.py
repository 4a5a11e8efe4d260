"""The lens, measured with a printed ChArUco board (OpenCV 5: cv2.aruco.CharucoBoard / CharucoDetector).

Without a board the tracker guesses the lens (camera.default_intrinsics) and refines the guess from the
corner markers (floor.lens_from_floor); that is good to a few millimetres on a typical webcam. A board
held up in front of the camera at 10-15 different angles measures the lens properly, wide-angle ones too.

The board uses its own marker set (DICT_5X5_100), so its markers are never taken for a corner or a car.
:class:`LensCalibrator` collects views one picture at a time and says, for each, whether it was kept.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from perception import problems
from perception.camera import Intrinsics
from perception.detect import to_gray
from perception.markers import aruco_dictionary
from perception.problems import Problem

MIN_CORNERS_PER_VIEW = 8  # fewer chessboard corners than this constrain the lens too little to be worth a view
MIN_VIEWS = 6  # each view gives a pose plus lens constraints; 6 pins f, centre and k1-k2 down well
GOOD_VIEWS = 12  # after this many, more views barely change the result
NEW_VIEW_SHIFT = 0.05  # corners must move this fraction of the picture width from every kept view: a new angle
MAX_RMS_PX = 1.0  # a lens fit worse than a pixel means a bent board or a moving camera
# Distortion grows towards the picture's edges: views must reach them, or k1/k2 are guessed from the middle.
GRID = 3  # the picture as 3 x 3 regions
MIN_REGIONS = 8  # of the 9, board corners must have been seen in this many, the four corner regions among them
REGION_NAMES = [f"{v} {h}".replace("middle middle", "middle") for v in ("top", "middle", "bottom")
                for h in ("left", "middle", "right")]
CORNER_REGIONS = (0, 2, 6, 8)


@dataclass(frozen=True)
class BoardSpec:
    """A ChArUco board: a chessboard with a marker in every white square. Fits A4 and Letter."""

    squares_x: int = 5
    squares_y: int = 7
    square_cm: float = 3.0  # 7 squares = 21 cm: fits Letter's printable height under a title
    marker_cm: float = 2.2
    dictionary: str = "DICT_5X5_100"

    @property
    def width_cm(self) -> float:
        return self.squares_x * self.square_cm

    @property
    def height_cm(self) -> float:
        return self.squares_y * self.square_cm

    def board(self) -> cv2.aruco.CharucoBoard:
        return _board(self)

    def image(self, px_per_cm: float) -> np.ndarray:
        """The board as a grayscale picture (no margin): its top-left is board coordinate (0, 0)."""
        size = (int(round(self.width_cm * px_per_cm)), int(round(self.height_cm * px_per_cm)))
        return self.board().generateImage(size, marginSize=0, borderBits=1)


DEFAULT_BOARD = BoardSpec()


@functools.cache
def _board(spec: BoardSpec) -> cv2.aruco.CharucoBoard:
    return cv2.aruco.CharucoBoard((spec.squares_x, spec.squares_y), spec.square_cm, spec.marker_cm,
                                  aruco_dictionary(spec.dictionary))


@dataclass(frozen=True)
class ViewResult:
    kept: bool
    corners: int  # chessboard corners found in this picture
    views: int  # views kept so far
    problem: Problem | None = None  # why the picture was not kept
    regions_missing: tuple[str, ...] = ()  # where the board should be held next
    ready: bool = False  # enough views to solve


class LensCalibrator:
    """Collects pictures of the board and fits the lens (focal length, centre, k1, k2) to them."""

    def __init__(self, board: BoardSpec = DEFAULT_BOARD) -> None:
        self.board = board
        self._detector = cv2.aruco.CharucoDetector(board.board())
        self._size: tuple[int, int] | None = None
        self._views: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (ids, object points, image points)

    @property
    def views(self) -> int:
        return len(self._views)

    def regions_missing(self) -> list[str]:
        """Parts of the picture no kept view has reached yet ("top left", ...): where to hold the board next."""
        if self._size is None:
            return list(REGION_NAMES)
        w, h = self._size
        seen = set()
        for _, _, img in self._views:
            cols = np.clip((img[:, 0] * GRID / w).astype(int), 0, GRID - 1)
            rows = np.clip((img[:, 1] * GRID / h).astype(int), 0, GRID - 1)
            seen.update((rows * GRID + cols).tolist())
        return [REGION_NAMES[i] for i in range(GRID * GRID) if i not in seen]

    @property
    def ready(self) -> bool:
        missing = self.regions_missing()
        corners_missing = any(REGION_NAMES[i] in missing for i in CORNER_REGIONS)
        return len(self._views) >= MIN_VIEWS and GRID * GRID - len(missing) >= MIN_REGIONS and not corners_missing

    def _result(self, kept: bool, corners: int, problem: Problem | None = None) -> ViewResult:
        return ViewResult(kept, corners, self.views, problem, tuple(self.regions_missing()), self.ready)

    def add(self, image: np.ndarray) -> ViewResult:
        """Look for the board in a picture and keep it if it is a new view. Raises FrameError for a bad picture."""
        gray = to_gray(image)
        size = (gray.shape[1], gray.shape[0])
        if self._size is not None and size != self._size:
            return self._result(False, 0, Problem(
                "lens_size_changed", f"This picture is {size[0]}x{size[1]}, the others were {self._size[0]}x{self._size[1]}.",
                "Keep the camera at one resolution while measuring the lens, or start again."))
        corners, ids, _, _ = self._detector.detectBoard(gray)
        n = 0 if ids is None else len(ids)
        if n < MIN_CORNERS_PER_VIEW:
            return self._result(False, n, Problem(
                "board_not_seen", f"The board is not clear in the picture ({n} of its corners found).",
                "Hold the whole board flat in front of the camera, in good light, not too far away.", "warning"))
        obj, img = self.board.board().matchImagePoints(corners, ids)
        ids = ids.ravel()
        for kept_ids, _, kept_img in self._views:
            common, a, b = np.intersect1d(ids, kept_ids, return_indices=True)
            if len(common) >= n * 0.8:
                shift = float(np.median(np.linalg.norm(img.reshape(-1, 2)[a] - kept_img.reshape(-1, 2)[b], axis=1)))
                if shift < NEW_VIEW_SHIFT * size[0]:
                    return self._result(False, n, Problem(
                        "same_view", "The camera already has this view of the board.",
                        "Tilt the board another way or move it to another part of the picture.", "warning"))
        self._size = size
        self._views.append((ids, obj.reshape(-1, 3).astype(np.float32), img.reshape(-1, 2).astype(np.float32)))
        return self._result(True, n)

    def solve(self) -> tuple[Intrinsics, float]:
        """The lens and its fit error in pixels (root mean square). Raises CalibrationError when it cannot."""
        if len(self._views) < MIN_VIEWS:
            raise problems.CalibrationError(Problem(
                "lens_needs_views", f"The lens needs {MIN_VIEWS} views of the board; it has {self.views}.",
                "Show the board at a few more angles."))
        if not self.ready:
            raise problems.CalibrationError(Problem(
                "lens_needs_edges", "The board has not been seen near every edge of the picture yet.",
                f"Hold it in the {', '.join(self.regions_missing())} of the picture too."))
        assert self._size is not None
        w, h = self._size
        flags = cv2.CALIB_ZERO_TANGENT_DIST | cv2.CALIB_FIX_K3
        rms, K, D, _, _ = cv2.calibrateCamera([v[1] for v in self._views], [v[2] for v in self._views], (w, h),
                                              None, None, flags=flags)
        if not np.isfinite(rms) or rms > MAX_RMS_PX:
            raise problems.CalibrationError(Problem(
                "lens_fit_poor", f"The lens measurement is off by {rms:.1f} pixels.",
                "Glue the printed board onto card so it stays flat, keep the camera still, and try again."))
        lens = Intrinsics(width=w, height=h, fx=float(K[0, 0]), fy=float(K[1, 1]), cx=float(K[0, 2]), cy=float(K[1, 2]),
                          dist=[float(v) for v in D.ravel()[:5]], source="charuco")
        return lens, float(rms)
