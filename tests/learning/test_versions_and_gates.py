"""Skill versions on disk and on the car: tampered or corrupt model files are refused with a clear
message; promotion rules on hand-made reports; the machine's training gates; the CLI."""

from __future__ import annotations

import re
import shutil

import pytest
import yaml

from learning.cli import main as skills_cli
from learning.evaluate import EvalReport
from learning.export import sha256_of
from learning.gates import MachineGates, TrainingRefused
from learning.promotion import decide
from learning.service import SkillLab
from learning.store import SkillStoreError, TamperedModel
from learning.train import Budget, train_bc
from robot_runtime.policy import PolicyError, load_policy

TINY = Budget(max_steps=40, eval_every=20)


@pytest.fixture
def copy_of_version(taught, tmp_path):
    """The taught skill's v001 files, copied (tests damage the copy, never the shared skill)."""
    src = taught.lab.store.version_dir(taught.name, taught.version)
    dst = tmp_path / "v"
    shutil.copytree(src, dst)
    return dst / f"{taught.name}.yaml", dst / f"{taught.name}.onnx"


def test_car_refuses_a_tampered_model_naming_the_file_and_the_fix(copy_of_version):
    manifest, model = copy_of_version
    load_policy(manifest)  # intact: loads
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit in the weights
    model.write_bytes(bytes(data))
    with pytest.raises(PolicyError, match=r"mia_park: model file .*mia_park.onnx was changed or damaged .* copy the skill"):
        load_policy(manifest)


def test_car_refuses_a_corrupt_model_even_when_its_hash_was_updated(copy_of_version):
    manifest, model = copy_of_version
    model.write_bytes(b"this is not an onnx model")
    m = yaml.safe_load(manifest.read_text())
    m["model_sha256"] = sha256_of(model)
    manifest.write_text(yaml.safe_dump(m))
    with pytest.raises(PolicyError, match="onnxruntime cannot load"):
        load_policy(manifest)


def test_store_refuses_to_evaluate_or_deploy_a_damaged_version(tmp_path):
    lab = SkillLab(tmp_path)
    ds = lab.record_demos("around_cone", episodes=3)
    v = lab.train("leo_cone", "around_cone", ds, budget=TINY)
    model = lab.store.version_dir("leo_cone", v.id) / "leo_cone.onnx"
    model.write_bytes(model.read_bytes() + b"\0")
    with pytest.raises(TamperedModel, match=r"leo_cone v001: leo_cone.onnx was changed or damaged"):
        lab.evaluate("leo_cone", v.id)
    lab.store.mark_promoted("leo_cone", v.id)
    with pytest.raises(TamperedModel):
        lab.deployable("leo_cone")


@pytest.mark.parametrize("name, rule", [
    ("slalom", "belongs to a built-in skill"),
    ("stop", "belongs to a built-in skill"),
    ("Mia-Park", "must be lower_snake_case"),
    ("x" * 41, "must be lower_snake_case"),
])
def test_a_learned_skill_never_takes_a_builtin_name_or_a_bad_one(tmp_path, name, rule):
    with pytest.raises(SkillStoreError, match=rule):
        SkillLab(tmp_path).store.create(name, "park")


def report(successes: int, unsafe: set[int] = frozenset(), mean_time: float = 5.0, n: int = 10) -> EvalReport:
    per = [{"seed": s, "collisions": int(s in unsafe), "safety_events": 0} for s in range(n)]
    return EvalReport("park", "policy:x", {"episodes": n, "seed_base": 0, "noise": True}, successes / n, successes, n,
                      len(unsafe), 0, {}, 10.0, mean_time, 1000, 1.0, per)


@pytest.mark.parametrize("candidate, current, promote, words", [
    (report(9), report(8), True, "promoted"),
    (report(8), report(8), False, "is not better"),
    (report(8, mean_time=4.0), report(8, mean_time=5.0), True, "promoted"),  # same success, 20 % faster
    (report(8, mean_time=4.9), report(8, mean_time=5.0), False, "is not better"),  # 2 % is noise
    (report(10, unsafe={3}), report(8), False, "new safety events"),
    (report(10, unsafe={3}), report(8, unsafe={3}), True, "promoted"),  # not new: the current one bumped there too
    (report(7), None, True, "first version"),
    (report(4), None, False, "below the 50%"),
    (report(10, unsafe={1}), None, False, "collision or a safety stop"),
])
def test_promotion_rules(candidate, current, promote, words):
    d = decide(candidate, current)
    assert d.promote is promote and words in d.reason and d.kid_text


def test_reports_from_different_starts_are_not_compared():
    other = report(9)
    other.config = {**other.config, "seed_base": 100}
    with pytest.raises(ValueError, match="different starts"):
        decide(other, report(8))


def fake_sys(root, temp_c=None, battery=None):
    if temp_c is not None:
        zone = root / "class/thermal/thermal_zone0"
        zone.mkdir(parents=True)
        (zone / "temp").write_text(f"{int(temp_c * 1000)}\n")
    if battery is not None:
        bat = root / "class/power_supply/BAT0"
        bat.mkdir(parents=True)
        (bat / "type").write_text("Battery\n")
        (bat / "capacity").write_text(f"{battery[0]}\n")
        (bat / "status").write_text(f"{battery[1]}\n")
    return root


@pytest.mark.parametrize("temp, battery, driving, load, closed", [
    (None, None, False, None, None),  # a machine that reports nothing: open
    (55, (80, "Discharging"), False, None, None),
    (85, None, False, None, "processor is at 85 C (limit 80 C)"),
    (None, (20, "Discharging"), False, None, "battery is at 20% and not charging"),
    (None, (20, "Charging"), False, None, None),  # docked: fine
    (None, None, True, None, "the car is driving"),
    (None, None, False, 0.5, "machine is busy"),
])
def test_training_gates(tmp_path, temp, battery, driving, load, closed):
    gates = MachineGates(sys_root=fake_sys(tmp_path, temp, battery), driving=lambda: driving,
                         max_load_per_cpu=load, loadavg=lambda: (1.8, 1.0, 1.0), cpus=2)
    if closed is None:
        gates.require("train")
    else:
        with pytest.raises(TrainingRefused, match=re.escape(closed)):
            gates.require("train")


def test_trainer_refuses_while_the_car_drives_and_stops_when_it_starts(taught, tmp_path):
    ds = taught.lab.dataset(taught.dataset_id)
    with pytest.raises(TrainingRefused, match="cannot train now: the car is driving"):
        train_bc(ds, TINY, gates=MachineGates(sys_root=tmp_path, driving=lambda: True))
    checks = []

    def starts_driving_later() -> bool:
        checks.append(1)
        return len(checks) > 2  # fine before training and at the first check, driving at the second

    with pytest.raises(TrainingRefused, match="cannot keep training now"):
        train_bc(ds, Budget(max_steps=200, eval_every=20), gates=MachineGates(sys_root=tmp_path, driving=starts_driving_later))
    assert len(checks) == 3


def test_progress_reports_every_check_with_losses(taught):
    seen = []
    result = train_bc(taught.lab.dataset(taught.dataset_id), Budget(max_steps=100, eval_every=25), progress=seen.append)
    assert [p.step for p in seen] == [25, 50, 75, 100] and seen[-1].fraction == 1.0
    assert all(p.train_loss > 0 and p.val_loss is not None for p in seen)
    assert result.stopped_because == "step budget" and len(result.history) == 4


def test_cli_lists_records_trains_shows_and_refuses_a_rollback(tmp_path, capsys):
    d = ["--data-dir", str(tmp_path)]
    assert skills_cli([*d, "list"]) == 0
    assert "park" in capsys.readouterr().out
    assert skills_cli([*d, "record", "park", "--episodes", "3"]) == 0
    assert "dataset park-001" in capsys.readouterr().out
    assert skills_cli([*d, "train", "zoe_park", "--trick", "park", "--dataset", "park-001", "--steps", "40"]) == 0
    assert "zoe_park v001" in capsys.readouterr().out
    assert skills_cli([*d, "show", "zoe_park"]) == 0
    assert '"taught_by"' in capsys.readouterr().out
    assert skills_cli([*d, "rollback", "zoe_park"]) == 2
    assert "cannot roll back: nothing has been promoted yet" in capsys.readouterr().err
    assert skills_cli([*d, "train", "slalom", "--trick", "park", "--dataset", "park-001"]) == 2
    assert "belongs to a built-in skill" in capsys.readouterr().err
