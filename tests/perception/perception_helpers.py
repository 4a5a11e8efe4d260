"""Shared set-ups for the perception tests: an arena with walls, a cone and a zone, four cars, and the two
reference rigs (perception.sim_rigs): OVERHEAD (640x480 straight down) and SHELF (1280x720, 34 degrees).
Pictures have blur, noise and uneven light on; both lenses have barrel distortion."""

from __future__ import annotations

import functools

import numpy as np

from perception.camera import Intrinsics
from perception.markers import MarkerPlan, default_roof_markers
from perception.sim_camera import random_car_poses
from perception.sim_rigs import Rig, measure_lens_with_board, overhead_rig, shelf_rig
from robot_runtime.arena import Arena, Cone, NamedZone, Wall
from robot_runtime.protocol import Pose

ARENA = Arena(name="test room", width_cm=200, height_cm=150, start=Pose(x_cm=40, y_cm=40, heading_deg=0),
              cones=[Cone(x_cm=100, y_cm=110)], walls=[Wall(x0=160, y0=20, x1=160, y1=60)],
              zones=[NamedZone(name="garage", kind="parking", x0=10, y0=100, x1=60, y1=140)])
CARS = ["car-1", "car-2", "car-3", "car-4"]
PLAN = MarkerPlan(ARENA, default_roof_markers(CARS))
OVERHEAD, SHELF = overhead_rig(PLAN), shelf_rig(PLAN)
SETUPS: list[Rig] = [OVERHEAD, SHELF]


def random_poses(rng: np.random.Generator, cars: list[str] = CARS) -> dict[str, Pose]:
    return random_car_poses(PLAN, rng, cars)


def angle_error(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


@functools.cache
def charuco_lens(setup_name: str) -> Intrinsics:
    """The lens as a parent measures it with the printed board (once per rig per test run)."""
    return measure_lens_with_board(next(s for s in SETUPS if s.name == setup_name), PLAN)
