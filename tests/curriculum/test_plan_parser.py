"""The deterministic reader ("Tell the car" without a model) on a table of sentences a kid might type.

Every row of fixtures/tell_sentences.yaml goes through the planner with the model switched off, at the row's
level and lesson: the program and the outcome must be exactly the row's. Rows that need a language model
say what the reader answers instead — an honest part with the rest named, never a different program.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from curriculum.loader import default_lessons
from curriculum.plan import check
from curriculum.plan_parser import FORWARD, SHAPES, TURNS, parse
from curriculum.planner import PlanContext, Planner, PlannerConfig
from robot_runtime.arena import Arena, NamedZone

TABLE = Path(__file__).resolve().parent / "fixtures" / "tell_sentences.yaml"
ROWS = yaml.safe_load(TABLE.read_text(encoding="utf-8"))
LESSONS = default_lessons()
READER = Planner(PlannerConfig(enabled=False))


def context(row: dict) -> PlanContext:
    return PlanContext(row.get("level", 4), LESSONS.get(row["lesson"]) if row.get("lesson") else None)


def expected_outcome(row: dict) -> str:
    return row.get("outcome") or ("planned" if row["expect"] else "not_understood")


def test_the_table_has_at_least_100_sentences_with_unique_texts_per_level():
    assert len(ROWS) >= 100
    keys = [(r["say"], r.get("level", 4), r.get("lesson")) for r in ROWS]
    assert len(keys) == len(set(keys)), "a sentence is listed twice for the same kid"


@pytest.mark.parametrize("row", ROWS, ids=[f"L{r.get('level', 4)}:{r['say']}" for r in ROWS])
async def test_the_reader_turns_each_sentence_into_the_tables_program(row):
    result = await READER.plan(row["say"], context(row))
    want = row.get("reader", {}).get("plan", row["expect"])
    assert (result.plan.short() if result.plan else "") == want, result.as_dict()
    assert result.outcome == (expected_outcome(row) if not row.get("reader") else
                              ("planned" if want else "not_understood"))
    assert result.answered_by == "reader"
    if row.get("reader"):
        assert result.skipped == row["reader"]["skipped"]
        assert all(f"“{part}”" in " ".join(result.notes) for part in result.skipped), "the box names what it left out"
    if result.outcome == "explained":
        assert result.kid_text.startswith("I can't make that into blocks: ") and result.rule


async def test_a_locked_skill_beside_an_open_block_is_left_out_with_the_gates_sentence():
    result = await READER.plan("drift then stop", PlanContext(2))
    assert result.plan.short() == "stop"
    assert result.notes == ["The “drift” skill unlocks at level 4 — keep going!"]


async def test_the_lesson_decides_which_blocks_the_reader_may_use():
    lesson = LESSONS.get("l1-wake-up")  # move_forward, move_backward, turn, stop
    result = await READER.plan("go to the garage then do a slalom", PlanContext(4, lesson))
    assert result.plan.short() == "move_forward 190"
    assert "“Wake up, car!” is done without: “do skill …”" in result.notes[0]


async def test_a_point_in_a_closed_zone_is_explained_like_the_gate_explains_it():
    arena = Arena(zones=[NamedZone(name="ramp", kind="target", x0=200, y0=20, x1=280, y1=80, min_level=4)])
    result = await READER.plan("go to 240 50", PlanContext(3, arena=arena))
    assert result.outcome == "explained" and result.rule == "zone_closed"
    assert result.kid_text == "I can't make that into blocks: The ramp zone opens at level 4 — try another spot!"
    assert (await READER.plan("go to 100 50", PlanContext(3, arena=arena))).plan.short() == "go_to 100 50"


WORDS = sorted(FORWARD | TURNS | set(SHAPES) | {"left", "right", "back", "then", "and", "times", "twice", "repeat",
                                                 "do", "it", "cm", "degrees", "seconds", "percent", "slowly", "fast",
                                                 "donut", "drift", "stop", "go", "to", "a", "bit", "speed", "again",
                                                 ",", ".", ":", "forever", "cone", "garage", "x", "y"})


@settings(max_examples=300, deadline=None)
@given(words=st.lists(st.one_of(st.sampled_from(WORDS), st.integers(-50, 2000).map(str),
                                st.text(alphabet="abcxyz-'.,", max_size=6)), max_size=14),
       level=st.integers(1, 4))
def test_whatever_a_kid_types_the_reader_answers_and_its_plans_pass_the_gate(words, level):
    sentence = " ".join(words)
    parsed = parse(sentence, level=level)  # never raises
    assert parsed.plan.block_count >= 0
    result = asyncio.run(READER.plan(sentence, PlanContext(level)))
    assert result.outcome in ("planned", "explained", "not_understood", "refused")
    if result.outcome == "planned":
        checked, problem = check(result.plan, level)
        assert problem is None and checked == result.plan, "a planned program is one the gate lets through"
    else:
        assert result.plan is None and result.kid_text
