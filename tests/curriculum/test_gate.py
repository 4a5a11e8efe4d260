"""The curriculum gate: level rules (blocks, skills, speed, zones) and per-kid rate limits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curriculum.gate import BLOCK_BURST, Gate, TokenBucket, rule_refusal
from curriculum.levels import LEVELS
from robot_runtime.arena import Arena, NamedZone
from robot_runtime.protocol import DriveAction, GotoAction, NamedSkillAction, StopAction, TurnAction
from curriculum.catalog import BLOCKS, SKILL_NAMES, translate

ARENA = Arena(width_cm=300, height_cm=200, zones=[
    NamedZone(name="ramp", kind="target", x0=200, y0=150, x1=280, y1=190, min_level=3),
    NamedZone(name="pond", kind="forbidden", x0=10, y0=10, x1=40, y1=40),
    NamedZone(name="garage", kind="parking", x0=250, y0=10, x1=290, y1=50),
])


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def check(level: int, block_id: str, args: dict, speed: float = 30.0, gate: Gate | None = None):
    gate = gate or Gate(clock=FakeClock())
    t = translate(block_id, args, speed)
    return gate.check("kid-1", level, block_id, t.args, t.action, ARENA)


def test_level1_speed_over_30_is_refused_with_kid_sentence_and_teacher_detail():
    r = check(1, "move_forward", {"distance": 20}, speed=50)
    assert r.rule == "speed_limit"
    assert r.kid_text == "Level 1 cars go up to 30% — try 30!"
    assert r.detail == "speed_limit: asked 50%, level 1 max 30%"
    assert (r.value, r.limit) == (50, 30)


@pytest.mark.parametrize("block_id,args", [("set_speed", {"speed": 60}), ("drive_for", {"speed": 60, "seconds": 1})])
def test_speed_blocks_are_capped_by_level(block_id, args):
    assert check(2, block_id, args).rule == "speed_limit"
    assert check(3, block_id, args) is None


def test_locked_block_names_the_level_that_unlocks_it():
    r = check(1, "go_to", {"x": 100, "y": 50})
    assert r.rule == "block_locked" and r.limit == 3
    assert "level 3" in r.kid_text and "go_to needs level 3, kid is level 1" in r.detail


def test_skill_locked_at_level3_unlocks_at_level4():
    r = check(3, "do_skill", {"skill": "donut"})
    assert r.rule == "skill_locked" and "level 4" in r.kid_text
    assert check(3, "do_skill", {"skill": "slalom"}) is None
    assert check(4, "do_skill", {"skill": "donut"}) is None


def test_goto_into_an_open_zone_passes_and_into_a_forbidden_zone_never():
    r = check(3, "go_to", {"x": 240, "y": 170}, speed=30)
    assert r is None  # level 3 opens the ramp
    r = check(4, "go_to", {"x": 20, "y": 20})
    assert r.rule == "zone_forbidden" and "pond" in r.kid_text


def test_goto_into_closed_zone_below_its_level():
    gate = Gate(clock=FakeClock())
    action = GotoAction(x_cm=240, y_cm=170, speed_pct=30)
    r = gate.check("kid-1", 2, "go_to", {"x": 240, "y": 170}, action, ARENA)  # rules, whatever the block lock says
    assert r.rule == "block_locked"
    r = rule_refusal(LEVELS[2], "move_forward", {}, action, ARENA)
    assert r.rule == "zone_closed" and "ramp" in r.kid_text and "min_level 3" in r.detail


def test_goto_outside_the_arena_is_refused():
    r = check(3, "go_to", {"x": 900, "y": 50})
    assert r.rule == "outside_arena" and "300" in r.kid_text


def test_stop_is_never_gated_and_never_rate_limited():
    clock = FakeClock()
    gate = Gate(blocks_per_s=1, burst=1, clock=clock)
    for _ in range(1000):
        assert gate.check("kid-1", 1, "stop", {}, StopAction(), ARENA) is None


def test_rate_limit_refuses_a_flood_and_refills_with_time():
    clock = FakeClock()
    gate = Gate(blocks_per_s=5, burst=BLOCK_BURST, clock=clock)
    results = [check(1, "move_forward", {"distance": 5}, gate=gate) for _ in range(BLOCK_BURST + 3)]
    assert all(r is None for r in results[:BLOCK_BURST])
    assert [r.rule for r in results[BLOCK_BURST:]] == ["rate_limit"] * 3
    assert "wait a moment" in results[-1].kid_text
    clock.t += 1.0  # five tokens come back
    assert [check(1, "move_forward", {"distance": 5}, gate=gate) for _ in range(5)] == [None] * 5
    assert check(1, "move_forward", {"distance": 5}, gate=gate).rule == "rate_limit"


def test_rate_limits_are_per_kid():
    clock = FakeClock()
    gate = Gate(blocks_per_s=1, burst=1, clock=clock)
    action = DriveAction(distance_cm=5, speed_pct=30)
    assert gate.check("a", 1, "move_forward", {"distance": 5}, action) is None
    assert gate.check("a", 1, "move_forward", {"distance": 5}, action).rule == "rate_limit"
    assert gate.check("b", 1, "move_forward", {"distance": 5}, action) is None


def test_token_bucket_never_exceeds_its_burst():
    clock = FakeClock()
    bucket = TokenBucket(10, 3, clock)
    clock.t += 1000
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]


# --- properties ------------------------------------------------------------------------------

COMMAND_BLOCKS = [b for b in BLOCKS if b.to_action is not None or b.id == "set_speed"]


def _arg(p):
    if p.kind == "menu":
        return st.sampled_from(p.options)
    if p.kind == "skill":
        return st.sampled_from(SKILL_NAMES)
    return st.floats(min_value=p.minimum, max_value=p.maximum, allow_nan=False)


@st.composite
def block_calls(draw):
    b = draw(st.sampled_from(COMMAND_BLOCKS))
    args = {p.name: draw(_arg(p)) for p in b.params}
    return b, args, draw(st.floats(min_value=1, max_value=100)), draw(st.integers(1, 4))


@settings(max_examples=400, deadline=None)
@given(block_calls())
def test_whatever_passes_the_gate_is_within_the_level(call):
    b, args, speed, level_no = call
    level = LEVELS[level_no]
    action = translate(b.id, args, speed).action
    refusal = Gate(clock=FakeClock()).check("kid", level_no, b.id, args, action, ARENA)
    if refusal is not None:
        assert refusal.kid_text and refusal.detail.startswith(refusal.rule)
        return
    assert level.allows_block(b.id)
    if isinstance(action, (DriveAction, TurnAction, GotoAction, NamedSkillAction)):
        assert action.speed_pct <= level.max_speed_pct
    if "speed" in args:
        assert args["speed"] <= level.max_speed_pct
    if isinstance(action, NamedSkillAction):
        assert level.allows_skill(action.name)
    if isinstance(action, GotoAction):
        assert 0 <= action.x_cm <= ARENA.width_cm and 0 <= action.y_cm <= ARENA.height_cm
        for zone in ARENA.zones:
            if zone.contains(action.x_cm, action.y_cm):
                assert zone.kind != "forbidden" and (zone.min_level or 1) <= level_no


@st.composite
def allowed_calls(draw):
    level_no = draw(st.integers(1, 4))
    level = LEVELS[level_no]
    b = draw(st.sampled_from([b for b in COMMAND_BLOCKS if level.allows_block(b.id)]))
    top = level.max_speed_pct
    args = {}
    for p in b.params:
        if p.name == "speed":
            args[p.name] = draw(st.floats(min_value=p.minimum, max_value=top))
        elif p.name == "skill":
            args[p.name] = draw(st.sampled_from(sorted(level.skills)))
        elif b.id == "go_to":  # a free spot in the arena
            args[p.name] = draw(st.floats(min_value=60, max_value=190))
        else:
            args[p.name] = draw(_arg(p))
    return level_no, b, args, draw(st.floats(min_value=1, max_value=top))


@settings(max_examples=400, deadline=None)
@given(allowed_calls())
def test_every_call_within_the_level_passes(call):
    level_no, b, args, speed = call
    action = translate(b.id, args, speed).action
    assert Gate(clock=FakeClock()).check("kid", level_no, b.id, args, action, ARENA) is None


def test_every_skill_in_the_catalog_has_an_unlock_level_or_a_clear_refusal():
    for name in SKILL_NAMES:
        r = rule_refusal(LEVELS[1], "do_skill", {"skill": name}, NamedSkillAction(name=name, speed_pct=10), ARENA)
        assert r is not None and r.rule in ("block_locked", "skill_locked")
