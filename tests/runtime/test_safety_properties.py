"""Property-based tests of the safety supervisor: its promises hold for ANY sequence of commands, car
states, timings, heartbeats, session limits, faults and e-stops, for any car spec, brake, reaction time
and margins (hypothesis drives an injected clock).

The oracles are written here, independently of the implementation: the braking model (`stop_cm`), the
path a steering drives (`path_free_cm`, a kinematic bicycle stepped 0.5 cm at a time) and when a hard
brake is allowed (`hard_brake_allowed`, from what this test knows of the inputs — never from the
supervisor's own `binding` report). The supervisor's fence is more careful than these oracles (it
widens for slides and rounds toward caution), so it may stop earlier, never later.
"""

from __future__ import annotations

import math

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from robot_runtime.arena import Arena, Wall
from robot_runtime.config import HardLimits
from robot_runtime.hardware import CarSpec, CarState, Command
from robot_runtime.protocol import WATCHDOG_S, SessionLimits, Zone
from robot_runtime.safety import SafetySupervisor

EPS = 1e-9
TOL_CM = 0.1  # the oracles' own step size shows up as rounding at this scale
TOUCHING_CM = 0.5  # a footprint this close to the edge is touching it already
CRAWL = 0.15  # the documented crawl: back into the fence from outside, or forward with a faulty sensor
LATE_TICK_RAMP_S = 0.05  # documented: a late tick earns at most 50 ms of slew
ARENA = Arena(width_cm=300, height_cm=200)  # no inner walls: the box oracle below is exact geometry


def stop_cm(speed_cm_s: float, brake_cm_s2: float, reaction_s: float) -> float:
    """The braking model: the car goes on at its speed for the reaction time, then brakes at a constant decel."""
    v = abs(speed_cm_s)
    return v * reaction_s + v * v / (2.0 * brake_cm_s2)


def corners(x: float, y: float, heading: float, spec: CarSpec, grow: float = 0.0) -> list[tuple[float, float]]:
    c, s = math.cos(heading), math.sin(heading)
    hl, hw = spec.length_cm / 2 + grow, spec.width_cm / 2 + grow
    return [(x + a * c - b * s, y + a * s + b * c) for a in (-hl, hl) for b in (-hw, hw)]


def path_free_cm(x, y, heading_deg, direction, steer, spec: CarSpec, box, need_cm: float, grow: float = 0.0) -> float:
    """How far the car's footprint (grown by `grow`) can go along the path this steering drives (a
    kinematic bicycle about a rear axle half a wheelbase behind the centre) before a corner leaves the
    box; looks as far as need_cm (a circle is looked at once round). 0.5 cm steps."""
    h = math.radians(heading_deg)
    lr = spec.wheelbase_cm / 2
    rx, ry = x - lr * math.cos(h), y - lr * math.sin(h)
    kappa = math.tan(math.radians(spec.max_steer_deg * max(-1.0, min(1.0, steer)))) / spec.wheelbase_cm
    hl, hw = spec.length_cm / 2 + grow, spec.width_cm / 2 + grow
    offsets = [(a + lr, b) for a in (-hl, hl) for b in (-hw, hw)]  # corners, from the rear axle
    x0, y0, x1, y1 = box
    step, travelled = 0.5, 0.0
    if abs(kappa) > 1e-12:
        need_cm = min(need_cm, 2 * math.pi / abs(kappa) + step)
    while travelled <= need_cm:
        psi = h + kappa * direction * travelled
        c, sn = math.cos(psi), math.sin(psi)
        if abs(kappa) < 1e-12:
            px, py = rx + direction * travelled * math.cos(h), ry + direction * travelled * math.sin(h)
        else:
            px = rx + (sn - math.sin(h)) / kappa
            py = ry - (c - math.cos(h)) / kappa
        for a, b in offsets:
            qx, qy = px + a * c - b * sn, py + a * sn + b * c
            if not (x0 <= qx <= x1 and y0 <= qy <= y1):
                return max(0.0, travelled - step)
        travelled += step
    return math.inf


wild = st.floats(allow_nan=True, allow_infinity=True, width=64)
unit = st.floats(min_value=-1.5, max_value=1.5)
command = st.builds(Command, throttle=st.one_of(unit, wild, st.sampled_from([1.0, -1.0])),
                    steering=st.one_of(unit, wild, st.sampled_from([1.0, -1.0])))
specs = st.builds(
    lambda wb, lf, w, top, steer: CarSpec(wheelbase_cm=wb, length_cm=wb * lf, width_cm=w, top_speed_cm_s=top,
                                          max_steer_deg=steer),
    st.floats(16, 34), st.floats(1.3, 1.7), st.floats(12, 26), st.floats(120, 450), st.floats(15, 35),
)
hard_limits = st.builds(
    HardLimits,
    max_speed_pct=st.one_of(st.just(100.0), st.floats(0, 100)),
    max_reverse_pct=st.floats(0, 100),
    max_steer_pct=st.one_of(st.just(100.0), st.floats(0, 100)),
    max_accel_per_s=st.floats(0.5, 20),
    max_decel_per_s=st.floats(1, 20),
    max_steer_rate_per_s=st.floats(0.5, 20),
    brake_decel_cm_s2=st.floats(100, 900),
    reaction_s=st.floats(0.12, 0.6),
    fence_margin_cm=st.floats(1, 20),
    obstacle_margin_cm=st.floats(2, 20),
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
    "dt": st.one_of(st.just(0.02), st.floats(0, 0.3)),
    "x": st.floats(-20, 320),
    "y": st.floats(-20, 220),
    "heading": st.floats(-360, 360),
    "speed": st.one_of(st.floats(-450, 450), st.just(0.0)),
    "lateral": st.one_of(st.just(0.0), st.floats(-100, 100)),
    "slip": st.one_of(st.just(0.0), st.floats(-40, 40)),
    "uncertainty": st.one_of(st.just(0.0), st.floats(0, 20)),
    "distance": st.one_of(st.none(), st.floats(0, 250), st.just(math.nan)),
    "fault": st.sampled_from([None] * 6 + ["timeout"]),
    "bad_pose": st.sampled_from([False] * 12 + [True]),
    "heartbeat": st.booleans(),
    "event": st.sampled_from([None] * 12 + ["estop", "reset", "session"]),
    "session": session,
})


def effective(hard: HardLimits, sess: SessionLimits, reverse: bool) -> tuple[float, float]:
    speed = min(hard.max_speed_pct, sess.max_speed_pct)
    if reverse:
        speed = min(speed, hard.max_reverse_pct)
    return speed / 100, min(hard.max_steer_pct, sess.max_steer_pct) / 100


def allowed_box(sess: SessionLimits) -> tuple[float, float, float, float]:
    """Where the car may be: the arena, cut down to the session's play area when there is one."""
    x0, y0, x1, y1 = 0.0, 0.0, ARENA.width_cm, ARENA.height_cm
    if sess.fence is not None:
        f = sess.fence
        x0, y0, x1, y1 = max(x0, f.x0), max(y0, f.y0), min(x1, f.x1), min(y1, f.y1)
    return x0, y0, x1, y1


def hard_brake_allowed(s, hard, spec, sess, prev, box, session_changed) -> bool:
    """May the throttle shrink faster than the decel ramp this tick? Decided from the inputs alone."""
    if session_changed or s["event"] == "estop" or s["bad_pose"]:
        return True
    lim, _ = effective(hard, sess, prev.throttle < 0)
    if abs(prev.throttle) > lim:  # a lowered limit, or a reverse cap
        return True
    faulty = s["fault"] or (s["distance"] is not None and not math.isfinite(s["distance"]))
    if prev.throttle > CRAWL and faulty:
        return True  # down to the crawl at once
    if prev.throttle > 0 and not faulty and s["distance"] is not None:
        return True  # something in sensor range may need a hard brake (the obstacle envelope)
    # The fence may brake hard only when something fenced is within reach: stopping from the fastest
    # speed in play, plus the margin, the pose uncertainty, a slide's widening and the car's half diagonal.
    v = max(abs(prev.throttle), lim) * spec.top_speed_cm_s + abs(s["speed"]) + abs(s["lateral"])
    reach = (stop_cm(v, hard.brake_decel_cm_s2, hard.reaction_s) * 2 + hard.fence_margin_cm + s["uncertainty"]
             + math.hypot(spec.length_cm, spec.width_cm) + 10.0)
    x, y = s["x"], s["y"]
    return min(x - box[0], box[2] - x, y - box[1], box[3] - y) <= reach


@settings(max_examples=150, deadline=None)
@given(hard=hard_limits, spec=specs, first=session, steps=st.lists(step, min_size=1, max_size=30),
       tick_s=st.floats(0, 0.05))
def test_supervisor_keeps_every_promise_for_any_input(hard, spec, first, steps, tick_s):
    sup = SafetySupervisor(hard, spec, ARENA, tick_s=tick_s)
    sup.set_session(first)
    sess = first
    now = 0.0
    last_hb = -math.inf
    estopped = False
    prev = Command()
    for s in steps:
        now += s["dt"]
        session_changed = False
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
            sess, session_changed = s["session"], True
        x, y = (math.nan, math.nan) if s["bad_pose"] else (s["x"], s["y"])
        state = CarState(t=now, x_cm=x, y_cm=y, heading_deg=s["heading"], speed_cm_s=s["speed"],
                         lateral_cm_s=s["lateral"], slip_deg=s["slip"], distance_cm=s["distance"],
                         distance_fault=s["fault"], pose_uncertainty_cm=s["uncertainty"])
        out, events = sup.filter(s["cmd"], state, now)
        dt = s["dt"]
        box = allowed_box(sess)

        assert math.isfinite(out.throttle) and math.isfinite(out.steering)
        # limits: the tighter of hard and session (and the reverse cap backing up), whatever was asked
        max_t, max_s = effective(hard, sess, out.throttle < 0)
        assert abs(out.throttle) <= max_t + EPS
        assert abs(out.steering) <= max_s + EPS
        if estopped:  # e-stop: neutral while latched
            assert out == Command(0.0, 0.0)
        if now >= last_hb + WATCHDOG_S:  # watchdog: zero throttle once WATCHDOG_S passed without a heartbeat
            assert out.throttle == 0.0
        if s["bad_pose"]:  # nothing to steer by: no throttle
            assert out.throttle == 0.0
        # slew: growth limited per elapsed time (a late tick earns at most LATE_TICK_RAMP_S); never reverses
        # in one step; shrink limited unless a hard brake is allowed (decided above, from the inputs)
        ramp_dt = min(dt, LATE_TICK_RAMP_S)
        assert out.throttle * prev.throttle >= 0.0
        assert abs(out.throttle) - abs(prev.throttle) <= hard.max_accel_per_s * ramp_dt + EPS
        if not hard_brake_allowed(s, hard, spec, sess, prev, box, session_changed):
            assert abs(prev.throttle) - abs(out.throttle) <= hard.max_decel_per_s * ramp_dt + EPS, repr((s, prev, out, sup.binding))
        if not estopped and not session_changed and abs(prev.steering) <= max_s:
            assert abs(out.steering - prev.steering) <= hard.max_steer_rate_per_s * ramp_dt + EPS
        # sensor: a faulty or NaN distance sensor allows a crawl forward, no more
        if s["fault"] or (s["distance"] is not None and not math.isfinite(s["distance"])):
            assert out.throttle <= CRAWL + EPS
        elif out.throttle > 0 and s["distance"] is not None:  # obstacle: forward speed fits in what it sees
            free = s["distance"] - hard.obstacle_margin_cm
            assert stop_cm(out.throttle * spec.top_speed_cm_s, hard.brake_decel_cm_s2, hard.reaction_s) <= free + 1e-6
        # fence, along the path the output steering drives, from the speed the car has or is sent to
        if not s["bad_pose"] and not estopped:
            check_fence(out, s, hard, spec, box)
        for ev in events:  # every event has a reason and a kid sentence
            assert ev.kid_text and ev.reason
        prev = out


def check_fence(out: Command, s: dict, hard: HardLimits, spec: CarSpec, box) -> None:
    x, y, heading = s["x"], s["y"], s["heading"]
    inside = box[0] <= x <= box[2] and box[1] <= y <= box[3]
    if not inside:
        assert abs(out.throttle) <= CRAWL + EPS  # outside its fence a car only crawls (back in)
        return
    u = s["uncertainty"]
    if any(not (box[0] <= qx <= box[2] and box[1] <= qy <= box[3])
           for qx, qy in corners(x, y, math.radians(heading), spec, grow=u + TOUCHING_CM)):
        return  # (maybe) touching or over the edge: a collision to get out of, not a path to plan
    for direction in (1.0, -1.0):
        moving = s["speed"] * direction > 2.0
        sent = out.throttle * direction > 0
        if not (moving or sent):
            continue
        v = max(abs(out.throttle) * spec.top_speed_cm_s if sent else 0.0,
                math.hypot(s["speed"], s["lateral"]) if moving else 0.0)
        need = stop_cm(v, hard.brake_decel_cm_s2, hard.reaction_s) + hard.fence_margin_cm + u
        free = path_free_cm(x, y, heading, direction, out.steering, spec, box, need, grow=u)
        if sent:  # never sent along a path it cannot stop on
            assert free + TOL_CM >= stop_cm(v, hard.brake_decel_cm_s2, hard.reaction_s) + hard.fence_margin_cm, repr((s, out, direction, v, free, spec, hard))
        elif moving and free + TOL_CM < need and out.throttle * direction >= 0:
            # already too fast to stop on this path: zero throttle (it may still steer to another path)
            assert out.throttle == 0.0


@settings(max_examples=60, deadline=None)
@given(hard=hard_limits, sess=session)
def test_session_limits_never_loosen_the_cars_hard_limits(hard, sess):
    sup = SafetySupervisor(hard, CarSpec(), None, watchdog=False)
    sup.set_session(sess)
    now = 0.0
    out = Command()
    for _ in range(300):  # long enough to ramp to any limit
        now += 0.02
        out, _ = sup.filter(Command(1.0, -1.0), CarState(t=now, x_cm=0, y_cm=0, heading_deg=0), now)
    assert out.throttle <= hard.max_speed_pct / 100 + EPS and out.throttle <= sess.max_speed_pct / 100 + EPS
    assert -out.steering <= hard.max_steer_pct / 100 + EPS and -out.steering <= sess.max_steer_pct / 100 + EPS


@settings(max_examples=40, deadline=None)
@given(hard=hard_limits, spec=specs)
def test_before_the_server_speaks_the_car_is_a_level_1_car(hard, spec):
    """Fail closed: with no session limits yet, never more than Level 1's 30 %."""
    sup = SafetySupervisor(hard, spec, None, watchdog=False)
    now, top = 0.0, 0.0
    for _ in range(200):
        now += 0.02
        out, _ = sup.filter(Command(1.0, 0.0), CarState(t=now, x_cm=0, y_cm=0, heading_deg=0), now)
        top = max(top, out.throttle)
    assert top <= 0.30 + EPS


wall = st.builds(
    lambda x0, y0, length, angle, thick: Wall(
        x0=x0, y0=y0, x1=x0 + length * math.cos(angle), y1=y0 + length * math.sin(angle), thickness_cm=thick),
    st.floats(20, 580), st.floats(20, 380), st.floats(3, 200), st.floats(0, 2 * math.pi), st.floats(0.5, 6),
)


def swept_box_hits_wall(x, y, heading_deg, direction, length, walls, spec=CarSpec()) -> bool:
    """Oracle by brute force: does any point of any wall (a rectangle: its centre line widened by half
    its thickness on each side) lie in the box the car's bumper sweeps over `length` cm straight on?
    Each wall is sampled on a 0.25 cm grid along and 5 lines across."""
    h = math.radians(heading_deg)
    ux, uy = direction * math.cos(h), direction * math.sin(h)
    bx, by = x + ux * spec.length_cm / 2, y + uy * spec.length_cm / 2
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
                if abs(lat) <= spec.width_cm / 2 - 0.05 and 0.05 < lon < length:
                    return True
    return False


@settings(max_examples=100, deadline=None)
@given(
    walls=st.lists(wall, min_size=1, max_size=4),
    x=st.floats(60, 540), y=st.floats(60, 340), heading=st.floats(-180, 180),
    wish=st.floats(-1, 1).filter(lambda v: abs(v) > 0.05),
    speed=st.floats(-300, 300), hard=hard_limits,
)
def test_fence_never_sends_the_car_faster_than_it_can_stop_before_any_wall(walls, x, y, heading, wish, speed, hard):
    """Random walls of any length, angle and thickness; a straight path; any speed the car already has:
    the command's stopping distance (plus the margin) is always free of walls (brute-force oracle)."""
    arena = Arena(width_cm=600, height_cm=400, start={"x_cm": 300, "y_cm": 200, "heading_deg": 0}, walls=walls)
    h = math.radians(heading)
    spec = CarSpec()
    # The car must not already overlap a wall (that is a collision, not something to plan around).
    assume(not swept_box_hits_wall(x - math.cos(h) * spec.length_cm, y - math.sin(h) * spec.length_cm,
                                   heading, 1.0, spec.length_cm, walls))
    sup = SafetySupervisor(hard, spec, arena, watchdog=False, session=SessionLimits())
    state = CarState(t=0, x_cm=x, y_cm=y, heading_deg=heading, speed_cm_s=speed)
    sup.filter(Command(wish, 0.0), state, 0.0)
    for i in range(1, 60):  # ramp to the wish (the slew limit allows a little per tick)
        out, _ = sup.filter(Command(wish, 0.0), state, i * 0.05)
    if out.throttle == 0.0 or out.steering != 0.0:
        return  # stopped, or steered off the straight path (the any-input test checks curved paths)
    direction = math.copysign(1.0, out.throttle)
    stop = stop_cm(abs(out.throttle) * spec.top_speed_cm_s, hard.brake_decel_cm_s2, hard.reaction_s)
    assert not swept_box_hits_wall(x, y, heading, direction, stop + hard.fence_margin_cm - 0.05, walls)
