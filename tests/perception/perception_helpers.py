"""Shared set-ups for the perception tests: an arena, its markers, two overhead cameras, random car poses.

The two cameras are the ones the accuracy promises are made for:
- OVERHEAD: a 640x480 webcam (66 degrees across) straight above a 2 x 1.5 m arena, about 1.9 m up;
- SHELF: a 1280x720 webcam (70 degrees) on a shelf behind the lower edge, 34 degrees from straight down.
Both lenses have barrel distortion; pictures have blur, noise and uneven light on.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from perception.camera import CameraPose, Intrinsics, default_intrinsics, look_at
from perception.lens import DEFAULT_BOARD, LensCalibrator
from perception.markers import MarkerPlan, default_roof_markers
from perception.sim_camera import Imperfections, Scene, SimCamera, held_sheet, overhead_pose
from robot_runtime.arena import Arena, Cone, NamedZone, Wall
from robot_runtime.hardware import CarSpec
from robot_runtime.protocol import Pose

ARENA = Arena(name="test room", width_cm=200, height_cm=150, start=Pose(x_cm=40, y_cm=40, heading_deg=0),
              cones=[Cone(x_cm=100, y_cm=110)], walls=[Wall(x0=160, y0=20, x1=160, y1=60)],
              zones=[NamedZone(name="garage", kind="parking", x0=10, y0=100, x1=60, y1=140)])
CARS = ["car-1", "car-2", "car-3", "car-4"]
PLAN = MarkerPlan(ARENA, default_roof_markers(CARS))
BARREL = [-0.10, 0.02, 0.0, 0.0, 0.0]  # a typical cheap webcam lens


@dataclass(frozen=True)
class Setup:
    name: str
    lens: Intrinsics  # the true lens
    pose: CameraPose

    def camera(self, seed: int = 0, imperfections: Imperfections = Imperfections()) -> SimCamera:
        return SimCamera(self.lens, self.pose, imperfections, seed=seed)


def _overhead() -> Setup:
    lens = default_intrinsics(640, 480, hfov_deg=66).model_copy(update={"dist": BARREL, "source": "simulated"})
    return Setup("overhead 640x480", lens, overhead_pose(PLAN, lens, tilt_deg=0.0))


def _shelf() -> Setup:
    lens = default_intrinsics(1280, 720, hfov_deg=70).model_copy(update={"dist": BARREL, "source": "simulated"})
    return Setup("shelf 1280x720", lens, look_at((100, -60, 200), (100, 75, 0)))


OVERHEAD, SHELF = _overhead(), _shelf()
SETUPS = [OVERHEAD, SHELF]


def _clear_of_obstacles(x: float, y: float, reach: float, arena: Arena) -> bool:
    for c in arena.cones:
        if math.hypot(x - c.x_cm, y - c.y_cm) < reach + c.radius_cm:
            return False
    for w in arena.walls:
        dx, dy = w.x1 - w.x0, w.y1 - w.y0
        t = max(0.0, min(1.0, ((x - w.x0) * dx + (y - w.y0) * dy) / max(dx * dx + dy * dy, 1e-9)))
        if math.hypot(x - w.x0 - t * dx, y - w.y0 - t * dy) < reach + w.thickness_cm / 2:
            return False
    return True


def random_poses(rng: np.random.Generator, cars: list[str] = CARS, spec: CarSpec = CarSpec(),
                 arena: Arena = ARENA) -> dict[str, Pose]:
    """Cars anywhere a car can stand in the arena, any heading: never overlapping each other, a wall or a
    cone (circles of half a car's length around each centre keep apart)."""
    margin = spec.length_cm / 2
    placed: dict[str, Pose] = {}
    while len(placed) < len(cars):
        x, y = rng.uniform(margin, arena.width_cm - margin), rng.uniform(margin, arena.height_cm - margin)
        if not _clear_of_obstacles(x, y, margin, arena):
            continue
        if all(math.hypot(x - p.x_cm, y - p.y_cm) > spec.length_cm + 2 for p in placed.values()):
            placed[cars[len(placed)]] = Pose(x_cm=float(x), y_cm=float(y), heading_deg=float(rng.uniform(-180, 180)))
    return placed


def angle_error(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


@functools.cache
def charuco_lens(setup_name: str) -> Intrinsics:
    """The lens as a parent would measure it: the printed board held up to the camera at a dozen angles."""
    setup = next(s for s in SETUPS if s.name == setup_name)
    camera = setup.camera(seed=5)
    texture = DEFAULT_BOARD.image(px_per_cm=20)
    w, h = setup.lens.size
    R, centre = setup.pose.R, setup.pose.position_cm
    rng = np.random.default_rng(11)
    calibrator = LensCalibrator()
    # Like a parent following the wizard: the board held 60-80 cm from the lens, swept over the picture
    # (its middle, then each region the calibrator still asks for), tilted a different way each time.
    for k in range(80):
        u, v = (rng.uniform(0.3, 0.7, 2) if k < 3 else rng.uniform(0.12, 0.88, 2)) * (w, h)
        ray = R.T @ np.array([(u - w / 2) / setup.lens.fx, (v - h / 2) / setup.lens.fy, 1.0])
        at = centre + ray / np.linalg.norm(ray) * rng.uniform(60, 80)
        sheet = held_sheet(texture, DEFAULT_BOARD.width_cm, DEFAULT_BOARD.height_cm, tuple(at),
                           rng.uniform(-30, 30), rng.uniform(-30, 30), rng.uniform(-180, 180))
        calibrator.add(camera.render(Scene(PLAN, sheets=(sheet,))).image)
        if calibrator.ready and calibrator.views >= 12:
            break
    lens, _ = calibrator.solve()
    return lens
