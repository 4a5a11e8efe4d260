"""Printable marker sheets (PDF, A4 or Letter): what a parent prints to set up an arena.

Pages: how to lay it all out; one page per corner marker (dashed lines show the arena's edges at the
corner it goes on); each car's roof marker on its own page, cut line and FRONT tab; and, if
wanted, the ChArUco lens board. Every page carries a 10 cm check line: a print scaled by "fit to
page" is caught with a ruler before it spoils the calibration.
"""

from __future__ import annotations

import textwrap

from perception.lens import DEFAULT_BOARD, BoardSpec
from perception.markers import CORNER_NAMES, MarkerPlan, RoofMarker, marker_cells
from perception.pdf import PAPER_CM, Document, Page

MARGIN_CM = 1.2  # inside every office printer's unprintable border (~0.5 cm)
FOOTER_CM = 1.8  # the check line and its sentence
CHECK_LINE_CM = 10.0
GUIDE_GAP_CELLS = 1.2  # guide lines start past the marker's white quiet zone (one cell), or they would touch it
GUIDE_CM = 3.0
GUIDE_LABEL_CM = 1.5  # the word ARENA beside the guide lines
BOARD_TOP_CM = 2.0  # the lens board starts under a two-line header
ARROW_CM = 0.8
CUT_MARGIN_CM = 0.3  # the cut line runs this far outside the quiet zone, so a wobbly cut keeps all of it
FRONT_TAB_CM = 1.6  # the roof marker's cut-out grows this much at the front, to carry the FRONT arrow
HEADER_CM = 3.2  # title and instructions at the top of a page


def _marker(page: Page, dictionary: str, marker_id: int, x: float, y: float, size: float) -> None:
    """A marker's black square with its top-left at (x, y); the white around it is the paper."""
    cells = marker_cells(dictionary, marker_id)
    n = cells.shape[0]
    c = size / n
    runs = []
    for r in range(n):
        col = 0
        while col < n:
            if cells[r, col]:
                start = col
                while col < n and cells[r, col]:
                    col += 1
                runs.append((x + start * c, y + r * c, (col - start) * c, c))
            else:
                col += 1
    page.rects(runs)


def _footer(page: Page, number: int, total: int) -> None:
    y = page.height_cm - MARGIN_CM - 0.5
    x0 = MARGIN_CM
    page.line(x0, y, x0 + CHECK_LINE_CM, y, width_cm=0.05)
    for cm in range(int(CHECK_LINE_CM) + 1):
        tick = 0.6 if cm in (0, int(CHECK_LINE_CM)) else 0.3
        page.line(x0 + cm, y - tick, x0 + cm, y, width_cm=0.03)
    page.text(x0, y - 0.75, "Check: this line must measure exactly 10 cm. If it does not, print again at 100 % "
                            "(\"actual size\", not \"fit to page\").", 8)
    page.text(page.width_cm - MARGIN_CM - 2.2, y, f"page {number} of {total}", 8, grey=0.4)


def _instructions(page: Page, plan: MarkerPlan, board: BoardSpec | None) -> None:
    x, y = MARGIN_CM, MARGIN_CM + 0.8
    arena = plan.arena
    page.text(x, y, f"MIKRO-DOJO arena markers: {arena.name}", 18, bold=True)
    steps = [
        "Measure the check line at the bottom of this page with a ruler: it must be 10 cm. If not, print again "
        "at 100 % (actual size).",
        f"Mark out the arena on the floor ({arena.width_cm:.0f} x {arena.height_cm:.0f} cm, or your own size), for "
        "example with tape.",
        "Lay each corner marker flat just OUTSIDE its corner: the black square's corner touches the arena's corner, "
        "and the dashed lines run along the arena's edges. Which way up it lies does not matter.",
        "Tape each car's roof marker flat on its roof, in the middle, with the FRONT arrow towards the car's nose.",
        "Fix the camera high above the arena, looking down, so it sees all four corner markers.",
    ]
    if board is not None:
        steps.append("Optional, for the best accuracy: glue the lens board (last page) onto card. In the set-up "
                     "(/setup/), step 4 (Measure), open \"Have the lens board?\", press \"I have the lens board\" and "
                     "hold it in front of the camera in a few places and angles.")
    y += 1.2
    for i, step in enumerate(steps, start=1):
        for j, line in enumerate(textwrap.wrap(step, 95)):
            page.text(x + (0 if j == 0 else 0.6), y, f"{i}. {line}" if j == 0 else line, 10)
            y += 0.5
        y += 0.25
    # a small map: the arena, the four corner markers outside its corners, one car
    y += 0.8
    scale = min((page.width_cm - 2 * MARGIN_CM - 4) / arena.width_cm, 9.0 / arena.height_cm)
    w, h = arena.width_cm * scale, arena.height_cm * scale
    ox, oy = (page.width_cm - w) / 2, y + 1.0
    for (ax, ay), (bx, by) in (((0, 0), (w, 0)), ((w, 0), (w, h)), ((w, h), (0, h)), ((0, h), (0, 0))):
        page.line(ox + ax, oy + ay, ox + bx, oy + by, width_cm=0.05, grey=0.3)
    m = max(0.6, plan.corner_size_cm * scale)
    for i, (cx, cy) in enumerate(((0, h), (w, h), (w, 0), (0, 0))):  # lower left first: page y grows down
        sx = ox + cx - (m if cx == 0 else 0)
        sy = oy + cy - (m if cy == 0 else 0)
        page.rects([(sx, sy, m, m)])
        page.text(sx - (0 if cx else 0.2) + (m + 0.15 if cx else -2.6), sy + (m + 0.45 if cy else -0.2),
                  CORNER_NAMES[i], 8, grey=0.3)
    page.text(ox + w / 2 - 1.0, oy + h / 2, "the arena", 10, grey=0.4)


def _free_height(page_height_cm: float) -> float:
    """Room between a page's header and its footer."""
    return page_height_cm - 2 * MARGIN_CM - FOOTER_CM - HEADER_CM


def _header(page: Page, title: str, text: str) -> None:
    page.text(MARGIN_CM, MARGIN_CM + 0.8, title, 16, bold=True)
    for j, line in enumerate(textwrap.wrap(text, 100)):
        page.text(MARGIN_CM, MARGIN_CM + 1.6 + 0.5 * j, line, 10)


def _corner_page(page: Page, plan: MarkerPlan, index: int) -> None:
    """One corner marker, with dashed lines along the two arena edges that meet at its corner."""
    mid, s, name = plan.corner_ids[index], plan.corner_size_cm, CORNER_NAMES[index]
    _header(page, f"Corner {index + 1} of 4: {name.upper()}  (marker {mid})",
            f"Lay it flat just outside the arena's {name} corner: the black square's corner between the dashed lines "
            "touches the arena's corner, and the dashed lines run along the arena's edges.")
    gap = GUIDE_GAP_CELLS * s / marker_cells(plan.dictionary, mid).shape[0]
    reach = gap + GUIDE_CM + GUIDE_LABEL_CM  # how far the guides and their label reach past the marker
    # Laid with its top away from you, the lower-left marker touches the arena with its top-right corner.
    right, top = index in (0, 3), index in (0, 1)
    x = (page.width_cm - s - reach) / 2 + (0 if right else reach)
    y = MARGIN_CM + HEADER_CM + (_free_height(page.height_cm) - s - reach) / 2 + (reach if top else 0)
    _marker(page, plan.dictionary, mid, x, y, s)
    cx, cy = (x + s if right else x), (y if top else y + s)
    hx, vy = (1 if right else -1), (-1 if top else 1)  # the arena lies this way along the page's x and y
    page.line(cx + hx * gap, cy, cx + hx * (gap + GUIDE_CM), cy, width_cm=0.04, dash_cm=0.3)
    page.line(cx, cy + vy * gap, cx, cy + vy * (gap + GUIDE_CM), width_cm=0.04, dash_cm=0.3)
    page.text(cx + hx * (gap + 0.5) - (1.4 if hx < 0 else 0), cy + vy * (gap + 1.2) + 0.2, "ARENA", 11, bold=True, grey=0.5)


def _roof_page(page: Page, plan: MarkerPlan, roof: RoofMarker) -> None:
    """One roof marker with a dashed cut line around it and a tab, outside its quiet zone, marking the front."""
    s = roof.size_cm
    quiet = s / marker_cells(plan.dictionary, roof.marker_id).shape[0]
    _header(page, f"{roof.car_id}: roof marker  (marker {roof.marker_id}, {s:.0f} cm)",
            "Cut along the dashed line and tape it flat on the middle of the car's roof, the FRONT tab towards the "
            "car's nose. Keep the white border: the camera needs it.")
    x = (page.width_cm - s) / 2
    y = MARGIN_CM + HEADER_CM + CUT_MARGIN_CM + quiet + FRONT_TAB_CM
    _marker(page, plan.dictionary, roof.marker_id, x, y, s)
    c = quiet + CUT_MARGIN_CM
    x0, x1, y0, y1 = x - c, x + s + c, y - c - FRONT_TAB_CM, y + s + c
    for a, b in (((x0, y0), (x1, y0)), ((x1, y0), (x1, y1)), ((x1, y1), (x0, y1)), ((x0, y1), (x0, y0))):
        page.line(*a, *b, width_cm=0.02, grey=0.5, dash_cm=0.25)
    ax, base = page.width_cm / 2, y - c - 0.35  # the arrow sits in the tab, clear of the quiet zone
    page.polygon([(ax, base - ARROW_CM), (ax + 0.45, base), (ax - 0.45, base)])
    page.text(ax + 0.7, base - 0.15, "FRONT", 11, bold=True)


def _board_page(page: Page, board: BoardSpec) -> None:
    _header(page, "Lens board (optional)",
            "Glue it flat onto card. In the set-up, step 4 (Measure): \"Have the lens board?\" says what to do.")
    x = (page.width_cm - board.width_cm) / 2
    y = MARGIN_CM + BOARD_TOP_CM
    sq = board.square_cm
    squares = [(x + c * sq, y + r * sq, sq, sq) for r in range(board.squares_y) for c in range(board.squares_x)
               if (r + c) % 2 == 0]  # OpenCV's layout: the top-left square is black
    page.rects(squares)
    b = board.board()
    for mid, corners in zip(b.getIds().ravel().tolist(), b.getObjPoints()):
        left, top = corners[0][0], corners[0][1]  # board coordinates run right and down, like the page's
        _marker(page, board.dictionary, mid, x + float(left), y + float(top), board.marker_cm)


def marker_sheets(plan: MarkerPlan, paper: str = "a4", board: BoardSpec | None = DEFAULT_BOARD) -> bytes:
    """The whole printable set as PDF bytes."""
    doc = Document(paper)
    width, height = PAPER_CM[paper]
    biggest = max([plan.corner_size_cm, *(r.size_cm for r in plan.roofs.values())])
    room = min(_free_height(height), width - 2 * MARGIN_CM)
    cells = marker_cells(plan.dictionary, plan.corner_ids[0]).shape[0]
    if biggest * (1 + GUIDE_GAP_CELLS / cells) + GUIDE_CM + GUIDE_LABEL_CM > room:  # a corner page is the tightest
        raise ValueError(f"a {biggest:.0f} cm marker does not fit on {paper} paper with its guide lines: "
                         "use markers of 12 cm or less")
    if board is not None and BOARD_TOP_CM + board.height_cm > height - 2 * MARGIN_CM - FOOTER_CM:
        raise ValueError(f"the lens board ({board.width_cm:.0f} x {board.height_cm:.0f} cm) does not fit on {paper} paper")
    _instructions(doc.page(), plan, board)
    for i in range(4):
        _corner_page(doc.page(), plan, i)
    for roof in plan.roofs.values():
        _roof_page(doc.page(), plan, roof)
    if board is not None:
        _board_page(doc.page(), board)
    for n, page in enumerate(doc.pages, start=1):
        _footer(page, n, len(doc.pages))
    return doc.to_bytes()
