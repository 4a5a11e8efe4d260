"""The printable marker sheets: rendered with poppler's pdftoppm (as a printer driver would) and measured.

The 10 cm check line and every marker must come out at their true size on A4 and Letter, the markers
must read as the ids the plan gives them (the roof markers with their top towards the FRONT arrow),
and the lens board must be a ChArUco board OpenCV finds.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from perception.lens import DEFAULT_BOARD
from perception.markers import MarkerPlan, default_roof_markers
from perception.pdf import PAPER_CM
from perception.sheets import marker_sheets
from perception_helpers import ARENA, PLAN

DPI = 100
PX_PER_CM = DPI / 2.54
RENDER_TIMEOUT_S = 60.0  # pdftoppm renders these pages in well under a second


def render(pdf: bytes, tmp_path: Path) -> list[np.ndarray]:
    assert shutil.which("pdftoppm"), "pdftoppm is missing: apt-get install poppler-utils (make poppler does it)"
    src = tmp_path / "markers.pdf"
    src.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(DPI), "-gray", "-png", str(src), str(tmp_path / "page")], check=True,
                   timeout=RENDER_TIMEOUT_S, capture_output=True)
    return [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted(tmp_path.glob("page-*.png"))]


def check_line_px(page: np.ndarray) -> float:
    """Length of the longest dark horizontal run in the page's bottom 12 % (the check line with its end ticks)."""
    bottom = page[int(page.shape[0] * 0.88):] < 128
    best = 0
    for row in bottom:
        xs = np.flatnonzero(row)
        if len(xs) < 2:
            continue
        runs = np.split(xs, np.flatnonzero(np.diff(xs) > 1) + 1)
        best = max(best, max(r[-1] - r[0] + 1 for r in runs))
    return float(best)


def markers_on(page: np.ndarray, dictionary: str = "DICT_4X4_50") -> dict[int, np.ndarray]:
    det = cv2.aruco.ArucoDetector(cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, dictionary)),
                                  cv2.aruco.DetectorParameters())
    corners, ids, _ = det.detectMarkers(page)
    return {} if ids is None else {int(i): c.reshape(4, 2) for i, c in zip(ids.ravel(), corners)}


@pytest.fixture(scope="module", params=["a4", "letter"])
def pages(request, tmp_path_factory):
    return request.param, render(marker_sheets(PLAN, request.param), tmp_path_factory.mktemp(request.param))


def test_every_page_is_the_paper_size_and_its_check_line_is_10_cm(pages):
    paper, images = pages
    w_cm, h_cm = PAPER_CM[paper]
    assert len(images) == 1 + 4 + len(PLAN.roofs) + 1  # how-to, corners, roofs, lens board
    for page in images:
        assert abs(page.shape[1] - w_cm * PX_PER_CM) <= 1 and abs(page.shape[0] - h_cm * PX_PER_CM) <= 1
        assert check_line_px(page) == pytest.approx(10 * PX_PER_CM, rel=0.005)


def test_corner_pages_carry_the_corner_markers_at_their_true_size(pages):
    _, images = pages
    for index, mid in enumerate(PLAN.corner_ids):
        found = markers_on(images[1 + index])
        assert list(found) == [mid]
        sides = np.linalg.norm(found[mid] - np.roll(found[mid], -1, axis=0), axis=1)
        assert np.all(np.abs(sides / PX_PER_CM - PLAN.corner_size_cm) < 0.1)  # within a millimetre


def test_roof_pages_carry_each_cars_marker_with_its_top_towards_the_front_arrow(pages):
    _, images = pages
    for k, roof in enumerate(PLAN.roofs.values()):
        found = markers_on(images[5 + k])
        assert list(found) == [roof.marker_id]
        tl, tr, br, bl = found[roof.marker_id]
        assert tl[1] < bl[1] and tr[1] < br[1] and tl[0] < tr[0]  # printed upright: its top is the page's top
        assert abs(np.linalg.norm(tr - tl) / PX_PER_CM - roof.size_cm) < 0.1
        arrow_rows = np.flatnonzero((images[5 + k][: int(tl[1]), int(tl[0]):int(tr[0])] < 128).any(axis=1))
        assert len(arrow_rows) and arrow_rows.max() < tl[1] - roof.size_cm / 6 * PX_PER_CM  # clear of the quiet zone


def test_the_lens_board_page_is_a_charuco_board_opencv_finds(pages):
    _, images = pages
    detector = cv2.aruco.CharucoDetector(DEFAULT_BOARD.board())
    corners, ids, _, _ = detector.detectBoard(images[-1])
    inner = (DEFAULT_BOARD.squares_x - 1) * (DEFAULT_BOARD.squares_y - 1)
    assert ids is not None and len(ids) == inner
    pts = {int(i): c.ravel() for i, c in zip(ids.ravel(), corners)}
    step = np.linalg.norm(pts[1] - pts[0]) / PX_PER_CM
    assert step == pytest.approx(DEFAULT_BOARD.square_cm, abs=0.05)


def test_markers_too_big_for_the_paper_and_unknown_paper_are_refused():
    big = MarkerPlan(ARENA.model_copy(update={"markers": ARENA.markers.model_copy(update={"size_cm": 18.0})}), [])
    with pytest.raises(ValueError, match="18 cm marker does not fit on letter paper"):
        marker_sheets(big, "letter")
    with pytest.raises(ValueError, match="paper must be one of a4, letter"):
        marker_sheets(PLAN, "a3")


def test_text_outside_latin_1_does_not_break_the_pdf(tmp_path):
    plan = MarkerPlan(ARENA.model_copy(update={"name": "Mia's (room) \\ \u6559\u5ba4 \u263a"}), default_roof_markers(["car-1"]))
    images = render(marker_sheets(plan, "a4", board=None), tmp_path)
    assert len(images) == 1 + 4 + 1
    assert list(markers_on(images[5])) == [10]
