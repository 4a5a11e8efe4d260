"""A plan in every front end's shape, marked so an attempt shows it came from a sentence, and the gate's
planning rules (the teacher's switch, the lesson's `planning`, the kid's rate)."""

from __future__ import annotations

import ast
import json
from xml.etree import ElementTree

import pytest
from curriculum_helpers import FIXTURES, fixture_lesson

from curriculum.catalog import SCRATCH_OPCODES
from curriculum.gate import PLAN_BURST, Gate, lesson_refusal
from curriculum.loader import LessonFileError, load_lesson
from curriculum.plan import Call, Loop, Plan, PlanError, check, from_json, to_blockly, to_python, to_scratch_xml
from curriculum.program import analyse, plan_comment

SQUARE = Plan((Call("move_forward", {"distance": 30}),
               Loop(4, (Call("move_forward", {"distance": 50}), Call("turn", {"direction": "right", "degrees": 90}))),
               Call("do_skill", {"skill": "slalom"})))
PLAN_ID = "p0a1b2c3d"


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_blockly_json_carries_the_plan_id_on_every_block_and_the_sentence_on_the_first():
    program = to_blockly(SQUARE, PLAN_ID, "a square and a slalom")
    info = analyse(program)
    assert info.plans == [PLAN_ID] and info.as_dict()["from_sentence"] is True
    assert info.dojo_blocks == ["move_forward", "move_forward", "turn", "do_skill"] and info.uses_loop
    top = program["blocks"]["blocks"][0]
    assert top["icons"]["comment"]["text"] == plan_comment(PLAN_ID, "a square and a slalom")
    assert analyse(to_blockly(SQUARE, None, "")).plans == [], "a plan the kid has not got yet carries no mark"


def test_a_program_the_kid_built_is_not_marked_and_a_disabled_planned_block_does_not_count():
    program = to_blockly(Plan((Call("move_forward", {"distance": 30}),)), PLAN_ID, "forward 30")
    program["blocks"]["blocks"][0]["enabled"] = False  # switched off: it never runs
    assert analyse(program).plans == []


def test_the_scratch_script_is_well_formed_xml_of_our_blocks_with_the_sentence_on_its_hat():
    xml = to_scratch_xml(SQUARE, PLAN_ID, 'a square & a "slalom" <now>')
    root = ElementTree.fromstring(xml)
    ns = "{http://www.w3.org/1999/xhtml}"
    hat = root.find(f"{ns}block")
    assert hat.get("type") == "event_whenflagclicked"
    assert hat.find(f"{ns}comment").text == plan_comment(PLAN_ID, 'a square & a "slalom" <now>')
    types = [b.get("type") for b in root.iter(f"{ns}block")]
    assert types == ["event_whenflagclicked", "mikrodojo_moveForward", "control_repeat", "mikrodojo_moveForward",
                     "mikrodojo_turn", "mikrodojo_doSkill"]
    assert all(t.split("_", 1)[1] in SCRATCH_OPCODES for t in types if t.startswith("mikrodojo_"))
    fields = {(s.get("type"), s.find(f"{ns}field").get("name"), s.find(f"{ns}field").text) for s in root.iter(f"{ns}shadow")}
    assert fields == {("math_number", "NUM", "30"), ("math_whole_number", "NUM", "4"), ("math_number", "NUM", "50"),
                      ("mikrodojo_menu_directions", "directions", "right"), ("math_number", "NUM", "90"),
                      ("mikrodojo_menu_skills", "skills", "slalom")}


def test_a_scratch_project_with_the_comment_on_a_script_is_marked():
    project = {"targets": [{"isStage": False, "name": "Car", "blocks": {
        "h": {"opcode": "event_whenflagclicked", "next": "m", "parent": None, "topLevel": True, "inputs": {}, "fields": {}},
        "m": {"opcode": "mikrodojo_moveForward", "next": None, "parent": "h", "topLevel": False,
              "inputs": {"DISTANCE": [1, [4, "30"]]}, "fields": {}}},
        "comments": {"c1": {"blockId": "h", "text": plan_comment(PLAN_ID, "forward 30"), "x": 0, "y": 0},
                     "c2": {"blockId": "gone", "text": plan_comment("p99999999", "deleted script")}}}]}
    assert analyse(project).plans == [PLAN_ID]


def test_the_python_text_is_python_and_reads_back_as_the_same_blocks():
    text = to_python(SQUARE, PLAN_ID, "a square")
    ast.parse(text)
    assert text.splitlines()[0] == f"# {plan_comment(PLAN_ID, 'a square')}"
    assert "for count in range(4):\n    car.forward(50)\n    car.turn_right(90)\n" in text
    info = analyse(text)
    assert info.plans == [PLAN_ID] and sorted(info.dojo_blocks) == ["do_skill", "move_forward", "move_forward", "turn"]


def test_a_sentence_with_line_breaks_stays_inside_the_comment():
    text = to_python(Plan((Call("stop"),)), PLAN_ID, "stop\nimport os\r\n\x00os.remove('x')")
    assert text.splitlines() == [f"# You told the car: “stop import os os.remove('x')” (plan {PLAN_ID})", "car.stop()"]
    ElementTree.fromstring(to_scratch_xml(Plan((Call("stop"),)), PLAN_ID, "a\x01b\u2028c"))


def test_from_json_names_what_is_wrong_with_a_plans_shape():
    cases = {
        '{"steps": [{"block": "fly", "height": 3}]}': "unknown_block",
        '{"steps": "forward"}': "plan_shape",
        '[1, 2]': "plan_shape",
        '{"steps": [{"block": "repeat", "times": 0, "do": [{"block": "stop"}]}]}': "plan_repeat_times",
        '{"steps": [{"block": "repeat", "times": 2, "do": []}]}': "plan_repeat_body",
        '{"steps": [{"block": "repeat", "times": 2, "do": [{"block": "repeat", "times": 2, "do": [{"block": "repeat", '
        '"times": 2, "do": [{"block": "stop"}]}]}]}]}': "plan_depth",
        '{"steps": [' + ",".join(['{"block": "stop"}'] * 13) + "]}": "plan_too_big",
        "forward 30": "plan_json",
    }
    for text, rule in cases.items():
        with pytest.raises(PlanError) as err:
            from_json(text)
        assert err.value.rule == rule, text
        assert err.value.fix


def test_check_uses_the_catalogs_and_the_gates_sentences():
    def problem(steps, level=1):
        return check(from_json({"steps": steps}), level)[1]

    assert problem([{"block": "move_forward", "distance": 600}]).kid_text == "Use a distance from 0 to 500!"
    assert problem([{"block": "drive_for", "speed": 40, "seconds": 2}]).kid_text == \
        "The “drive at …% for … seconds” block unlocks at level 2 — keep going!"
    assert problem([{"block": "set_speed", "speed": 60}], level=2).kid_text == "Level 2 cars go up to 50% — try 50!"
    assert problem([{"block": "distance"}], level=2).rule == "plan_block_kind"
    assert problem([]).rule == "plan_empty"
    checked, none = check(from_json({"steps": [{"block": "turn", "degrees": 45.0}]}), 1)
    assert none is None and checked.short() == "turn left 45", "defaults filled, whole numbers plain"


def test_a_lesson_without_planning_refuses_blocks_from_a_sentence_and_only_those():
    lesson = fixture_lesson().model_copy(update={"planning": False})
    planned = to_blockly(Plan((Call("move_forward", {"distance": 180}),)), PLAN_ID, "into the garage")
    refusal = lesson_refusal(lesson, planned)
    assert refusal.rule == "lesson_planned_blocks"
    assert refusal.kid_text == ("In “Into the garage” you build the blocks yourself — take out the blocks from "
                                "Tell the car and try again!")
    assert lesson_refusal(lesson, to_blockly(Plan((Call("move_forward", {"distance": 180}),)), None, "")) is None
    assert lesson_refusal(fixture_lesson(), planned) is None, "planning is allowed unless a lesson says otherwise"


def test_the_lesson_field_is_validated(tmp_path):
    source = (FIXTURES / "garage.yaml").read_text()
    good = tmp_path / "planning-off.yaml"
    good.write_text(source.replace("id: fixture-garage", "id: planning-off") + "planning: false\n")
    assert load_lesson(good).lesson.planning is False and load_lesson(good).lesson.summary()["planning"] is False
    bad = tmp_path / "planning-maybe.yaml"
    bad.write_text(source.replace("id: fixture-garage", "id: planning-maybe") + "planning: maybe\n")
    with pytest.raises(LessonFileError) as err:
        load_lesson(bad)
    assert "planning-maybe.yaml" in str(err.value) and "planning" in str(err.value)


def test_the_gate_asks_the_teachers_switch_the_lesson_and_the_kids_plan_rate():
    clock = FakeClock()
    gate = Gate(clock=clock)
    assert gate.plan_check("kid", class_allows=False, lesson=None).rule == "planning_off"
    lesson = fixture_lesson().model_copy(update={"planning": False})
    assert gate.plan_check("kid", class_allows=True, lesson=lesson).kid_text == \
        "In “Into the garage” you build the blocks yourself — Tell the car is off for this lesson."
    assert [gate.plan_check("kid", class_allows=True, lesson=None) for _ in range(PLAN_BURST)] == [None] * PLAN_BURST
    refused = gate.plan_check("kid", class_allows=True, lesson=None)
    assert refused.rule == "plan_rate" and "few seconds" in refused.kid_text
    assert gate.plan_check("other-kid", class_allows=True, lesson=None) is None, "each kid has their own"
    clock.t += 10.0
    assert gate.plan_check("kid", class_allows=True, lesson=None) is None
    gate.forget("kid")
    assert json.dumps([gate.plan_check("kid", class_allows=True, lesson=None) for _ in range(PLAN_BURST)]) == \
        json.dumps([None] * PLAN_BURST)
