"""Property-based tests of the safety supervisor: its promises hold for ANY sequence of commands,
car states, timings, heartbeats, session limits and e-stops (hypothesis drives an injected clock)."""

from __future__ import annotations

import math

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from robot_runtime.arena import Arena, Wall
from robot_runtime.config import HardLimits
from robot_runtime.fence import allowed_speed_cm_s, stopping_distance_cm
from robot_runtime.hardware import CarSpec, CarState, Command
from robot_runtime.protocol import WATCHDOG_S, SessionLimits, Zone
from robot_runtime.safety import RETURN_CRAWL, SafetySupervisor

EPS = 1e-9
SPEC = CarSpec()
ARENA = Arena(width_cm=300, height_cm=200)  # no inner walls: the fence oracle below is exact geometry

wild = st.floats(allow_nan=True, allow_infinity=True, width=64)
unit = st.floats(min_value=-1.5, max_value=1.5)
command = st.builds(Command, throttle=st.one_of(unit, wild), steering=st.one_of(unit, wild))
hard_limits = st.builds(
    HardLimits,
    max_speed_pct=st.floats(0, 100),
    max_steer_pct=st.floats(0, 100),
    max_accel_per_s=st.floats(0.5, 20),
    max_decel_per_s=st.floats(1, 20),
    max_steer_rate_per_s=st.floats(0.5, 20),
)
play_area = st.builds(
    lambda x0, y0, w, h: Zone(x0=x0, y0=y0, x1=x0 + w, y1=y0 + h),
    st.floats(-50, 200), st.floats(-50, 120), st.floats(60, 400), st.floats(60, 300),
)
session = st.builds(
    SessionLimits,
    max_speed_pct=st.floats(0, 100),
    max_steer_pct=st.floats(0, 100),
    level=st.one_of(st.none(), st.integers(1, 4)),
    fence=st.one_of(st.none(), st.none(), play_area),
)
step = st.fixed_dictionaries({
    "cmd": command,
    "dt": st.one_of(st.just(0.02), st.floats(0, 0.25)),
    "x": st.floats(-20, 320),
    "y": st.floats(-20, 220),
    "heading": st.floats(-360, 360),
    "speed": st.floats(-400, 400),
    "distance": st.one_of(st.none(), st.floats(0, 250)),
    "heartbeat": st.booleans(),
    "event": st.sampled_from([None] * 12 + ["estop", "reset", "session"]),
    "session": session,
})


def effective(hard: HardLimits, sess: SessionLimits) -> tuple[float, float]:
    return min(hard.max_speed_pct, sess.max_speed_pct) / 100, min(hard.max_steer_pct, sess.max_steer_pct) / 100


def allowed_box(sess: SessionLimits) -> tuple[float, float, float, float]:
    """Where the car may be: the arena, cut down to the session's play area when there is one."""
    x0, y0, x1, y1 = 0.0, 0.0, ARENA.width_cm, ARENA.height_cm
    if sess.fence is not None:
        f = sess.fence
        x0, y0, x1, y1 = max(x0, f.x0), max(y0, f.y0), min(x1, f.x1), min(y1, f.y1)
    return x0, y0, x1, y1


def bumper_distance_to_edge(x: float, y: float, heading_deg: float, direction: float, box) -> float:
    """Oracle: distance from the bumper's middle along the heading to the edge of a box."""
    h = math.radians(heading_deg)
    dx, dy = direction * math.cos(h), direction * math.sin(h)
    bx, by = x + dx * SPEC.length_cm / 2, y + dy * SPEC.length_cm / 2
    ts = []
    for d, p, lo, hi in ((dx, bx, box[0], box[2]), (dy, by, box[1], box[3])):
        if d > 1e-12:
            ts.append((hi - p) / d)
        elif d < -1e-12:
            ts.append((lo - p) / d)
    return max(0.0, min(ts)) if ts else math.inf


@settings(max_examples=150, deadline=None)
@given(hard=hard_limits, first=session, steps=st.lists(step, min_size=1, max_size=60), tick_s=st.floats(0, 0.05))
def test_supervisor_keeps_every_promise_for_any_input(hard, first, steps, tick_s):
    sup = SafetySupervisor(hard, SPEC, ARENA, tick_s=tick_s)
    sup.set_session(first)
    sess = first
    now = 0.0
    last_hb = -math.inf
    estopped = False
    prev = Command()
    for s in steps:
        now += s["dt"]
        if s["heartbeat"]:
            sup.heartbeat(now)
            last_hb = now
        if s["event"] == "estop":
            sup.estop(now, "test")
            estopped = True
        elif s["event"] == "reset":
            sup.reset_estop()
            estopped = False
        elif s["event"] == "session":
            sup.set_session(s["session"])
            sess = s["session"]
        state = CarState(t=now, x_cm=s["x"], y_cm=s["y"], heading_deg=s["heading"], speed_cm_s=s["speed"],
                         distance_cm=s["distance"])
        out, events = sup.filter(s["cmd"], state, now)
        max_t, max_s = effective(hard, sess)
        dt = s["dt"]

        assert math.isfinite(out.throttle) and math.isfinite(out.steering)
        # limits: the tighter of hard and session, whatever was asked
        assert abs(out.throttle) <= max_t + EPS
        assert abs(out.steering) <= max_s + EPS
        # e-stop: neutral while latched
        if estopped:
            assert out == Command(0.0, 0.0)
        # watchdog: zero throttle once WATCHDOG_S passed without a heartbeat
        if now >= last_hb + WATCHDOG_S:
            assert out.throttle == 0.0
        # slew: growth always limited; never reverses in one step; shrink limited unless a hard brake
        assert out.throttle * prev.throttle >= 0.0
        assert abs(out.throttle) - abs(prev.throttle) <= hard.max_accel_per_s * dt + EPS
        hard_brake = sup.binding & {"speed_limit", "fence", "obstacle", "estop"}
        if not hard_brake:
            assert abs(prev.throttle) - abs(out.throttle) <= hard.max_decel_per_s * dt + EPS
        if "steer_limit" not in sup.binding and "estop" not in sup.binding:
            assert abs(out.steering - prev.steering) <= hard.max_steer_rate_per_s * dt + EPS
        # fence: never faster toward the edge than the car can stop before it
        if out.throttle != 0.0:
            direction = math.copysign(1.0, out.throttle)
            box = allowed_box(sess)
            inside = box[0] <= s["x"] <= box[2] and box[1] <= s["y"] <= box[3]
            if inside:
                free = bumper_distance_to_edge(s["x"], s["y"], s["heading"], direction, box) - hard.fence_margin_cm
                allowed = allowed_speed_cm_s(free, hard.brake_decel_cm_s2, hard.reaction_s) / SPEC.top_speed_cm_s
                assert abs(out.throttle) <= allowed + 1e-7
            else:
                assert abs(out.throttle) <= RETURN_CRAWL + EPS
        # obstacle: forward speed fits in what the distance sensor sees
        if out.throttle > 0 and s["distance"] is not None:
            free = s["distance"] - hard.obstacle_margin_cm
            assert out.throttle <= allowed_speed_cm_s(free, hard.brake_decel_cm_s2, hard.reaction_s) / SPEC.top_speed_cm_s + 1e-7
        # every event has a reason and a kid sentence
        for ev in events:
            assert ev.kid_text and ev.reason
        prev = out


@settings(max_examples=60, deadline=None)
@given(hard=hard_limits, sess=session)
def test_session_limits_never_loosen_the_cars_hard_limits(hard, sess):
    sup = SafetySupervisor(hard, SPEC, None, watchdog=False)
    sup.set_session(sess)
    assert sup.limits.max_throttle <= hard.max_speed_pct / 100 + EPS
    assert sup.limits.max_steer <= hard.max_steer_pct / 100 + EPS
    now = 0.0
    out = Command()
    for _ in range(200):  # long enough to ramp to any limit
        now += 0.02
        out, _ = sup.filter(Command(1.0, -1.0), CarState(t=now, x_cm=0, y_cm=0, heading_deg=0), now)
    assert out.throttle <= hard.max_speed_pct / 100 + EPS and out.throttle <= sess.max_speed_pct / 100 + EPS
    assert -out.steering <= hard.max_steer_pct / 100 + EPS and -out.steering <= sess.max_steer_pct / 100 + EPS


@settings(max_examples=60, deadline=None)
@given(
    wall_x=st.floats(120, 280),
    start_x=st.floats(30, 110),
    wish=st.floats(0.05, 1.0),
)
def test_car_driven_into_a_wall_by_the_supervisor_alone_never_gets_closer_than_its_margin(wall_x, start_x, wish):
    """Kinematic closed loop: the car moves at what the supervisor sends; it stops before the wall."""
    assume(wall_x - 1.0 - (start_x + SPEC.length_cm / 2) > HardLimits().fence_margin_cm)  # starts clear of it
    arena = Arena(width_cm=400, height_cm=200, start={"x_cm": 50, "y_cm": 100, "heading_deg": 0},
                  walls=[Wall(x0=wall_x, y0=0, x1=wall_x, y1=200, thickness_cm=2)])
    hard = HardLimits(reaction_s=0.0)  # the kinematic car reacts at once, so it needs no reaction time
    sup = SafetySupervisor(hard, SPEC, arena, watchdog=False)
    x, now, v = start_x, 0.0, 0.0
    dt = 0.02
    for _ in range(600):
        out, _ = sup.filter(Command(wish, 0.0), CarState(t=now, x_cm=x, y_cm=100, heading_deg=0, speed_cm_s=v), now)
        v = out.throttle * SPEC.top_speed_cm_s
        x += v * dt
        now += dt
    gap = (wall_x - 1.0) - (x + SPEC.length_cm / 2)
    assert gap >= 0.0


wall = st.builds(
    lambda x0, y0, length, angle, thick: Wall(
        x0=x0, y0=y0, x1=x0 + length * math.cos(angle), y1=y0 + length * math.sin(angle), thickness_cm=thick),
    st.floats(20, 580), st.floats(20, 380), st.floats(3, 200), st.floats(0, 2 * math.pi), st.floats(0.5, 6),
)


def swept_box_hits_wall(x, y, heading_deg, direction, length, walls) -> bool:
    """Oracle by brute force: does any point of any wall (a rectangle: its centre line widened by half
    its thickness on each side) lie in the box the car's bumper sweeps over `length` cm straight on?
    Each wall is sampled on a 0.25 cm grid along and 5 lines across."""
    h = math.radians(heading_deg)
    ux, uy = direction * math.cos(h), direction * math.sin(h)
    bx, by = x + ux * SPEC.length_cm / 2, y + uy * SPEC.length_cm / 2
    for w in walls:
        wl = math.hypot(w.x1 - w.x0, w.y1 - w.y0)
        nx, ny = -(w.y1 - w.y0) / wl, (w.x1 - w.x0) / wl
        n = max(2, int(wl / 0.25))
        for i in range(n + 1):
            for k in (-1.0, -0.5, 0.0, 0.5, 1.0):
                off = k * w.thickness_cm / 2
                px = w.x0 + (w.x1 - w.x0) * i / n + nx * off - bx
                py = w.y0 + (w.y1 - w.y0) * i / n + ny * off - by
                lon, lat = px * ux + py * uy, -px * uy + py * ux
                if abs(lat) <= SPEC.width_cm / 2 - 0.05 and 0.05 < lon < length:
                    return True
    return False


@settings(max_examples=150, deadline=None)
@given(
    walls=st.lists(wall, min_size=1, max_size=4),
    x=st.floats(60, 540), y=st.floats(60, 340), heading=st.floats(-180, 180),
    wish=st.floats(-1, 1).filter(lambda v: abs(v) > 0.05),
    speed=st.floats(-300, 300),
)
def test_fence_never_sends_the_car_faster_than_it_can_stop_before_any_wall(walls, x, y, heading, wish, speed):
    """Random walls of any length, angle and thickness; a straight path; any speed the car already has:
    the command's stopping distance (plus the margin) is always free of walls (brute-force oracle)."""
    arena = Arena(width_cm=600, height_cm=400, start={"x_cm": 300, "y_cm": 200, "heading_deg": 0}, walls=walls)
    # The car must not already overlap a wall (that is a collision, not something to plan around).
    from hypothesis import assume

    h = math.radians(heading)
    assume(not swept_box_hits_wall(x - math.cos(h) * SPEC.length_cm, y - math.sin(h) * SPEC.length_cm,
                                   heading, 1.0, SPEC.length_cm, walls))
    hard = HardLimits()
    sup = SafetySupervisor(hard, SPEC, arena, watchdog=False)
    state = CarState(t=0, x_cm=x, y_cm=y, heading_deg=heading, speed_cm_s=speed)
    sup.filter(Command(wish, 0.0), state, 0.0)
    out, _ = sup.filter(Command(wish, 0.0), state, 10.0)  # a long dt: no slew limit in the way
    if out.throttle == 0.0:
        return
    direction = math.copysign(1.0, out.throttle)
    stop = stopping_distance_cm(abs(out.throttle) * SPEC.top_speed_cm_s, hard.brake_decel_cm_s2, hard.reaction_s)
    assert not swept_box_hits_wall(x, y, heading, direction, stop + hard.fence_margin_cm - 0.05, walls)


def footprint_near_wall(x, y, heading_deg, walls, margin_cm=3.0) -> bool:
    h = math.radians(heading_deg)
    ux, uy = math.cos(h), math.sin(h)
    for w in walls:
        wl = math.hypot(w.x1 - w.x0, w.y1 - w.y0)
        n = max(2, int(wl / 0.5))
        for i in range(n + 1):
            px, py = w.x0 + (w.x1 - w.x0) * i / n - x, w.y0 + (w.y1 - w.y0) * i / n - y
            lon, lat = px * ux + py * uy, -px * uy + py * ux
            reach = w.thickness_cm / 2 + margin_cm
            if abs(lon) <= SPEC.length_cm / 2 + reach and abs(lat) <= SPEC.width_cm / 2 + reach:
                return True
    return False


@settings(max_examples=40, deadline=None)
@given(
    w=wall,
    x=st.floats(60, 540), y=st.floats(60, 340), heading=st.floats(-180, 180),
    throttle=st.floats(0.2, 1.0), reverse=st.booleans(), steering=st.floats(-1, 1),
)
def test_simulated_car_held_at_any_throttle_and_steering_never_hits_a_wall_or_the_edge(w, x, y, heading, throttle,
                                                                                     reverse, steering):
    """Closed loop with the real simulator (tyre slip, servo and ESC lag): a constant wish, forward or
    backward, straight or at any steering, for 5 s — the supervisor keeps the car off every wall and edge."""
    from hypothesis import assume

    from robot_runtime.protocol import Pose
    from robot_runtime.sim import SimCar

    assume(not footprint_near_wall(x, y, heading, [w]))
    arena = Arena(width_cm=600, height_cm=400, start={"x_cm": 300, "y_cm": 200, "heading_deg": 0}, walls=[w])
    car = SimCar(arena=arena, pose=Pose(x_cm=x, y_cm=y, heading_deg=heading))
    sup = SafetySupervisor(HardLimits(), SPEC, arena, watchdog=False, tick_s=0.02)
    wish = Command(-throttle if reverse else throttle, steering)
    now = 0.0
    for _ in range(250):
        out, _ = sup.filter(wish, car.read(), now)
        car.apply(out)
        car.advance(0.02)
        now += 0.02
    assert car.collision_log == [], car.collision_log[0]
