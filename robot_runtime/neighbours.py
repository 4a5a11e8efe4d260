"""Other cars as moving obstacles: the server's ``neighbours`` message, as the supervisor avoids it.

The server sends each car the cars near it (pose, world velocity, footprint, how old the pose is, how
sure it is) at NEIGHBOURS_HZ (protocol.Neighbours). This module turns each one into a region of the
floor the car must not drive into, as fence segments (what = "car"), which the supervisor's fence
treats exactly like walls: throttle capped so the car can stop before them, steering kept stoppable.

The region of one neighbour at the car's time ``now``:

- its footprint at its last known pose, and at where its velocity takes it within ``age + horizon``
  (age: how old the pose is now; horizon: how long this car needs to stop from the fastest it may
  go), and everything in between: the convex hull of the two footprints — the other car is assumed to
  keep its velocity or brake along it (its own supervisor sees this car too);
- grown on every side by its uncertainty plus ``STRAY_CM_S2 * age^2 / 2``: how far a car can stray
  from a constant velocity in that time when it speeds up or turns as hard as a supervised car may.

Promises (tests/runtime/test_neighbours_properties.py):
- never less careful with time: the region at a later ``now`` (no new message) contains the region at
  an earlier one — a stale pose is kept, growing, never dropped or shrunk;
- the server's list replaces the previous one (a car that drove away or switched off leaves it), but
  nothing here removes or widens the car's own walls and limits: these are extra segments only;
- a malformed message changes nothing (runtime.py answers it with an error).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from robot_runtime import fence as geo
from robot_runtime.protocol import NearbyCar, Neighbours

# How fast a supervised car can move away from constant velocity: max_accel_per_s (4 /s) of a 300 cm/s
# car is 1200 cm/s^2. Over 0.1 s that is 6 cm; a pose 0.5 s old has grown 150 cm (the car slows down).
STRAY_CM_S2 = 1200.0
STALE_S = 0.3  # a pose older than this is stale (a few lost updates): reported as such, still avoided
MAX_GROW_CM = 5000.0  # a region this grown covers any classroom floor: bigger numbers change nothing
AWAY_COS = 0.5  # inside another car's region, only driving within 60 degrees of straight away from it


@dataclass(frozen=True, slots=True)
class Neighbour:
    """One other car, as last heard: its pose at the car's time `seen_at` (the message's age taken off)."""

    car: NearbyCar
    seen_at: float

    def age(self, now: float) -> float:
        return max(0.0, now - self.seen_at)


def _hull(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Convex hull, counter-clockwise (Andrew's monotone chain)."""
    pts = sorted(set(points))
    if len(pts) <= 2:
        return pts

    def cross(o, a, b) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[tuple[float, float]] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0.0:
            lower.pop()
        lower.append(p)
    upper: list[tuple[float, float]] = []
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0.0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def _box(x: float, y: float, c: float, s: float, hl: float, hw: float) -> list[tuple[float, float]]:
    return [(x + a * c - b * s, y + a * s + b * c) for a, b in ((hl, hw), (hl, -hw), (-hl, -hw), (-hl, hw))]


def _reach(car: NearbyCar, age_s: float, horizon_s: float) -> tuple[float, float, float]:
    """How much the footprint grows (uncertainty and stray since the pose) and where its velocity takes it."""
    grow = min(MAX_GROW_CM, car.uncertainty_cm + STRAY_CM_S2 * age_s * age_s / 2.0)
    ahead = age_s + horizon_s
    dx, dy = car.vx_cm_s * ahead, car.vy_cm_s * ahead
    return grow, dx, dy


def region(car: NearbyCar, age_s: float, horizon_s: float) -> list[tuple[float, float]]:
    """The corners (counter-clockwise) of the floor this neighbour may cover within the horizon."""
    grow, dx, dy = _reach(car, age_s, horizon_s)
    h = math.radians(car.heading_deg)
    c, s = math.cos(h), math.sin(h)
    hl, hw = car.length_cm / 2.0 + grow, car.width_cm / 2.0 + grow
    return _hull(_box(car.x_cm, car.y_cm, c, s, hl, hw) + _box(car.x_cm + dx, car.y_cm + dy, c, s, hl, hw))


def region_segments(corners: list[tuple[float, float]]) -> list[geo.Segment]:
    n = len(corners)
    return [geo.Segment(*corners[i], *corners[(i + 1) % n], 0.0, "car") for i in range(n)]


class NeighbourView:
    """The cars near this one, as the last message said; the fence asks for their segments every tick."""

    def __init__(self) -> None:
        self.cars: dict[str, Neighbour] = {}
        self.seq = -1
        self.messages = 0

    def update(self, msg: Neighbours, now: float) -> None:
        """A new list from the server replaces the old one (its poses dated by their age)."""
        self.cars = {c.car_id: Neighbour(c, now - c.age_s) for c in msg.cars}
        self.seq = msg.seq
        self.messages += 1

    def clear(self) -> None:
        self.cars = {}

    def stale(self, now: float) -> list[str]:
        return sorted(cid for cid, n in self.cars.items() if n.age(now) > STALE_S)

    def segments(self, now: float, horizon_s: float, x: float = math.nan, y: float = math.nan,
                 heading_deg: float = 0.0, half_len: float = 0.0, half_w: float = 0.0, reach_cm: float = math.inf
                 ) -> tuple[list[geo.Segment], list[tuple[float, float]]]:
        """The regions' edges as fence segments, and the centres of the neighbours whose region the car's
        footprint (centre x, y; half sizes) is already in: their edges would only be seen from inside, so
        for those the car may only move away (``blocks``). Regions wholly farther than `reach_cm` from
        (x, y) — beyond anything the fence looks at — are left out (their bounding circle says so)."""
        out: list[geo.Segment] = []
        inside: list[tuple[float, float]] = []
        h = math.radians(heading_deg)
        ux, uy = math.cos(h), math.sin(h)
        placed = math.isfinite(x) and math.isfinite(y)
        for n in self.cars.values():  # (one dict: a new message swaps in a new one, never edits this one)
            age = n.age(now)
            if placed and reach_cm < math.inf and _far(n.car, age, horizon_s, x, y, reach_cm):
                continue
            segs = region_segments(region(n.car, age, horizon_s))
            if placed and (_contains(segs, x, y)
                           or any(geo.segment_hits_box(x, y, ux, uy, half_len, half_w, sg) for sg in segs)):
                inside.append((n.car.x_cm, n.car.y_cm))
            else:
                out += segs
        return out, inside


def _far(car: NearbyCar, age_s: float, horizon_s: float, x: float, y: float, reach_cm: float) -> bool:
    """Is all of this neighbour's region farther than reach_cm from (x, y)? (a circle around it)"""
    grow, dx, dy = _reach(car, age_s, horizon_s)
    radius = math.hypot(dx, dy) / 2.0 + math.hypot(car.length_cm / 2.0 + grow, car.width_cm / 2.0 + grow)
    return math.hypot(car.x_cm + dx / 2.0 - x, car.y_cm + dy / 2.0 - y) - radius > reach_cm


def _contains(segs: list[geo.Segment], x: float, y: float) -> bool:
    """Is (x, y) inside the convex polygon these counter-clockwise edges make?"""
    return all((s.x1 - s.x0) * (y - s.y0) - (s.y1 - s.y0) * (x - s.x0) >= 0.0 for s in segs)


def blocks(x: float, y: float, heading_deg: float, direction: float, inside: list[tuple[float, float]]) -> bool:
    """Driving in `direction` from (x, y) goes toward one of these cars (not clearly away from it)."""
    h = math.radians(heading_deg)
    mx, my = direction * math.cos(h), direction * math.sin(h)
    for cx, cy in inside:
        dx, dy = cx - x, cy - y
        d = math.hypot(dx, dy)
        if d < 1e-9 or (mx * dx + my * dy) / d > -AWAY_COS:
            return True
    return False
