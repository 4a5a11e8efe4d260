"""Other cars in the simulator: moving bodies this car can bump into.

Each simulated car runs in its own process (``dojo car --sim``), so it knows the other cars on its floor
only from the server's ``neighbours`` message (runtime.py hands it to ``SimCar.set_bodies``). A body is
the other car's footprint rectangle, moved along its velocity from when its pose was measured (for at
most PREDICT_S: after that it waits where it would be, until the next message), and solid: a
footprint that overlaps it is pushed out and bounces as from a wall, with a CollisionEvent
``with="car:<id>"``. The other car's own simulator does the same from its side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from robot_runtime.sim.world import Contact

PREDICT_S = 0.25  # the server sends 10 poses a second; a body is moved on at most this long without news


@dataclass(frozen=True, slots=True)
class Body:
    car_id: str
    x: float
    y: float
    heading_rad: float
    vx: float
    vy: float
    hl: float  # half length, half width
    hw: float
    t: float  # simulator time of the pose

    def at(self, t: float) -> tuple[float, float]:
        dt = min(PREDICT_S, max(0.0, t - self.t))
        return self.x + self.vx * dt, self.y + self.vy * dt

    @property
    def radius(self) -> float:
        return math.hypot(self.hl, self.hw)


def _corners(x: float, y: float, c: float, s: float, hl: float, hw: float) -> list[tuple[float, float]]:
    return [(x + a * c - b * s, y + a * s + b * c) for a, b in ((hl, hw), (hl, -hw), (-hl, -hw), (-hl, hw))]


def _inside(px: float, py: float, x: float, y: float, c: float, s: float, hl: float, hw: float) -> bool:
    dx, dy = px - x, py - y
    return abs(dx * c + dy * s) <= hl and abs(-dx * s + dy * c) <= hw


def box_contact(x: float, y: float, c: float, s: float, hl: float, hw: float, body: Body, t: float) -> Contact | None:
    """The contact of the car's footprint (centre x, y; axis c, s) with a body at time t, if they overlap
    (separating axes: the smallest overlap is the depth, its axis the normal, pointing into the car)."""
    bx, by = body.at(t)
    bc, bs = math.cos(body.heading_rad), math.sin(body.heading_rad)
    dx, dy = bx - x, by - y
    best: tuple[float, float, float] | None = None  # depth, nx, ny
    for ax, ay in ((c, s), (-s, c), (bc, bs), (-bs, bc)):
        ea = hl * abs(c * ax + s * ay) + hw * abs(-s * ax + c * ay)
        eb = body.hl * abs(bc * ax + bs * ay) + body.hw * abs(-bs * ax + bc * ay)
        d = dx * ax + dy * ay
        overlap = ea + eb - abs(d)
        if overlap <= 0.0:
            return None
        if best is None or overlap < best[0]:
            sign = -1.0 if d > 0.0 else 1.0  # from the body toward the car
            best = (overlap, sign * ax, sign * ay)
    depth, nx, ny = best
    # Where they touch: a corner of one inside the other (the deepest), else between the centres.
    mine = [p for p in _corners(x, y, c, s, hl, hw) if _inside(*p, bx, by, bc, bs, body.hl, body.hw)]
    theirs = [p for p in _corners(bx, by, bc, bs, body.hl, body.hw) if _inside(*p, x, y, c, s, hl, hw)]
    if mine:
        px, py = min(mine, key=lambda p: p[0] * nx + p[1] * ny)
    elif theirs:
        px, py = max(theirs, key=lambda p: p[0] * nx + p[1] * ny)
    else:
        px, py = (x + bx) / 2.0, (y + by) / 2.0
    key = f"car:{body.car_id}"
    return Contact(key, key, px, py, nx, ny, depth)
