"""The policy runner: a skill whose controller is an ONNX model run with onnxruntime.

A policy is two files side by side: ``NAME.onnx`` and a manifest ``NAME.yaml`` (or .json)::

    name: wall_follow                # the skill name (lower_snake_case), e.g. `do skill [wall_follow]`
    model: wall_follow.onnx          # relative to the manifest
    observation:                     # the model's input vector, in this order: (value - offset) / scale
      - {field: speed_cm_s, scale: 300}
      - {field: distance_cm, scale: 200, missing: 200}   # `missing`: value when the sensor sees nothing
      - {field: heading_sin}
      - {field: yaw_rate_dps, scale: 180}
    action:                          # the model's output vector -> throttle, steering in -1..1
      throttle: {index: 0}
      steering: {index: 1}
      scale_by_speed: true           # throttle * (request speed / 100): the kid's speed still counts
    time_limit_s: 20                 # the skill ends `failed` (timeout) after this
    termination: {duration_s: 5}     # ends `done` after 5 s, or `distance_cm` driven; a collision fails it
    model_sha256: 3f5a...            # optional: the model file's SHA-256; a changed or damaged file is refused
    task: {kind: park, goal_zone: box, heading_tolerance_deg: 12}   # optional, for learned tricks: the
                                     # task features (task_features.TASK_FIELDS) become observation fields,
                                     # and `termination: {task: true}` ends the skill when the trick is done

Whatever the model outputs, the command goes through the safety supervisor like any other skill's.
The onnxruntime session is created once per policy, with one thread (the control loop's tick must
stay small and predictable on a Pi), and reused by every run of the skill.

On a real-time car (a server drives it, or real hardware; a headless simulation has no wall-clock
deadline, its clock waits for the model), each inference runs on the policy's own worker thread with
a deadline (INFERENCE_DEADLINE_S): a late
answer is not waited for (the tick goes on with throttle 0 and the steering held), and
MISSED_DEADLINES_TO_FAIL late answers in a row end the run `failed` (`policy_too_slow`). A policy
cannot take a built-in skill's name (skills/registry.py RESERVED_NAMES), nor the permission with it.
"""

from __future__ import annotations

import hashlib
import math
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Callable, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from robot_runtime.hardware import CarState, Command
from robot_runtime.skills.base import Skill, SkillContext, SkillStep
from robot_runtime.task_features import FIELD_INDEX, TASK_FIELDS, TaskSpec, TaskTracker

ObsField = Literal[
    "x_cm", "y_cm", "heading_deg", "heading_sin", "heading_cos", "speed_cm_s", "lateral_cm_s",
    "yaw_rate_dps", "slip_deg", "distance_cm", "elapsed_s", "travelled_cm", "speed_pct", *TASK_FIELDS,
]


INFERENCE_DEADLINE_S = 0.015  # three quarters of a 50 Hz tick: the supervisor and the driver still fit in it
MISSED_DEADLINES_TO_FAIL = 3  # three late answers in a row (60 ms): the model is too slow for this car


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ObsSpec(_Strict):
    field: ObsField
    offset: Annotated[float, Field(allow_inf_nan=False)] = 0.0
    scale: Annotated[float, Field(allow_inf_nan=False)] = 1.0
    missing: Annotated[float, Field(allow_inf_nan=False)] = 0.0  # for distance_cm when nothing is in range

    @model_validator(mode="after")
    def _nonzero_scale(self) -> "ObsSpec":
        if self.scale == 0:
            raise ValueError(f"observation {self.field}: scale must not be 0")
        return self


class OutputSpec(_Strict):
    index: Annotated[int, Field(ge=0, le=63)]
    scale: Annotated[float, Field(allow_inf_nan=False)] = 1.0


class ActionSpec(_Strict):
    throttle: OutputSpec = OutputSpec(index=0)
    steering: OutputSpec = OutputSpec(index=1)
    scale_by_speed: bool = True


class Termination(_Strict):
    duration_s: Annotated[float, Field(gt=0, le=600)] | None = None
    distance_cm: Annotated[float, Field(gt=0, le=100_000)] | None = None
    task: bool = False  # ends `done` when the manifest's task is done, `failed` when it fails
    fail_on_collision: bool = True


class PolicyManifest(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")]
    model: Annotated[str, Field(min_length=1)]
    observation: Annotated[list[ObsSpec], Field(min_length=1, max_length=256)]
    action: ActionSpec = ActionSpec()
    time_limit_s: Annotated[float, Field(gt=0, le=600)] = 30.0
    termination: Termination = Termination()
    input_name: str | None = None  # default: the model's first input
    model_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    task: TaskSpec | None = None

    @model_validator(mode="after")
    def _ends_somehow(self) -> "PolicyManifest":
        term = self.termination
        if term.duration_s is None and term.distance_cm is None and not term.task:
            raise ValueError("termination needs duration_s, distance_cm or task (otherwise the skill only ever times out)")
        if self.task is None and (term.task or any(o.field in FIELD_INDEX for o in self.observation)):
            raise ValueError("task features and termination.task need a `task` section (kind, goal_zone)")
        return self


class PolicyError(ValueError):
    """A policy that cannot be loaded; the message names the file, the field and the fix."""


def _getter(spec: ObsSpec) -> Callable[[CarState, "PolicySkill"], float]:
    f = spec.field
    if f == "heading_sin":
        return lambda s, k: math.sin(math.radians(s.heading_deg))
    if f == "heading_cos":
        return lambda s, k: math.cos(math.radians(s.heading_deg))
    if f == "distance_cm":
        return lambda s, k: spec.missing if s.distance_cm is None else s.distance_cm
    if f == "elapsed_s":
        return lambda s, k: k.elapsed_s
    if f == "travelled_cm":
        return lambda s, k: k.travelled_cm
    if f == "speed_pct":
        return lambda s, k: k.ctx.speed_pct
    if f in FIELD_INDEX:
        i = FIELD_INDEX[f]
        return lambda s, k: k.task_row[i]
    return lambda s, k: float(getattr(s, f))


@dataclass
class LoadedPolicy:
    manifest: PolicyManifest
    path: Path
    session: object  # onnxruntime.InferenceSession
    input_name: str
    n_outputs: int
    deadline_s: float = INFERENCE_DEADLINE_S  # each inference's answer must be ready within this
    _worker: ThreadPoolExecutor | None = field(default=None, repr=False)
    _pending: Future | None = field(default=None, repr=False)

    def infer(self, obs: np.ndarray) -> np.ndarray:
        out = self.session.run(None, {self.input_name: obs})[0]
        return np.asarray(out, dtype=np.float64).reshape(-1)

    def infer_within(self, obs: np.ndarray, deadline_s: float | None = None) -> np.ndarray | None:
        """The model's output, or None if it is not ready within `deadline_s` (it runs on its own thread;
        while a late inference still runs, no new one is queued behind it)."""
        if self._pending is not None and not self._pending.done():
            return None  # still busy with a late one
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"policy-{self.manifest.name}")
        self._pending = self._worker.submit(self.infer, obs.copy())
        try:
            return self._pending.result(timeout=self.deadline_s if deadline_s is None else deadline_s)
        except FutureTimeout:
            return None


def load_manifest(path: str | Path) -> PolicyManifest:
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(f"policy manifest {p} does not exist — put NAME.yaml next to NAME.onnx") from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"policy manifest {p} is not valid YAML/JSON: {exc}") from None
    try:
        return PolicyManifest.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "(top level)"
        raise PolicyError(f"policy manifest {p}: {where}: {err['msg']} (got {err.get('input')!r})") from None


def load_policy(manifest_path: str | Path) -> LoadedPolicy:
    """Read the manifest, open the model once (one thread) and check that the shapes agree."""
    import onnxruntime as ort  # only cars that run policies need it

    manifest_path = Path(manifest_path)
    manifest = load_manifest(manifest_path)
    model_path = (manifest_path.parent / manifest.model).resolve()
    if not model_path.is_file():
        raise PolicyError(f"policy {manifest.name}: model file {model_path} does not exist (manifest {manifest_path}: model)")
    if manifest.model_sha256 is not None:
        got = hashlib.sha256(model_path.read_bytes()).hexdigest()
        if got != manifest.model_sha256:
            raise PolicyError(f"policy {manifest.name}: model file {model_path} was changed or damaged (SHA-256 "
                              f"{got[:12]}..., the manifest says {manifest.model_sha256[:12]}...); refusing to run it "
                              "— copy the skill's model and manifest again")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(model_path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for unreadable models
        raise PolicyError(f"policy {manifest.name}: onnxruntime cannot load {model_path}: {exc}") from None
    inputs = session.get_inputs()
    inp = next((i for i in inputs if i.name == manifest.input_name), None) if manifest.input_name else inputs[0]
    if inp is None:
        raise PolicyError(f"policy {manifest.name}: the model has no input {manifest.input_name!r} "
                          f"(it has {[i.name for i in inputs]}); fix input_name in {manifest_path}")
    n_obs = len(manifest.observation)
    width = inp.shape[-1] if inp.shape else None
    if isinstance(width, int) and width != n_obs:
        raise PolicyError(f"policy {manifest.name}: the model takes {width} inputs but the manifest declares "
                          f"{n_obs} observation fields; make observation list {width} long")
    out_shape = session.get_outputs()[0].shape
    n_out = out_shape[-1] if out_shape and isinstance(out_shape[-1], int) else 0
    need = max(manifest.action.throttle.index, manifest.action.steering.index) + 1
    if n_out and n_out < need:
        raise PolicyError(f"policy {manifest.name}: the model has {n_out} outputs but action uses index {need - 1}")
    return LoadedPolicy(manifest, model_path, session, inp.name, n_out)


class PolicySkill(Skill):
    """One run of a policy: observation -> model -> (throttle, steering), until its termination."""

    def __init__(self, ctx: SkillContext, policy: LoadedPolicy) -> None:
        super().__init__(ctx)
        self.policy = policy
        m = policy.manifest
        self.name = m.name
        self.time_limit_s = m.time_limit_s
        self._getters = [_getter(o) for o in m.observation]
        self._offsets = np.array([o.offset for o in m.observation], dtype=np.float32)
        self._scales = np.array([o.scale for o in m.observation], dtype=np.float32)
        self._obs = np.zeros((1, len(m.observation)), dtype=np.float32)
        self.elapsed_s = 0.0
        self.travelled_cm = 0.0
        self._last_xy: tuple[float, float] | None = None
        # A learned trick's task (raises TaskError, a ValueError, if this arena does not fit it).
        self.task = TaskTracker(m.task, ctx.arena, ctx.spec) if m.task is not None else None
        self.task_row: list[float] = [0.0] * len(TASK_FIELDS)
        self.missed = 0  # late answers in a row
        self._last_cmd = Command()

    def start(self, state: CarState) -> None:
        self.elapsed_s = 0.0
        self.travelled_cm = 0.0
        self._last_xy = (state.x_cm, state.y_cm)
        if self.task is not None:
            self.task.start(state)

    def observe(self, state: CarState) -> np.ndarray:
        row = self._obs[0]
        for i, get in enumerate(self._getters):
            row[i] = get(state, self)
        self._obs[0] = (row - self._offsets) / self._scales
        return self._obs

    def command_from(self, out: np.ndarray) -> Command:
        a = self.policy.manifest.action
        th = float(out[a.throttle.index]) * a.throttle.scale
        st = float(out[a.steering.index]) * a.steering.scale
        th = 0.0 if not math.isfinite(th) else max(-1.0, min(1.0, th))
        st = 0.0 if not math.isfinite(st) else max(-1.0, min(1.0, st))
        if a.scale_by_speed:
            th *= self.ctx.speed_pct / 100.0
        return Command(th, st)

    def step(self, state: CarState, dt: float) -> SkillStep:
        if self._last_xy is not None:
            self.travelled_cm += math.hypot(state.x_cm - self._last_xy[0], state.y_cm - self._last_xy[1])
        self._last_xy = (state.x_cm, state.y_cm)
        term = self.policy.manifest.termination
        progress = 0.0
        if term.duration_s is not None:
            progress = max(progress, self.elapsed_s / term.duration_s)
        if term.distance_cm is not None:
            progress = max(progress, self.travelled_cm / term.distance_cm)
        if term.fail_on_collision and state.collisions:
            what = state.collisions[0].with_
            return SkillStep(status="failed", progress=min(1.0, progress), reason="collision",
                             kid_text=f"I bumped into the {what.split(':')[0]}.")
        if progress >= 1.0:
            return SkillStep(status="done", progress=1.0, kid_text=f"{self.name.replace('_', ' ')} done!")
        if self.task is not None:
            status = self.task.update(state)
            if term.task and status != "running":
                return SkillStep(status=status, progress=1.0 if status == "done" else min(1.0, progress),
                                 reason="" if status == "done" else "task_failed", kid_text=self.task.kid_text)
            self.task_row = self.task.features(state)
            progress = max(progress, self.task.progress(state))
        obs = self.observe(state)
        # A real-time car cannot wait for a late model; a headless run's clock waits for it instead.
        out = self.policy.infer_within(obs) if self.ctx.realtime else self.policy.infer(obs)
        self.elapsed_s += dt
        if out is None:
            self.missed += 1
            if self.missed >= MISSED_DEADLINES_TO_FAIL:
                return SkillStep(status="failed", progress=min(1.0, progress), reason="policy_too_slow",
                                 kid_text="My learned move was thinking too slowly, so I stopped.")
            return SkillStep(command=Command(0.0, self._last_cmd.steering), progress=min(1.0, progress))
        self.missed = 0
        self._last_cmd = cmd = self.command_from(out)
        return SkillStep(command=cmd, progress=min(1.0, progress))


def register_policy(manifest_path: str | Path, *, replace: bool = True) -> LoadedPolicy:
    """Load a policy once and make it a named skill (`do skill [name]`)."""
    from robot_runtime.skills.registry import RESERVED_NAMES, register_skill

    manifest = load_manifest(manifest_path)
    if manifest.name in RESERVED_NAMES:
        raise PolicyError(f"policy manifest {manifest_path}: name: {manifest.name!r} is a built-in skill or move; a "
                          f"learned skill cannot take its name or its level permission — rename it (e.g. my_{manifest.name})")
    policy = load_policy(manifest_path)
    register_skill(policy.manifest.name, lambda ctx: PolicySkill(ctx, policy), replace=replace)
    return policy
