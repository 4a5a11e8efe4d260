"""A drive steered by someone else (a kid's arrow keys) becomes an episode and a dataset, behind the
supervisor at the kid's level; training then imitates what the car actually did."""

from __future__ import annotations

import numpy as np

from learning.expert import ExpertSkill
from learning.recorder import DriveRecorder
from learning.service import SkillLab, imitation_target
from learning.tricks import get_trick
from robot_runtime.hardware import Command
from robot_runtime.protocol import SessionLimits
from robot_runtime.sim.lane import SimLane
from robot_runtime.skills.base import SkillContext

LEVEL_1 = SessionLimits(max_speed_pct=30, level=1)
KEY_THROTTLE = 0.5  # holding the up arrow asks for 50 %: more than level 1 allows


def keyboard_drive(seed: int) -> object:
    """Arrow keys: up held (0.5), left/right pressed when the expert would steer more than a third."""
    trick = get_trick("park")
    lane = SimLane(trick.arena, trick.start_pose(seed), session=LEVEL_1)
    coach = ExpertSkill(SkillContext(lane.spec, trick.arena, 20), trick.tracker(lane.spec), trick.speed_cm_s)
    rec = DriveRecorder(trick, source="kid:Mia", spec=lane.spec, seed=seed)
    state = lane.read()
    coach.start(state)
    rec.start(state)
    for _ in range(int(trick.time_limit_s / lane.dt)):
        want = coach.step(state, lane.dt).command
        keys = Command(KEY_THROTTLE if want.throttle > 0.02 else 0.0,
                       0.0 if abs(want.steering) < 0.33 else float(np.sign(want.steering)))
        applied = lane.apply(keys)
        if rec.add(state, keys, applied) != "running":
            break
        state = lane.read()
    return rec.finish()


def test_a_kids_drive_is_recorded_at_the_kids_level_and_saved_as_a_dataset(tmp_path):
    episodes = [keyboard_drive(seed) for seed in (3, 4)]
    for ep in episodes:
        assert ep.source == "kid:Mia" and len(ep.actions) > 50
        assert max(a[0] for a in ep.actions) <= 0.3 + 1e-9  # level 1: the car never went above 30 %
        assert max(r[0] for r in ep.requests) == KEY_THROTTLE  # the raw key press is kept beside it
        assert all(ep.narration)
    lab = SkillLab(tmp_path)
    ds = lab.dataset(lab.save_episodes("park", episodes))
    assert [f["source"] for f in ds.episode_facts()] == ["kid:Mia", "kid:Mia"]
    assert imitation_target(ds) == "action"  # a kid's key presses are not the label; what the car did is
    assert ds.actions[:, 0].max() <= 0.3 + 1e-6
