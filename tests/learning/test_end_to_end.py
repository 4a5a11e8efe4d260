"""The whole loop with a small budget: scripted demos -> dataset -> BC -> ONNX -> evaluation -> promotion,
and the promoted policy driving a simulated car through the car's own runtime (executor, policy runner,
safety supervisor). Oracles: the box rectangle and tolerance written here, not the tracker's."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
import yaml

from learning.evaluate import evaluate
from learning.export import sha256_of
from learning.rollout import rollout
from learning.train import Budget
from learning.tricks import get_trick
from robot_runtime.clock import ManualClock
from robot_runtime.config import CarConfig
from robot_runtime.policy import PolicySkill, load_policy, register_policy
from robot_runtime.runtime import CarRuntime
from robot_runtime.sim import SimCar
from robot_runtime.sim.lane import SimLane
from robot_runtime.skills.base import SkillContext
from robot_runtime.skills.registry import unregister_skill
from robot_runtime.task_features import observation_row

BOX = (285.0, 103.0, 355.0, 147.0)  # the garage box (learning/tricks.py), x0 y0 x1 y1
HEADING_TOLERANCE_DEG = 12.0


@pytest.fixture(scope="module")
def promoted(taught):
    rec = taught.lab.store.get(taught.name)
    if rec.current is None:
        decision = taught.lab.promote(taught.name, taught.version)
        assert decision.promote, decision.reason
    return taught


def run_on_car(manifest, pose, name="mia_park"):
    """Register the policy and run `do skill [name]` on a CarRuntime around a SimCar in the garage."""
    trick = get_trick("park")
    register_policy(manifest)
    try:
        car = SimCar(arena=trick.arena, pose=pose, record=True)
        rt = CarRuntime(CarConfig(car_id="car-learn", watchdog=False, mode="headless"), car, ManualClock(), arena=trick.arena)
        ack = rt.handle_skill({"request_id": "r1", "action": {"kind": "skill", "name": name, "speed_pct": 50},
                               "timeout_s": 30})
        assert ack["ok"], ack
        rt.loop.run_headless(30.0, until=lambda: bool(rt.results))
        rt.loop.run_headless(0.5)
        return rt.results[0], car
    finally:
        unregister_skill(name)


def test_ten_demos_train_into_a_promoted_skill_that_parks_a_car_through_the_runtime(promoted):
    lab, name = promoted.lab, promoted.name
    rec = lab.store.get(name)
    assert rec.current == rec.factory == promoted.version and rec.taught_by == "Mia"
    assert rec.version(rec.current).eval["success_rate"] >= 0.8
    manifest = lab.deployable(name)
    pose = get_trick("park").start_pose(seed=424242)
    result, car = run_on_car(manifest, pose)
    assert result.status == "done", result
    assert car.collision_log == []
    x, y, h = car.pose.x_cm, car.pose.y_cm, math.radians(car.pose.heading_deg)
    corners = [(x + a * 20 * math.cos(h) - b * 10 * math.sin(h), y + a * 20 * math.sin(h) + b * 10 * math.cos(h))
               for a in (1, -1) for b in (1, -1)]
    assert all(BOX[0] <= cx <= BOX[2] and BOX[1] <= cy <= BOX[3] for cx, cy in corners), (car.pose, corners)
    assert abs(car.pose.heading_deg) <= HEADING_TOLERANCE_DEG
    assert max(abs(c.throttle) for _, c in car.history) <= 0.5 + 1e-9  # never faster than the request allowed


def test_training_report_shows_budgets_held_out_episodes_and_onnx_matching_torch(taught):
    v = taught.lab.store.get(taught.name).version(taught.version)
    assert v.train["steps"] <= 1500 and v.train["stopped_because"] in ("early stop", "step budget", "time budget")
    assert len(v.train["val_episodes"]) == 2 and not set(v.train["val_episodes"]) & set(v.train["train_episodes"])
    assert v.train["onnx_vs_torch_max_abs"] <= 1e-5
    manifest = yaml.safe_load((taught.lab.store.version_dir(taught.name, taught.version) / "mia_park.yaml").read_text())
    assert manifest["termination"] == {"task": True} and manifest["task"]["goal_zone"] == "box"
    assert len(manifest["model_sha256"]) == 64


def test_the_car_builds_the_same_observation_the_dataset_holds(taught):
    manifest = taught.lab.store.verify(taught.name, taught.version)
    policy = load_policy(manifest)
    trick = get_trick("park")
    lane = SimLane(trick.arena, trick.start_pose(5))
    skill = PolicySkill(SkillContext(spec=lane.spec, arena=trick.arena, speed_pct=50), policy)
    state = lane.read()
    skill.start(state)
    offsets = np.array([o.offset for o in policy.manifest.observation])
    scales = np.array([o.scale for o in policy.manifest.observation])
    for _ in range(60):
        step = skill.step(state, lane.dt)
        raw = observation_row(state, skill.task.features(state), lane.spec.sensor_range_cm)
        np.testing.assert_allclose(skill.observe(state)[0], (np.asarray(raw) - offsets) / scales, rtol=1e-5, atol=1e-5)
        lane.apply(step.command)
        state = lane.read()


def test_batched_evaluation_gives_the_same_episodes_as_one_car_at_a_time(taught):
    manifest = taught.lab.store.verify(taught.name, taught.version)
    trick = get_trick("park")
    one = rollout(trick, range(6), policy=manifest, batch_size=1)
    many = rollout(trick, range(6), policy=manifest)
    assert [e.summary() for e in one] == [e.summary() for e in many]


def test_promotion_refuses_a_worse_candidate_and_keeps_the_current_version(promoted):
    lab, name = promoted.lab, promoted.name
    weak = lab.train(name, "park", promoted.dataset_id, budget=Budget(max_steps=30, eval_every=10))
    decision = lab.promote(name, weak.id)
    assert not decision.promote and decision.reason.startswith("refused")
    assert lab.store.get(name).current == promoted.version


def _floor_it_version(lab, name, base_version):
    """A candidate whose model always asks for full throttle, straight on (same manifest otherwise)."""
    vdir = lab.store.version_dir(name, base_version)
    manifest = yaml.safe_load((vdir / f"{name}.yaml").read_text())
    net = torch.nn.Sequential(torch.nn.Linear(len(manifest["observation"]), 2), torch.nn.Tanh())
    with torch.no_grad():
        net[0].weight.zero_()
        net[0].bias.copy_(torch.tensor([5.0, 0.0]))
    out = vdir.parent.parent / "incoming"
    out.mkdir(exist_ok=True)
    onnx_path = out / f"{name}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter says it is legacy
        torch.onnx.export(net, (torch.zeros(1, len(manifest["observation"])),), str(onnx_path), input_names=["obs"],
                          dynamic_axes={"obs": {0: "batch"}}, dynamo=False, external_data=False)
    manifest["model_sha256"] = sha256_of(onnx_path)
    (out / f"{name}.yaml").write_text(yaml.safe_dump(manifest))
    return lab.store.add_version(name, [onnx_path, out / f"{name}.yaml"], train={"note": "floor it"})


def test_promotion_refuses_a_candidate_with_a_new_safety_event(promoted):
    lab, name = promoted.lab, promoted.name
    reckless = _floor_it_version(lab, name, promoted.version)
    report = evaluate(get_trick("park"), lab.store.verify(name, reckless.id), lab.eval_config)
    assert report.collisions + report.safety_events > 0  # it drives into the garage's back (or is stopped)
    decision = lab.promote(name, reckless.id)
    assert not decision.promote and "new safety events" in decision.reason
    assert lab.store.get(name).current == promoted.version


def test_rollback_restores_the_previous_version_and_the_car_runs_it(promoted):
    lab, name = promoted.lab, promoted.name
    newer = lab.train(name, "park", promoted.dataset_id, budget=Budget(max_steps=1500, seed=7))
    lab.store.mark_promoted(name, newer.id)  # (as if it had won its evaluation)
    assert lab.deployable(name).parent.name == newer.id
    rec = lab.rollback(name)
    assert rec.current == promoted.version and lab.deployable(name).parent.name == promoted.version
    result, _ = run_on_car(lab.deployable(name), get_trick("park").start_pose(seed=77))
    assert result.status == "done"
    with pytest.raises(ValueError, match="v001 is the factory version"):
        lab.rollback(name)
