"""The block table as the single source: the generated Blockly module is fresh, the skill table takes
learned skills through a source without ever letting one borrow a built-in's name or level."""

from __future__ import annotations

import logging

from curriculum.catalog import BLOCKS, SKILLS, Catalog, Skill
from curriculum.front_ends import BLOCKLY_MODULE, blockly_module
from curriculum.levels import Level


def test_the_generated_blockly_module_is_fresh():
    assert BLOCKLY_MODULE.read_text(encoding="utf-8") == blockly_module(), (
        "blockly_app/src/catalog.gen.js is stale: run `python -m curriculum.front_ends` and commit it")


def test_a_learned_skill_joins_the_menu_at_its_level_and_nowhere_lower():
    catalog = Catalog(BLOCKS, SKILLS)
    catalog.add_skill_source(lambda: [Skill("mia_park", 3)])
    level2, level3 = Level(2, "two", 50, catalog), Level(3, "three", 70, catalog)
    assert catalog.skill("mia_park") == Skill("mia_park", 3, learned=True)
    assert "mia_park" in level3.skills and level3.allows_skill("mia_park")
    assert not level2.allows_skill("mia_park")
    assert catalog.check_args(catalog.block("do_skill"), {"skill": "mia_park"}) == {"skill": "mia_park"}


def test_a_learned_skill_never_takes_a_builtins_name_or_permissions(caplog):
    catalog = Catalog(BLOCKS, SKILLS)
    catalog.add_skill_source(lambda: [Skill("drift", 1), Skill("stop", 1), Skill("Not A Name", 1),
                                      Skill("slalom", 1, learned=False), Skill("own_trick", 4, learned=False)])
    with caplog.at_level(logging.WARNING):
        skills = {s.name: s for s in catalog.skills()}
    assert skills["drift"] == Skill("drift", 4) and skills["slalom"] == Skill("slalom", 3)  # the built-ins, untouched
    assert "stop" not in skills and "Not A Name" not in skills  # a block's name, not a skill name
    assert skills["own_trick"].learned  # a source cannot say its skill is built in
    assert [s.name for s in catalog.skills()].count("drift") == 1
    assert "left out" in caplog.text


def test_a_failing_skill_source_leaves_the_built_in_vocabulary_alone(caplog):
    catalog = Catalog(BLOCKS, SKILLS)

    def broken() -> list[Skill]:
        raise OSError("the skill registry's disk is gone")

    catalog.add_skill_source(broken)
    with caplog.at_level(logging.ERROR):
        assert catalog.skills() == SKILLS
    assert "skill source failed" in caplog.text
