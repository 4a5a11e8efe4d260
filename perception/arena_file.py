"""An arena file with its camera: the arena's own fields plus one ``camera:`` section.

    name: living room                      # robot_runtime.arena.Arena's fields, unchanged
    width_cm: 240
    height_cm: 180
    markers: {dictionary: DICT_4X4_50, corners: [0, 1, 2, 3], size_cm: 10}
    zones: [...]
    camera:                                # this module's section
      source: usb:0                        # how to open the camera again (sources.open_source)
      roof_markers:                        # which car carries which marker, at what height
        - {car_id: car-1, marker_id: 10, size_cm: 10, height_cm: 12}
      calibration: {intrinsics: ..., pose: ..., error_cm: 0.3, ...}   # floor.FloorCalibration

Everything outside ``camera:`` is a plain arena, so lessons and cars read the same file once they skip
that one key (robot_runtime's loader does not know it yet: see split_camera_section). Saving writes
a temporary file and renames it, so a crash never leaves half an arena file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from perception.floor import FloorCalibration
from perception.markers import MarkerPlan, RoofMarker
from robot_runtime.arena import Arena
from robot_runtime.config import format_validation_error, read_config_mapping

CAMERA_KEY = "camera"
SIZE_TOLERANCE_CM = 0.05  # a calibration made for another arena size is stale; rounding in YAML is not


class ArenaFileError(ValueError):
    """An arena file that cannot be used; the message names the file, the field and the fix."""


class CameraSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str | None = None
    roof_markers: list[RoofMarker] = []
    calibration: FloorCalibration | None = None


@dataclass(frozen=True)
class ArenaFile:
    arena: Arena
    camera: CameraSection = field(default_factory=CameraSection)

    def plan(self) -> MarkerPlan:
        return MarkerPlan(self.arena, list(self.camera.roof_markers))

    def to_dict(self) -> dict[str, Any]:
        data = self.arena.model_dump(mode="json")
        data[CAMERA_KEY] = self.camera.model_dump(mode="json", exclude_none=True)
        return data

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)


def split_camera_section(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the arena's own fields, the camera section) of a parsed arena file."""
    arena = {k: v for k, v in data.items() if k != CAMERA_KEY}
    camera = data.get(CAMERA_KEY) or {}
    return arena, camera


def parse_arena_file(data: dict[str, Any], where: str = "arena file") -> ArenaFile:
    """Validate a parsed arena file; ArenaFileError names `where`, the field and the bound."""
    arena_data, camera_data = split_camera_section(data)
    if not isinstance(camera_data, dict):
        raise ArenaFileError(f"{where}: {CAMERA_KEY} must be a mapping of fields (got {type(camera_data).__name__})")
    try:
        arena = Arena.model_validate(arena_data)
    except ValidationError as exc:
        raise ArenaFileError(f"{where}:\n{format_validation_error(exc)}") from None
    try:
        camera = CameraSection.model_validate(camera_data)
    except ValidationError as exc:
        raise ArenaFileError(f"{where}: in {CAMERA_KEY}:\n{format_validation_error(exc)}") from None
    result = ArenaFile(arena, camera)
    try:
        result.plan()
    except ValueError as exc:
        raise ArenaFileError(f"{where}: {exc}") from None
    cal = camera.calibration
    if cal is not None and (abs(cal.arena_width_cm - arena.width_cm) > SIZE_TOLERANCE_CM
                            or abs(cal.arena_height_cm - arena.height_cm) > SIZE_TOLERANCE_CM):
        raise ArenaFileError(
            f"{where}: {CAMERA_KEY}.calibration was made for a {cal.arena_width_cm:g} x {cal.arena_height_cm:g} cm "
            f"arena, but the arena is {arena.width_cm:g} x {arena.height_cm:g} cm: calibrate the floor again "
            f"(or delete {CAMERA_KEY}.calibration)")
    return result


def load_arena_file(path: str | Path) -> ArenaFile:
    p = Path(path)
    return parse_arena_file(read_config_mapping(p, "arena file", ArenaFileError), f"arena file {p}")


def save_arena_file(path: str | Path, arena_file: ArenaFile) -> Path:
    """Write atomically (temporary file + rename); returns the path written."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp")
    tmp.write_text(arena_file.to_yaml(), encoding="utf-8")
    os.replace(tmp, p)
    return p
