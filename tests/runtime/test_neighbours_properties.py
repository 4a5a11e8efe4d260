"""Other cars as moving obstacles: the supervisor's promises, for any cars, speeds, programs and delays
(hypothesis; the clock is injected: every time below is a number the test chooses).

Oracles, written here independently of robot_runtime/neighbours.py:
- where a neighbour can be: its footprint, grown by how far it may stray, swept along its velocity,
  sampled every few millimetres of time (`swept_points`);
- whether two cars touch: points along one footprint's outline, every 0.5 cm, inside the other
  (`footprints_touch`) — checked every 5 ms of two simulated cars' true motion.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from robot_runtime.arena import Arena
from robot_runtime.config import HardLimits
from robot_runtime.hardware import CarSpec, CarState, Command
from robot_runtime.neighbours import region
from robot_runtime.protocol import NearbyCar, Neighbours, Pose, SessionLimits
from robot_runtime.safety import SafetySupervisor
from robot_runtime.sim import SimCar

EPS_CM = 1e-6
STRAY_CM_S2 = 1200.0  # documented (docs/car-runtime.md): how far a supervised car may stray from constant velocity
TICK = 0.02
SUBSTEP = 0.005  # the oracle looks at both cars every 5 ms (1.5 cm of travel at full speed)
W, H = 800.0, 500.0

nearby = st.builds(
    NearbyCar, car_id=st.just("car-2"), x_cm=st.floats(-500, 500), y_cm=st.floats(-500, 500),
    heading_deg=st.floats(-720, 720), vx_cm_s=st.floats(-300, 300), vy_cm_s=st.floats(-300, 300),
    length_cm=st.floats(20, 60), width_cm=st.floats(10, 30), age_s=st.just(0.0), uncertainty_cm=st.floats(0, 20),
)


def swept_points(car: NearbyCar, age: float, horizon: float, steps: int = 60) -> list[tuple[float, float]]:
    """Corners of the neighbour's footprint (grown by its uncertainty and the stray allowance for `age`)
    at `steps` + 1 instants along its constant-velocity path from its pose over age + horizon."""
    grow = car.uncertainty_cm + STRAY_CM_S2 * age * age / 2
    h = math.radians(car.heading_deg)
    c, s = math.cos(h), math.sin(h)
    hl, hw = car.length_cm / 2 + grow, car.width_cm / 2 + grow
    out = []
    for k in range(steps + 1):
        t = (age + horizon) * k / steps
        x, y = car.x_cm + car.vx_cm_s * t, car.y_cm + car.vy_cm_s * t
        out += [(x + a * c - b * s, y + a * s + b * c) for a in (-hl, hl) for b in (-hw, hw)]
    return out


def inside_polygon(poly: list[tuple[float, float]], p: tuple[float, float], tol: float) -> bool:
    """p inside the convex polygon (either orientation), with `tol` cm to spare for rounding."""
    n = len(poly)
    sign = 0.0
    for i in range(n):
        (x0, y0), (x1, y1) = poly[i], poly[(i + 1) % n]
        ln = math.hypot(x1 - x0, y1 - y0)
        if ln < 1e-12:
            continue
        side = ((x1 - x0) * (p[1] - y0) - (y1 - y0) * (p[0] - x0)) / ln
        if abs(side) <= tol:
            continue
        if sign == 0.0:
            sign = math.copysign(1.0, side)
        elif math.copysign(1.0, side) != sign:
            return False
    return True


@settings(max_examples=300, deadline=None)
@given(car=nearby, a1=st.floats(0, 2), extra=st.floats(0, 2), horizon=st.floats(0.2, 1.5))
def test_a_neighbours_region_covers_where_it_can_be_and_only_grows_while_it_goes_stale(car, a1, extra, horizon):
    """The region holds every position of the grown footprint along its path (the oracle), and the
    region of an older pose holds the region of a fresher one: no news never means less to avoid."""
    a2 = a1 + extra
    r1, r2 = region(car, a1, horizon), region(car, a2, horizon)
    tol = 1e-6 * (1 + max(abs(v) for p in r2 for v in p))
    for p in swept_points(car, a1, horizon):
        assert inside_polygon(r1, p, tol + EPS_CM), (p, r1)
    for p in r1:
        assert inside_polygon(r2, p, tol + EPS_CM), (p, r2)


def footprint_overlaps(poly: list[tuple[float, float]], x: float, y: float, heading: float, half_len: float,
                       half_w: float) -> bool:
    """Do the car's (grown) footprint and this convex polygon overlap? Separating axes, from scratch."""
    h = math.radians(heading)
    ux, uy, vx, vy = math.cos(h), math.sin(h), -math.sin(h), math.cos(h)
    box = [(x + a * half_len * ux + b * half_w * vx, y + a * half_len * uy + b * half_w * vy)
           for a, b in ((1, 1), (1, -1), (-1, -1), (-1, 1))]
    axes = [(ux, uy), (vx, vy)] + [(-(q[1] - p[1]), q[0] - p[0]) for p, q in zip(poly, poly[1:] + poly[:1])]
    for ax, ay in axes:
        if ax == 0 and ay == 0:
            continue
        a = [px * ax + py * ay for px, py in poly]
        b = [px * ax + py * ay for px, py in box]
        if max(a) < min(b) or max(b) < min(a):
            return False
    return True


def standing(x: float, y: float, heading: float) -> CarState:
    return CarState(t=0.0, x_cm=x, y_cm=y, heading_deg=heading, speed_cm_s=0.0)


@settings(max_examples=150, deadline=None)
@given(x=st.floats(150, 650), y=st.floats(120, 380), heading=st.floats(-180, 180), wish=st.floats(-1, 1),
       other=nearby, dx=st.floats(-250, 250), dy=st.floats(-250, 250), age=st.floats(0, 0.3),
       later=st.floats(0.01, 1.5))
def test_the_supervisor_is_never_less_careful_when_a_neighbours_pose_goes_stale(x, y, heading, wish, other, dx, dy,
                                                                                  age, later):
    """The same standing car, the same wish, the same message; one supervisor hears it `later` seconds
    earlier (its copy of the pose is staler at every tick): its throttle is never above the other's.

    While the car is outside the staler region. A car whose footprint is already inside a region (the
    other car may be where it stands) has one rule instead — it may only drive away from that car, at
    whatever speed leaves soonest (test_a_car_inside_a_region_only_ever_drives_away_from_that_car)."""
    arena = Arena(width_cm=W, height_cm=H, start={"x_cm": 50, "y_cm": 50, "heading_deg": 0})
    car = other.model_copy(update={"x_cm": x + dx, "y_cm": y + dy, "age_s": age})
    msg = Neighbours(cars=[car])
    fresh, stale = (SafetySupervisor(HardLimits(), CarSpec(), arena, watchdog=False, session=SessionLimits())
                    for _ in range(2))
    t0 = 10.0
    fresh.set_neighbours(msg, t0)
    stale.set_neighbours(msg, t0 - later)
    state = standing(x, y, heading)
    spec, margin = CarSpec(), HardLimits().fence_margin_cm
    for i in range(40):  # the slew limit ramps toward the wish over the first ticks
        now = t0 + i * TICK
        stale_region = region(car, age + later + i * TICK, stale.horizon_s)
        if footprint_overlaps(stale_region, x, y, heading, spec.length_cm / 2 + margin, spec.width_cm / 2 + margin):
            break  # inside from here on: the "only away" rule (the next test), not a speed comparison
        a, _ = fresh.filter(Command(wish, 0.0), state, now)
        b, _ = stale.filter(Command(wish, 0.0), state, now)
        assert abs(b.throttle) <= abs(a.throttle) + 1e-9, (i, a, b)


@settings(max_examples=150, deadline=None)
@given(x=st.floats(150, 650), y=st.floats(120, 380), heading=st.floats(-180, 180), wish=st.floats(-1, 1),
       other=nearby, dx=st.floats(-40, 40), dy=st.floats(-40, 40), age=st.floats(0, 2))
def test_a_car_inside_a_region_only_ever_drives_away_from_that_car(x, y, heading, wish, other, dx, dy, age):
    """Whatever it wishes, a car whose footprint is inside another car's region never moves toward that
    car: any throttle it gets drives it within 60 degrees of straight away from the other's last pose."""
    arena = Arena(width_cm=W, height_cm=H, start={"x_cm": 50, "y_cm": 50, "heading_deg": 0})
    car = other.model_copy(update={"x_cm": x + dx, "y_cm": y + dy, "age_s": age})
    sup = SafetySupervisor(HardLimits(), CarSpec(), arena, watchdog=False, session=SessionLimits())
    t0 = 10.0
    sup.set_neighbours(Neighbours(cars=[car]), t0)
    spec, margin = CarSpec(), HardLimits().fence_margin_cm
    assume(math.hypot(dx, dy) > 1.0)
    assume(footprint_overlaps(region(car, age, sup.horizon_s), x, y, heading, spec.length_cm / 2 + margin,
                              spec.width_cm / 2 + margin))
    state = standing(x, y, heading)
    h = math.radians(heading)
    for i in range(25):
        out, _ = sup.filter(Command(wish, 0.0), state, t0 + i * TICK)
        if abs(out.throttle) > 1e-9:
            mx, my = math.copysign(1.0, out.throttle) * math.cos(h), math.copysign(1.0, out.throttle) * math.sin(h)
            toward = (mx * dx + my * dy) / math.hypot(dx, dy)
            assert toward <= -0.5 + 1e-9, (i, out, toward)


# --- closed loop: two simulated cars, each with its own supervisor, hearing about each other ---------


def outline(pose: Pose, spec: CarSpec, step: float = 0.5) -> list[tuple[float, float]]:
    h = math.radians(pose.heading_deg)
    c, s = math.cos(h), math.sin(h)
    hl, hw = spec.length_cm / 2, spec.width_cm / 2
    pts = []
    for (a0, b0), (a1, b1) in (((hl, hw), (hl, -hw)), ((hl, -hw), (-hl, -hw)), ((-hl, -hw), (-hl, hw)),
                               ((-hl, hw), (hl, hw))):
        n = max(1, int(math.hypot(a1 - a0, b1 - b0) / step))
        for k in range(n):
            a, b = a0 + (a1 - a0) * k / n, b0 + (b1 - b0) * k / n
            pts.append((pose.x_cm + a * c - b * s, pose.y_cm + a * s + b * c))
    return pts


def covers(pose: Pose, spec: CarSpec, p: tuple[float, float]) -> bool:
    h = math.radians(pose.heading_deg)
    dx, dy = p[0] - pose.x_cm, p[1] - pose.y_cm
    return abs(dx * math.cos(h) + dy * math.sin(h)) <= spec.length_cm / 2 and \
        abs(-dx * math.sin(h) + dy * math.cos(h)) <= spec.width_cm / 2


def footprints_touch(a: Pose, b: Pose, spec: CarSpec) -> bool:
    """Brute force: a point of either outline (every 0.5 cm) inside the other footprint."""
    if math.hypot(a.x_cm - b.x_cm, a.y_cm - b.y_cm) > spec.length_cm + spec.width_cm:
        return False
    return any(covers(b, spec, p) for p in outline(a, spec)) or any(covers(a, spec, p) for p in outline(b, spec))


def as_neighbour(car_id: str, car: SimCar, age_s: float) -> NearbyCar:
    """What the server relays: the car's pose and world velocity, and how old they are."""
    st_ = car.read()
    h = math.radians(st_.heading_deg + st_.slip_deg)
    return NearbyCar(car_id=car_id, x_cm=st_.x_cm, y_cm=st_.y_cm, heading_deg=st_.heading_deg,
                     vx_cm_s=st_.speed_cm_s * math.cos(h), vy_cm_s=st_.speed_cm_s * math.sin(h),
                     length_cm=car.spec.length_cm, width_cm=car.spec.width_cm, age_s=age_s)


segment = st.tuples(st.one_of(st.sampled_from([1.0, -1.0, 0.6]), st.floats(-1, 1)),
                    st.one_of(st.sampled_from([1.0, -1.0, 0.0]), st.floats(-1, 1)), st.floats(0.3, 1.5))
plan = st.lists(segment, min_size=2, max_size=5)


@pytest.mark.parametrize("level_pct", [30, 70, 100])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(gap=st.floats(60, 350), offset=st.floats(-40, 40), h1=st.floats(-30, 30), h2=st.floats(-30, 30),
       plan1=plan, plan2=plan, period=st.sampled_from([0.05, 0.1]), delay=st.floats(0.0, 0.08),
       outage=st.one_of(st.none(), st.tuples(st.sampled_from([0, 1]), st.floats(0, 3), st.floats(0.2, 2.0))))
def test_two_supervised_cars_driven_at_each_other_never_touch(level_pct, gap, offset, h1, h2, plan1, plan2, period,
                                                             delay, outage):
    """Two cars facing each other (roughly), each told where the other is every `period` s with a pose
    `delay` s old; any two programs, at any level's speed; one car may hear nothing for a while (its
    copy goes stale). Their true footprints never touch (brute-force oracle every 5 ms)."""
    spec = CarSpec()
    arena = Arena(width_cm=W, height_cm=H, start={"x_cm": 50, "y_cm": 50, "heading_deg": 0})
    y0 = H / 2
    x1 = W / 2 - gap / 2 - spec.length_cm / 2
    x2 = W / 2 + gap / 2 + spec.length_cm / 2
    cars = [SimCar(arena=arena, pose=Pose(x_cm=x1, y_cm=y0, heading_deg=h1)),
            SimCar(arena=arena, pose=Pose(x_cm=x2, y_cm=y0 + offset, heading_deg=180 + h2))]
    assume(not footprints_touch(cars[0].pose, cars[1].pose, spec))
    sups = [SafetySupervisor(HardLimits(), spec, arena, watchdog=False, tick_s=TICK) for _ in cars]
    for s in sups:
        s.set_session(SessionLimits(max_speed_pct=level_pct))
    wishes = [[(Command(t, st_), secs) for t, st_, secs in p] for p in (plan1, plan2)]
    ends = [sum(secs for _, secs in w) for w in wishes]
    now, next_msg = 0.0, 0.0
    total = max(ends) + 1.5  # then both stop
    in_flight: list[tuple[float, int, NearbyCar]] = []  # (measured at, to car, pose)
    while now < total:
        if now >= next_msg - 1e-9:
            next_msg += period
            for i in (0, 1):
                if outage is not None and outage[0] == i and outage[1] <= now < outage[1] + outage[2]:
                    continue  # car i hears nothing: its copy of the other car goes stale
                in_flight.append((now, i, as_neighbour(f"car-{1 - i}", cars[1 - i], 0.0)))
        for item in [m for m in in_flight if now >= m[0] + delay - 1e-9]:  # arrives `delay` late, that old
            in_flight.remove(item)
            measured, i, pose = item
            sups[i].set_neighbours(Neighbours(cars=[pose.model_copy(update={"age_s": now - measured})]), now)
        for i in (0, 1):
            wish, t = Command(), 0.0
            for cmd, secs in wishes[i]:
                if now < t + secs:
                    wish = cmd
                    break
                t += secs
            out, _ = sups[i].filter(wish, cars[i].read(), now)
            cars[i].apply(out)
        for _ in range(round(TICK / SUBSTEP)):
            for c in cars:
                c.advance(SUBSTEP)
            assert not footprints_touch(cars[0].pose, cars[1].pose, spec), (now, cars[0].pose, cars[1].pose)
        now += TICK


@settings(max_examples=300, deadline=None)
@given(car=nearby, age=st.floats(0, 2), horizon=st.floats(0.2, 1.5), x=st.floats(-800, 800), y=st.floats(-800, 800),
       reach=st.floats(0, 600))
def test_a_neighbour_left_out_as_too_far_is_wholly_beyond_the_reach(car, age, horizon, x, y, reach):
    """Regions farther than the fence looks are skipped: only when every point of the region (the swept
    footprints, the oracle) is farther than the reach."""
    from robot_runtime.neighbours import _far

    if _far(car, age, horizon, x, y, reach):
        assert all(math.hypot(px - x, py - y) > reach for px, py in swept_points(car, age, horizon))
