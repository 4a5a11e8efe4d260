"""The marker plan: which ArUco ids mean what, how big they are and where they sit.

- Four **corner markers** (the arena's ``markers.corners``, ids 0-3 by default, DICT_4X4_50) lie flat on
  the floor just outside the arena, one per corner, the marker's inner corner touching the arena's corner:
  lower left, lower right, upper right, upper left. Which way round each one lies does not matter.
- One **roof marker** per car, ids from ``FIRST_CAR_MARKER_ID`` up (car 1 -> 10, car 2 -> 11, ...),
  flat on the roof at the car's roof height, its top edge towards the car's nose.

Marker corners come in ArUco's order: top-left, top-right, bottom-right, bottom-left of the printed
marker. All geometry here is in centimetres; nothing here touches a camera.
"""

from __future__ import annotations

import functools
from typing import Annotated

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from robot_runtime.arena import Arena
from robot_runtime.protocol import CarId

FIRST_CAR_MARKER_ID = 10  # ids 4-9 stay free for more floor markers later; 10-49 give 40 cars in DICT_4X4_50
# A 1/10 RC car's body stands 12-14 cm tall; a marker taped on its roof sits about here. Measure yours.
ROOF_HEIGHT_CM = 12.0
ROOF_MARKER_CM = 10.0  # fits the 20 cm wide roof of a 1/10 car and is ~25 px across from 2 m at 640x480
CORNER_NAMES = ("lower left", "lower right", "upper right", "upper left")

# Dictionaries a user may choose in an arena file: 4x4 (robust at small sizes) up to 6x6 (more ids).
DICTIONARIES = {name: getattr(cv2.aruco, name) for name in (
    "DICT_4X4_50", "DICT_4X4_100", "DICT_4X4_250", "DICT_5X5_50", "DICT_5X5_100", "DICT_6X6_50", "DICT_6X6_250")}


@functools.cache
def aruco_dictionary(name: str) -> cv2.aruco.Dictionary:
    if name not in DICTIONARIES:
        raise ValueError(f"marker dictionary must be one of {', '.join(DICTIONARIES)} (got {name!r})")
    return cv2.aruco.getPredefinedDictionary(DICTIONARIES[name])


def dictionary_size(name: str) -> int:
    return int(aruco_dictionary(name).bytesList.shape[0])


def marker_cells(dictionary: str, marker_id: int) -> np.ndarray:
    """The marker as a boolean grid, one entry per cell, True = black (the black border included)."""
    d = aruco_dictionary(dictionary)
    if not 0 <= marker_id < dictionary_size(dictionary):
        raise ValueError(f"marker id must be between 0 and {dictionary_size(dictionary) - 1} for {dictionary} (got {marker_id})")
    cells = d.markerSize + 2
    return cv2.aruco.generateImageMarker(d, marker_id, cells, borderBits=1) < 128


def marker_image(dictionary: str, marker_id: int, px_per_cell: int, quiet_cells: int = 1) -> np.ndarray:
    """The marker as a grayscale image with a white quiet zone of `quiet_cells` cells around it."""
    black = marker_cells(dictionary, marker_id)
    img = np.where(black, 0, 255).astype(np.uint8)
    img = np.pad(img, quiet_cells, constant_values=255)
    return cv2.resize(img, None, fx=px_per_cell, fy=px_per_cell, interpolation=cv2.INTER_NEAREST)


def square(centre_x: float, centre_y: float, size: float) -> np.ndarray:
    """A marker lying flat, its top edge towards +y: corners TL, TR, BR, BL as (4, 2)."""
    h = size / 2
    return np.array([[centre_x - h, centre_y + h], [centre_x + h, centre_y + h],
                     [centre_x + h, centre_y - h], [centre_x - h, centre_y - h]], dtype=np.float64)


class RoofMarker(BaseModel):
    """The marker on one car's roof."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    car_id: CarId
    marker_id: Annotated[int, Field(ge=0, le=999)]
    size_cm: Annotated[float, Field(ge=3, le=30)] = ROOF_MARKER_CM
    height_cm: Annotated[float, Field(ge=0, le=100)] = ROOF_HEIGHT_CM
    offset_cm: Annotated[float, Field(ge=-50, le=50)] = 0.0  # marker centre ahead of the car's centre

    def model_points(self) -> np.ndarray:
        """Marker corners in the car's frame (forward, left), centred on the car: (4, 2), ArUco order.

        Seen from above with the marker's top towards the nose, its top-left corner is front-left.
        """
        h = self.size_cm / 2
        f = self.offset_cm
        return np.array([[f + h, h], [f + h, -h], [f - h, -h], [f - h, h]], dtype=np.float64)


def default_roof_markers(car_ids: list[str], **overrides: float) -> list[RoofMarker]:
    """Car n in the list gets id FIRST_CAR_MARKER_ID + n (the order `dojo demo` names them: car-1, car-2...)."""
    return [RoofMarker(car_id=c, marker_id=FIRST_CAR_MARKER_ID + i, **overrides) for i, c in enumerate(car_ids)]


class MarkerPlan:
    """Every marker of one arena: the four corners and the cars' roofs, checked for clashes."""

    def __init__(self, arena: Arena, roofs: list[RoofMarker]) -> None:
        self.arena = arena
        self.dictionary = arena.markers.dictionary
        self.corner_ids: tuple[int, ...] = tuple(arena.markers.corners)
        self.corner_size_cm = arena.markers.size_cm
        self.roofs = {r.car_id: r for r in roofs}
        self.by_marker: dict[int, RoofMarker] = {r.marker_id: r for r in roofs}
        limit = dictionary_size(self.dictionary)
        seen: dict[int, str] = {}
        for i, mid in enumerate(self.corner_ids):
            self._claim(seen, mid, f"the {CORNER_NAMES[i]} corner", limit)
        for r in roofs:
            self._claim(seen, r.marker_id, r.car_id, limit)
        if len(self.roofs) != len(roofs):
            raise ValueError("each car needs exactly one roof marker: a car id is listed twice")

    @staticmethod
    def _claim(seen: dict[int, str], mid: int, owner: str, limit: int) -> None:
        if mid >= limit:
            raise ValueError(f"marker id {mid} ({owner}) is not in the dictionary: ids go from 0 to {limit - 1}")
        if mid in seen:
            raise ValueError(f"marker id {mid} is used twice ({seen[mid]} and {owner}): give each one its own id")
        seen[mid] = owner

    def corner_name(self, marker_id: int) -> str:
        return CORNER_NAMES[self.corner_ids.index(marker_id)]

    def corner_squares(self, width_cm: float | None = None, height_cm: float | None = None) -> dict[int, np.ndarray]:
        """Each corner marker's (4, 2) floor corners, ArUco order, lying top-towards-+y outside its corner
        (of the plan's arena, or of an arena `width_cm` x `height_cm` while its size is being measured)."""
        s = self.corner_size_cm
        w = self.arena.width_cm if width_cm is None else width_cm
        h = self.arena.height_cm if height_cm is None else height_cm
        centres = [(-s / 2, -s / 2), (w + s / 2, -s / 2), (w + s / 2, h + s / 2), (-s / 2, h + s / 2)]
        return {mid: square(cx, cy, s) for mid, (cx, cy) in zip(self.corner_ids, centres)}

    def corner_centres(self) -> dict[int, np.ndarray]:
        return {mid: sq.mean(axis=0) for mid, sq in self.corner_squares().items()}
