"""The curriculum gate: may this kid run this block now?

Pure checks over the kid's level, the block call (already translated), the arena and a per-kid
token bucket. A refusal carries a sentence for the kid and a detail for the teacher (rule, value,
limit). ``stop`` is never gated and never rate limited: the classroom handles it before the gate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from curriculum.levels import LEVELS, Level, unlock_level_for_block, unlock_level_for_skill
from robot_runtime.arena import Arena
from robot_runtime.protocol import Action, DriveAction, GotoAction, NamedSkillAction, StopAction, TurnAction
from curriculum.catalog import BLOCKS_BY_ID

BLOCKS_PER_S = 5.0  # a Scratch loop of short moves needs ~1/s per kid; 5/s leaves room, a flood does not get through
BLOCK_BURST = 20  # a program may start with a quick series of settings and short moves
READS_PER_S = 50.0  # reporters (distance, x, y) only read telemetry, so they may poll faster
READ_BURST = 100


@dataclass(frozen=True)
class Refusal:
    rule: str  # speed_limit, block_locked, skill_locked, zone_closed, zone_forbidden, outside_arena, rate_limit, ...
    kid_text: str
    detail: str  # for the teacher: rule, value, limit
    value: Any = None
    limit: Any = None


class TokenBucket:
    """Classic token bucket with an injected clock (tests move time by hand)."""

    def __init__(self, rate_per_s: float, burst: int, clock: Callable[[], float]) -> None:
        self.rate, self.burst, self._clock = rate_per_s, float(burst), clock
        self._tokens, self._last = float(burst), clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


def _speed_of(action: Action | None) -> float | None:
    if isinstance(action, (DriveAction, TurnAction, GotoAction, NamedSkillAction)):
        return action.speed_pct
    return None


def speed_refusal(level: Level, asked: float) -> Refusal | None:
    top = level.max_speed_pct
    if asked <= top:
        return None
    return Refusal("speed_limit", f"Level {level.number} cars go up to {top:g}% — try {top:g}!",
                   f"speed_limit: asked {asked:g}%, level {level.number} max {top:g}%", asked, top)


def rule_refusal(level: Level, block_id: str, args: dict[str, Any], action: Action | None,
                 arena: Arena | None) -> Refusal | None:
    """Every level rule, without the rate limit (pure: same input, same answer)."""
    if block_id == "stop":
        return None
    b = BLOCKS_BY_ID.get(block_id)
    if b is None:
        return Refusal("unknown_block", "I don't know that block.", f"unknown_block: {block_id!r}", block_id)
    if not level.allows_block(block_id):
        unlock = unlock_level_for_block(block_id)
        return Refusal("block_locked", f"The “{block_id.replace('_', ' ')}” block unlocks at level {unlock} — keep going!",
                       f"block_locked: {block_id} needs level {unlock}, kid is level {level.number}",
                       block_id, unlock)
    skill = args.get("skill") if block_id == "do_skill" else None
    if isinstance(action, NamedSkillAction):
        skill = action.name
    if skill is not None and not level.allows_skill(str(skill)):
        unlock = unlock_level_for_skill(str(skill))
        when = f"unlocks at level {unlock}" if unlock else "is not in this class yet"
        return Refusal("skill_locked", f"The {str(skill).replace('_', ' ')} trick {when}!",
                       f"skill_locked: {skill} needs level {unlock}, kid is level {level.number}", skill, unlock)
    for asked in (args.get("speed") if block_id in ("set_speed", "drive_for") else None, _speed_of(action)):
        if isinstance(asked, (int, float)):
            refusal = speed_refusal(level, float(asked))
            if refusal:
                return refusal
    if isinstance(action, GotoAction) and arena is not None:
        return _goto_refusal(level, action, arena)
    return None


def _goto_refusal(level: Level, action: GotoAction, arena: Arena) -> Refusal | None:
    x, y = action.x_cm, action.y_cm
    if not (0 <= x <= arena.width_cm and 0 <= y <= arena.height_cm):
        return Refusal("outside_arena",
                       f"That spot is outside the arena — pick x 0–{arena.width_cm:g}, y 0–{arena.height_cm:g}.",
                       f"outside_arena: goto ({x:g}, {y:g}), arena is {arena.width_cm:g} x {arena.height_cm:g} cm",
                       (x, y), (arena.width_cm, arena.height_cm))
    for zone in arena.zones:
        if not zone.contains(x, y):
            continue
        if zone.kind == "forbidden":
            return Refusal("zone_forbidden", f"The {zone.name} zone is off limits — pick another spot.",
                           f"zone_forbidden: goto ({x:g}, {y:g}) inside forbidden zone '{zone.name}'", (x, y), zone.name)
        if zone.min_level is not None and zone.min_level > level.number:
            return Refusal("zone_closed", f"The {zone.name} zone opens at level {zone.min_level} — try another spot!",
                           f"zone_closed: goto ({x:g}, {y:g}) inside zone '{zone.name}' (min_level {zone.min_level}), "
                           f"kid is level {level.number}", (x, y), zone.min_level)
    return None


class Gate:
    """Level rules plus per-kid rate limits."""

    def __init__(self, *, blocks_per_s: float = BLOCKS_PER_S, burst: int = BLOCK_BURST,
                 reads_per_s: float = READS_PER_S, read_burst: int = READ_BURST,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._rate, self._burst = blocks_per_s, burst
        self._read_rate, self._read_burst = reads_per_s, read_burst
        self._clock = clock
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def check(self, kid_id: str, level_number: int, block_id: str, args: dict[str, Any],
              action: Action | None = None, arena: Arena | None = None) -> Refusal | None:
        if block_id == "stop" or isinstance(action, StopAction):
            return None  # never gated, never rate limited
        level = LEVELS[level_number]
        refusal = rule_refusal(level, block_id, args, action, arena)
        if refusal:
            return refusal
        return self._rate_refusal(kid_id, block_id)

    def _rate_refusal(self, kid_id: str, block_id: str) -> Refusal | None:
        reading = BLOCKS_BY_ID[block_id].kind == "reporter"
        key = (kid_id, "read" if reading else "block")
        bucket = self._buckets.get(key)
        if bucket is None:
            rate, burst = (self._read_rate, self._read_burst) if reading else (self._rate, self._burst)
            bucket = self._buckets[key] = TokenBucket(rate, burst, self._clock)
        if bucket.take():
            return None
        return Refusal("rate_limit", "Whoa, that's a lot of blocks at once — wait a moment and try again.",
                       f"rate_limit: more than {bucket.rate:g} blocks/s (burst {bucket.burst:g}) from one kid",
                       None, bucket.rate)

    def forget(self, kid_id: str) -> None:
        for key in [k for k in self._buckets if k[0] == kid_id]:
            del self._buckets[key]
