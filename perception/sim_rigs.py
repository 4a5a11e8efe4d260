"""Simulated camera rigs: the two set-ups the accuracy numbers are quoted for, and a parent's board sweep.

- :func:`overhead_rig` — a 640x480 webcam (66 degrees across) straight above the arena, just high
  enough to see all four corner markers (about 1.9 m over a 2 x 1.5 m arena).
- :func:`shelf_rig` — a 1280x720 webcam (70 degrees) on a shelf behind the arena's lower edge, looking
  at its middle about 34 degrees from straight down.

Both lenses have a cheap webcam's barrel distortion. :func:`board_sweep` moves the printed ChArUco board
the way the set-up wizard's lens step asks a parent to (the server's simulated room holds it up during
that step); :func:`measure_lens_with_board` runs the sweep through the lens calibrator.
Tests, benchmarks and the demo use the same rigs, so their numbers talk about the same thing.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from perception.camera import CameraPose, Intrinsics, default_intrinsics, look_at
from perception.lens import DEFAULT_BOARD, LensCalibrator
from perception.markers import MarkerPlan
from perception.sim_camera import Imperfections, Scene, Sheet, SimCamera, held_sheet, overhead_pose

BARREL = [-0.10, 0.02, 0.0, 0.0, 0.0]  # k1, k2 of a typical cheap 60-70 degree webcam lens
BOARD_DISTANCE_CM = (60.0, 80.0)  # how far from the lens a parent holds the board (arm's length)
BOARD_TILT_DEG = 30.0  # tilted up to this much each way: enough angle for the focal length
BOARD_TEXTURE_PX_PER_CM = 20  # finer than any camera sees it at arm's length
SWEEP_TRIES = 40  # pictures the parent is asked for at most


@dataclass(frozen=True)
class Rig:
    name: str
    lens: Intrinsics  # the true lens
    pose: CameraPose

    def camera(self, seed: int = 0, imperfections: Imperfections = Imperfections()) -> SimCamera:
        return SimCamera(self.lens, self.pose, imperfections, seed=seed)


def webcam(width: int, height: int, hfov_deg: float) -> Intrinsics:
    return default_intrinsics(width, height, hfov_deg).model_copy(update={"dist": BARREL, "source": "simulated"})


def overhead_rig(plan: MarkerPlan, size: tuple[int, int] = (640, 480), hfov_deg: float = 66.0) -> Rig:
    lens = webcam(*size, hfov_deg)
    return Rig(f"overhead {size[0]}x{size[1]}", lens, overhead_pose(plan, lens, tilt_deg=0.0))


def shelf_rig(plan: MarkerPlan, size: tuple[int, int] = (1280, 720), hfov_deg: float = 70.0) -> Rig:
    w, h = plan.arena.width_cm, plan.arena.height_cm
    eye = (w / 2, -0.4 * h, 4 / 3 * h)  # for a 2 x 1.5 m arena: 60 cm behind the lower edge, 2 m up
    return Rig(f"shelf {size[0]}x{size[1]}", webcam(*size, hfov_deg), look_at(eye, (w / 2, h / 2, 0.0)))


def board_sweep(lens: Intrinsics, pose: CameraPose, seed: int = 11) -> Iterator[Sheet]:
    """The board as a parent holds it for the lens step, one position per picture, endlessly: at arm's
    length, moved region by region over the picture, tilted a different way each time."""
    texture = DEFAULT_BOARD.image(px_per_cm=BOARD_TEXTURE_PX_PER_CM)
    w, h = lens.size
    R, centre = pose.R, pose.position_cm
    rng = np.random.default_rng(seed)
    regions = [(c, r) for r in (1 / 6, 3 / 6, 5 / 6) for c in (1 / 6, 3 / 6, 5 / 6)]
    for k in itertools.count():
        c, r = regions[k % len(regions)]
        u, v = (np.array([c, r]) + rng.uniform(-0.06, 0.06, 2)) * (w, h)
        ray = R.T @ np.array([(u - w / 2) / lens.fx, (v - h / 2) / lens.fy, 1.0])
        at = centre + ray / np.linalg.norm(ray) * rng.uniform(*BOARD_DISTANCE_CM)
        tilt = rng.uniform(-BOARD_TILT_DEG, BOARD_TILT_DEG, 2)
        yield held_sheet(texture, DEFAULT_BOARD.width_cm, DEFAULT_BOARD.height_cm, tuple(at), tilt[0], tilt[1],
                         rng.uniform(-180, 180))


def measure_lens_with_board(rig: Rig, plan: MarkerPlan, seed: int = 11) -> Intrinsics:
    """The lens as a parent measures it: the board at arm's length, moved region by region over the
    picture (the calibrator says which regions are missing), tilted a different way each time."""
    camera = rig.camera(seed=seed)
    calibrator = LensCalibrator()
    for _, sheet in zip(range(SWEEP_TRIES), board_sweep(rig.lens, rig.pose, seed)):
        calibrator.add(camera.render(Scene(plan, sheets=(sheet,))).image)
        if calibrator.ready and calibrator.views >= 12:
            break
    lens, _ = calibrator.solve()
    return lens
