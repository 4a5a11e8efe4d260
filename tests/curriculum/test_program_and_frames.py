"""Reading programs (Blockly, Scratch, Python) the same way for the judge and the coach; and the top-down
frames: key moments chosen from the attempt, the overlay drawn over the arena."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from curriculum_helpers import fixture_lesson

from curriculum.blockly_json import (compare, distance, forward, if_, position, program, repeat, repeat_while, skill, stop,
                                     to_python, turn)
from curriculum.frames import MAX_KEY_FRAMES, key_frame_indices, render_attempt_images
from curriculum.interpreter import BlocklyInterpreter, UnsupportedBlock
from curriculum.program import ProgramError, analyse
from curriculum.simrun import run_program

SCRATCH_PROJECT = {
    "targets": [{"isStage": False, "name": "Car", "blocks": {
        "hat": {"opcode": "event_whenflagclicked", "next": "rep", "parent": None, "inputs": {}, "fields": {},
                "topLevel": True, "shadow": False},
        "rep": {"opcode": "control_repeat", "next": None, "parent": "hat",
                "inputs": {"TIMES": [1, [6, "4"]], "SUBSTACK": [2, "fwd"]}, "fields": {}, "shadow": False,
                "topLevel": False},
        "fwd": {"opcode": "mikrodojo_moveForward", "next": "trn", "parent": "rep",
                "inputs": {"DISTANCE": [1, [4, "60"]]}, "fields": {}, "shadow": False, "topLevel": False},
        "trn": {"opcode": "mikrodojo_turn", "next": None, "parent": "fwd",
                "inputs": {"DIRECTION": [1, "menu1"], "DEGREES": [1, [4, "90"]]}, "fields": {}, "shadow": False,
                "topLevel": False},
        "menu1": {"opcode": "mikrodojo_menu_direction", "next": None, "parent": "trn", "inputs": {},
                  "fields": {"direction": ["left", None]}, "shadow": True, "topLevel": False},
    }}],
    "meta": {"semver": "3.0.0"},
}


def test_blockly_program_reads_as_blocks_loops_and_text():
    info = analyse(program(repeat(4, forward(60), turn("left", 90))))
    assert info.format == "blockly" and info.block_count == 3 and info.uses_loop and not info.uses_condition
    assert info.dojo_blocks == ["move_forward", "turn"]
    assert info.text == "repeat 4 times:\n  move forward 60 cm\n  turn left 90 degrees"


def test_sensor_loop_counts_the_sensor_and_the_condition():
    info = analyse(program(repeat_while(compare(distance(), "GT", 45), forward(10))))
    assert info.uses_distance_sensor and info.uses_condition and info.uses_loop
    assert info.text.startswith("repeat while distance ahead > 45:")


def test_scratch_project_is_read_without_counting_shadows_or_menus():
    info = analyse(SCRATCH_PROJECT)
    assert info.format == "scratch" and info.uses_loop
    assert info.dojo_blocks == ["move_forward", "turn"] and info.block_count == 3  # repeat, forward, turn


def test_the_same_program_counts_the_same_blocks_in_every_front_end():
    """The green flag is Scratch's way to start, the final car.stop() the export's: neither is a block the
    kid placed, so max_blocks gives the same stars in Scratch, Blockly and the exported Python."""
    square = program(repeat(4, forward(60), turn("left", 90)))
    counts = {analyse(square).block_count, analyse(SCRATCH_PROJECT).block_count,
              analyse(to_python(square, "Square")).block_count}
    assert counts == {3}
    for blocks in ([forward(180)], [repeat_while(compare(position("x"), "GT", 265), forward(10), until=True)],
                   [if_(compare(distance(), "LT", 30), stop(), else_=(forward(10),))]):
        prog = program(*blocks)
        assert analyse(to_python(prog, "t")).block_count == analyse(prog).block_count, to_python(prog, "t")


def test_a_stop_the_kid_placed_still_counts_and_stacks_without_a_hat_do_not_run():
    assert analyse(to_python(program(forward(50), stop()), "t")).block_count == 2  # the kid's stop, not the export's
    orphan = {"targets": [{"isStage": False, "name": "Car", "blocks": {
        **SCRATCH_PROJECT["targets"][0]["blocks"],
        "lone": {"opcode": "mikrodojo_moveBackward", "next": None, "parent": None, "inputs": {}, "fields": {},
                 "shadow": False, "topLevel": True}}}]}
    info = analyse(orphan)
    assert info.block_count == 3 and "move_backward" not in info.dojo_blocks  # never runs on the green flag


def test_python_program_is_read_like_its_blocks():
    info = analyse("import dojo\ncar = dojo.connect('x')\nfor i in range(4):\n    car.forward(60)\n"
                   "    car.turn_left(90)\nif car.distance() < 30:\n    car.do('donut')\n")
    assert info.uses_loop and info.uses_condition and info.uses_distance_sensor and info.skills == ["donut"]


def test_unreadable_programs_get_an_error_naming_the_fix():
    with pytest.raises(ProgramError, match="syntax error on line 1"):
        analyse("car.forward(")
    with pytest.raises(ProgramError, match="Blockly JSON"):
        analyse([1, 2, 3])


def test_interpreter_refuses_blocks_it_cannot_run_instead_of_skipping_them():
    class Port:
        def run_block(self, block_id, args):
            raise AssertionError("nothing should run")

        def read(self, block_id, args):
            return 0.0

    prog = {"blocks": {"blocks": [{"type": "procedures_callnoreturn", "id": "p1"}]}}
    with pytest.raises(UnsupportedBlock, match="procedures_callnoreturn"):
        BlocklyInterpreter(prog, Port()).run()


def test_key_frames_include_start_the_cone_touch_and_end_and_the_overlay_draws_the_path():
    lesson = fixture_lesson()
    # The car's fence keeps it from driving into a cone, so the touch is a scrape: a cone already against
    # the car's side at the start (50, 100), which its side drags along as it drives off.
    arena = lesson.arena.model_copy(update={"cones": [lesson.arena.cones[0].model_copy(update={"x_cm": 60,
                                                                                               "y_cm": 112})]})
    lesson = lesson.model_copy(update={"arena": arena})
    rec = run_program(lesson, program(forward(180))).recording
    picks = key_frame_indices(rec, lesson.arena)
    labels = [label for label, _ in picks]
    assert labels[0] == "start" and labels[-1] == "end" and any(l.startswith("touch cone") for l in labels)
    assert len(picks) <= MAX_KEY_FRAMES
    images = render_attempt_images(rec, lesson.arena)
    overlay = cv2.imdecode(np.frombuffer(images["overlay.png"], np.uint8), cv2.IMREAD_COLOR)
    assert overlay.shape[1] == 480 and overlay.shape[0] > 300
    red_x = np.all(overlay == (0, 0, 220), axis=2).sum()
    assert red_x > 20  # the touch is marked on the overlay
    assert sum(name.startswith("key-") for name in images) == len(picks)


def test_skill_block_reads_its_skill_name():
    assert analyse(program(skill("drift"))).skills == ["drift"]
