"""Arena files with a camera section: saved and loaded whole, read by lessons' arena model, bad ones named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from perception.arena_file import ArenaFile, ArenaFileError, CameraSection, load_arena_file, save_arena_file, split_camera_section
from perception.markers import default_roof_markers
from perception.sim_camera import Scene
from perception.tracker import Tracker
from perception_helpers import ARENA, CARS, OVERHEAD, PLAN
from robot_runtime.arena import Arena

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def calibrated() -> ArenaFile:
    calibration = Tracker(PLAN).calibrate(OVERHEAD.camera().render(Scene(PLAN)).image)
    return ArenaFile(ARENA, CameraSection(source="usb:0", roof_markers=default_roof_markers(CARS), calibration=calibration))


def test_a_calibrated_arena_saves_and_loads_back_the_same(tmp_path, calibrated):
    path = save_arena_file(tmp_path / "home.yaml", calibrated)
    loaded = load_arena_file(path)
    assert loaded == calibrated
    assert not list(tmp_path.glob(".*.tmp"))  # written through a temporary file, renamed into place
    # the saved calibration tracks as well as the live one
    sim = OVERHEAD.camera().render(Scene(PLAN, cars={"car-2": ARENA.start}))
    fix = Tracker(loaded.plan(), calibration=loaded.camera.calibration).process(sim.image, 0.0).cars["car-2"].fix
    assert abs(fix.x_cm - ARENA.start.x_cm) < 1 and abs(fix.y_cm - ARENA.start.y_cm) < 1


def test_the_arena_part_is_a_plain_arena_that_lessons_read(tmp_path, calibrated):
    data = yaml.safe_load(calibrated.to_yaml())
    arena_part, camera_part = split_camera_section(data)
    assert Arena.model_validate(arena_part) == ARENA
    assert camera_part["source"] == "usb:0" and len(camera_part["roof_markers"]) == len(CARS)


def test_every_lesson_arena_gets_a_camera_section_and_loads_back(tmp_path):
    for lesson in sorted((REPO / "lessons").glob("level-*/*.yaml")):
        arena = Arena.model_validate(yaml.safe_load(lesson.read_text())["arena"])
        path = save_arena_file(tmp_path / lesson.name, ArenaFile(arena, CameraSection(roof_markers=default_roof_markers(["car-1"]))))
        assert load_arena_file(path).arena == arena, lesson.name


def test_a_file_without_a_camera_section_loads_with_an_empty_one(tmp_path):
    path = tmp_path / "plain.yaml"
    path.write_text("name: plain\nwidth_cm: 250\nheight_cm: 180\n")
    loaded = load_arena_file(path)
    assert loaded.arena.width_cm == 250 and loaded.camera == CameraSection()


@pytest.mark.parametrize("text, expected", [
    ("width_cm: 5\n", "width_cm"),
    ("camera: [1, 2]\n", "camera must be a mapping"),
    ("camera:\n  lens: wide\n", "camera:\n  lens: Extra inputs are not permitted"),
    ("camera:\n  roof_markers:\n    - {car_id: car-1, marker_id: 2}\n", "marker id 2 is used twice (the upper right corner and car-1)"),
    ("camera:\n  roof_markers:\n    - {car_id: car-1, marker_id: 77}\n", "marker id 77 (car-1) is not in the dictionary"),
    ("camera:\n  roof_markers:\n    - {car_id: Car One, marker_id: 10}\n", "roof_markers.0.car_id"),
    ("camera:\n  roof_markers:\n    - {car_id: car-1, marker_id: 10, size_cm: 50}\n", "size_cm"),
    ("[not, a, mapping]\n", "must be a mapping of fields"),
    ("width_cm: [\n", "is not valid YAML"),
])
def test_bad_arena_files_name_the_file_the_field_and_the_fix(tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ArenaFileError) as err:
        load_arena_file(path)
    assert str(path) in str(err.value) and expected in str(err.value)


def test_a_calibration_for_another_arena_size_is_refused_with_the_fix(tmp_path, calibrated):
    data = calibrated.to_dict()
    data["width_cm"] = 260
    path = tmp_path / "resized.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ArenaFileError, match="made for a 200 x 150 cm arena, but the arena is 260 x 150 cm: calibrate"):
        load_arena_file(path)
    with pytest.raises(ArenaFileError, match="does not exist"):
        load_arena_file(tmp_path / "nowhere.yaml")
