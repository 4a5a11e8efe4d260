"""The fence's fast path is provably conservative: for any arena, session fence, car state and command
sequence, the supervisor with the fast path decides exactly what the full fence geometry decides
(same output, same binding limits, same safety state, same events), and the geometry's culling never
changes a distance that could matter.

The fast path skips walls that no fence test could see closer than the distance the current wish
needs (bounds from the car's distance to each wall segment, cached as the car moves), and skips
all fence geometry when that is every wall. See FenceGuard.check and fence._reachable.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from robot_runtime import fence as geo
from robot_runtime.arena import Arena, Wall
from robot_runtime.config import HardLimits
from robot_runtime.hardware import CarSpec, CarState, Command
from robot_runtime.protocol import SessionLimits, Zone
from robot_runtime.safety import SafetySupervisor

SPEC = CarSpec()
W, H = 600.0, 400.0

coord_x = st.floats(-40, W + 40)
coord_y = st.floats(-40, H + 40)
wall = st.builds(
    Wall,
    x0=st.floats(0, W), y0=st.floats(0, H), x1=st.floats(0, W), y1=st.floats(0, H),
    thickness_cm=st.one_of(st.just(2.0), st.floats(0.5, 30)),
)
# Short walls (down to a point) and long ones: the face and corner bounds both get exercised.
stub = st.builds(
    lambda x, y, dx, dy, t: Wall(x0=x, y0=y, x1=x + dx, y1=y + dy, thickness_cm=t),
    st.floats(20, W - 20), st.floats(20, H - 20), st.floats(-8, 8), st.floats(-8, 8), st.floats(0.5, 20),
)
play_area = st.builds(
    lambda x0, y0, w, h: Zone(x0=x0, y0=y0, x1=x0 + w, y1=y0 + h),
    st.floats(-50, 300), st.floats(-50, 200), st.floats(60, 500), st.floats(60, 350),
)
session = st.builds(
    SessionLimits,
    max_speed_pct=st.one_of(st.just(100.0), st.floats(0, 100)),
    max_steer_pct=st.one_of(st.just(100.0), st.floats(0, 100)),
    fence=st.one_of(st.none(), play_area),
)
unit = st.floats(-1.2, 1.2)
tick = st.fixed_dictionaries({
    "throttle": st.one_of(unit, st.sampled_from([1.0, -1.0, 0.0])),
    "steering": st.one_of(unit, st.sampled_from([1.0, -1.0, 0.0])),
    "dt": st.one_of(st.just(0.02), st.floats(0, 0.3)),
    # Small moves (the distance cache is reused) and jumps (it is refreshed).
    "dx": st.one_of(st.floats(-6, 6), st.floats(-300, 300)),
    "dy": st.one_of(st.floats(-6, 6), st.floats(-300, 300)),
    "heading": st.floats(-360, 360),
    "speed": st.one_of(st.floats(-320, 320), st.just(0.0)),
})


def arena_with(walls: list[Wall]) -> Arena:
    return Arena(width_cm=W, height_cm=H, start={"x_cm": 300, "y_cm": 200, "heading_deg": 0}, walls=walls)


@settings(max_examples=200, deadline=None)
@given(
    walls=st.lists(st.one_of(wall, stub), max_size=5),
    sess=st.one_of(st.none(), session),
    x=coord_x, y=coord_y,
    ticks=st.lists(tick, min_size=1, max_size=25),
)
def test_fast_fence_decides_exactly_what_the_full_fence_geometry_decides(walls, sess, x, y, ticks):
    arena = arena_with(walls)
    fast = SafetySupervisor(HardLimits(), SPEC, arena, watchdog=False, session=SessionLimits())
    full = SafetySupervisor(HardLimits(), SPEC, arena, watchdog=False, session=SessionLimits())
    full.fast_fence = False
    if sess is not None:
        fast.set_session(sess)
        full.set_session(sess)
    now = 0.0
    for t in ticks:
        now += t["dt"]
        x = min(W + 40, max(-40, x + t["dx"]))
        y = min(H + 40, max(-40, y + t["dy"]))
        state = CarState(t=now, x_cm=x, y_cm=y, heading_deg=t["heading"], speed_cm_s=t["speed"])
        cmd = Command(t["throttle"], t["steering"])
        out_fast, ev_fast = fast.filter(cmd, state, now)
        out_full, ev_full = full.filter(cmd, state, now)
        assert out_fast == out_full
        assert fast.binding == full.binding
        assert fast.state == full.state
        assert [e.model_dump() for e in ev_fast] == [e.model_dump() for e in ev_full]


@settings(max_examples=300, deadline=None)
@given(
    walls=st.lists(st.one_of(wall, stub), max_size=5),
    sess=st.one_of(st.none(), session),
    x=coord_x, y=coord_y, heading=st.floats(-180, 180), speed=st.floats(-320, 320),
    direction=st.sampled_from([1.0, -1.0]), steer=st.one_of(unit, st.just(0.0)),
    throttle=st.floats(0, 1), matters=st.floats(0, 1),
    slip=st.one_of(st.just(0.0), st.floats(-40, 40)), uncertainty=st.one_of(st.just(0.0), st.floats(0, 15)),
)
def test_fast_fence_cap_equals_the_full_cap_whenever_the_cap_could_bind(
        walls, sess, x, y, heading, speed, direction, steer, throttle, matters, slip, uncertainty):
    """Below `matters` (the speed-capped wish) the fast cap IS the full cap, with the same distance and
    the same kind of obstacle; at or above it both are at least `matters`, so neither binds. And the
    fast path never calls a path stoppable that the full geometry does not (steering depends on it)."""
    arena = arena_with(walls)
    fast = SafetySupervisor(HardLimits(), SPEC, arena, watchdog=False, session=SessionLimits())
    full = SafetySupervisor(HardLimits(), SPEC, arena, watchdog=False, session=SessionLimits())
    full.fast_fence = False
    if sess is not None:
        fast.set_session(sess)
        full.set_session(sess)
    state = CarState(t=0.0, x_cm=x, y_cm=y, heading_deg=heading, speed_cm_s=speed, slip_deg=slip,
                     pose_uncertainty_cm=uncertainty)
    check_full = full.fence.check(state, direction, steer, throttle * direction, matters)
    check_fast = fast.fence.check(state, direction, steer, throttle * direction, matters)
    cap_full, clear_full, cap_fast, clear_fast = check_full.cap, check_full.clear, check_fast.cap, check_fast.clear
    assert check_fast.stoppable == check_full.stoppable
    if cap_full < matters:
        assert cap_fast == cap_full
        assert clear_fast == clear_full
    else:
        assert cap_fast >= matters


def clearance_without_culling(x, y, heading_deg, direction, steer_frac, lookahead_cm, segments):
    """Oracle: the fence's ray fan and corner test over every segment, nothing skipped."""
    h = math.radians(heading_deg)
    hx, hy = math.cos(h), math.sin(h)
    starts = geo.bumper_points(x, y, heading_deg, direction, SPEC)
    directions = [(direction * hx, direction * hy)]
    if abs(steer_frac) > 0.05:
        radius = SPEC.wheelbase_cm / math.tan(math.radians(SPEC.max_steer_deg * abs(steer_frac)))
        chord = h + math.copysign(min(math.pi / 2, lookahead_cm / radius) / 2.0, steer_frac) * direction
        directions.append((direction * math.cos(chord), direction * math.sin(chord)))
    best, what = math.inf, ""
    bx, by = starts[0]
    for dx, dy in directions:
        for px, py in starts:
            for s in segments:
                d = geo.ray_hit(px, py, dx, dy, s)
                if d < best:
                    best, what = d, s.what
        for s in segments:
            for ex, ey in ((s.x0, s.y0), (s.x1, s.y1)):
                rx, ry = ex - bx, ey - by
                lon, lat = rx * dx + ry * dy, -rx * dy + ry * dx
                if abs(lat) <= SPEC.width_cm / 2 + s.half_thickness and lon >= -s.half_thickness:
                    d = max(0.0, lon - s.half_thickness)
                    if d < best:
                        best, what = d, s.what
    return best, what


def arc_without_skipping(x, y, heading_deg, direction, steer_frac, max_len_cm, segments):
    """Oracle: the swept footprint tested against every near segment at every step."""
    half_len, half_w = SPEC.length_cm / 2, SPEC.width_cm / 2
    psi0 = math.radians(heading_deg)
    lr = SPEC.wheelbase_cm / 2
    rx, ry = x - lr * math.cos(psi0), y - lr * math.sin(psi0)
    kappa = math.copysign(math.tan(math.radians(SPEC.max_steer_deg * min(1.0, abs(steer_frac)))),
                          steer_frac) / SPEC.wheelbase_cm
    reach = max_len_cm + math.hypot(half_len, half_w + geo.SIDE_MARGIN_CM) + lr
    c0, s0 = math.cos(psi0), math.sin(psi0)
    near = []
    for s in segments:
        if geo.point_segment_distance(x, y, s) > reach or geo.segment_hits_box(x, y, c0, s0, half_len, half_w, s):
            continue
        margin = geo.segment_hits_box(x, y, c0, s0, half_len, half_w + geo.SIDE_MARGIN_CM, s)
        near.append((s, half_w if margin else half_w + geo.SIDE_MARGIN_CM))
    def box_at(travelled):
        psi = psi0 + kappa * direction * travelled
        if abs(kappa) < 1e-9:
            px, py = rx + direction * travelled * c0, ry + direction * travelled * s0
        else:
            px = rx + (math.sin(psi) - math.sin(psi0)) / kappa
            py = ry - (math.cos(psi) - math.cos(psi0)) / kappa
        return px + lr * math.cos(psi), py + lr * math.sin(psi), math.cos(psi), math.sin(psi)

    def refined(s, hw, k):  # the same halving of the last step as the fence does
        lo, hi = (k - 1) * geo.ARC_STEP_CM, k * geo.ARC_STEP_CM
        for _ in range(geo.REFINE_STEPS):
            mid = (lo + hi) / 2
            if geo.segment_hits_box(*box_at(mid), half_len, hw, s):
                hi = mid
            else:
                lo = mid
        return lo

    for k in range(1, int(math.ceil(max_len_cm / geo.ARC_STEP_CM)) + 1):
        sigma = direction * k * geo.ARC_STEP_CM
        psi = psi0 + kappa * sigma
        if abs(kappa) < 1e-9:
            px, py = rx + sigma * c0, ry + sigma * s0
        else:
            px = rx + (math.sin(psi) - math.sin(psi0)) / kappa
            py = ry - (math.cos(psi) - math.cos(psi0)) / kappa
        ux, uy = math.cos(psi), math.sin(psi)
        for s, hw in near:
            if geo.segment_hits_box(px + lr * ux, py + lr * uy, ux, uy, half_len, hw, s):
                return refined(s, hw, k), s.what
    return math.inf, ""


@settings(max_examples=300, deadline=None)
@given(
    walls=st.lists(st.one_of(wall, stub), min_size=1, max_size=5),
    x=st.floats(0, W), y=st.floats(0, H), heading=st.floats(-180, 180),
    direction=st.sampled_from([1.0, -1.0]), steer=st.one_of(unit, st.just(0.0)),
    cutoff=st.one_of(st.just(math.inf), st.floats(0, 400)), length=st.floats(1, 300),
)
def test_fence_geometry_skips_only_what_cannot_matter(walls, x, y, heading, direction, steer, cutoff, length):
    segments = geo.fence_segments(arena_with(walls), None)
    want = clearance_without_culling(x, y, heading, direction, steer, length, segments)
    got = geo.clearance(x, y, heading, direction, steer, length, SPEC, segments, cutoff)
    if want[0] < cutoff:
        assert (got.distance_cm, got.what) == want
    else:
        assert got.distance_cm >= cutoff
    want_arc = arc_without_skipping(x, y, heading, direction, steer, length, segments)
    arc = geo.arc_clearance(x, y, heading, direction, steer, length, SPEC, segments)
    assert (arc.distance_cm, arc.what) == want_arc
