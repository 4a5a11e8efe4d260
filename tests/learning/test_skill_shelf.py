"""The car's side of learned skills and of driving by hand, on a real CarRuntime around a SimCar.

- install_skill: a package whose files match their SHA-256 becomes `do skill [NAME]` and is kept on the
  car's disk (a new runtime loads it again); a tampered or corrupt file, a built-in's name or a model
  onnxruntime cannot load is refused whole with a message naming the file and the fix, and the
  previous version keeps running; a file damaged on the car's disk is not loaded at start-up.
- remote: the stick moves the car through the supervisor (level speed), and the car holds still within
  STEER_DEADMAN_S of the last stick (oracle: the applied throttle in the runtime's own telemetry).
"""

from __future__ import annotations

import base64
import hashlib
import shutil

import pytest

from robot_runtime.clock import ManualClock
from robot_runtime.config import CarConfig
from robot_runtime.protocol import SessionLimits
from robot_runtime.runtime import CarRuntime
from robot_runtime.sim import SimCar
from robot_runtime.skill_shelf import SkillShelf
from robot_runtime.skills.registry import skill_names, unregister_skill
from robot_runtime.skills.remote import STEER_DEADMAN_S
from learning.tricks import get_trick


def package_of(vdir, name, version="v001", *, damage: str | None = None) -> dict:
    files, hashes = {}, {}
    for suffix in ("onnx", "yaml"):
        blob = (vdir / f"{name}.{suffix}").read_bytes()
        hashes[f"{name}.{suffix}"] = hashlib.sha256(blob).hexdigest()
        if damage == suffix:
            blob = blob[:-7] + b"XXXXXXX"  # changed on the way, after the server hashed it
        files[f"{name}.{suffix}"] = base64.b64encode(blob).decode()
    return {"name": name, "version": version, "files": files, "sha256": hashes}


@pytest.fixture
def version_dir(taught):
    return taught.lab.store.version_dir(taught.name, taught.version)


@pytest.fixture
def runtime(tmp_path):
    trick = get_trick("park")
    car = SimCar(arena=trick.arena, pose=trick.start_pose(7))
    rt = CarRuntime(CarConfig(car_id="car-shelf", watchdog=False, mode="headless", skills_dir=str(tmp_path / "skills")),
                    car, ManualClock(), arena=trick.arena)
    yield rt
    unregister_skill("mia_park")
    rt.shelf.close()


def test_a_package_that_matches_its_hashes_becomes_a_skill_the_car_runs_and_keeps(runtime, version_dir, tmp_path):
    ack = runtime.handle_install_skill(package_of(version_dir, "mia_park"))
    assert ack == {"ok": True, "error": None}
    assert "mia_park" in skill_names()
    kept = tmp_path / "skills" / "mia_park"
    assert sorted(p.name for p in kept.iterdir()) == ["VERSION", "mia_park.onnx", "mia_park.yaml"]
    assert (kept / "mia_park.onnx").read_bytes() == (version_dir / "mia_park.onnx").read_bytes()
    ack = runtime.handle_skill({"request_id": "r1", "action": {"kind": "skill", "name": "mia_park", "speed_pct": 50},
                                "timeout_s": 30})
    assert ack["ok"], ack
    runtime.loop.run_headless(30.0, until=lambda: bool(runtime.results))
    assert runtime.results[0].status in ("done", "failed") and runtime.results[0].request_id == "r1"
    # a car that starts again finds it on its disk
    unregister_skill("mia_park")
    again = SkillShelf(tmp_path / "skills")
    assert again.load_all() == ["mia_park"] and again.versions == {"mia_park": "v001"}
    assert "mia_park" in skill_names()


@pytest.mark.parametrize("damage", ["onnx", "yaml"])
def test_a_file_changed_on_the_way_is_refused_whole_and_the_previous_version_stays(runtime, version_dir, tmp_path, damage):
    assert runtime.handle_install_skill(package_of(version_dir, "mia_park", "v001"))["ok"]
    before = (tmp_path / "skills" / "mia_park" / "mia_park.onnx").read_bytes()
    ack = runtime.handle_install_skill(package_of(version_dir, "mia_park", "v002", damage=damage))
    assert ack["ok"] is False
    err = ack["error"]
    assert err["rule"] == "skill_file_tampered" and err["value"] == f"mia_park.{damage}"
    assert f"mia_park v002: mia_park.{damage} does not match its SHA-256" in err["message"]
    assert "nothing was installed and the previous version stays" in err["message"]
    assert "send the skill again" in err["fix"]
    assert (tmp_path / "skills" / "mia_park" / "VERSION").read_text() == "v001"
    assert (tmp_path / "skills" / "mia_park" / "mia_park.onnx").read_bytes() == before
    assert runtime.shelf.versions["mia_park"] == "v001"


def test_a_model_onnxruntime_cannot_load_is_refused_even_with_matching_hashes(runtime, version_dir, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(version_dir, bad)
    (bad / "mia_park.onnx").write_bytes(b"not an onnx model at all")
    text = (bad / "mia_park.yaml").read_text()
    import re
    (bad / "mia_park.yaml").write_text(re.sub(r"model_sha256: \S+", "model_sha256: "
                                              + hashlib.sha256(b"not an onnx model at all").hexdigest(), text))
    ack = runtime.handle_install_skill(package_of(bad, "mia_park"))
    assert ack["ok"] is False and ack["error"]["rule"] == "skill_model_refused"
    assert "onnxruntime cannot load" in ack["error"]["message"] and "nothing was installed" in ack["error"]["message"]
    assert "mia_park" not in skill_names()
    assert not (tmp_path / "skills" / "mia_park").exists()


def test_a_builtin_name_is_refused_before_anything_is_written(runtime, version_dir, tmp_path):
    pkg = package_of(version_dir, "mia_park")
    pkg = {**pkg, "name": "slalom", "files": {k.replace("mia_park", "slalom"): v for k, v in pkg["files"].items()},
           "sha256": {k.replace("mia_park", "slalom"): v for k, v in pkg["sha256"].items()}}
    ack = runtime.handle_install_skill(pkg)
    assert ack["ok"] is False and ack["error"]["rule"] == "skill_name_reserved"
    assert "cannot take its name or its permission" in ack["error"]["message"]
    assert not (tmp_path / "skills").exists() or not any((tmp_path / "skills").iterdir())


def test_a_malformed_package_names_the_field(runtime):
    ack = runtime.handle_install_skill({"name": "mia_park", "version": "v001", "files": {"evil.sh": "x"}, "sha256": {}})
    assert ack["ok"] is False and ack["error"]["rule"].startswith("install_skill.")
    assert "files" in ack["error"]["message"]


def test_a_file_damaged_on_the_cars_disk_is_not_loaded_at_start_up(runtime, version_dir, tmp_path):
    assert runtime.handle_install_skill(package_of(version_dir, "mia_park"))["ok"]
    unregister_skill("mia_park")
    onnx = tmp_path / "skills" / "mia_park" / "mia_park.onnx"
    onnx.write_bytes(onnx.read_bytes()[:-3] + b"\x00\x00\x00")
    shelf = SkillShelf(tmp_path / "skills")
    assert shelf.load_all() == []
    assert "changed or damaged" in shelf.errors["mia_park"] and "refusing to run it" in shelf.errors["mia_park"]
    assert "mia_park" not in skill_names()


# --- driving by hand ------------------------------------------------------------------------------


def test_the_stick_drives_at_the_levels_speed_and_the_car_holds_still_when_it_stops_coming(tmp_path):
    trick = get_trick("park")
    car = SimCar(arena=trick.arena, pose=trick.start_pose(3))
    rt = CarRuntime(CarConfig(car_id="car-hand", watchdog=False, mode="headless"), car, ManualClock(), arena=trick.arena)
    applied: list[tuple[float, float]] = []
    rt.telemetry_sinks.append(lambda t: applied.append((t.t, t.throttle)))
    assert rt.handle_limits(SessionLimits(max_speed_pct=40, level=1).model_dump(mode="json"))["ok"]
    ack = rt.handle_skill({"request_id": "hand-1", "action": {"kind": "remote", "speed_pct": 100}, "timeout_s": 120})
    assert ack["ok"], ack
    assert rt.handle_steer({"request_id": "other", "throttle": 1})["error"]["rule"] == "not_driving"
    for _ in range(20):  # full stick for 1 s, sent at 20 Hz
        assert rt.handle_steer({"request_id": "hand-1", "throttle": 1.0, "steering": 0.0})["ok"]
        rt.loop.run_headless(0.05)
    held = [th for _, th in applied[-5:]]
    assert held and max(held) <= 0.40 + 1e-9 and min(held) > 0.2  # the level's 40 %, never more
    last_stick = rt.clock.now()
    rt.loop.run_headless(STEER_DEADMAN_S + 0.2)
    after = [th for t, th in applied if t >= last_stick + STEER_DEADMAN_S + 0.1]
    assert after and all(th == 0.0 for th in after)
    assert rt.executor.running is not None  # held still, not ended: the kid may take the stick again
    assert rt.handle_steer({"request_id": "hand-1", "throttle": 2.0})["error"]["rule"].startswith("steer.")
