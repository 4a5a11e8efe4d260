"""The four levels: which blocks and skills a kid may use, and how fast their car may go.

Levels unlock the car's physical capability, not only the lesson list: the gate checks every block
call against the kid's level, and the car gets the level's top speed as its session limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from curriculum.catalog import BLOCKS_BY_ID, SKILL_NAMES


@dataclass(frozen=True)
class Level:
    number: int
    title: str
    blocks: frozenset[str]
    skills: frozenset[str]
    max_speed_pct: float
    zones_up_to: int  # arena zones with min_level <= this are open

    def allows_block(self, block_id: str) -> bool:
        return block_id in self.blocks

    def allows_skill(self, name: str) -> bool:
        return name in self.skills


_L1 = frozenset({"move_forward", "move_backward", "turn", "stop"})
_L2 = _L1 | {"set_speed", "drive_for", "distance", "position", "when_obstacle"}
_L3 = _L2 | {"go_to", "do_skill"}
_L4 = frozenset(BLOCKS_BY_ID)

LEVELS: dict[int, Level] = {
    1: Level(1, "First drive", _L1, frozenset(), 30, 1),
    2: Level(2, "Sensors and speed", _L2, frozenset(), 50, 2),
    3: Level(3, "Navigator", _L3, frozenset({"slalom", "figure_eight"}), 70, 3),
    4: Level(4, "Stunt driver", _L4, frozenset(SKILL_NAMES), 100, 4),
}
MIN_LEVEL, MAX_LEVEL = 1, 4


def level(number: int) -> Level:
    if number not in LEVELS:
        raise ValueError(f"level must be between {MIN_LEVEL} and {MAX_LEVEL} (got {number})")
    return LEVELS[number]


def unlock_level_for_block(block_id: str) -> int | None:
    """The first level where a block is open (for 'unlocks at level N' teasers)."""
    return next((n for n, lv in LEVELS.items() if block_id in lv.blocks), None)


def unlock_level_for_skill(name: str) -> int | None:
    return next((n for n, lv in LEVELS.items() if name in lv.skills), None)
