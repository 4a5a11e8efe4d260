"""Top-down frames of an attempt, drawn with OpenCV from the recording (server side only, never on the car).

Until real overhead-camera frames arrive from the arena-setup work, the frames the coach and the
teacher see are rendered here from the simulator's telemetry: arena, walls, zones, cones and the car's
body. :func:`key_frame_indices` picks the moments worth looking at (start, the first touch or the
closest shave past a cone, the widest slide, the end) and :func:`trajectory_overlay` draws the whole
path over the arena. Images are PNG bytes; they stay on this machine.
"""

from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np

from curriculum.checks import car_corners, point_to_car_cm
from curriculum.recording import Recording, Sample
from robot_runtime.arena import Arena
from robot_runtime.hardware import CarSpec

IMAGE_MAX_PX = 480  # long side; small enough for a fast VLM prompt, big enough to see a cone touch
MARGIN_PX = 10
MAX_KEY_FRAMES = 4  # the coach's prompt budget: a small vision model reads ~4 images well

# BGR colours
FLOOR = (235, 238, 240)
WALL = (60, 60, 60)
CONE = (0, 140, 255)
CAR = (200, 90, 30)
NOSE = (255, 255, 255)
CENTRE_DOT_PX = 3  # the car's middle dot: small, but the kid can see whether it is inside a zone
ZONE_COLOURS = {"target": (90, 200, 90), "parking": (200, 170, 60), "forbidden": (80, 80, 230), "start": (190, 190, 190)}
TRAIL_START, TRAIL_END = np.array([255, 160, 80]), np.array([120, 30, 160])
HIT = (0, 0, 220)


class Canvas:
    """Arena centimetres -> image pixels (y flipped: arena y grows up, image rows grow down)."""

    def __init__(self, arena: Arena, max_px: int = IMAGE_MAX_PX) -> None:
        self.arena = arena
        self.scale = (max_px - 2 * MARGIN_PX) / max(arena.width_cm, arena.height_cm)
        self.w = int(round(arena.width_cm * self.scale)) + 2 * MARGIN_PX
        self.h = int(round(arena.height_cm * self.scale)) + 2 * MARGIN_PX

    def px(self, x: float, y: float) -> tuple[int, int]:
        return (int(round(MARGIN_PX + x * self.scale)), int(round(self.h - MARGIN_PX - y * self.scale)))

    def base(self) -> np.ndarray:
        img = np.full((self.h, self.w, 3), FLOOR, np.uint8)
        a = self.arena
        layer = img.copy()
        for z in a.zones:
            cv2.rectangle(layer, self.px(z.x0, z.y1), self.px(z.x1, z.y0), ZONE_COLOURS.get(z.kind, (150, 150, 150)), -1)
        img = cv2.addWeighted(layer, 0.45, img, 0.55, 0)
        for z in a.zones:
            cv2.putText(img, z.name, (self.px(z.x0, z.y1)[0] + 3, self.px(z.x0, z.y1)[1] + 14),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.4, (40, 40, 40), 1, cv2.LINE_AA)
        cv2.rectangle(img, self.px(0, a.height_cm), self.px(a.width_cm, 0), WALL, 2)
        for w in a.walls:
            cv2.line(img, self.px(w.x0, w.y0), self.px(w.x1, w.y1), WALL, max(2, int(w.thickness_cm * self.scale)))
        for c in a.cones:
            cv2.circle(img, self.px(c.x_cm, c.y_cm), max(3, int(c.radius_cm * self.scale)), CONE, -1, cv2.LINE_AA)
        return img

    def car(self, img: np.ndarray, s: Sample, spec: CarSpec, colour: tuple[int, int, int] = CAR) -> None:
        pts = np.array([self.px(x, y) for x, y in car_corners(s, spec)], np.int32)
        cv2.fillPoly(img, [pts], colour, cv2.LINE_AA)
        h = math.radians(s.heading)
        nose = self.px(s.x + math.cos(h) * spec.length_cm * 0.4, s.y + math.sin(h) * spec.length_cm * 0.4)
        cv2.arrowedLine(img, self.px(s.x, s.y), nose, NOSE, 2, cv2.LINE_AA, tipLength=0.4)
        # The middle dot: what reach_zone measures, drawn the way the kid's arena view draws it.
        cv2.circle(img, self.px(s.x, s.y), CENTRE_DOT_PX + 1, WALL, -1, cv2.LINE_AA)
        cv2.circle(img, self.px(s.x, s.y), CENTRE_DOT_PX, NOSE, -1, cv2.LINE_AA)

    def trail(self, img: np.ndarray, samples: Sequence[Sample]) -> None:
        n = len(samples)
        for i, (a, b) in enumerate(zip(samples, samples[1:])):
            colour = TRAIL_START + (TRAIL_END - TRAIL_START) * (i / max(1, n - 2))
            cv2.line(img, self.px(a.x, a.y), self.px(b.x, b.y), tuple(int(c) for c in colour), 2, cv2.LINE_AA)


def render_frame(arena: Arena, samples: Sequence[Sample], index: int, spec: CarSpec = CarSpec(),
                 label: str = "") -> np.ndarray:
    """The arena with the path so far and the car at samples[index]."""
    canvas = Canvas(arena)
    img = canvas.base()
    canvas.trail(img, samples[: index + 1])
    canvas.car(img, samples[index], spec)
    text = f"t={samples[index].t:.1f}s {label}".strip()
    cv2.putText(img, text, (MARGIN_PX + 4, canvas.h - MARGIN_PX - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (20, 20, 20), 1,
                cv2.LINE_AA)
    return img


def key_frame_indices(rec: Recording, arena: Arena, spec: CarSpec = CarSpec()) -> list[tuple[str, int]]:
    """Up to MAX_KEY_FRAMES (label, sample index) pairs, in time order, no duplicates."""
    s = rec.samples
    if not s:
        return []
    picks: list[tuple[str, int]] = [("start", 0)]
    if rec.collisions:
        t_hit = float(rec.collisions[0].get("t") or 0.0)
        picks.append((f"touch {rec.collisions[0].get('with', '')}", min(range(len(s)), key=lambda i: abs(s[i].t - t_hit))))
    elif arena.cones:
        best = min(((point_to_car_cm(c.x_cm, c.y_cm, x, spec) - c.radius_cm, i) for i, x in enumerate(s)
                    for c in arena.cones))
        picks.append(("closest to a cone", best[1]))
    slides = [i for i, x in enumerate(s) if abs(x.speed) > 20]
    if slides:
        widest = max(slides, key=lambda i: abs(s[i].slip))
        if abs(s[widest].slip) > 10:
            picks.append(("widest slide", widest))
    picks.append(("end", len(s) - 1))
    seen: set[int] = set()
    out = []
    for label, i in sorted(picks, key=lambda p: p[1]):
        if i not in seen:
            seen.add(i)
            out.append((label, i))
    if len(out) > MAX_KEY_FRAMES:
        out = out[:1] + out[-(MAX_KEY_FRAMES - 1):]
    return out


def trajectory_overlay(rec: Recording, arena: Arena, spec: CarSpec = CarSpec()) -> np.ndarray:
    """The whole path over the arena: start ghost, final car, touches marked with a red X."""
    canvas = Canvas(arena)
    img = canvas.base()
    if rec.samples:
        canvas.car(img, rec.samples[0], spec, (190, 170, 150))
        canvas.trail(img, rec.samples)
    for c in rec.collisions:
        x, y = canvas.px(float(c.get("x_cm") or 0), float(c.get("y_cm") or 0))
        cv2.drawMarker(img, (x, y), HIT, cv2.MARKER_TILTED_CROSS, 16, 3)
    for ev in rec.safety:
        t = float(ev.get("t") or 0.0)
        if rec.samples:
            near = min(rec.samples, key=lambda x: abs(x.t - t))
            cv2.circle(img, canvas.px(near.x, near.y), 6, (0, 200, 230), 2)
    if rec.samples:  # last, on top: the end pose and its middle dot decide "inside"
        canvas.car(img, rec.samples[-1], spec)
    return img


def png(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise RuntimeError("OpenCV could not encode the frame as PNG")
    return buf.tobytes()


def render_attempt_images(rec: Recording, arena: Arena, spec: CarSpec = CarSpec()) -> dict[str, bytes]:
    """Every image an attempt keeps: 'overlay.png' and 'key-<n>-<label>.png' (PNG bytes by file name)."""
    out = {"overlay.png": png(trajectory_overlay(rec, arena, spec))}
    for n, (label, i) in enumerate(key_frame_indices(rec, arena, spec)):
        safe = "".join(ch if ch.isalnum() else "-" for ch in label)[:24]
        out[f"key-{n}-{safe}.png"] = png(render_frame(arena, rec.samples, i, spec, label))
    return out
