"""Every shipped lesson, one row each: the reference solution passes in the simulator (through the real
car runtime), the known-wrong solution fails exactly the check the lesson says it targets, and the
Python twin of the reference solution is the same program."""

from __future__ import annotations

import pytest

from curriculum.blockly_json import to_python
from curriculum.judge import judge
from curriculum.loader import default_lessons
from curriculum.program import analyse
from curriculum.simrun import run_program

LESSONS = default_lessons()
ROWS = [pytest.param(item, id=lid) for lid, item in sorted(LESSONS.lessons.items())]


def test_there_are_at_least_three_lessons_in_each_of_four_levels():
    for number in (1, 2, 3, 4):
        assert len(LESSONS.for_level(number)) >= 3, f"level {number} has too few lessons"


@pytest.mark.parametrize("item", ROWS)
def test_reference_solution_passes_and_wrong_solution_fails_its_check(item):
    lesson = item.lesson
    good = run_program(lesson, lesson.solution.blockly)
    verdict = judge(lesson, good.recording)
    assert verdict.passed, f"{lesson.id} reference failed: {[c for c in verdict.checks if not c.passed]}"
    assert verdict.stars >= 1
    assert not good.refusals
    bad = run_program(lesson, lesson.wrong_solution.blockly)
    wrong = judge(lesson, bad.recording)
    target = wrong.check(lesson.wrong_solution.fails)
    assert not target.passed, f"{lesson.id}: wrong solution passed {target.id} ({target.kid_text})"
    if target.required:
        assert not wrong.passed


@pytest.mark.parametrize("item", ROWS)
def test_python_twin_is_the_same_program(item):
    lesson = item.lesson
    source = item.python_path().read_text(encoding="utf-8")
    assert source == to_python(lesson.solution.blockly, lesson.title)
    compile(source, str(item.python_path()), "exec")
    py, bl = analyse(source), analyse(lesson.solution.blockly)
    assert py.uses_loop == bl.uses_loop and py.uses_distance_sensor == bl.uses_distance_sensor
    assert py.skills == bl.skills
