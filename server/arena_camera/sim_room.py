"""The simulated room: an overhead camera over the server's own arena, with the simulated cars in it.

With no camera at all (`dojo demo`, a laptop rehearsal, the tests) the set-up wizard and the console's
camera view still get real pictures: perception's SimCamera renders the server's arena (its floor,
zones, walls, cones and the four corner markers, as if printed and laid out), and each simulated car
as a box with its roof marker at its true pose (the simulator's own pose, from its telemetry). Car n
(``car-3``) carries roof marker FIRST_CAR_MARKER_ID + n - 1, as the printed sheets number them.

The room's camera is fixed for the server's life (a webcam on a shelf, looking down at a slant), with
a barrel lens, blur, noise and uneven light, so the tracker meets what a real webcam gives it. During
the wizard's lens step the simulated parent holds the printed lens board up (``hold_board``). Only the
simulated camera knows these truths; the tracker learns everything from the pictures.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

from perception.markers import FIRST_CAR_MARKER_ID, MarkerPlan, RoofMarker, dictionary_size
from perception.sim_camera import Imperfections, Scene, Sheet, SimCamera, overhead_pose
from perception.sim_rigs import board_sweep, webcam
from perception.sources import SimulatedSource
from robot_runtime.arena import Arena
from robot_runtime.protocol import Pose

SMALL_ROOM_CM = 260.0  # up to this width a 640x480 webcam shows a 10 cm roof marker >= 20 px; wider: 1280x720
TILT_DEG = 10.0  # a camera on the ceiling or a high shelf, looking down at the arena, a little slanted
MARGIN_PX = 16.0  # the corner markers this far inside the picture's edge
FPS = {(640, 480): 10.0, (1280, 720): 5.0}  # drawn in the server's process: leave the laptop's CPU to the class
HFOV_DEG = 66.0
SIM_SEED = 18

CARN = re.compile(r"^car-(\d+)$")


def roof_marker_for(car_id: str, arena: Arena) -> int | None:
    """The printed sheets' marker of car n (car-1 -> 10, ...); None for a car named otherwise."""
    m = CARN.match(car_id)
    if not m:
        return None
    marker = FIRST_CAR_MARKER_ID + int(m.group(1)) - 1
    if marker in arena.markers.corners or marker >= dictionary_size(arena.markers.dictionary):
        return None
    return marker


class SimRoom:
    """The room and its camera. `poses()` says where the simulated cars truly are (called from the
    camera's thread: it must only read)."""

    def __init__(self, arena: Arena, poses: Callable[[], dict[str, Pose]], roof_height_cm: float = 12.0,
                 imperfections: Imperfections = Imperfections()) -> None:
        self.arena = arena
        self._poses = poses
        self.roof_height_cm = roof_height_cm
        size = (640, 480) if arena.width_cm <= SMALL_ROOM_CM else (1280, 720)
        self.lens = webcam(*size, HFOV_DEG)
        self.pose = overhead_pose(MarkerPlan(arena, []), self.lens, tilt_deg=TILT_DEG, margin_px=MARGIN_PX)
        self.max_fps = FPS[size]
        self.camera = SimCamera(self.lens, self.pose, imperfections, seed=SIM_SEED)
        self.hidden_corners: frozenset[int] = frozenset()  # a corner marker not (yet) laid out
        self._board: Iterator[Sheet] | None = None  # the lens board, held up in a new place every picture

    def hold_board(self, on: bool) -> None:
        """The simulated parent holds the printed lens board up in front of the camera (the lens step), moving
        it over the picture a little every picture (perception.sim_rigs.board_sweep), or puts it away."""
        self._board = board_sweep(self.lens, self.pose) if on else None

    def scene(self) -> Scene:
        cars = {c: p for c, p in self._poses().items() if roof_marker_for(c, self.arena) is not None}
        roofs = [RoofMarker(car_id=c, marker_id=roof_marker_for(c, self.arena), height_cm=self.roof_height_cm)  # type: ignore[arg-type]
                 for c in cars]
        board = self._board
        sheets = (next(board),) if board is not None else ()
        return Scene(MarkerPlan(self.arena, roofs), cars=cars, hidden_corners=self.hidden_corners, sheets=sheets)

    def source(self, clock: Callable[[], float] = time.monotonic) -> SimulatedSource:
        return SimulatedSource(self.camera, self.scene, name="simulated camera", clock=clock)
