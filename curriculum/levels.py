"""The four levels: how fast a kid's car may go; which blocks and skills open comes from the block table.

Levels unlock the car's physical capability, not only the lesson list: the gate checks every block
call against the kid's level, and the car gets the level's top speed as its session limit. Each row of
the catalog (and each skill) names the first level that may use it, so a new block needs no edit here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from curriculum.catalog import CATALOG, Catalog


@dataclass(frozen=True)
class Level:
    number: int
    title: str
    max_speed_pct: float
    catalog: Catalog = field(default=CATALOG, compare=False, repr=False)

    @cached_property
    def blocks(self) -> frozenset[str]:
        return frozenset(b.id for b in self.catalog.blocks if b.level <= self.number)

    @property
    def skills(self) -> frozenset[str]:
        """Asked each time: learned skills may join the table while the server runs."""
        return frozenset(s.name for s in self.catalog.skills() if s.level <= self.number)

    def allows_block(self, block_id: str) -> bool:
        return block_id in self.blocks

    def allows_skill(self, name: str) -> bool:
        skill = self.catalog.skill(name)
        return skill is not None and skill.level <= self.number


LEVELS: dict[int, Level] = {
    1: Level(1, "First drive", 30),
    2: Level(2, "Sensors and speed", 50),
    3: Level(3, "Navigator", 70),
    4: Level(4, "Stunt driver", 100),
}
MIN_LEVEL, MAX_LEVEL = 1, 4


def level(number: int) -> Level:
    if number not in LEVELS:
        raise ValueError(f"level must be between {MIN_LEVEL} and {MAX_LEVEL} (got {number})")
    return LEVELS[number]


def unlock_level_for_block(block_id: str, catalog: Catalog = CATALOG) -> int | None:
    """The first level where a block is open (for 'unlocks at level N' teasers)."""
    row = catalog.by_id.get(block_id)
    return row.level if row else None


def unlock_level_for_skill(name: str, catalog: Catalog = CATALOG) -> int | None:
    skill = catalog.skill(name)
    return skill.level if skill else None
