"""Lessons that teach: a kid who does what the hints say, in order, passes; the hints say the numbers to
type; the picture and the check agree on what "inside" means; and the coach hands out the next hint
after each try that did not pass — never the one that just failed, and none after a pass."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

from curriculum.blockly_json import forward, program
from curriculum.checks import distance_to_zone
from curriculum.coach import feedback_from_checks
from curriculum.frames import Canvas, render_attempt_images
from curriculum.judge import judge
from curriculum.loader import default_lessons
from curriculum.program import blockly_field, blockly_top_blocks, walk_blockly
from curriculum.simrun import run_program

LESSONS = default_lessons()
ROWS = [pytest.param(item.lesson, id=lid) for lid, item in sorted(LESSONS.lessons.items())]
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "eight": 8, "ten": 10}


def typed_in(prog: dict) -> tuple[set[float], set[str]]:
    """The numbers and the skill names a kid types or picks to build this program."""
    numbers, skills = set(), set()
    for block, _shadow in walk_blockly(blockly_top_blocks(prog)):
        if block.get("type") == "math_number":
            numbers.add(float(blockly_field(block, "NUM")))
        if block.get("type") == "dojo_do_skill":
            skills.add(str(blockly_field(block, "SKILL")))
    return numbers, skills


def said(hints: list[str]) -> tuple[set[float], str]:
    text = " ".join(hints).lower()
    numbers = {float(n) for n in re.findall(r"\d+(?:\.\d+)?", text)}
    numbers |= {float(v) for w, v in NUMBER_WORDS.items() if re.search(rf"\b{w}\b", text)}
    return numbers, text


@pytest.mark.parametrize("lesson", ROWS)
def test_following_the_hints_in_order_passes_the_lesson(lesson):
    assert lesson.hints, f"{lesson.id} has no hints"
    assert lesson.hint_solution is not None, f"{lesson.id}: write the program its hints lead to (hint_solution)"
    prog = lesson.hint_solution.blockly
    numbers, skills = typed_in(prog)
    hint_numbers, hint_text = said(lesson.hints)
    assert numbers <= hint_numbers, f"{lesson.id}: the hints never say {sorted(numbers - hint_numbers)}"
    for skill in skills:
        assert skill.replace("_", " ") in hint_text, f"{lesson.id}: the hints never name the {skill} skill"
    sim = run_program(lesson, prog)
    assert not sim.refusals, sim.refusals
    verdict = judge(lesson, sim.recording, prog)
    assert verdict.passed, f"{lesson.id}: following the hints fails: {[c.kid_text for c in verdict.failed]}"


def test_the_wake_up_number_from_the_old_hint_now_reads_as_what_went_wrong():
    """150 cm puts the car's front into the garage but its middle dot just short: the check says so, and
    the hints talk about that dot and aim for the middle of the garage."""
    lesson = LESSONS.get("l1-wake-up")
    verdict = judge(lesson, run_program(lesson, program(forward(150))).recording)
    assert not verdict.passed
    assert "middle dot" in verdict.check("reach_zone").kid_text
    assert "dot" in lesson.hints[0] and "190" in lesson.hints[-1]


@pytest.mark.parametrize("lesson", [p.values[0] for p in ROWS
                                    if any(c.kind == "reach_zone" for c in p.values[0].checks)],
                         ids=lambda lesson: lesson.id)
def test_the_picture_shows_inside_exactly_when_the_check_says_inside(lesson):
    """The overlay draws the car's middle dot at its end pose: it lies in the zone's rectangle on the
    picture exactly when reach_zone(when=end) passes (pixels, not the check's own geometry)."""
    for prog in (lesson.solution.blockly, lesson.wrong_solution.blockly):
        rec = run_program(lesson, prog).recording
        verdict = judge(lesson, rec)
        overlay = cv2.imdecode(np.frombuffer(render_attempt_images(rec, lesson.arena)["overlay.png"], np.uint8),
                               cv2.IMREAD_COLOR)
        canvas = Canvas(lesson.arena)
        end = rec.samples[-1]
        dot = canvas.px(end.x, end.y)
        assert tuple(int(v) for v in overlay[dot[1], dot[0]]) == (255, 255, 255), "the middle dot is drawn"
        for check in lesson.checks:
            if check.kind != "reach_zone" or check.when != "end":
                continue
            zone = lesson.arena.zone(check.zone)
            (left, top), (right, bottom) = canvas.px(zone.x0, zone.y1), canvas.px(zone.x1, zone.y0)
            inside_on_picture = left <= dot[0] <= right and top <= dot[1] <= bottom
            if distance_to_zone(end.x, end.y, zone) > 1.0 or distance_to_zone(end.x, end.y, zone) == 0.0:
                assert inside_on_picture == verdict.check(check.check_id).passed, (lesson.id, check.check_id)


def test_the_coach_gives_the_next_hint_after_each_miss_and_none_after_a_pass():
    lesson = LESSONS.get("l1-wake-up")
    miss = judge(lesson, run_program(lesson, program(forward(150))).recording)
    tips = [feedback_from_checks(lesson, miss, hints_given=n)[1] for n in range(len(lesson.hints) + 1)]
    for n, tip in enumerate(tips[:-1]):
        assert lesson.hints[n] in tip
        assert all(h not in tip for i, h in enumerate(lesson.hints) if i != n), "one hint at a time"
    assert all(h not in tips[-1] for h in lesson.hints), "out of hints: none repeated"
    passed = judge(lesson, run_program(lesson, lesson.hint_solution.blockly).recording)
    went_well, tip = feedback_from_checks(lesson, passed, hints_given=1)
    assert passed.passed and all(h not in tip for h in lesson.hints), "a pass gets no hint"
    for text in (went_well, tip, *tips):
        assert not re.search(r"[.?!]\.", text), f"double punctuation in {text!r}"


def test_a_program_that_never_moved_is_not_praised_for_touching_no_wall():
    lesson = LESSONS.get("l1-wake-up")
    still = judge(lesson, run_program(lesson, program(forward(0))).recording)
    went_well, _tip = feedback_from_checks(lesson, still)
    assert "wall" not in went_well and "move" in went_well
