"""The simulator as a Gymnasium environment: passes Gymnasium's own checker, is reproducible from a
seed, and keeps the safety supervisor between the agent and the car unless told otherwise."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from learning.tricks import TRICKS, register_gym_envs, trick_env

pytestmark = pytest.mark.filterwarnings("ignore:.*render.*")  # no render modes: nothing to draw headless


@pytest.mark.parametrize("name", sorted(TRICKS))
def test_every_trick_passes_gymnasiums_env_checker(name):
    check_env(trick_env(name), skip_render_check=True)


def test_same_seed_same_episode():
    a, b = trick_env("slalom", noise=True), trick_env("slalom", noise=True)
    oa, _ = a.reset(seed=5)
    ob, _ = b.reset(seed=5)
    np.testing.assert_array_equal(oa, ob)
    act = np.array([0.3, 0.4], dtype=np.float32)
    for _ in range(40):
        ra, rb = a.step(act), b.step(act)
        np.testing.assert_array_equal(ra[0], rb[0])
        assert ra[1:4] == rb[1:4]
    assert not np.array_equal(trick_env("slalom").reset(seed=6)[0], oa)


def drive_straight_at_full_throttle(env):
    env.reset(seed=0, options={"pose": {"x_cm": 80, "y_cm": 200, "heading_deg": 0}})  # at the garage's side wall
    info, terminated, truncated = {}, False, False
    while not (terminated or truncated):
        _, _, terminated, truncated, info = env.step(np.array([1.0, 0.0], dtype=np.float32))
    return info


def test_supervisor_is_on_by_default_and_keeps_a_reckless_agent_off_the_wall():
    info = drive_straight_at_full_throttle(trick_env("park"))
    assert info["interventions"].get("fence", 0) > 0 and info["collisions"] == 0
    raw = drive_straight_at_full_throttle(trick_env("park", supervised=False))
    assert raw["collisions"] >= 1 and raw["status"] == "failed"


def test_tricks_register_with_gymnasium():
    import gymnasium

    ids = register_gym_envs()
    env = gymnasium.make(ids[0])
    obs, _ = env.reset(seed=1)
    assert env.observation_space.contains(obs)
