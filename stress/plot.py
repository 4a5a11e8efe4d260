"""The soak's picture: latency percentiles and the server's memory over the run, faults marked, as a PNG.

Drawn with OpenCV (already a server dependency for the attempt frames), so no plotting library is added.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

W, H = 1200, 760
LEFT, RIGHT, TOP = 90, 30, 40
PANEL_H = 300
GAP = 70
WHITE, BLACK, GREY = (255, 255, 255), (30, 30, 30), (200, 200, 200)
COLOURS = {"p50": (180, 120, 30), "p99": (40, 40, 220), "p99 health": (0, 160, 230), "max": (150, 150, 150), "rss": (60, 150, 60),
           "fds": (160, 60, 160)}


def _axes(img: np.ndarray, top: int, title: str, t_max: float, y_max: float, unit: str) -> tuple:
    x0, x1, y0, y1 = LEFT, W - RIGHT, top, top + PANEL_H
    cv2.rectangle(img, (x0, y0), (x1, y1), BLACK, 1)
    cv2.putText(img, title, (x0, y0 - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.55, BLACK, 1, cv2.LINE_AA)
    for i in range(5):
        v = y_max * i / 4
        y = int(y1 - (y1 - y0) * i / 4)
        cv2.line(img, (x0, y), (x1, y), GREY, 1)
        cv2.putText(img, f"{v:.0f} {unit}", (5, y + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, BLACK, 1, cv2.LINE_AA)
    for i in range(7):
        t = t_max * i / 6
        x = int(x0 + (x1 - x0) * i / 6)
        cv2.putText(img, f"{t:.0f} s", (x - 12, y1 + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.4, BLACK, 1, cv2.LINE_AA)

    def to_px(t: float, v: float) -> tuple[int, int]:
        return (int(x0 + (x1 - x0) * min(t, t_max) / t_max), int(y1 - (y1 - y0) * min(max(v, 0), y_max) / y_max))

    return to_px, (x0, x1, y0, y1)


def _line(img: np.ndarray, to_px, points: list[tuple[float, float]], colour, label: str, legend_at: tuple[int, int]) -> None:
    pts = [to_px(t, v) for t, v in points]
    for a, b in zip(pts, pts[1:]):
        cv2.line(img, a, b, colour, 2, cv2.LINE_AA)
    if len(pts) == 1:
        cv2.circle(img, pts[0], 3, colour, -1)
    cv2.line(img, legend_at, (legend_at[0] + 20, legend_at[1]), colour, 3)
    cv2.putText(img, label, (legend_at[0] + 26, legend_at[1] + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.45, BLACK, 1, cv2.LINE_AA)


def draw(path: Path, duration_s: float, latency: dict[str, list[tuple[float, float]]],
         memory: list[tuple[float, float]], fds: list[tuple[float, float]], faults: list[tuple[float, str]],
         title: str) -> None:
    img = np.full((H, W, 3), 255, np.uint8)
    cv2.putText(img, title, (LEFT, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, BLACK, 1, cv2.LINE_AA)
    t_max = max(duration_s, 1.0)
    lat_max = max([v for pts in latency.values() for _, v in pts] + [10.0]) * 1.1
    to_px, (x0, x1, y0, y1) = _axes(img, TOP + 20, "latency of the server's answers per window (ms)", t_max, lat_max, "ms")
    for i, (name, pts) in enumerate(latency.items()):
        _line(img, to_px, pts, COLOURS.get(name, COLOURS.get(name.split()[0], BLACK)), name, (x0 + 10 + 230 * i, y0 + 15))
    mem_top = TOP + 20 + PANEL_H + GAP
    mem_max = max([v for _, v in memory] + [v for _, v in fds] + [10.0]) * 1.15
    to_px2, (_, _, m0, m1) = _axes(img, mem_top, "server RSS (MB) and open file descriptors", t_max, mem_max, "")
    _line(img, to_px2, memory, COLOURS["rss"], "RSS MB", (x0 + 10, m0 + 15))
    _line(img, to_px2, fds, COLOURS["fds"], "fds", (x0 + 240, m0 + 15))
    for t, label in faults:
        for top_y, bottom_y in ((y0, y1), (m0, m1)):
            x = to_px(t, 0)[0]
            cv2.line(img, (x, top_y), (x, bottom_y), (0, 140, 255), 1)
        cv2.putText(img, label, (to_px(t, 0)[0] + 2, y1 - 6 - 12 * (faults.index((t, label)) % 8)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 100, 200), 1, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".png", img)
    assert ok
    path.write_bytes(data.tobytes())
