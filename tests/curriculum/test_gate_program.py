"""The gate's program entry point: a whole Blockly program at the green flag, against the kid's level.

The toolbox alone does not stop a hand-edited file; every block that will run is checked, with the
same rule and the same kid sentence as that block sent on its own.
"""

from __future__ import annotations

import pytest

from curriculum.gate import MAX_PROGRAM_BLOCKS, program_refusal, rule_refusal
from curriculum.levels import LEVELS


def number(n):
    return {"shadow": {"type": "math_number", "fields": {"NUM": n}}}


def program(*blocks):
    """A Blockly workspace JSON with the given top blocks."""
    return {"blocks": {"languageVersion": 0, "blocks": list(blocks)}}


def stack(*blocks):
    """Chain blocks through `next` (Blockly's serialization of a stack)."""
    first = dict(blocks[0])
    node = first
    for b in blocks[1:]:
        node["next"] = {"block": dict(b)}
        node = node["next"]["block"]
    return first


FORWARD = {"type": "dojo_move_forward", "id": "fwd", "inputs": {"DISTANCE": number(20)}}
TURN = {"type": "dojo_turn", "id": "trn", "fields": {"DIRECTION": "left"}, "inputs": {"DEGREES": number(90)}}
SKILL_SLALOM = {"type": "dojo_do_skill", "id": "sk1", "fields": {"SKILL": "slalom"}}
SKILL_DRIFT = {"type": "dojo_do_skill", "id": "sk2", "fields": {"SKILL": "drift"}}
GO_TO = {"type": "dojo_go_to", "id": "goto1", "inputs": {"X": number(100), "Y": number(50)}}


def repeat(times, *body):
    return {"type": "controls_repeat_ext", "id": "rep", "inputs": {"TIMES": number(times), "DO": {"block": stack(*body)}}}


# --- one row per promise -----------------------------------------------------------

CHECK_ROWS = [
    # (level, program, expected rule or None, expected kid text or None)
    (1, program(stack(FORWARD, TURN)), None, None),
    (1, program(repeat(4, FORWARD, TURN)), None, None),
    (1, program(stack(FORWARD, SKILL_SLALOM)), "block_locked", "The “do skill …” block unlocks at level 3 — keep going!"),
    (1, program(repeat(4, FORWARD, GO_TO)), "block_locked", "The “go to x … y …” block unlocks at level 3 — keep going!"),
    (3, program(stack(FORWARD, SKILL_SLALOM)), None, None),
    (3, program(stack(SKILL_DRIFT)), "skill_locked", "The “drift” skill unlocks at level 4 — keep going!"),
    (4, program(stack(SKILL_DRIFT)), None, None),
    (4, program({"type": "text_print", "id": "p"}), "program_unknown_block",
     "I don't know the block 'text_print' — it isn't a MIKRO-DOJO block."),
    (1, program({"type": "dojo_when_obstacle", "id": "hat", "fields": {"DISTANCE": 20}}), "block_locked",
     "The “when obstacle closer than … cm” block unlocks at level 2 — keep going!"),
]


@pytest.mark.parametrize("level,prog,rule,kid_text", CHECK_ROWS)
def test_program_check_refuses_the_first_locked_block_naming_it(level, prog, rule, kid_text):
    refusal = program_refusal(level, prog)
    if rule is None:
        assert refusal is None
    else:
        assert refusal is not None and refusal.rule == rule
        assert refusal.kid_text == kid_text


def test_program_check_finds_a_locked_block_hidden_in_a_function_and_a_shadow_slot():
    hidden = {"type": "procedures_defnoreturn", "id": "fn", "fields": {"NAME": "tricks"},
              "inputs": {"STACK": {"block": stack(FORWARD, {"type": "controls_if", "id": "if1", "inputs": {
                  "IF0": {"block": {"type": "logic_compare", "id": "cmp", "fields": {"OP": "LT"},
                                    "inputs": {"A": {"shadow": {"type": "dojo_distance", "id": "dist"}}, "B": number(5)}}},
              }})}}}
    refusal = program_refusal(1, program(hidden))
    assert refusal is not None and refusal.rule == "block_locked"
    assert "distance" in refusal.kid_text and "(block dist)" in refusal.detail


def test_program_check_skips_a_block_the_kid_disabled_but_checks_the_blocks_under_it():
    off = dict(SKILL_SLALOM, disabledReasons=["MANUALLY_DISABLED"])
    assert program_refusal(1, program(stack(FORWARD, off, TURN))) is None  # Blockly never runs it
    refusal = program_refusal(1, program(stack(off, GO_TO)))
    assert refusal is not None and refusal.rule == "block_locked" and "go to" in refusal.kid_text


def test_program_check_ignores_scratch_projects_and_python_text():
    assert program_refusal(1, {"targets": []}) is None
    assert program_refusal(1, "import dojo\n") is None


def test_program_check_refuses_an_unreadable_or_huge_file_with_a_reason():
    broken = program_refusal(1, {"blocks": {"blocks": "not a list"}})
    assert broken is not None and broken.rule == "program_unreadable"
    huge = program(*[{"type": "dojo_stop", "id": f"s{i}"} for i in range(MAX_PROGRAM_BLOCKS + 1)])
    too_big = program_refusal(4, huge)
    assert too_big is not None and too_big.rule == "program_too_big"


def test_program_check_survives_a_very_deep_stack_without_recursion():
    deep = {"type": "dojo_stop", "id": "s0"}
    node = deep
    for i in range(1, 1500):
        node["next"] = {"block": {"type": "dojo_stop", "id": f"s{i}"}}
        node = node["next"]["block"]
    node["next"] = {"block": dict(SKILL_SLALOM)}
    refusal = program_refusal(1, program(deep))
    assert refusal is not None and refusal.rule == "block_locked"


def test_a_locked_block_gets_the_same_rule_and_sentence_alone_and_inside_a_program():
    for level, block_json, block_id, args in ((1, GO_TO, "go_to", {"x": 100, "y": 50}),
                                              (3, SKILL_DRIFT, "do_skill", {"skill": "drift"})):
        alone = rule_refusal(LEVELS[level], block_id, args, None, None)
        in_program = program_refusal(level, program(stack(FORWARD, block_json)))
        assert alone is not None and in_program is not None
        assert (alone.rule, alone.kid_text) == (in_program.rule, in_program.kid_text)


# --- fix: a block the kid switched off never runs, so no rule counts it ------------------------------


def _lesson(allowed):
    from curriculum_helpers import fixture_lesson

    return fixture_lesson().model_copy(update={"allowed_blocks": allowed})


def test_a_lessons_done_without_check_ignores_a_disabled_block():
    from curriculum.gate import lesson_refusal

    lesson = _lesson(["move_forward", "turn"])
    off = dict(GO_TO, disabledReasons=["MANUALLY_DISABLED"])
    assert lesson_refusal(lesson, program(stack(FORWARD, off, TURN))) is None
    refused = lesson_refusal(lesson, program(stack(FORWARD, GO_TO, TURN)))
    assert refused is not None and refused.rule == "lesson_blocks" and "go to" in refused.kid_text


def test_max_blocks_and_the_uses_checks_do_not_count_a_disabled_block():
    from curriculum.program import analyse

    off_loop = dict(repeat(4, FORWARD), enabled=False)  # the older Blockly spelling of "disabled"
    info = analyse(program(stack(FORWARD, off_loop, TURN)))
    assert info.block_count == 2 and info.dojo_blocks == ["move_forward", "turn"]
    assert not info.uses_loop
    on = analyse(program(stack(FORWARD, repeat(4, FORWARD), TURN)))
    assert on.block_count == 4 and on.uses_loop
