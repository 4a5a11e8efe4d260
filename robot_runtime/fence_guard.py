"""The fence as the supervisor uses it: throttle caps and safe steering from the fence geometry.

fence.py answers "how far can the car go along this path"; this module turns that into decisions:

- ``check(state, direction, steer, throttle, matters)``: the throttle cap for driving in `direction`
  with the wheels at `steer` (the highest setpoint the car could still stop from before anything on
  that path), and whether the car, at the speed it already has, can stop on that path at all;
- ``safest_steering(...)``: when it cannot, the steering within this tick's reach that keeps the car
  stoppable (closest to what was asked), or else the one with the most free path (brake and
  straighten, or hold, whichever keeps the car off the wall longer);
- the closed zones the car's footprint was inside when they closed stay open until it has left them.

What is on the path: arena walls and cones, the arena's edge, the session's play area and closed
zones, and the regions other cars may cover (``moving``, set every tick from neighbours.py), with
``fence_margin_cm`` plus the pose's own uncertainty to spare. The path is the arc the
steering drives (kinematic bicycle), widened toward the side a sliding car moves to; a car that is not
following its steering (sliding: its yaw rate says otherwise, or the turn asks for more grip than the
floor surely gives) may really drive other paths, and those count too (``_other_paths``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from robot_runtime import fence as geo
from robot_runtime.arena import Arena
from robot_runtime.config import HardLimits
from robot_runtime.hardware import CarSpec, CarState
from robot_runtime.protocol import Zone

RETURN_CRAWL = 0.15  # a car outside its fence may crawl back in at this throttle, never further out
FAR_SLACK_CM = 1.0  # the fast path wants this much more room than the envelope needs (rounding never matters)
FAR_REFRESH_CM = 10.0  # the nearest-segment distance is recomputed once the car has moved this far
MOVING_CM_S = 2.0  # slower than this the car is standing: no path to be stoppable on
RAYS_BELOW_STEER = 0.1  # straighter than this, the bumper's rays check the path's front exactly
KAPPA_SAME = 0.002  # curvatures closer than this (radii of 500 cm and more apart) are the same path
MAX_SLIDE_PER_CM = 1.0  # a slide of 45 degrees or more: sideways as fast as forward (bounds the widening)


@dataclass(frozen=True, slots=True)
class FenceCheck:
    cap: float  # throttle cap (fraction of top speed); inf: nothing on this path matters
    clear: geo.Clearance  # the free path it came from
    stoppable: bool  # at its current speed the car can stop on this path (with the margin)


OPEN = FenceCheck(math.inf, geo.Clearance(math.inf, ""), True)


def _slide_per_cm(state: CarState) -> float:
    """Sideways cm per cm of path while sliding (+ left), from the rear axle's slip angle."""
    slip = state.slip_deg
    if not math.isfinite(slip) or slip == 0.0:
        return 0.0
    return max(-MAX_SLIDE_PER_CM, min(MAX_SLIDE_PER_CM, math.tan(math.radians(max(-45.0, min(45.0, slip))))))


def _footprint_overlaps(zone: Zone, x: float, y: float, radius: float) -> bool:
    """Does a circle of `radius` around (x, y) (the car's footprint, conservatively) touch the zone?"""
    dx = max(zone.x0 - x, 0.0, x - zone.x1)
    dy = max(zone.y0 - y, 0.0, y - zone.y1)
    return dx * dx + dy * dy <= radius * radius


class FenceGuard:
    def __init__(self, hard: HardLimits, spec: CarSpec) -> None:
        self.hard = hard
        self.spec = spec
        self.fast = True  # False: always the full geometry (tests compare the two)
        self._arena: Arena | None = None
        self._fence: Zone | None = None
        self._keep_out: tuple[Zone, ...] = ()
        self._open: set[int] | None = None  # indices of keep_out zones still open to the car; None: not placed yet
        self._max_throttle = 1.0
        self._radius = math.hypot(spec.length_cm / 2.0, spec.width_cm / 2.0)
        self.segments: list[geo.Segment] = []
        self.moving: list[geo.Segment] = []  # other cars' regions (neighbours.py): few, checked every time
        self._rebuild()

    # --- what is fenced ----------------------------------------------------------------------------

    def configure(self, arena: Arena | None, fence: Zone | None, keep_out: tuple[Zone, ...], max_throttle: float) -> None:
        changed_zones = keep_out != self._keep_out
        self._arena, self._fence, self._max_throttle = arena, fence, max_throttle
        if changed_zones:
            self._keep_out, self._open = keep_out, None  # opened again from where the car is at its next tick
        self._rebuild()

    def follow(self, state: CarState) -> None:
        """Closed zones: open the ones the footprint is in when they close; re-close each once it has left."""
        if not self._keep_out:
            return
        x, y = state.x_cm, state.y_cm
        if not (math.isfinite(x) and math.isfinite(y)):
            return
        r = self._radius + _uncertainty(state)
        if self._open is None:
            self._open = {i for i, z in enumerate(self._keep_out) if _footprint_overlaps(z, x, y, r)}
            self._rebuild()
        elif self._open:
            left = {i for i in self._open if not _footprint_overlaps(self._keep_out[i], x, y, r)}
            if left:
                self._open -= left
                self._rebuild()

    def _rebuild(self) -> None:
        opened = self._open if self._open is not None else set()
        closed = tuple(z for i, z in enumerate(self._keep_out) if i not in opened)
        self.segments = geo.fence_segments(self._arena, self._fence, closed)
        self._init_fast_path()

    def _init_fast_path(self) -> None:
        """Constants for the fast path (see _near_segments); the segments just changed."""
        spec = self.spec
        half_len, half_w = spec.length_cm / 2.0, spec.width_cm / 2.0
        ht = max((s.half_thickness for s in self.segments), default=0.0)
        kappa = math.tan(math.radians(spec.max_steer_deg)) / spec.wheelbase_cm
        # A segment D cm from the car's centre is seen no closer than:
        #   by a bumper ray or corner test: D - (half_len + half_w) - MAX_FACE_FACTOR * ht
        #   by the swept arc: (D - R) / G - ARC_STEP_CM (R: the widest box's half diagonal; G: how much
        #   farther the centre moves than the rear axle on the tightest arc)
        self._far_ray = half_len + half_w + geo.MAX_FACE_FACTOR * ht
        self._far_arc_r = math.hypot(half_len, half_w + geo.SIDE_MARGIN_CM)
        self._far_arc_g = math.sqrt(1.0 + (kappa * spec.wheelbase_cm / 2.0) ** 2)
        # (x, y, distance to each segment from there, to the nearest edge of each zone, to the nearest segment)
        self._far_at: tuple[float, float, list[float], dict[str, float], float] | None = None
        self._edge_reach = math.inf
        self._zones = ((self._arena.bounds if self._arena else None, "edge"), (self._fence, "fence"))
        # How far the chord ray looks: stopping from the top speed the limits allow, and a bit.
        self._lookahead = geo.stopping_distance_cm(spec.top_speed_cm_s * self._max_throttle,
                                                   self.hard.brake_decel_cm_s2, self.hard.reaction_s) + geo.LOOKAHEAD_EXTRA_CM

    # --- decisions ---------------------------------------------------------------------------------

    def check(self, state: CarState, direction: float, steer: float, throttle: float,
              matters: float = math.inf) -> FenceCheck:
        """Throttle cap for driving in `direction` with the wheels at `steer`, and whether the car can
        stop on that path at the speed it has.

        `matters`: a cap at or above this changes nothing (the caller's speed-capped wish). Walls whose
        every ray, corner and swept-arc hit would be farther than the distance that cap (or the car's
        speed) needs are skipped; if that is every wall, no geometry runs and the cap is inf. Below
        `matters` the cap is exactly the full computation's (tests/runtime/test_safety_fast_path.py).
        """
        if not self.segments and not self.moving:
            return OPEN
        hard, spec = self.hard, self.spec
        top = spec.top_speed_cm_s
        x, y = state.x_cm, state.y_cm
        moving = _speed_toward(state, direction)
        for zone, what in self._zones:
            if zone is not None and not (zone.x0 <= x <= zone.x1 and zone.y0 <= y <= zone.y1):  # geo.inside
                # Outside: crawl back toward the middle, never further out.
                h = math.radians(state.heading_deg)
                cx, cy = (zone.x0 + zone.x1) / 2 - x, (zone.y0 + zone.y1) / 2 - y
                back_in = (math.cos(h) * cx + math.sin(h) * cy) * direction > 0
                return FenceCheck(RETURN_CRAWL if back_in else 0.0, geo.Clearance(0.0, what), back_in or moving == 0.0)
        u = _uncertainty(state)
        margin = hard.fence_margin_cm + u
        slide = _slide_per_cm(state)
        cutoff = math.inf
        if self.fast and matters < math.inf:
            # A clearance of `cutoff` or more gives a cap above `matters` and room to stop from the
            # car's speed: the envelope's two conditions, plus FAR_SLACK_CM for rounding.
            fastest = max(matters * top, moving)
            stop_cm = geo.stopping_distance_cm(fastest, hard.brake_decel_cm_s2, hard.reaction_s)
            cutoff = stop_cm + margin + FAR_SLACK_CM + abs(slide) * stop_cm + u
            segments = self._near_segments(x, y, cutoff) if self.segments else []
            full = False
            if self.moving:
                segments = segments + self.moving
            if not segments:
                return OPEN
        else:
            segments = self.segments + self.moving if self.moving else self.segments
            full = True
        for zone, what in self._zones:
            # (Skipped when none of this zone's edges is near: the centre is inside, the bumper within reach.)
            if zone is not None and (full or self._far_at[3][what] < self._edge_reach):
                bumper = geo.bumper_points(x, y, state.heading_deg, direction, spec)
                if not all(geo.inside(px, py, zone) for px, py in bumper):
                    return FenceCheck(0.0, geo.Clearance(0.0, what), moving == 0.0)  # the bumper is over the edge
        # The whole (grown) footprint swept along the path the steering drives, widened toward a slide:
        # what a turning car's sides and corners hit. Nearly straight, the bumper's rays too (exact for the
        # front, between the sweep's steps); turning, they would see walls the arc turns away from.
        speed = max(abs(throttle) * top, moving)
        need = geo.stopping_distance_cm(speed, hard.brake_decel_cm_s2, hard.reaction_s) + margin
        clear = geo.arc_clearance(x, y, state.heading_deg, direction, steer, need + geo.ARC_STEP_CM, spec, segments,
                                  slide_per_cm=slide, grow_cm=u)
        for kappa in self._other_paths(state, steer, speed):
            other = geo.arc_clearance(x, y, state.heading_deg, direction, steer, need + geo.ARC_STEP_CM, spec,
                                      segments, slide_per_cm=slide, grow_cm=u, kappa=kappa)
            if other.distance_cm < clear.distance_cm:
                clear = other
        if abs(steer) < RAYS_BELOW_STEER:
            rays = geo.clearance(x, y, state.heading_deg, direction, steer, self._lookahead, spec, segments, cutoff)
            if rays.distance_cm < clear.distance_cm:
                clear = rays
        free = clear.distance_cm - margin
        stoppable = moving == 0.0 or geo.stopping_distance_cm(moving, hard.brake_decel_cm_s2, hard.reaction_s) <= free
        cap = geo.allowed_speed_cm_s(free, hard.brake_decel_cm_s2, hard.reaction_s) / top if stoppable else 0.0
        return FenceCheck(cap, clear, stoppable)

    def _other_paths(self, state: CarState, steer: float, speed: float) -> list[float]:
        """Curvatures (1/cm) of the other paths the car may really drive while it stops, when it may not
        follow its steering's arc:
        - sliding: it turns as its yaw rate says now (yaw rate / speed), on its way to the steering's arc;
          that path and the one halfway count too;
        - turning faster than the floor surely grips (v^2 * curvature over the calibrated brake decel):
          it may run wide, anywhere between the arc and straight on; straight and halfway count too."""
        kappa_s = geo.steering_curvature(steer, self.spec)
        out: list[float] = []
        vx, r = state.speed_cm_s, math.radians(state.yaw_rate_dps)
        if abs(vx) >= MOVING_CM_S and math.isfinite(r):
            kappa_max = geo.steering_curvature(1.0, self.spec)  # a spin's rotation is the slide's widening
            kappa_now = max(-kappa_max, min(kappa_max, r / vx))
            if abs(kappa_now - kappa_s) > KAPPA_SAME:
                out += [kappa_now, (kappa_now + kappa_s) / 2.0]
        if speed * speed * abs(kappa_s) > self.hard.brake_decel_cm_s2:
            out += [0.0, kappa_s / 2.0]
        return out

    def safest_steering(self, state: CarState, direction: float, wanted: float, lo: float, hi: float,
                        first: FenceCheck, throttle: float = 0.0, matters: float = math.inf) -> tuple[float, FenceCheck]:
        """`wanted` (already checked: `first`) is not stoppable. The steering in [lo, hi] (this tick's
        reach) that is, closest to `wanted`; if none is, the one with the longest free path. Each is
        checked as `check(state, direction, steering, throttle, matters)` would."""
        straight = min(max(0.0, lo), hi)
        candidates = sorted({lo, hi, straight, (wanted + straight) / 2.0} - {wanted}, key=lambda s: abs(s - wanted))
        best_s, best = wanted, first
        for s in candidates:
            check = self.check(state, direction, s, throttle, matters)
            if check.stoppable:
                return s, check
            if check.clear.distance_cm > best.clear.distance_cm + 1e-9:
                best_s, best = s, check
        return best_s, best

    def _near_segments(self, x: float, y: float, cutoff: float) -> list[geo.Segment]:
        """The segments some fence test from (x, y) could see closer than `cutoff`; the rest are skipped.

        A segment D cm from the centre is seen no closer than D - _far_ray (rays, corners) and
        (D - _far_arc_r) / _far_arc_g - ARC_STEP_CM (the swept arc). Distances are cached: after moving
        m cm each is at least its cached value minus m (recomputed every FAR_REFRESH_CM of travel).
        """
        if not (math.isfinite(x) and math.isfinite(y)):
            return self.segments
        need = max(cutoff + self._far_ray, (cutoff + geo.ARC_STEP_CM) * self._far_arc_g + self._far_arc_r)
        need += geo.CULL_SLACK_CM
        at = self._far_at
        moved = 0.0 if at is None else math.hypot(x - at[0], y - at[1])
        if at is None or not moved < FAR_REFRESH_CM:
            dists = [geo.point_segment_distance(x, y, s) for s in self.segments]
            nearest_edge = {what: min((d for d, s in zip(dists, self.segments) if s.what == what), default=math.inf)
                            for _, what in self._zones}
            at = self._far_at = (x, y, dists, nearest_edge, min(dists))
            moved = 0.0
        reach = need + moved
        if at[4] >= reach:
            return []  # open floor: nothing within reach
        self._edge_reach = reach  # zone edges farther than this: the bumper cannot be over them
        return [s for s, d in zip(self.segments, at[2]) if d < reach]


def _uncertainty(state: CarState) -> float:
    u = state.pose_uncertainty_cm
    return u if math.isfinite(u) and u > 0.0 else 0.0


def _speed_toward(state: CarState, direction: float) -> float:
    """How fast the car moves in `direction` (its whole speed, sideways included; 0 if the other way)."""
    if state.speed_cm_s * direction <= 0.0:
        return 0.0
    v = math.hypot(state.speed_cm_s, state.lateral_cm_s) if math.isfinite(state.lateral_cm_s) else abs(state.speed_cm_s)
    return v if v >= MOVING_CM_S else 0.0
