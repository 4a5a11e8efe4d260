"""The simulated arena: walls, cones and the arena's edge, as geometry the car can hit and see.

Shapes: a wall is a capsule (its segment, thickened by thickness/2 on every side, rounded ends, so
walls joined end to end make closed corners); a cone is a circle; the edge is the arena rectangle. The
car is its footprint rectangle (CarSpec length x width, centred on the pose).

Two queries: ``contacts`` (what the footprint touches now, with a push-out normal and depth) and
``ray`` (distance along a ray to the nearest thing, for the forward distance sensor).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from robot_runtime.arena import Arena


@dataclass(frozen=True, slots=True)
class Contact:
    """The footprint overlaps an obstacle: move the car by depth along (nx, ny) to separate them."""

    key: str  # "wall", "cone:3", "edge" (the CollisionEvent's `with`)
    obstacle: str  # unique per obstacle: "wall:2", "cone:3", "edge"
    px: float  # contact point, world
    py: float
    nx: float  # unit normal pointing from the obstacle into the car
    ny: float
    depth: float


def _closest_on_segment(px: float, py: float, x0: float, y0: float, dx: float, dy: float, len2: float) -> tuple[float, float]:
    t = ((px - x0) * dx + (py - y0) * dy) / len2 if len2 > 0.0 else 0.0
    t = 0.0 if t < 0.0 else 1.0 if t > 1.0 else t
    return x0 + t * dx, y0 + t * dy


def _ray_circle(ox: float, oy: float, dx: float, dy: float, cx: float, cy: float, r: float) -> float:
    """Distance along a unit ray to a circle; 0 if the origin is inside; inf if missed."""
    fx, fy = ox - cx, oy - cy
    c = fx * fx + fy * fy - r * r
    if c <= 0.0:
        return 0.0
    b = fx * dx + fy * dy
    disc = b * b - c
    if b > 0.0 or disc < 0.0:
        return math.inf
    return -b - math.sqrt(disc)


class World:
    """Static geometry built from an Arena. Cheap queries; the car calls them every physics substep."""

    def __init__(self, arena: Arena) -> None:
        self.arena = arena
        self.width = arena.width_cm
        self.height = arena.height_cm
        # walls: (x0, y0, dx, dy, len2, radius)
        self.walls = [
            (w.x0, w.y0, w.x1 - w.x0, w.y1 - w.y0, (w.x1 - w.x0) ** 2 + (w.y1 - w.y0) ** 2, w.thickness_cm / 2.0)
            for w in arena.walls
        ]
        self.cones = [(c.x_cm, c.y_cm, c.radius_cm) for c in arena.cones]

    # --- broad phase -----------------------------------------------------------------------------

    def nearby(self, x: float, y: float, reach: float) -> tuple[list[int], list[int], bool]:
        """Walls and cones whose shape comes within `reach` of (x, y), and whether the edge does."""
        walls = []
        for i, (x0, y0, dx, dy, len2, rad) in enumerate(self.walls):
            cx, cy = _closest_on_segment(x, y, x0, y0, dx, dy, len2)
            if (x - cx) ** 2 + (y - cy) ** 2 < (reach + rad) ** 2:
                walls.append(i)
        cones = [
            i for i, (cx, cy, rad) in enumerate(self.cones) if (x - cx) ** 2 + (y - cy) ** 2 < (reach + rad) ** 2
        ]
        edge = x - reach < 0.0 or y - reach < 0.0 or x + reach > self.width or y + reach > self.height
        return walls, cones, edge

    def clearance(self, x: float, y: float) -> float:
        """Distance from (x, y) to the nearest obstacle surface (negative inside one)."""
        best = min(x, y, self.width - x, self.height - y)
        for x0, y0, dx, dy, len2, rad in self.walls:
            cx, cy = _closest_on_segment(x, y, x0, y0, dx, dy, len2)
            best = min(best, math.hypot(x - cx, y - cy) - rad)
        for cx, cy, rad in self.cones:
            best = min(best, math.hypot(x - cx, y - cy) - rad)
        return best

    def gap(
        self, x: float, y: float, c: float, s: float, hl: float, hw: float,
        walls: list[int], cones: list[int], edge: bool,
    ) -> float:
        """Distance between the footprint and the nearest of the given shapes (<= 0: touching).

        Exact for these convex shapes: the closest points are a corner of the box or an end of a
        wall's segment (or the box point nearest a cone's centre).
        """
        corners = (
            (x + hl * c - hw * s, y + hl * s + hw * c),
            (x + hl * c + hw * s, y + hl * s - hw * c),
            (x - hl * c + hw * s, y - hl * s - hw * c),
            (x - hl * c - hw * s, y - hl * s + hw * c),
        )
        best = math.inf
        if edge:
            ex = hl * abs(c) + hw * abs(s)
            ey = hl * abs(s) + hw * abs(c)
            best = min(x - ex, y - ey, self.width - x - ex, self.height - y - ey)
        for i in cones:
            cx, cy, rad = self.cones[i]
            bx, by, lx, ly, inside = self._box_point(x, y, c, s, hl, hw, cx, cy)
            best = min(best, -rad if inside else math.hypot(bx - lx, by - ly) - rad)
        for i in walls:
            x0, y0, dx, dy, len2, rad = self.walls[i]
            for px, py in corners:
                qx, qy = _closest_on_segment(px, py, x0, y0, dx, dy, len2)
                best = min(best, math.hypot(px - qx, py - qy) - rad)
            for qx, qy in ((x0, y0), (x0 + dx, y0 + dy)):
                bx, by, lx, ly, inside = self._box_point(x, y, c, s, hl, hw, qx, qy)
                best = min(best, -rad if inside else math.hypot(bx - lx, by - ly) - rad)
        return best

    # --- narrow phase: footprint rectangle vs shapes ----------------------------------------------

    def contacts(
        self, x: float, y: float, c: float, s: float, hl: float, hw: float,
        walls: list[int], cones: list[int], edge: bool,
    ) -> list[Contact]:
        """Contacts of the rectangle centred (x, y), axis (c, s) = (cos, sin heading), half sizes hl, hw."""
        out: list[Contact] = []
        corners = (
            (x + hl * c - hw * s, y + hl * s + hw * c),
            (x + hl * c + hw * s, y + hl * s - hw * c),
            (x - hl * c + hw * s, y - hl * s - hw * c),
            (x - hl * c - hw * s, y - hl * s + hw * c),
        )
        ex = hl * abs(c) + hw * abs(s)  # the footprint's axis-aligned half extents
        ey = hl * abs(s) + hw * abs(c)
        if edge and (x - ex < 0.0 or y - ey < 0.0 or x + ex > self.width or y + ey > self.height):
            deepest: Contact | None = None
            for px, py in corners:
                for depth, nx, ny in ((-px, 1.0, 0.0), (-py, 0.0, 1.0), (px - self.width, -1.0, 0.0), (py - self.height, 0.0, -1.0)):
                    if depth > 0.0 and (deepest is None or depth > deepest.depth):
                        deepest = Contact("edge", "edge", px, py, nx, ny, depth)
            if deepest is not None:
                out.append(deepest)
        for i in cones:
            cx, cy, rad = self.cones[i]
            hit = self._box_circle(x, y, c, s, hl, hw, cx, cy, rad)
            if hit is not None:
                px, py, nx, ny, depth = hit
                out.append(Contact(f"cone:{i}", f"cone:{i}", px, py, nx, ny, depth))
        for i in walls:
            hit = self._box_capsule(x, y, c, s, hl, hw, corners, self.walls[i])
            if hit is not None:
                px, py, nx, ny, depth = hit
                out.append(Contact("wall", f"wall:{i}", px, py, nx, ny, depth))
        return out

    @staticmethod
    def _box_point(x: float, y: float, c: float, s: float, hl: float, hw: float, qx: float, qy: float):
        """Closest point of the box to q (world), and whether q is inside; plus q in box coordinates."""
        dx, dy = qx - x, qy - y
        lx, ly = dx * c + dy * s, -dx * s + dy * c
        bx = -hl if lx < -hl else hl if lx > hl else lx
        by = -hw if ly < -hw else hw if ly > hw else ly
        inside = bx == lx and by == ly
        return bx, by, lx, ly, inside

    def _box_circle(self, x, y, c, s, hl, hw, cx, cy, rad):
        bx, by, lx, ly, inside = self._box_point(x, y, c, s, hl, hw, cx, cy)
        if inside:  # centre inside the footprint: push out along the shallowest box axis
            pen_x, pen_y = hl - abs(lx), hw - abs(ly)
            if pen_x < pen_y:
                nlx, nly, depth = (-1.0 if lx > 0 else 1.0), 0.0, pen_x + rad
            else:
                nlx, nly, depth = 0.0, (-1.0 if ly > 0 else 1.0), pen_y + rad
        else:
            ex, ey = bx - lx, by - ly  # from circle centre to the closest box point (box frame)
            d2 = ex * ex + ey * ey
            if d2 >= rad * rad:
                return None
            d = math.sqrt(d2)
            nlx, nly, depth = ex / d, ey / d, rad - d
        nx, ny = nlx * c - nly * s, nlx * s + nly * c
        px, py = x + bx * c - by * s, y + bx * s + by * c
        return px, py, nx, ny, depth

    def _box_capsule(self, x, y, c, s, hl, hw, corners, wall):
        x0, y0, dx, dy, len2, rad = wall
        ln = math.sqrt(len2)
        if ln > 0.0:
            # the wall's normal on the car centre's side: a thin wall pushes the car back the way it came
            wnx, wny = -dy / ln, dx / ln
            if (x - x0) * wnx + (y - y0) * wny < 0.0:
                wnx, wny = -wnx, -wny
        best = None
        for px, py in corners:  # a corner of the car inside the thick wall
            t = ((px - x0) * dx + (py - y0) * dy) / len2 if len2 > 0.0 else -1.0
            if 0.0 <= t <= 1.0:  # beside the segment: slab, measured from the car's side
                off = (px - x0) * wnx + (py - y0) * wny  # > 0 on the car's side
                # Past the slab on the far side counts only if the car reaches through the wall (the
                # line from its centre to the corner crosses the segment), not beside its end.
                if off < rad and (off > -rad or _crosses(x, y, px, py, x0, y0, dx, dy)):
                    depth = rad - off
                    if best is None or depth > best[4]:
                        best = (px, py, wnx, wny, depth)
                continue
            qx, qy = (x0, y0) if t < 0.0 else (x0 + dx, y0 + dy)  # beyond an end: the round cap
            ex, ey = px - qx, py - qy
            d2 = ex * ex + ey * ey
            if d2 < rad * rad:
                d = math.sqrt(d2)
                nx, ny = (ex / d, ey / d) if d > 1e-9 else (x - qx, y - qy)
                depth = rad - d
                if best is None or depth > best[4]:
                    best = (px, py, nx, ny, depth)
        for qx, qy in ((x0, y0), (x0 + dx, y0 + dy)):  # a wall's end poking into the car's side
            hit = self._box_circle(x, y, c, s, hl, hw, qx, qy, rad)
            if hit is not None and (best is None or hit[4] > best[4]):
                best = hit
        return best

    # --- the distance sensor ----------------------------------------------------------------------

    def ray(self, ox: float, oy: float, dx: float, dy: float, max_range: float) -> float | None:
        """Distance from (ox, oy) along the unit direction (dx, dy) to the nearest surface, None beyond max_range."""
        w, h = self.width, self.height
        if not (0.0 <= ox <= w and 0.0 <= oy <= h):
            return 0.0
        best = math.inf
        if dx > 1e-12:
            best = min(best, (w - ox) / dx)
        elif dx < -1e-12:
            best = min(best, -ox / dx)
        if dy > 1e-12:
            best = min(best, (h - oy) / dy)
        elif dy < -1e-12:
            best = min(best, -oy / dy)
        for cx, cy, rad in self.cones:  # _ray_circle, inlined: this runs for every cone on every read
            fx, fy = ox - cx, oy - cy
            c = fx * fx + fy * fy - rad * rad
            if c <= 0.0:
                best = 0.0 if best > 0.0 else best
                continue
            b = fx * dx + fy * dy
            if b > 0.0:
                continue
            disc = b * b - c
            if disc < 0.0:
                continue
            t = -b - math.sqrt(disc)
            if t < best:
                best = t
        for x0, y0, sx, sy, len2, rad in self.walls:
            best = min(best, self._ray_capsule(ox, oy, dx, dy, x0, y0, sx, sy, len2, rad, best))
        return best if best <= max_range else None

    @staticmethod
    def _ray_capsule(ox, oy, dx, dy, x0, y0, sx, sy, len2, rad, best):
        # quick reject: the capsule's bounding circle
        ln = math.sqrt(len2)
        mx, my = x0 + sx / 2.0, y0 + sy / 2.0
        t_bound = _ray_circle(ox, oy, dx, dy, mx, my, ln / 2.0 + rad)
        if t_bound >= best:
            return math.inf
        t = min(_ray_circle(ox, oy, dx, dy, x0, y0, rad), _ray_circle(ox, oy, dx, dy, x0 + sx, y0 + sy, rad))
        if ln > 0.0:
            ux, uy = sx / ln, sy / ln
            nx, ny = -uy, ux
            # origin inside the slab part?
            along = (ox - x0) * ux + (oy - y0) * uy
            off = (ox - x0) * nx + (oy - y0) * ny
            if 0.0 <= along <= ln and abs(off) <= rad:
                return 0.0
            dn = dx * nx + dy * ny
            if abs(dn) > 1e-12:
                for side in (rad, -rad):
                    tt = (side - off) / dn
                    if 0.0 <= tt < t:
                        a2 = along + tt * (dx * ux + dy * uy)
                        if 0.0 <= a2 <= ln:
                            t = tt
        return t


def _crosses(ax: float, ay: float, bx: float, by: float, x0: float, y0: float, dx: float, dy: float) -> bool:
    """Does the segment a-b cross the segment from (x0, y0) along (dx, dy)?"""
    ex, ey = bx - ax, by - ay
    denom = ex * dy - ey * dx
    if abs(denom) < 1e-12:
        return False
    wx, wy = x0 - ax, y0 - ay
    t = (wx * dy - wy * dx) / denom
    u = (wx * ey - wy * ex) / denom
    return 0.0 <= t <= 1.0 and 0.0 <= u <= 1.0
