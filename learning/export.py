"""A trained policy as the two files the car's policy runner reads: NAME.onnx and NAME.yaml.

    manifest_path = export_policy(result, out_dir, name="mia_park", trick=get_trick("park"))
    check_equivalence(result, manifest_path, samples)      # onnxruntime (the car's runner) == torch

The manifest (robot_runtime/policy.py) declares the observation fields in the dataset's order with
the training normalisation (offset = mean, scale = std), the trick's task (so the car computes the
same task features and ends the skill when the trick is done), the time limit, and the model's SHA-256
(so a changed or damaged model file is refused). The model takes a batch of observations ("obs",
dynamic first axis) and returns (throttle, steering) in -1..1; a learned skill drives at the speed it
was taught (scale_by_speed: false), always under the car's own limits.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import torch
import yaml

from robot_runtime.policy import load_policy
from robot_runtime.hardware import CarSpec

from learning.train import TrainResult
from learning.tricks import Trick

EQUIVALENCE_ATOL = 1e-5  # float32 MLP: onnxruntime and torch agree to ~1e-7; more means a broken export
SENSOR_MISSING_CM = CarSpec().sensor_range_cm  # distance_cm when the sensor sees nothing (as in the dataset)


class ExportError(RuntimeError):
    """The exported model does not behave like the trained one."""


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def export_policy(result: TrainResult, out_dir: str | Path, *, name: str, trick: Trick) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = out_dir / f"{name}.onnx"
    n_in = len(result.state_names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter (dynamo=False) says it is legacy
        torch.onnx.export(result.model, (torch.zeros(1, n_in),), str(onnx_path), input_names=["obs"],
                          output_names=["action"], dynamic_axes={"obs": {0: "batch"}, "action": {0: "batch"}},
                          dynamo=False, external_data=False)
    observation = []
    for field_name, mean, std in zip(result.state_names, result.mean, result.std):
        spec = {"field": field_name, "offset": float(mean), "scale": float(std)}
        if field_name == "distance_cm":
            spec["missing"] = SENSOR_MISSING_CM
        observation.append(spec)
    manifest = {
        "name": name,
        "model": onnx_path.name,
        "model_sha256": sha256_of(onnx_path),
        "observation": observation,
        "action": {"throttle": {"index": 0}, "steering": {"index": 1}, "scale_by_speed": False},
        "time_limit_s": trick.time_limit_s,
        "termination": {"task": True},
        "task": trick.task.model_dump(mode="json"),
    }
    path = out_dir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    return path


def check_equivalence(result: TrainResult, manifest_path: Path, raw_states: np.ndarray) -> float:
    """Largest |onnxruntime - torch| over these observations (unscaled rows); ExportError above EQUIVALENCE_ATOL."""
    policy = load_policy(manifest_path)  # the car's own loader: manifest, hash, shapes
    m = policy.manifest
    offsets = np.array([o.offset for o in m.observation], dtype=np.float32)
    scales = np.array([o.scale for o in m.observation], dtype=np.float32)
    obs = ((raw_states.astype(np.float32) - offsets) / scales).astype(np.float32)
    ours = policy.session.run(None, {policy.input_name: obs})[0]
    with torch.no_grad():
        ref = result.model(torch.from_numpy(obs)).numpy()
    worst = float(np.max(np.abs(ours - ref))) if len(obs) else 0.0
    if not worst <= EQUIVALENCE_ATOL:
        raise ExportError(f"{manifest_path}: onnxruntime and torch differ by {worst:.2e} (limit {EQUIVALENCE_ATOL:g}); "
                          "the export is broken — train again")
    return worst
