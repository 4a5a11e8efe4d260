"""The arena as data: size, walls, cones, zones, start pose, ArUco marker ids.

One format for the simulator, the server's arena view, lessons and the setup wizard. Coordinates are
centimetres from the arena's lower-left corner; heading in degrees, 0 along +x, counter-clockwise.
The arena's edge always counts as a wall.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from robot_runtime.protocol import Pose, Zone

Cm = Annotated[float, Field(allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Wall(_Strict):
    """A wall segment from (x0, y0) to (x1, y1)."""

    x0: Cm
    y0: Cm
    x1: Cm
    y1: Cm
    thickness_cm: Annotated[float, Field(gt=0, le=50)] = 2.0


class Cone(_Strict):
    x_cm: Cm
    y_cm: Cm
    radius_cm: Annotated[float, Field(gt=0, le=30)] = 4.0


class NamedZone(_Strict):
    """A rectangle with a meaning: a target to reach, a place to stay out of, a parking box."""

    name: Annotated[str, Field(min_length=1, max_length=40)]
    kind: Literal["target", "forbidden", "parking", "start"] = "target"
    x0: Cm
    y0: Cm
    x1: Cm
    y1: Cm
    heading_deg: float | None = None  # for parking boxes: the axis the car should line up with
    min_level: Annotated[int, Field(ge=1, le=4)] | None = None  # below this level the zone is closed to the kid

    @model_validator(mode="after")
    def _ordered(self) -> "NamedZone":
        if not (self.x0 < self.x1 and self.y0 < self.y1):
            raise ValueError(f"zone '{self.name}' needs x0 < x1 and y0 < y1 (got {self.x0},{self.y0} .. {self.x1},{self.y1})")
        return self

    @property
    def rect(self) -> Zone:
        return Zone(x0=self.x0, y0=self.y0, x1=self.x1, y1=self.y1)

    def contains(self, x: float, y: float) -> bool:
        return self.x0 <= x <= self.x1 and self.y0 <= y <= self.y1


class Markers(_Strict):
    """ArUco ids (DICT_4X4_50): one per arena corner (lower-left, lower-right, upper-right, upper-left)."""

    dictionary: str = "DICT_4X4_50"
    corners: Annotated[list[int], Field(min_length=4, max_length=4)] = [0, 1, 2, 3]
    size_cm: Annotated[float, Field(gt=0)] = 10.0


class Arena(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=60)] = "open floor"
    width_cm: Annotated[float, Field(gt=20, le=5000)] = 300.0
    height_cm: Annotated[float, Field(gt=20, le=5000)] = 200.0
    start: Pose = Pose(x_cm=50.0, y_cm=100.0, heading_deg=0.0)
    walls: list[Wall] = []
    cones: list[Cone] = []
    zones: list[NamedZone] = []
    markers: Markers = Markers()

    @model_validator(mode="after")
    def _start_inside(self) -> "Arena":
        s = self.start
        if not (0 < s.x_cm < self.width_cm and 0 < s.y_cm < self.height_cm):
            raise ValueError(
                f"start pose ({s.x_cm}, {s.y_cm}) must be inside the arena (0..{self.width_cm}, 0..{self.height_cm})"
            )
        return self

    @property
    def bounds(self) -> Zone:
        return Zone(x0=0.0, y0=0.0, x1=self.width_cm, y1=self.height_cm)

    def zone(self, name: str) -> NamedZone:
        for z in self.zones:
            if z.name == name:
                return z
        raise KeyError(f"arena '{self.name}' has no zone '{name}' (it has: {', '.join(z.name for z in self.zones) or 'none'})")


def bounded_by(server: Arena, own: Arena) -> Arena:
    """The server's arena as the car may use it: inside the car's own arena, never wider.

    Both share the lower-left corner as origin, so the edge is the smaller of each side; the car's own
    walls, cones and forbidden zones stay, the server's are added. (A server arena can add walls and
    zones, never remove or widen anything the car was configured with.)"""
    return server.model_copy(update={
        "width_cm": min(server.width_cm, own.width_cm),
        "height_cm": min(server.height_cm, own.height_cm),
        "walls": [*own.walls, *server.walls],
        "cones": [*own.cones, *server.cones],
        "zones": [*server.zones, *(z for z in own.zones if z.kind == "forbidden")],
    })


def load_arena(path: str | Path) -> Arena:
    """Read an arena from a YAML or JSON file (YAML is a superset of JSON)."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if isinstance(data, dict):  # the set-up wizard's arena file adds the camera's own section (perception)
        data = {k: v for k, v in data.items() if k != "camera"}
    return Arena.model_validate(data)


DEFAULT_ARENA = Arena()
