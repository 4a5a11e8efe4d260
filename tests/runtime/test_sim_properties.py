"""Property tests of the simulator: for any commands, the car stays out of walls, cones and the edge."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from robot_runtime.arena import Arena, Cone, Wall
from robot_runtime.hardware import CarSpec, Command
from robot_runtime.protocol import Pose
from robot_runtime.sim import SimCar

SPEC = CarSpec()
PEN_TOLERANCE_CM = 3.0  # the footprint may overlap an obstacle by at most one substep's travel before it is pushed out
ARENA = Arena(
    width_cm=400, height_cm=300, start=Pose(x_cm=200, y_cm=150, heading_deg=0),
    # two walls from edge to edge (a thin one and a slanted one): the car is shut in between them
    walls=[Wall(x0=100, y0=0, x1=100, y1=300, thickness_cm=1.0), Wall(x0=300, y0=0, x1=260, y1=300, thickness_cm=3.0)],
    cones=[Cone(x_cm=200, y_cm=60, radius_cm=3.0), Cone(x_cm=200, y_cm=240, radius_cm=6.0)],
)
commands = st.lists(
    st.tuples(st.floats(-1.5, 1.5, allow_nan=False), st.floats(-1.5, 1.5, allow_nan=False), st.integers(1, 40)),
    min_size=1, max_size=12,
)


def _footprint(x: float, y: float, heading_deg: float) -> list[tuple[float, float]]:
    h = math.radians(heading_deg)
    c, s = math.cos(h), math.sin(h)
    hl, hw = SPEC.length_cm / 2, SPEC.width_cm / 2
    pts = []
    for i in range(-4, 5):  # points along every side, not just the corners
        for sx, sy in ((i / 4, 1), (i / 4, -1), (1, i / 4), (-1, i / 4)):
            pts.append((x + sx * hl * c - sy * hw * s, y + sx * hl * s + sy * hw * c))
    return pts


def _penetration(x: float, y: float, heading_deg: float) -> float:
    worst = 0.0
    for px, py in _footprint(x, y, heading_deg):
        worst = max(worst, -px, -py, px - ARENA.width_cm, py - ARENA.height_cm)
        for w in ARENA.walls:
            dx, dy = w.x1 - w.x0, w.y1 - w.y0
            t = max(0.0, min(1.0, ((px - w.x0) * dx + (py - w.y0) * dy) / (dx * dx + dy * dy)))
            worst = max(worst, w.thickness_cm / 2 - math.hypot(px - w.x0 - t * dx, py - w.y0 - t * dy))
        for cone in ARENA.cones:
            worst = max(worst, cone.radius_cm - math.hypot(px - cone.x_cm, py - cone.y_cm))
    return worst


@settings(max_examples=40, deadline=None)
@given(commands, st.floats(-180, 180, allow_nan=False))
def test_for_any_commands_the_car_never_passes_into_walls_cones_or_the_edge(program, heading):
    car = SimCar(arena=ARENA, pose=Pose(x_cm=200, y_cm=150, heading_deg=heading))
    for throttle, steering, ticks in program:
        sent = car.apply(Command(throttle, steering))
        assert abs(sent.throttle) <= 1.0 and abs(sent.steering) <= 1.0
        for _ in range(ticks):
            car.advance(0.02)
            s = car.read()
            assert _penetration(s.x_cm, s.y_cm, s.heading_deg) < PEN_TOLERANCE_CM
            # the car never gets through a wall: it stays between the two
            assert 100 < s.x_cm < 300 - s.y_cm * 40 / 300


@settings(max_examples=25, deadline=None)
@given(commands)
def test_any_command_sequence_replays_identically(program):
    runs = []
    for _ in range(2):
        car = SimCar(arena=ARENA)
        out = []
        for throttle, steering, ticks in program:
            car.apply(Command(throttle, steering))
            for _ in range(ticks):
                car.advance(0.02)
                out.append(car.read())
        runs.append(out)
    assert runs[0] == runs[1]
