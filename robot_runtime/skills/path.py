"""A planned path (a dense polyline) and a pure-pursuit follower for it.

Used by the named skills that drive a shape: slalom, figure eight, the parking approach. The follower
steers towards the point one look-ahead distance further along the path (pure pursuit: curvature
2*lateral/d^2) and slows down so it stops at the path's end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from robot_runtime.skills.scripted import ESC_LEAD_S, MIN_CREEP_CM_S, braking_speed, to_local, to_world

LOOKAHEAD_MIN_CM = 22.0  # shorter would make the steering twitch on a 1/10 car (wheelbase 26 cm)
LOOKAHEAD_PER_SPEED_S = 0.12  # plus this many seconds of travel: faster needs to look further
LOCATE_PATIENCE = 6  # points (12 cm) searched past the nearest one, so a wobble in the path never stalls the search
PATH_STEP_CM = 2.0  # spacing of the polyline points


@dataclass
class Path:
    xs: list[float]
    ys: list[float]
    s: list[float]  # arc length at each point

    @classmethod
    def from_points(cls, pts: list[tuple[float, float]]) -> "Path":
        xs, ys, s = [pts[0][0]], [pts[0][1]], [0.0]
        for x, y in pts[1:]:
            d = math.hypot(x - xs[-1], y - ys[-1])
            if d < 1e-9:
                continue
            xs.append(x)
            ys.append(y)
            s.append(s[-1] + d)
        return cls(xs, ys, s)

    @property
    def length(self) -> float:
        return self.s[-1]

    def point_at(self, s: float) -> tuple[float, float]:
        if s <= 0.0:
            return self.xs[0], self.ys[0]
        if s >= self.length:
            # beyond the end: continue straight along the last segment (the look-ahead needs a target)
            dx, dy = self.xs[-1] - self.xs[-2], self.ys[-1] - self.ys[-2]
            n = math.hypot(dx, dy) or 1.0
            extra = s - self.length
            return self.xs[-1] + dx / n * extra, self.ys[-1] + dy / n * extra
        lo, hi = 0, len(self.s) - 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.s[mid] <= s:
                lo = mid
            else:
                hi = mid
        f = (s - self.s[lo]) / (self.s[hi] - self.s[lo])
        return self.xs[lo] + f * (self.xs[hi] - self.xs[lo]), self.ys[lo] + f * (self.ys[hi] - self.ys[lo])

    def transformed(self, ox: float, oy: float, heading_rad: float) -> "Path":
        """This path (given in a local frame: x ahead, y left) placed at a pose in the arena."""
        pts = [to_world(x, y, ox, oy, heading_rad) for x, y in zip(self.xs, self.ys)]
        return Path.from_points(pts)


def smooth_weave(keys: list[tuple[float, float]], step: float = PATH_STEP_CM) -> list[tuple[float, float]]:
    """Points through key points (x increasing), lateral eased with half-cosines: zero slope at every key."""
    pts: list[tuple[float, float]] = []
    for (x0, y0), (x1, y1) in zip(keys, keys[1:]):
        n = max(2, int(abs(x1 - x0) / step))
        for i in range(n):
            u = i / n
            pts.append((x0 + (x1 - x0) * u, y0 + (y1 - y0) * (1.0 - math.cos(math.pi * u)) / 2.0))
    pts.append(keys[-1])
    return pts


def circle_points(cx: float, cy: float, r: float, a0: float, sweep: float, step: float = PATH_STEP_CM) -> list[tuple[float, float]]:
    """Points on a circle from angle a0 (radians, from the centre) through `sweep` (+ counter-clockwise)."""
    n = max(4, int(abs(sweep) * r / step))
    return [(cx + r * math.cos(a0 + sweep * i / n), cy + r * math.sin(a0 + sweep * i / n)) for i in range(n + 1)]


class PathFollower:
    """Pure pursuit along a Path, forwards; tells where along the path the car is."""

    def __init__(self, path: Path, wheelbase_cm: float, max_steer_deg: float, v_max: float) -> None:
        self.path = path
        self.wheelbase = wheelbase_cm
        self.max_steer = max_steer_deg
        self.v_max = v_max
        self.s_car = 0.0  # the car's place along the path
        self._idx = 0

    def _locate(self, x: float, y: float) -> None:
        """Walk forward from the last place while the path gets closer (never backwards: loops cross)."""
        xs, ys, n = self.path.xs, self.path.ys, len(self.path.s)
        i = best_i = self._idx
        best = (xs[i] - x) ** 2 + (ys[i] - y) ** 2
        misses = 0
        while misses < LOCATE_PATIENCE and i + 1 < n:
            i += 1
            d = (xs[i] - x) ** 2 + (ys[i] - y) ** 2
            if d < best:
                best, best_i, misses = d, i, 0
            else:
                misses += 1
        self._idx = best_i
        self.s_car = self.path.s[best_i]

    def cross_track(self, x: float, y: float) -> float:
        i = self._idx
        return math.hypot(self.path.xs[i] - x, self.path.ys[i] - y)

    def remaining(self) -> float:
        return self.path.length - self.s_car

    def command(self, x: float, y: float, heading_rad: float, speed: float) -> tuple[float, float]:
        """(signed speed cm/s, steering fraction) for this tick."""
        self._locate(x, y)
        look = LOOKAHEAD_MIN_CM + LOOKAHEAD_PER_SPEED_S * abs(speed)
        tx, ty = self.path.point_at(self.s_car + look)
        ax, ly = to_local(tx, ty, x, y, heading_rad)
        d2 = ax * ax + ly * ly
        if ax <= 0.0:  # the look-ahead point is behind: turn towards it at full lock
            steer = 1.0 if ly >= 0 else -1.0
        else:
            kappa = 2.0 * ly / d2
            steer = math.degrees(math.atan(kappa * self.wheelbase)) / self.max_steer
        v = braking_speed(self.remaining() - abs(speed) * ESC_LEAD_S, self.v_max)
        v = max(v, min(MIN_CREEP_CM_S, self.v_max)) if self.remaining() > 1.0 else 0.0
        return v, max(-1.0, min(1.0, steer))
