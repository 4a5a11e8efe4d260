"""The planner against a small local Ollama stand-in that records what it receives.

Each way a model can let a kid down — malformed JSON, blocks above the kid's level, slow, down, rude — gives
one clear outcome (blocks from the model or the reader, or one sentence why not) and says who answered.
Nothing here can run a program: the planner only writes blocks (the server test checks no car moved).
"""

from __future__ import annotations

import asyncio
import json

import jsonschema
import pytest
from curriculum_helpers import fixture_lesson
from fake_ollama import FakeOllama, plan_reply
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curriculum.catalog import BLOCKS, SKILL_NAMES
from curriculum.levels import LEVELS
from curriculum.plan import REPEAT, check, from_json, plan_schema
from curriculum.planner import PlanContext, Planner, PlannerConfig
from robot_runtime.arena import Arena

FORWARD_30 = {"block": "move_forward", "distance": 30}
TURN_LEFT = {"block": "turn", "direction": "left", "degrees": 90}


@pytest.fixture
async def ollama_fake():
    fake = await FakeOllama().start()
    yield fake
    await fake.stop()


def planner(fake: FakeOllama, timeout_s: float = 5.0) -> Planner:
    return Planner(PlannerConfig(host=fake.url, model="qwen2.5vl:3b", timeout_s=timeout_s))


async def test_the_model_gets_the_level_schema_and_the_lesson_and_its_plan_is_shown(ollama_fake):
    lesson = fixture_lesson()  # level 2, blocks move_forward, turn, set_speed; a garage 140-220 cm ahead
    ollama_fake.replies = [plan_reply({"block": REPEAT, "times": 2, "do": [FORWARD_30, TURN_LEFT]},
                                      note="Two steps forward and a turn, twice!")]
    result = await planner(ollama_fake).plan("forward 30 and left, twice", PlanContext(2, lesson))
    assert result.outcome == "planned" and result.answered_by == "model" and result.model == "qwen2.5vl:3b"
    assert result.plan.short() == "repeat 2 [move_forward 30; turn left 90]"
    assert result.kid_text.endswith("Two steps forward and a turn, twice!")
    [sent] = ollama_fake.received
    assert sent["format"] == plan_schema(2, allowed_blocks=lesson.allowed_blocks, arena=lesson.arena)
    assert set(sent["format"]["$defs"]) == {"move_forward", "turn", "set_speed", "stop", "loop", "inner_loop"}
    user = sent["messages"][-1]["content"]
    assert '"forward 30 and left, twice"' in user and lesson.goal in user and "Zone garage" in user
    assert "Top speed at this level: 50%" in user


async def test_malformed_json_is_repaired_once(ollama_fake):
    ollama_fake.replies = ['{"steps": [{"block": "move_forward", "distance": 30}', plan_reply(FORWARD_30)]
    result = await planner(ollama_fake).plan("forward 30", PlanContext(1))
    assert result.outcome == "planned" and result.answered_by == "model"
    assert len(ollama_fake.received) == 2 and result.rejected[0].startswith("malformed: not JSON")
    assert "could not be used (malformed" in ollama_fake.received[1]["messages"][-1]["content"]


async def test_malformed_twice_gives_the_readers_blocks_and_tells_the_teacher(ollama_fake):
    ollama_fake.replies = ["not json at all", '{"program": "forward"}']
    result = await planner(ollama_fake).plan("forward 30 then turn left", PlanContext(1))
    assert result.outcome == "planned" and result.answered_by == "reader"
    assert result.plan.short() == "move_forward 30; turn left 90"
    assert "replies were not usable" in result.teacher_note and len(result.rejected) == 2
    assert result.rejected[1].startswith("malformed: a plan is an object with a list called steps")


async def test_out_of_level_blocks_are_repaired_once(ollama_fake):
    ollama_fake.replies = [plan_reply({"block": "drive_for", "speed": 30, "seconds": 2}), plan_reply(FORWARD_30)]
    result = await planner(ollama_fake).plan("drive forward a while", PlanContext(1))
    assert result.outcome == "planned" and result.plan.short() == "move_forward 30"
    assert result.rejected == ["refused by the gate: block_locked: drive_for needs level 2, kid is level 1"]
    assert "block_locked" in ollama_fake.received[1]["messages"][-1]["content"]


async def test_out_of_level_twice_is_explained_with_the_gates_sentence(ollama_fake):
    drift = plan_reply({"block": "do_skill", "skill": "drift"})
    ollama_fake.replies = [drift, drift]
    result = await planner(ollama_fake).plan("make the car drift", PlanContext(2))
    assert result.outcome == "explained" and result.plan is None and result.answered_by == "model"
    assert result.kid_text == "I can't make that into blocks: The “drift” skill unlocks at level 4 — keep going!"
    assert result.rule == "skill_locked"


async def test_a_wish_the_model_cannot_do_is_explained_without_a_second_try(ollama_fake):
    ollama_fake.replies = [plan_reply(cannot=["drift"])]
    result = await planner(ollama_fake).plan("drift!", PlanContext(2))
    assert result.outcome == "explained" and len(ollama_fake.received) == 1
    assert "“drift” skill unlocks at level 4" in result.kid_text


async def test_what_the_sentence_asked_for_beyond_the_level_is_named_beside_the_models_blocks(ollama_fake):
    ollama_fake.replies = [plan_reply(FORWARD_30)]  # the model quietly left the donut out
    result = await planner(ollama_fake).plan("forward 30 then a donut", PlanContext(3))
    assert result.plan.short() == "move_forward 30"
    assert result.notes == ["The “donut” skill unlocks at level 4 — keep going!"]


async def test_numbers_out_of_range_are_repaired(ollama_fake):
    ollama_fake.replies = [plan_reply({"block": "move_forward", "distance": 900}),
                           plan_reply({"block": "move_forward", "distance": 500})]
    result = await planner(ollama_fake).plan("go really far", PlanContext(1))
    assert result.plan.short() == "move_forward 500"
    assert result.rejected[0] == ("refused by the gate: distance_range: distance must be between 0 and 500 cm "
                                  "(got 900); fix: use a distance from 0 to 500")


async def test_a_slow_model_times_out_and_the_reader_answers(ollama_fake):
    ollama_fake.replies = [("sleep", 3.0), plan_reply(FORWARD_30)]
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await planner(ollama_fake, timeout_s=0.5).plan("go back a bit", PlanContext(1))
    assert loop.time() - started < 2.5
    assert result.answered_by == "reader" and result.plan.short() == "move_backward 10"
    assert "took longer than 0.5 s" in result.teacher_note


async def test_a_model_that_is_down_leaves_the_reader_to_answer_or_say_it_did_not_understand():
    fake = await FakeOllama().start()
    url = fake.url
    await fake.stop()
    down = Planner(PlannerConfig(host=url, timeout_s=2.0))
    result = await down.plan("turn right", PlanContext(1))
    assert result.answered_by == "reader" and result.plan.short() == "turn right 90"
    assert "not reachable" in result.teacher_note
    result = await down.plan("follow the line", PlanContext(1))
    assert result.outcome == "not_understood" and result.plan is None
    assert result.kid_text.startswith("I didn't understand that")


async def test_http_errors_are_retried_then_the_reader_answers(ollama_fake):
    ollama_fake.replies = [("status", 500), ("status", 500)]
    result = await planner(ollama_fake).plan("forward 30", PlanContext(1))
    assert result.answered_by == "reader" and len(ollama_fake.received) == 2
    assert all(r.startswith("error reply") for r in result.rejected)


async def test_rude_or_personal_sentences_never_reach_the_model(ollama_fake):
    p = planner(ollama_fake)
    rude = await p.plan("drive forward you stupid car", PlanContext(1))
    assert rude.outcome == "refused" and rude.rule == "rude" and rude.answered_by == "nobody"
    personal = await p.plan("my name is Mia Schmidt and I live in Berlin", PlanContext(1))
    assert personal.outcome == "refused" and personal.rule == "personal_data"
    assert "Mia" not in personal.teacher_note
    long = await p.plan("forward " * 40, PlanContext(1))
    assert long.outcome == "refused" and long.rule == "too_long"
    assert ollama_fake.received == []


async def test_a_rude_note_from_the_model_is_never_shown(ollama_fake):
    ollama_fake.replies = [plan_reply(FORWARD_30, note="Easy, even an idiot could do this."),
                           plan_reply(FORWARD_30, note="Off you go!")]
    result = await planner(ollama_fake).plan("forward 30", PlanContext(1))
    assert result.answered_by == "model" and "idiot" not in result.kid_text and result.kid_text.endswith("Off you go!")
    assert result.rejected == ["rude in its note: 'idiot'"]
    ollama_fake.replies = [plan_reply(FORWARD_30, note="Visit www.cars.example.com"),
                           plan_reply(FORWARD_30, note="Call me at 0176 1234567")]
    result = await planner(ollama_fake).plan("forward 30", PlanContext(1))
    assert result.answered_by == "reader" and "www" not in result.kid_text
    assert [r.split(":")[0] for r in result.rejected] == ["personal_data in its note", "personal_data in its note"]


# --- the schema is the block table's, and only admits what the gate lets through -------------------------


def schema_names(schema: dict) -> set[str]:
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if "const" in node:
                found.add(node["const"])
            for key, value in node.items():
                if key == "enum":
                    found.update(v for v in value if isinstance(v, str))
                walk(value)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk({k: v for k, v in schema.items() if k != "properties"})
    walk(schema["properties"]["steps"])
    return found


@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_the_schema_names_only_the_levels_blocks_and_skills(level):
    names = schema_names(plan_schema(level)) - {REPEAT, "left", "right"}
    lv = LEVELS[level]
    assert names == {b.id for b in BLOCKS if b.kind in ("command", "setting") and lv.allows_block(b.id)} | \
        ({s for s in SKILL_NAMES if lv.allows_skill(s)} if lv.allows_block("do_skill") else set())


# Numbers a kid (or a model) might write, the interesting ones of the domain more often: 0, each level's top
# speed and one above, the block table's bounds and one beyond, the arena's size.
NUMBERS = st.one_of(st.sampled_from([-1, 0, 0.05, 1, 20, 30, 31, 50, 51, 70, 71, 90, 100, 101, 200, 201, 300, 301, 500,
                                     501, 1080, 1081, 5000, 5001]),
                    st.integers(-5, 1200), st.floats(-50, 6000, allow_nan=False))


def _candidate_steps(level: int, depth: int = 0):
    """Block calls with any values (menus, skills that exist or not, numbers in and out of range) and loops of
    any size; three times in four a block the level has, so most examples test values rather than names."""
    every = [b for b in BLOCKS if b.kind in ("command", "setting")]
    opened = [b for b in every if LEVELS[level].allows_block(b.id)]
    call = st.one_of(st.sampled_from(opened), st.sampled_from(opened), st.sampled_from(opened), st.sampled_from(every)) \
        .flatmap(lambda b: st.fixed_dictionaries(
            {"block": st.just(b.id), **{p.name: (st.sampled_from(SKILL_NAMES + ("moonwalk",)) if p.kind == "skill" else
                                                 st.sampled_from(p.options) if p.kind == "menu" else NUMBERS)
                                        for p in b.params}}))
    if depth >= 2:
        return call
    loop = st.fixed_dictionaries({"block": st.just(REPEAT), "times": st.one_of(st.sampled_from([0, 1, 4, 20, 21, 99]),
                                                                               st.integers(-2, 30)),
                                  "do": st.lists(_candidate_steps(level, depth + 1), min_size=0, max_size=4)})
    return st.one_of(call, call, loop)


# go_to's numbers are bounded by the arena; zones closed at a level are the gate's alone (a JSON schema cannot
# say "not inside this box"), so this arena has none: a model that hits one is repaired by the gate's answer.
OPEN_ARENA = Arena(width_cm=300, height_cm=200)
SCHEMA_CHECKERS = {level: jsonschema.Draft202012Validator(plan_schema(level, arena=OPEN_ARENA)) for level in (1, 2, 3, 4)}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_plan_the_schema_admits_is_one_the_gate_lets_through(data):
    """Independent oracle: jsonschema decides what the schema admits; the gate (curriculum.plan.check) must agree
    for every admitted plan — so a model that follows the schema can never propose a refused program."""
    level = data.draw(st.integers(1, 4), label="level")
    candidate = {"steps": data.draw(st.lists(_candidate_steps(level), min_size=1, max_size=2), label="steps")}
    if not SCHEMA_CHECKERS[level].is_valid(candidate):
        return
    checked, problem = check(from_json(candidate), level, arena=OPEN_ARENA)
    assert problem is None, (json.dumps(candidate), problem.detail)


@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_the_readers_programs_fit_the_schema_a_model_gets(level):
    reader = Planner(PlannerConfig(enabled=False))
    for sentence in ("forward 30 then turn left, do it 4 times", "drive a square twice", "back 20 slowly",
                     "drive for 2 seconds", "go to 100 50", "do a slalom", "set speed to 30"):
        result = asyncio.run(reader.plan(sentence, PlanContext(level)))
        if result.plan is not None:
            jsonschema.validate(result.plan.as_json(), plan_schema(level))
