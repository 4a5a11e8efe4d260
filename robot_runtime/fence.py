"""Geometry for the arena fence: how far the car can go along its path before a wall or the edge,
and how fast it may go so it can still stop in that distance.

Pure functions on floats; the supervisor calls them every tick, so they avoid allocation-heavy code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from robot_runtime.arena import Arena
from robot_runtime.hardware import CarSpec
from robot_runtime.protocol import Zone

LOOKAHEAD_EXTRA_CM = 30.0  # the curved-path ray looks this far past the stopping distance
MIN_SIN_ANGLE = 0.2  # rays grazing a wall at under ~12 degrees see its face at most 5 half-thicknesses early


@dataclass(frozen=True, slots=True)
class Segment:
    x0: float
    y0: float
    x1: float
    y1: float
    half_thickness: float
    what: str  # "wall", "edge" (of the arena), "fence" (the play area), "closed_zone" or "cone"


def stopping_distance_cm(speed_cm_s: float, brake_cm_s2: float, reaction_s: float) -> float:
    """Distance covered while reacting and then braking at a constant decel from `speed_cm_s`."""
    v = abs(speed_cm_s)
    return v * reaction_s + v * v / (2.0 * brake_cm_s2)


def allowed_speed_cm_s(free_cm: float, brake_cm_s2: float, reaction_s: float) -> float:
    """The highest speed whose stopping distance fits in `free_cm` (inverse of stopping_distance_cm)."""
    if free_cm <= 0.0:
        return 0.0
    a, r = brake_cm_s2, reaction_s
    return a * (-r + math.sqrt(r * r + 2.0 * free_cm / a))


def zone_segments(zone: Zone, what: str) -> list[Segment]:
    x0, y0, x1, y1 = zone.x0, zone.y0, zone.x1, zone.y1
    return [
        Segment(x0, y0, x1, y0, 0.0, what),
        Segment(x1, y0, x1, y1, 0.0, what),
        Segment(x1, y1, x0, y1, 0.0, what),
        Segment(x0, y1, x0, y0, 0.0, what),
    ]


def wall_outline(x0: float, y0: float, x1: float, y1: float, half_thickness: float) -> list[Segment]:
    """A thick wall as the four edges of its rectangle: rays and corner checks on thin edges are exact,
    where a centre line with a thickness is not (a slanted wall's side pokes into a ray it never crosses)."""
    length = math.hypot(x1 - x0, y1 - y0)
    if length < 1e-9 or half_thickness <= 0.0:
        return [Segment(x0, y0, x1, y1, half_thickness, "wall")]
    # The rectangle reaches half a thickness past each end too: it covers the wall's rounded ends.
    tx, ty = (x1 - x0) / length * half_thickness, (y1 - y0) / length * half_thickness
    x0, y0, x1, y1 = x0 - tx, y0 - ty, x1 + tx, y1 + ty
    nx, ny = -ty, tx
    corners = [(x0 + nx, y0 + ny), (x1 + nx, y1 + ny), (x1 - nx, y1 - ny), (x0 - nx, y0 - ny)]
    return [Segment(*corners[i], *corners[(i + 1) % 4], 0.0, "wall") for i in range(4)]


def cone_outline(x: float, y: float, radius: float) -> list[Segment]:
    """A cone as the square around its base (thin edges: rays and the swept box see it exactly)."""
    return zone_segments(Zone(x0=x - radius, y0=y - radius, x1=x + radius, y1=y + radius), "cone")


def fence_segments(arena: Arena | None, fence: Zone | None, keep_out: tuple[Zone, ...] = ()) -> list[Segment]:
    """Everything the car must not drive into: arena walls and cones, the arena's edge, the session
    fence, closed zones."""
    segs: list[Segment] = []
    if arena is not None:
        for w in arena.walls:
            segs += wall_outline(w.x0, w.y0, w.x1, w.y1, w.thickness_cm / 2.0)
        for c in arena.cones:
            segs += cone_outline(c.x_cm, c.y_cm, c.radius_cm)
        segs += zone_segments(arena.bounds, "edge")
    if fence is not None:
        segs += zone_segments(fence, "fence")
    for zone in keep_out:
        segs += zone_segments(zone, "closed_zone")
    return segs


def ray_hit(px: float, py: float, dx: float, dy: float, s: Segment) -> float:
    """Distance along the unit ray (px,py)+t(dx,dy) to segment s (minus its half thickness); inf if missed."""
    ex, ey = s.x1 - s.x0, s.y1 - s.y0
    denom = dx * ey - dy * ex
    if abs(denom) < 1e-12:
        return math.inf  # parallel: the side rays or the curved ray catch a wall we run along
    wx, wy = s.x0 - px, s.y0 - py
    t = (wx * ey - wy * ex) / denom
    u = (wx * dy - wy * dx) / denom
    # A thick wall's face is half its thickness before its centre line, measured across the wall; along
    # a slanted ray that is ht / sin(angle) (capped, so grazing rays stay finite).
    sin_angle = abs(denom) / math.hypot(ex, ey)
    face = s.half_thickness / max(sin_angle, MIN_SIN_ANGLE)
    if t < -face or u < 0.0 or u > 1.0:
        return math.inf
    return max(0.0, t - face)


@dataclass(frozen=True, slots=True)
class Clearance:
    distance_cm: float  # free path length from the bumper
    what: str  # kind of the nearest thing: wall / edge / fence / "" when nothing


def bumper_points(x: float, y: float, heading_deg: float, direction: float, spec: CarSpec) -> tuple[tuple[float, float], ...]:
    """Middle and both corners of the front (direction=+1) or rear (-1) bumper."""
    h = math.radians(heading_deg)
    hx, hy = math.cos(h), math.sin(h)
    half_len, half_w = spec.length_cm / 2.0, spec.width_cm / 2.0
    bx, by = x + direction * half_len * hx, y + direction * half_len * hy
    return ((bx, by), (bx - half_w * hy, by + half_w * hx), (bx + half_w * hy, by - half_w * hx))


def clearance(
    x: float,
    y: float,
    heading_deg: float,
    direction: float,
    steer_frac: float,
    lookahead_cm: float,
    spec: CarSpec,
    segments: list[Segment],
    cutoff_cm: float = math.inf,
) -> Clearance:
    """Free distance ahead (direction=+1) or behind (-1) the car, over the bumper's width.

    Rays start at the bumper's two corners and its middle, along the heading; with the wheels turned a
    second fan follows the chord of the arc the car will drive over `lookahead_cm`. Wall ends inside the
    swept corridor count too, so for a straight path nothing the bumper would touch is missed.

    Segments no ray and no corner test can reach (wholly beside the corridor, or behind the bumper) are
    skipped: that changes nothing. With a finite `cutoff_cm` (the caller's "farther than this cannot
    matter"), segments whose every hit would be at least `cutoff_cm` away are skipped too: the answer is
    then exact whenever it is below `cutoff_cm`, and at least `cutoff_cm` otherwise.
    """
    if not segments:
        return Clearance(math.inf, "")
    h = math.radians(heading_deg)
    hx, hy = math.cos(h), math.sin(h)
    half_len, half_w = spec.length_cm / 2.0, spec.width_cm / 2.0
    bx, by = x + direction * half_len * hx, y + direction * half_len * hy  # bumper_points, inlined
    starts = ((bx, by), (bx - half_w * hy, by + half_w * hx), (bx + half_w * hy, by - half_w * hx))
    directions = [(direction * hx, direction * hy)]
    if abs(steer_frac) > 0.05:
        radius = spec.wheelbase_cm / math.tan(math.radians(spec.max_steer_deg * abs(steer_frac)))
        turn = min(math.pi / 2, lookahead_cm / radius)  # heading change over the lookahead arc
        # Driving backward with the wheels left turns the car's rear to the right, hence direction.
        chord = h + math.copysign(turn / 2.0, steer_frac) * direction
        directions.append((direction * math.cos(chord), direction * math.sin(chord)))
    best, what = math.inf, ""
    for dx, dy in directions:
        reach = _reachable(bx, by, dx, dy, half_w, cutoff_cm, segments)
        # ray_hit for the three starts, with what depends only on the direction worked out once per
        # segment (same arithmetic, so the same distances; parallel segments are missed by every ray).
        fan = []
        for s in reach:
            ex, ey = s.x1 - s.x0, s.y1 - s.y0
            denom = dx * ey - dy * ex
            if abs(denom) < 1e-12:
                continue
            face = s.half_thickness / max(abs(denom) / math.hypot(ex, ey), MIN_SIN_ANGLE)
            fan.append((s.x0, s.y0, ex, ey, denom, face, s.what))
        for px, py in starts:
            for x0, y0, ex, ey, denom, face, kind in fan:
                wx, wy = x0 - px, y0 - py
                t = (wx * ey - wy * ex) / denom
                if t < -face:
                    continue
                u = (wx * dy - wy * dx) / denom
                if u < 0.0 or u > 1.0:
                    continue
                d = t - face
                if not d > 0.0:
                    d = 0.0  # max(0.0, t - face), without the call (this loop runs ~30 times a tick)
                if d < best:
                    best, what = d, kind
        # Wall ends inside the corridor the bumper sweeps (a short wall pointing at the car slips
        # between the rays): their distance along the path counts too.
        for s in reach:
            for ex, ey in ((s.x0, s.y0), (s.x1, s.y1)):
                rx, ry = ex - bx, ey - by
                lon, lat = rx * dx + ry * dy, -rx * dy + ry * dx
                if abs(lat) <= half_w + s.half_thickness and lon >= -s.half_thickness:
                    d = max(0.0, lon - s.half_thickness)
                    if d < best:
                        best, what = d, s.what
    return Clearance(best, what)


CULL_SLACK_CM = 1e-6  # culling keeps anything within rounding distance of a boundary
MAX_FACE_FACTOR = 1.0 / MIN_SIN_ANGLE  # ray_hit's face is at most this many half thicknesses


def _reachable(bx: float, by: float, dx: float, dy: float, half_w: float, cutoff_cm: float,
               segments: list[Segment]) -> list[Segment]:
    """The segments a ray or corner test of `clearance` along (dx, dy) could hit closer than cutoff_cm.

    In the frame of the path (origin: bumper middle (bx, by)), every ray starts within half_w across
    and half_w along; a hit point lies between the segment's end points. So a segment wholly more than
    half_w (+ its half thickness) to one side is never hit, one wholly behind every start point is
    never hit, and one whose nearer end is cutoff_cm + half_w (+ faces) ahead is hit no closer than
    cutoff_cm. Order is kept (ties between equally near segments resolve as without culling).
    """
    out = []
    for s in segments:
        ax, ay, ex, ey = s.x0 - bx, s.y0 - by, s.x1 - bx, s.y1 - by
        lat0, lat1 = -ax * dy + ay * dx, -ex * dy + ey * dx
        side = half_w + s.half_thickness + CULL_SLACK_CM
        if (lat0 > side and lat1 > side) or (lat0 < -side and lat1 < -side):
            continue
        lon0, lon1 = ax * dx + ay * dy, ex * dx + ey * dy
        near, far = (lon0, lon1) if lon0 < lon1 else (lon1, lon0)
        face = MAX_FACE_FACTOR * s.half_thickness
        if far + half_w + face < -CULL_SLACK_CM:
            continue  # behind every start point by more than a face: ray_hit says inf, no corner counts
        if near - half_w - face - CULL_SLACK_CM >= cutoff_cm:
            continue
        out.append(s)
    return out


def inside(x: float, y: float, zone: Zone) -> bool:
    return zone.x0 <= x <= zone.x1 and zone.y0 <= y <= zone.y1


ARC_STEP_CM = 4.0  # the swept footprint is checked every 4 cm of path (a fifth of the car's width)
REFINE_STEPS = 3  # a hit between two steps is located to ARC_STEP_CM / 2^3 = 0.5 cm
SIDE_MARGIN_CM = 2.0  # a turning car keeps this much room at its sides (the real path differs by ~1 cm)


def segment_hits_box(cx: float, cy: float, ux: float, uy: float, half_len: float, half_w: float, s: Segment,
                     left_w: float | None = None) -> bool:
    """Does segment s touch the rectangle centred at (cx, cy), long axis (ux, uy)? (Liang-Barsky clip)

    The rectangle reaches half_w to the right of its axis and `left_w` (default half_w) to its left."""
    ax, ay = s.x0 - cx, s.y0 - cy
    bx, by = s.x1 - cx, s.y1 - cy
    a_lon, a_lat = ax * ux + ay * uy, -ax * uy + ay * ux
    d_lon, d_lat = bx * ux + by * uy - a_lon, -bx * uy + by * ux - a_lat
    t0, t1 = 0.0, 1.0
    lw = half_w if left_w is None else left_w
    for p, q in ((-d_lon, a_lon + half_len), (d_lon, half_len - a_lon), (-d_lat, a_lat + half_w), (d_lat, lw - a_lat)):
        if p == 0.0:
            if q < 0.0:
                return False
            continue
        r = q / p
        if p < 0.0:
            if r > t1:
                return False
            t0 = max(t0, r)
        else:
            if r < t0:
                return False
            t1 = min(t1, r)
    return t0 <= t1


def arc_clearance(
    x: float,
    y: float,
    heading_deg: float,
    direction: float,
    steer_frac: float,
    max_len_cm: float,
    spec: CarSpec,
    segments: list[Segment],
    slide_per_cm: float = 0.0,
    grow_cm: float = 0.0,
    kappa: float | None = None,
) -> Clearance:
    """Free path length along the arc the car drives with this steering, checking the WHOLE footprint
    every ARC_STEP_CM (a turning car's sides and far corners sweep where no bumper ray looks).

    Kinematic bicycle about the rear axle (half a wheelbase behind the body centre). Walls the car
    already touches are left to the straight check (which stops motion into them). Looks no further
    than max_len_cm: the caller asks only as far as it needs to stop.

    A sliding car also moves sideways: `slide_per_cm` (+ to the left) widens the swept box on that side
    by that many cm per cm of path (the rear axle's sideways over forward speed). `grow_cm` widens the
    footprint on every side (how far the pose may be off). `kappa` (1/cm, + to the left) replaces the
    steering's curvature: the path a sliding car's yaw rate drives, say.
    """
    if not segments or max_len_cm <= 0.0:
        return Clearance(math.inf, "")
    half_len, half_w = spec.length_cm / 2.0 + grow_cm, spec.width_cm / 2.0 + grow_cm
    slide = abs(slide_per_cm)
    slide_left = slide_per_cm > 0.0
    psi0 = math.radians(heading_deg)
    lr = spec.wheelbase_cm / 2.0
    rx, ry = x - lr * math.cos(psi0), y - lr * math.sin(psi0)
    if kappa is None:
        kappa = steering_curvature(steer_frac, spec)
    side_extra = slide * max_len_cm  # the widest the slide makes the box, at the end of the path
    reach = max_len_cm + math.hypot(half_len, half_w + SIDE_MARGIN_CM + side_extra) + lr
    c0, s0 = math.cos(psi0), math.sin(psi0)
    # The body centre moves sqrt(1 + (kappa lr)^2) cm per cm of rear-axle path, so between steps k and
    # k + j it moves at most j * step_centre: a segment d cm from the centre at step k, more than the
    # box's half diagonal R, cannot touch the box before step k + (d - R) / step_centre. Each segment
    # is tested only from then on (sphere tracing): the same first hit, far fewer tests.
    step_centre = ARC_STEP_CM * math.sqrt(1.0 + (kappa * lr) ** 2)
    steps = int(math.ceil(max_len_cm / ARC_STEP_CM))
    near: list[list] = []  # [segment, half width to test it with, its box's half diagonal, next step worth testing]
    margin_diag = math.hypot(half_len, half_w + SIDE_MARGIN_CM)  # farther than this touches neither box
    for s in segments:
        dist = point_segment_distance(x, y, s)
        if dist > reach:
            continue  # far away
        if dist > margin_diag + CULL_SLACK_CM:
            hw = half_w + SIDE_MARGIN_CM
        else:
            if segment_hits_box(x, y, c0, s0, half_len, half_w, s):
                continue  # already touching (the straight check stops motion into it)
            # Already inside the side margin: checked against the bare footprint, so the car may still leave.
            inside_margin = segment_hits_box(x, y, c0, s0, half_len, half_w + SIDE_MARGIN_CM, s)
            hw = half_w if inside_margin else half_w + SIDE_MARGIN_CM
        diag = math.hypot(half_len, hw + side_extra)
        near.append([s, hw, diag, _steps_until_reachable(0, dist, diag, step_centre)])
    if not near:
        return Clearance(math.inf, "")
    k = min(item[3] for item in near)
    straight = abs(kappa) < 1e-9

    def pose_at(travelled: float) -> tuple[float, float, float, float]:
        sigma = direction * travelled
        psi = psi0 + kappa * sigma
        ux, uy = math.cos(psi), math.sin(psi)
        if straight:
            px, py = rx + sigma * c0, ry + sigma * s0
        else:
            px = rx + (uy - s0) / kappa
            py = ry - (ux - c0) / kappa
        return px + lr * ux, py + lr * uy, ux, uy

    def hits(s: Segment, hw: float, travelled: float) -> bool:
        cx, cy, ux, uy = pose_at(travelled)
        if slide == 0.0:
            return segment_hits_box(cx, cy, ux, uy, half_len, hw, s)
        widen = slide * travelled
        return segment_hits_box(cx, cy, ux, uy, half_len, hw + (0.0 if slide_left else widen), s,
                                hw + (widen if slide_left else 0.0))

    def first_free_before(s: Segment, hw: float, k: int) -> Clearance:
        """The hit is between steps k - 1 and k: halve that step REFINE_STEPS times (0.5 cm)."""
        lo, hi = (k - 1) * ARC_STEP_CM, k * ARC_STEP_CM
        for _ in range(REFINE_STEPS):
            mid = (lo + hi) / 2.0
            if hits(s, hw, mid):
                hi = mid
            else:
                lo = mid
        return Clearance(lo, s.what)

    while k <= steps:
        cx, cy, ux, uy = pose_at(k * ARC_STEP_CM)
        following = steps + 1
        for item in near:  # in order: of two segments hit at the same step, the first one is reported
            if item[3] <= k:
                s, hw, diag = item[0], item[1], item[2]
                dist = point_segment_distance(cx, cy, s)
                if dist > diag + CULL_SLACK_CM:
                    item[3] = k + max(1, math.floor((dist - diag - CULL_SLACK_CM) / step_centre))
                elif hits(s, hw, k * ARC_STEP_CM):
                    return first_free_before(s, hw, k)
                else:
                    item[3] = k + 1
            if item[3] < following:
                following = item[3]
        k = following
    return Clearance(math.inf, "")


def steering_curvature(steer_frac: float, spec: CarSpec) -> float:
    """The kinematic bicycle's path curvature (1/cm, + to the left) for a steering fraction."""
    return math.copysign(math.tan(math.radians(spec.max_steer_deg * min(1.0, abs(steer_frac)))),
                         steer_frac) / spec.wheelbase_cm


def _steps_until_reachable(k: int, dist: float, diag: float, step_centre: float) -> int:
    """The first step after k at which a box of half diagonal `diag`, whose centre is `dist` from a
    segment at step k and moves at most `step_centre` per step, could touch it."""
    return k + max(1, math.floor((dist - diag - CULL_SLACK_CM) / step_centre))


def point_segment_distance(px: float, py: float, s: Segment) -> float:
    x0, y0 = s.x0, s.y0
    ex, ey = s.x1 - x0, s.y1 - y0
    ll = ex * ex + ey * ey
    if ll == 0.0:
        t = 0.0
    else:  # the projection clamped to the segment (no min/max calls: the fence runs this ~30 times a tick)
        t = ((px - x0) * ex + (py - y0) * ey) / ll
        t = 0.0 if t < 0.0 else 1.0 if t > 1.0 else t
    return math.hypot(px - x0 - t * ex, py - y0 - t * ey)
