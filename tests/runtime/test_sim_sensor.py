"""The forward distance sensor: a ray from the car's nose along its heading (one row per case)."""

from __future__ import annotations

import math

import pytest

from robot_runtime.arena import Arena, Cone, Wall
from robot_runtime.protocol import Pose
from robot_runtime.sim import SimCar

NOSE = 20.0  # half the car's length: the sensor sits on the nose
W, H = 400.0, 200.0


def _arena(walls=(), cones=()):
    return Arena(width_cm=W, height_cm=H, start=Pose(x_cm=100, y_cm=100, heading_deg=0), walls=list(walls), cones=list(cones))


# (case, walls, cones, pose (x, y, heading), expected distance or None)
TABLE = [
    ("edge straight ahead", [], [], (300, 100, 0), 400 - 300 - NOSE),
    ("edge behind the car does not count", [], [], (150, 100, 180), 150 - NOSE),
    ("edge up", [], [], (100, 100, 90), 200 - 100 - NOSE),
    ("edge on a diagonal", [], [], (100, 100, 45), (200 - 100 - NOSE * math.sin(math.pi / 4)) / math.sin(math.pi / 4)),
    ("nothing within range", [], [], (100, 100, 0), None),
    ("wall face (2 cm thick)", [Wall(x0=250, y0=0, x1=250, y1=200)], [], (100, 100, 0), 250 - 1 - 100 - NOSE),
    ("thick wall face", [Wall(x0=250, y0=0, x1=250, y1=200, thickness_cm=20)], [], (100, 100, 0), 250 - 10 - 100 - NOSE),
    ("wall at an angle", [Wall(x0=200, y0=0, x1=300, y1=200)], [], (100, 100, 0),
     (250 - 1 / math.cos(math.atan2(100, 200))) - 100 - NOSE),
    ("wall's rounded end", [Wall(x0=250, y0=100, x1=250, y1=190, thickness_cm=4)], [], (100, 100, 0), 250 - 2 - 100 - NOSE),
    ("ray passes beside a wall's end", [Wall(x0=250, y0=103, x1=250, y1=190, thickness_cm=4)], [], (200, 100, 0), 400 - 200 - NOSE),
    ("cone dead ahead", [], [Cone(x_cm=200, y_cm=100, radius_cm=4)], (100, 100, 0), 200 - 4 - 100 - NOSE),
    ("cone off centre", [], [Cone(x_cm=200, y_cm=103, radius_cm=5)], (100, 100, 0), 200 - 4 - 100 - NOSE),
    ("cone just missed", [], [Cone(x_cm=200, y_cm=106, radius_cm=5)], (200, 100, 0), 400 - 200 - NOSE),
    ("nearest of cone and wall", [Wall(x0=250, y0=0, x1=250, y1=200)], [Cone(x_cm=180, y_cm=100)], (100, 100, 0), 180 - 4 - 100 - NOSE),
    ("cone behind the nose does not count", [], [Cone(x_cm=95, y_cm=100)], (100, 100, 0), None),
    ("nose touching a wall reads 0", [Wall(x0=120.5, y0=0, x1=120.5, y1=200)], [], (100, 100, 0), 0.0),
    ("exactly at range", [Wall(x0=321, y0=0, x1=321, y1=200)], [], (100, 100, 0), 200.0),
    ("just beyond range", [Wall(x0=321.5, y0=0, x1=321.5, y1=200)], [], (100, 100, 0), None),
]


@pytest.mark.parametrize(("case", "walls", "cones", "pose", "expected"), TABLE, ids=[row[0] for row in TABLE])
def test_distance_sensor_reads_the_nearest_surface_ahead(case, walls, cones, pose, expected):
    car = SimCar(arena=_arena(walls, cones), pose=Pose(x_cm=pose[0], y_cm=pose[1], heading_deg=pose[2]))
    got = car.read().distance_cm
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, abs=1e-6)


def test_sensor_follows_the_car_as_it_drives():
    from robot_runtime.hardware import Command

    car = SimCar(arena=_arena([Wall(x0=300, y0=0, x1=300, y1=200)]), pose=Pose(x_cm=100, y_cm=100, heading_deg=0))
    before = car.read().distance_cm
    car.apply(Command(0.2, 0.0))
    for _ in range(50):
        car.advance(0.02)
    s = car.read()
    assert s.distance_cm == pytest.approx(before - (s.x_cm - 100), abs=1e-6)
