"""The policy runner: a small torch MLP exported to ONNX (in a tmp dir), run by onnxruntime as a named
skill in the simulator, always behind the safety supervisor."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from car_helpers import make_runtime, request, run_with_heartbeats

from robot_runtime.arena import Arena
from robot_runtime.hardware import CarSpec, CarState
from robot_runtime.policy import PolicyError, PolicySkill, load_policy, register_policy
from robot_runtime.skills.base import SkillContext
from robot_runtime.skills.registry import build_named, skill_names, unregister_skill

# The legacy TorchScript exporter (dynamo=False, see notes/python-stack.md) warns that it is legacy.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

OBS = [
    {"field": "speed_cm_s", "scale": 300},
    {"field": "distance_cm", "scale": 200, "missing": 200},
    {"field": "heading_sin"},
    {"field": "heading_cos"},
    {"field": "yaw_rate_dps", "scale": 180},
    {"field": "elapsed_s", "scale": 5},
]


def export_mlp(path, *, bias_throttle: float | None = None, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(len(OBS), 16), torch.nn.Tanh(), torch.nn.Linear(16, 2), torch.nn.Tanh())
    if bias_throttle is not None:  # a policy that always floors it
        with torch.no_grad():
            net[2].weight.zero_()
            net[2].bias.copy_(torch.tensor([bias_throttle, 0.0]))
    net.eval()
    torch.onnx.export(net, (torch.zeros(1, len(OBS)),), str(path), input_names=["obs"], output_names=["action"],
                      dynamic_axes={"obs": {0: "batch"}}, dynamo=False, external_data=False)
    return net


def write_manifest(dir_, name: str, **extra) -> "Path":
    manifest = {"name": name, "model": f"{name}.onnx", "observation": OBS, "time_limit_s": 10,
                "termination": {"duration_s": 2.0}, **extra}
    path = dir_ / f"{name}.json"
    path.write_text(json.dumps(manifest))
    return path


@pytest.fixture
def policy_dir(tmp_path):
    yield tmp_path
    for name in ("cruise", "floor_it"):
        unregister_skill(name)


def test_onnx_policy_outputs_match_torch_within_1e_5(policy_dir):
    net = export_mlp(policy_dir / "cruise.onnx", seed=3)
    policy = load_policy(write_manifest(policy_dir, "cruise"))
    skill = PolicySkill(SkillContext(spec=None, arena=None, speed_pct=100), policy)
    rng = np.random.default_rng(0)
    for _ in range(50):
        obs = rng.normal(size=(1, len(OBS))).astype(np.float32)
        ours = policy.infer(obs)
        with torch.no_grad():
            ref = net(torch.from_numpy(obs)).numpy().reshape(-1)
        np.testing.assert_allclose(ours, ref, atol=1e-5)
        cmd = skill.command_from(ours)
        assert (cmd.throttle, cmd.steering) == pytest.approx((ref[0], ref[1]), abs=1e-5)


def test_observation_is_normalised_as_the_manifest_declares(policy_dir):
    export_mlp(policy_dir / "cruise.onnx")
    policy = load_policy(write_manifest(policy_dir, "cruise"))
    skill = PolicySkill(SkillContext(spec=None, arena=None, speed_pct=50), policy)
    state = CarState(t=0, x_cm=0, y_cm=0, heading_deg=90, speed_cm_s=150, yaw_rate_dps=-90, distance_cm=None)
    skill.start(state)
    obs = skill.observe(state)[0]
    assert obs == pytest.approx([0.5, 1.0, 1.0, 0.0, -0.5, 0.0], abs=1e-6)


def test_policy_runs_as_a_named_skill_in_the_simulator_and_the_session_is_made_once(policy_dir):
    export_mlp(policy_dir / "cruise.onnx", bias_throttle=0.0)
    policy = register_policy(write_manifest(policy_dir, "cruise", action={"scale_by_speed": True}))
    assert "cruise" in skill_names()
    ctx = SkillContext(spec=None, arena=None, speed_pct=40)
    assert build_named("cruise", ctx).policy.session is build_named("cruise", ctx).policy.session is policy.session
    rt, car, clock = make_runtime()
    assert rt.handle_skill(request("p1", kind="skill", name="cruise", speed_pct=40))["ok"]
    rt.loop.run_headless(5.0, until=lambda: bool(rt.results))
    (result,) = rt.results
    assert result.status == "done" and result.duration_s == pytest.approx(2.0, abs=0.1)


def test_full_throttle_policy_is_still_capped_by_the_supervisor(policy_dir):
    export_mlp(policy_dir / "floor_it.onnx", bias_throttle=5.0)  # tanh(5) ~ 1: full throttle, always
    register_policy(write_manifest(policy_dir, "floor_it", action={"scale_by_speed": False},
                                   termination={"duration_s": 3.0}))
    rt, car, clock = make_runtime()
    assert rt.handle_limits({"max_speed_pct": 30, "level": 1})["ok"]
    events = []
    rt.telemetry_sinks.append(lambda tm: events.extend(tm.safety_events))
    assert rt.handle_skill(request("p2", kind="skill", name="floor_it"))["ok"]
    rt.loop.run_headless(5.0, until=lambda: bool(rt.results))
    sent = [cmd.throttle for _, cmd in car.history]
    assert max(sent) == pytest.approx(0.3) and max(sent) <= 0.3 + 1e-12  # the policy asked for ~1.0
    assert "I slowed down: Level 1 cars go up to 30%" in {e.kid_text for e in events}
    assert rt.results[0].status == "done"


def test_policy_driving_at_a_wall_is_stopped_by_the_fence(policy_dir):
    from robot_runtime.arena import Arena, Wall

    export_mlp(policy_dir / "floor_it.onnx", bias_throttle=5.0)
    register_policy(write_manifest(policy_dir, "floor_it", action={"scale_by_speed": False},
                                   termination={"duration_s": 4.0}))
    arena = Arena(width_cm=800, height_cm=300, start={"x_cm": 60, "y_cm": 150, "heading_deg": 0},
                  walls=[Wall(x0=400, y0=0, x1=400, y1=300)])
    rt, car, clock = make_runtime(arena=arena)
    rt.handle_skill(request("p3", kind="skill", name="floor_it"))
    rt.loop.run_headless(6.0, until=lambda: bool(rt.results))
    assert car.collision_log == []
    assert car.pose.x_cm + car.spec.length_cm / 2 < 399


def test_manifest_that_disagrees_with_the_model_is_refused_with_the_field_and_the_fix(policy_dir):
    export_mlp(policy_dir / "cruise.onnx")
    path = policy_dir / "cruise.json"
    path.write_text(json.dumps({"name": "cruise", "model": "cruise.onnx", "observation": OBS[:3],
                                "termination": {"duration_s": 1}}))
    with pytest.raises(PolicyError, match="takes 6 inputs but the manifest declares 3"):
        load_policy(path)
    path.write_text(json.dumps({"name": "Cruise!", "model": "cruise.onnx", "observation": OBS,
                                "termination": {"duration_s": 1}}))
    with pytest.raises(PolicyError, match=r"cruise.json: name: String should match pattern"):
        load_policy(path)
    path.write_text(json.dumps({"name": "cruise", "model": "missing.onnx", "observation": OBS,
                                "termination": {"duration_s": 1}}))
    with pytest.raises(PolicyError, match="missing.onnx does not exist"):
        load_policy(path)


@pytest.mark.parametrize("name", ["slalom", "parallel_park", "drift", "drive", "stop"])
def test_a_policy_cannot_take_a_built_in_skills_name_or_its_level_permission(policy_dir, name):
    export_mlp(policy_dir / f"{name}.onnx")
    with pytest.raises(PolicyError, match=rf"'{name}' is a built-in skill or move.*rename it"):
        register_policy(write_manifest(policy_dir, name))
    from robot_runtime.skills.registry import BUILTIN_NAMED

    if name in BUILTIN_NAMED:  # the built-in is still the one a level's permission means
        assert build_named(name, SkillContext(spec=CarSpec(), arena=Arena(), speed_pct=50)).__class__ is BUILTIN_NAMED[name]


def test_a_model_that_misses_its_deadline_three_times_ends_the_move_and_the_car_stops(policy_dir):
    export_mlp(policy_dir / "cruise.onnx", bias_throttle=0.9)
    policy = register_policy(write_manifest(policy_dir, "cruise"))
    rt, car, clock = make_runtime(watchdog=True)  # a real-time car: deadlines are wall-clock there
    assert rt.handle_skill(request("p1", kind="skill", name="cruise", speed_pct=80))["ok"]
    run_with_heartbeats(rt, 0.6)
    assert car.command.throttle > 0.3  # a prompt model drives
    policy.deadline_s = 0.0  # from now on no answer is ever in time (the model "got slow")
    ticks = rt.loop.ticks
    while not rt.results and rt.loop.ticks - ticks < 50:
        rt.handle_heartbeat({"seq": 0})
        rt.loop.run_headless(rt.loop.period)
    result = rt.results[0]
    assert (result.status, result.reason) == ("failed", "policy_too_slow")
    assert "thinking too slowly" in result.kid_text
    assert rt.loop.ticks - ticks <= 4  # three late answers, then it ended (no waiting on the model)
