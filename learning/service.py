"""The learning loop as one object: what `dojo skills` calls, and what the server's pages will call.

    lab = SkillLab(data_dir)
    ds = lab.record_demos("park", episodes=10)                      # scripted expert -> dataset id
    v = lab.train("mia_park", "park", ds, taught_by="Mia", progress=cb)   # -> candidate version
    report = lab.evaluate("mia_park", v.id)                         # 50 seeded starts, batched
    decision = lab.promote("mia_park", v.id)                        # only if it beats the current one
    lab.rollback("mia_park")
    lab.deployable("mia_park")                                      # manifest of the current version, hash-checked

Everything lives under ``<data_dir>/learning/`` (datasets/, skills/); nothing leaves the machine.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from robot_runtime.task_features import OBSERVATION_FIELDS

from learning.dataset import Dataset, write_dataset
from learning.dataset_check import read_dataset
from learning.drives import DriveLog
from learning.evaluate import DEMO_SEED_BASE, EvalConfig, EvalReport, evaluate
from learning.export import check_equivalence, export_policy
from learning.gates import MachineGates
from learning.promotion import Decision, decide
from learning.rollout import Episode, rollout
from learning.store import SkillRecord, SkillStore, SkillStoreError, Version, check_name
from learning.train import Budget, TrainProgress, train_bc
from learning.tricks import TRICKS, get_trick

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR_ENV = "DOJO_DATA_DIR"
DEMO_NUDGE = 0.3  # how hard demonstrations are nudged off line (steering fraction, see rollout.Nudge)
DEMO_ATTEMPTS = 3  # a nudged demonstration sometimes bumps a cone: try up to 3x as many starts
LEARNED_LEVEL = 3  # a learned skill opens where `do skill` does, unless its teacher says otherwise
EQUIVALENCE_SAMPLES = 512  # observations the ONNX-vs-torch check runs (every frame of a held-out episode or so)


def imitation_target(ds: Dataset) -> str:
    """What to imitate: the expert's own command when only the (nudged) expert drove (its request is the
    clean label, the applied command carries the nudge); otherwise what the car actually did (a kid's
    request is a raw key press, the applied command is what the car could really do with it)."""
    experts = all(f["source"] == "expert" for f in ds.episode_facts())
    return "requested_action" if experts else "action"


def default_data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV) or REPO_ROOT / "var")


class SkillLab:
    def __init__(self, data_dir: str | Path | None = None, *, gates: MachineGates | None = None,
                 eval_config: EvalConfig = EvalConfig()) -> None:
        self.root = Path(data_dir or default_data_dir()) / "learning"
        self.datasets = self.root / "datasets"
        self.drives = DriveLog(self.root)
        self.store = SkillStore(self.root / "skills")
        self.gates = gates
        self.eval_config = eval_config

    # --- tricks and demonstrations ---------------------------------------------------------------

    @staticmethod
    def tricks() -> list[dict]:
        return [{"name": t.name, "title": t.title, "task": t.task_text, "time_limit_s": t.time_limit_s}
                for t in TRICKS.values()]

    def dataset_ids(self) -> list[str]:
        return sorted(p.parent.parent.name for p in self.datasets.glob("*/meta/info.json"))

    def _new_dataset_id(self, trick: str) -> str:
        taken = [int(m.group(1)) for d in self.dataset_ids() if (m := re.fullmatch(rf"{trick}-(\d+)", d))]
        return f"{trick}-{max(taken, default=0) + 1:03d}"

    def save_episodes(self, trick_name: str, episodes: list[Episode], dataset_id: str | None = None) -> str:
        """Write recorded episodes as a new dataset (e.g. a kid's drives); returns its id."""
        trick = get_trick(trick_name)
        dataset_id = dataset_id or self._new_dataset_id(trick.name)
        write_dataset(self.datasets / dataset_id, episodes, {trick.name: trick.task_text})
        return dataset_id

    def record_demos(self, trick_name: str, episodes: int = 10, *, first_seed: int | None = None,
                     nudge: float = DEMO_NUDGE) -> str:
        """The scripted expert drives until `episodes` demonstrations succeeded (nudged, see rollout.Nudge;
        at most DEMO_ATTEMPTS times as many tries); returns the new dataset's id."""
        trick = get_trick(trick_name)
        if not 1 <= episodes <= 1000:
            raise ValueError(f"demonstrations: 1..1000 episodes (got {episodes})")
        dataset_id = self._new_dataset_id(trick.name)
        base = DEMO_SEED_BASE + 10_000 * int(dataset_id.rsplit("-", 1)[1]) if first_seed is None else first_seed
        kept: list[Episode] = []
        for start in range(base, base + DEMO_ATTEMPTS * episodes, episodes):
            batch = rollout(trick, range(start, start + episodes), expert=True, record=True, nudge=nudge)
            kept += [e for e in batch if e.success][:episodes - len(kept)]
            if len(kept) == episodes:
                break
        if not kept:
            raise RuntimeError(f"the expert did not finish {trick.name} once in {DEMO_ATTEMPTS * episodes} tries")
        return self.save_episodes(trick.name, kept, dataset_id)

    # --- drives by hand (the drive page) ------------------------------------------------------------

    def dataset_from_drives(self, owner: str, trick_name: str, *, min_good: int = 1) -> str:
        """A new dataset of this driver's successful drives of a trick (the ones worth imitating)."""
        good = [e for e in self.drives.episodes(owner, trick_name) if e.success and e.actions]
        if len(good) < min_good:
            raise SkillStoreError(f"{owner} has {len(good)} good {trick_name} drive(s); teaching needs {min_good} — "
                                  "drive the trick until the car finishes it")
        return self.save_episodes(trick_name, good)

    def dataset(self, dataset_id: str) -> Dataset:
        return read_dataset(self.datasets / dataset_id)

    # --- skills ----------------------------------------------------------------------------------

    def skills(self) -> list[SkillRecord]:
        return [self.store.get(n) for n in self.store.names()]

    def train(self, name: str, trick_name: str, dataset_id: str, *, budget: Budget = Budget(), taught_by: str = "",
              progress: Callable[[TrainProgress], None] | None = None, level: int = LEARNED_LEVEL) -> Version:
        """Train a candidate version of `name` from a dataset: BC -> ONNX -> equivalence check -> stored."""
        check_name(name)
        trick = get_trick(trick_name)
        ds = self.dataset(dataset_id)
        if ds.state_names != list(OBSERVATION_FIELDS):
            raise SkillStoreError(f"dataset {dataset_id} observes {ds.state_names}, a trick needs "
                                  f"{list(OBSERVATION_FIELDS)}; record it again")
        if trick.task_text not in ds.tasks:
            raise SkillStoreError(f"dataset {dataset_id} is about {ds.tasks}, not the {trick.name} trick "
                                  f"({trick.task_text!r})")
        self.store.create(name, trick.name, taught_by, level=level)
        result = train_bc(ds, replace(budget, target=imitation_target(ds)), progress=progress, gates=self.gates)
        with tempfile.TemporaryDirectory() as tmp:
            manifest = export_policy(result, tmp, name=name, trick=trick)
            held_out = ds.states[np.isin(ds.episode_index, result.val_episodes)]
            sample = (held_out if len(held_out) else ds.states)[:EQUIVALENCE_SAMPLES]
            worst = check_equivalence(result, manifest, sample)
            report = {**result.report(), "onnx_vs_torch_max_abs": worst, "trick": trick.name, "dataset": dataset_id}
            return self.store.add_version(name, [manifest.with_suffix(".onnx"), manifest], dataset=dataset_id,
                                          train=report)

    def _eval_of(self, name: str, vid: str) -> EvalReport:
        """The version's stored evaluation if it used this lab's config, else a fresh one (stored)."""
        stored = self.store.load_eval(name, vid)
        if stored is not None and stored.get("config") == self.eval_config.key():
            return EvalReport.from_dict(stored)
        return self.evaluate(name, vid)

    def evaluate(self, name: str, vid: str | None = None) -> EvalReport:
        rec = self.store.get(name)
        vid = vid or rec.versions[-1].id
        manifest = self.store.verify(name, vid)
        report = evaluate(get_trick(rec.trick), manifest, self.eval_config)
        self.store.set_eval(name, vid, report.to_dict())
        return report

    def promote(self, name: str, vid: str | None = None) -> Decision:
        rec = self.store.get(name)
        if not rec.versions:
            raise SkillStoreError(f"skill {name} has no versions yet; train it first")
        vid = vid or rec.versions[-1].id
        rec.version(vid)
        if rec.current == vid:
            return Decision(False, f"{vid} is already the current version", "That one is already your block!")
        candidate = self._eval_of(name, vid)
        current = self._eval_of(name, rec.current) if rec.current else None
        decision = decide(candidate, current)
        if decision.promote:
            self.store.mark_promoted(name, vid)
        return decision

    def rollback(self, name: str) -> SkillRecord:
        return self.store.rollback(name)

    def deployable(self, name: str) -> Path | None:
        """The current version's manifest (files hash-checked), or None if nothing is promoted."""
        rec = self.store.get(name)
        return self.store.verify(name, rec.current) if rec.current else None

    def show(self, name: str) -> dict:
        rec = self.store.get(name)
        return {"name": rec.name, "trick": rec.trick, "taught_by": rec.taught_by, "level": rec.level, "current": rec.current,
                "last_good": rec.last_good, "factory": rec.factory,
                "versions": [{"id": v.id, "dataset": v.dataset, "files": v.files, "train": v.train, "eval": v.eval}
                             for v in rec.versions]}
