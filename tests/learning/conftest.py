"""Shared fixtures for the learning tests: one small taught skill, made once per test session.

Budgets are small on purpose (10 expert demonstrations, a few hundred training steps, 20 evaluation
starts): the whole loop runs in a few seconds; the benchmark (benchmarks/bench_learning.py) measures
the real thing.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from learning.evaluate import EvalConfig
from learning.service import SkillLab
from learning.train import Budget

TEST_BUDGET = Budget(max_steps=1500, max_seconds=30, eval_every=50)
TEST_EVAL = EvalConfig(episodes=20)


@dataclass
class Taught:
    lab: SkillLab
    dataset_id: str
    name: str
    version: str


@pytest.fixture(scope="session")
def taught(tmp_path_factory) -> Taught:
    """mia_park: 10 expert demonstrations -> dataset -> BC -> ONNX -> stored as v001 (not promoted yet)."""
    lab = SkillLab(tmp_path_factory.mktemp("data"), eval_config=TEST_EVAL)
    ds = lab.record_demos("park", episodes=10)
    version = lab.train("mia_park", "park", ds, budget=TEST_BUDGET, taught_by="Mia")
    return Taught(lab, ds, "mia_park", version.id)
