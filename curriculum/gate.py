"""The gate: every "may this kid do this?" rule, in one place, with one kid sentence per rule.

Three entry points over the same rules:

- :meth:`Gate.admit` — the kid's token bucket, spent first by every block call whatever it is (unknown,
  locked or malformed calls too: a flood of refusals is a flood), then :meth:`Gate.rules` — the
  level's rules for a block the catalog translated. :meth:`Gate.check` is both, in that order.
  ``stop`` is never gated and never rate limited. :meth:`Gate.admit_run` is the kid's green-flag bucket
  (every run may become a graded attempt: a judge and a model call).
- :func:`program_refusal` — a whole Blockly program at the green flag: every block that runs (disabled
  ones never do) is known and open at the kid's level; the same sentences as a single block.
- :func:`lesson_refusal` — a program during a lesson uses only the lesson's blocks (and no blocks from
  a sentence when the lesson says ``planning: false``).

"Tell the car" (a sentence becomes blocks, curriculum.planner) asks here too: :meth:`Gate.plan_check`
(the teacher's switch, the lesson's ``planning``, the kid's plan rate), and every proposal goes through
:func:`program_refusal`, :func:`lesson_refusal` and :func:`rule_refusal` like a typed program.

It also holds the level's other caps: :func:`capped_speed` (the speed a kid's moves use) and
:func:`session_limits` (what the car enforces itself). Pure functions over the level, the catalog and
the arena; a refusal carries a sentence for the kid and a detail for the teacher (rule, value, limit).
"""

from __future__ import annotations

import re
import time
from typing import Any, Callable

from curriculum.catalog import BLOCKLY_STANDARD_TYPES, BLOCKLY_TYPES, BLOCKS_BY_ID
from curriculum.errors import Problem
from curriculum.lesson import Lesson
from curriculum.levels import LEVELS, Level, unlock_level_for_block, unlock_level_for_skill
from curriculum.program import ProgramError, analyse, blockly_top_blocks, detect_format, walk_blockly
from robot_runtime.arena import Arena
from robot_runtime.protocol import Action, DriveAction, GotoAction, NamedSkillAction, SessionLimits, StopAction, TurnAction

BLOCKS_PER_S = 5.0  # a Scratch loop of short moves needs ~1/s per kid; 5/s leaves room, a flood does not get through
BLOCK_BURST = 20  # a program may start with a quick series of settings and short moves
READS_PER_S = 50.0  # reporters (distance, x, y) only read telemetry, so they may poll faster
READ_BURST = 100
MAX_PROGRAM_BLOCKS = 2000  # a big kid program has ~200 blocks; more is a pasted file, not a program
PLANS_PER_S = 0.1  # a kid reads and changes the blocks of a plan before asking again: one every 10 s is plenty
PLAN_BURST = 3  # a few quick tries after a typo, then one every 10 s (each may wake a language model)
RUNS_PER_S = 0.5  # a kid fixing a program presses the green flag every few seconds; each run may be graded
RUN_BURST = 5  # a few quick restarts (a wrong first try, a stop and go) before the wait starts


class Refusal(Problem):
    """The gate said no: the rule, what was asked (value) and the bound (limit), and the kid sentence.

    Returned by the checks; the classroom raises it when a whole program is refused."""

    def __init__(self, rule: str, message: str, *, kid_text: str, value: Any = None, limit: Any = None,
                 fix: str = "") -> None:
        super().__init__(rule, message, value=value, fix=fix, kid_text=kid_text)
        self.limit = limit


class TokenBucket:
    """Classic token bucket with an injected clock (tests move time by hand)."""

    def __init__(self, rate_per_s: float, burst: int, clock: Callable[[], float]) -> None:
        self.rate, self.burst, self._clock = rate_per_s, float(burst), clock
        self._tokens, self._last = float(burst), clock()

    def available(self) -> float:
        """Tokens there now, without taking one."""
        return min(self.burst, self._tokens + (self._clock() - self._last) * self.rate)

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


# --- the rules, one sentence each ---------------------------------------------------------------------


def _words(name: str) -> str:
    return str(name).replace("_", " ")


def block_words(block_id: str) -> str:
    """A block as the kid reads it in the editor, numbers left out: "drive at …% for … seconds"."""
    row = BLOCKS_BY_ID.get(block_id)
    if row is None:
        return _words(block_id)
    words = re.sub(r"(\[\w+\]\s*)+", "… ", row.text).replace("… %", "…%").strip()
    if words.strip("… ") == "":  # a block that is all menu (x / y / heading): Scratch's names for it
        return " / ".join(shape.text for shape in row.scratch if shape.text) or _words(block_id)
    return words


def unknown_block(block_id: Any) -> Refusal:
    return Refusal("unknown_block", f"{block_id!r}", kid_text="I don't know that block.", value=block_id)


def block_locked(level: Level, block_id: str, where: str = "") -> Refusal:
    unlock = unlock_level_for_block(block_id)
    return Refusal("block_locked", f"{block_id} needs level {unlock}, kid is level {level.number}{where}",
                   kid_text=f"The “{block_words(block_id)}” block unlocks at level {unlock} — keep going!",
                   value=block_id, limit=unlock)


def skill_locked(level: Level, skill: str, where: str = "") -> Refusal:
    unlock = unlock_level_for_skill(skill)
    kid = (f"The “{_words(skill)}” skill unlocks at level {unlock} — keep going!" if unlock
           else f"This car doesn't know the “{_words(skill)}” skill yet.")
    return Refusal("skill_locked", f"{skill} needs level {unlock}, kid is level {level.number}{where}",
                   kid_text=kid, value=skill, limit=unlock)


def speed_refusal(level: Level, asked: float) -> Refusal | None:
    top = level.max_speed_pct
    if asked <= top:
        return None
    return Refusal("speed_limit", f"asked {asked:g}%, level {level.number} max {top:g}%",
                   kid_text=f"Level {level.number} cars go up to {top:g}% — try {top:g}!", value=asked, limit=top)


def _speed_of(action: Action | None) -> float | None:
    if isinstance(action, (DriveAction, TurnAction, GotoAction, NamedSkillAction)):
        return action.speed_pct
    return None


def rule_refusal(level: Level, block_id: str, args: dict[str, Any], action: Action | None,
                 arena: Arena | None) -> Refusal | None:
    """Every level rule for one block, without the rate limit (pure: same input, same answer)."""
    if block_id == "stop":
        return None
    if block_id not in BLOCKS_BY_ID:
        return unknown_block(block_id)
    if not level.allows_block(block_id):
        return block_locked(level, block_id)
    skill_param = BLOCKS_BY_ID[block_id].skill_param
    skill = args.get(skill_param.name) if skill_param else None
    if isinstance(action, NamedSkillAction):
        skill = action.name
    if skill is not None and not level.allows_skill(str(skill)):
        return skill_locked(level, str(skill))
    for asked in (args.get("speed"), _speed_of(action)):  # a speed typed into the block, the speed it drives at
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
        return Refusal("outside_arena", f"goto ({x:g}, {y:g}), arena is {arena.width_cm:g} x {arena.height_cm:g} cm",
                       kid_text=f"That spot is outside the arena — pick x 0–{arena.width_cm:g}, y 0–{arena.height_cm:g}.",
                       value=(x, y), limit=(arena.width_cm, arena.height_cm))
    for zone in arena.zones:
        if not zone.contains(x, y):
            continue
        if zone.kind == "forbidden":
            return Refusal("zone_forbidden", f"goto ({x:g}, {y:g}) inside forbidden zone '{zone.name}'",
                           kid_text=f"The {zone.name} zone is off limits — pick another spot.", value=(x, y),
                           limit=zone.name)
        if zone.min_level is not None and zone.min_level > level.number:
            return Refusal("zone_closed", f"goto ({x:g}, {y:g}) inside zone '{zone.name}' (min_level {zone.min_level}), "
                                          f"kid is level {level.number}",
                           kid_text=f"The {zone.name} zone opens at level {zone.min_level} — try another spot!",
                           value=(x, y), limit=zone.min_level)
    return None


# --- a block call -----------------------------------------------------------------------------------


class Gate:
    """Level rules plus per-kid rate limits."""

    def __init__(self, *, blocks_per_s: float = BLOCKS_PER_S, burst: int = BLOCK_BURST,
                 reads_per_s: float = READS_PER_S, read_burst: int = READ_BURST,
                 plans_per_s: float = PLANS_PER_S, plan_burst: int = PLAN_BURST,
                 runs_per_s: float = RUNS_PER_S, run_burst: int = RUN_BURST,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._rate, self._burst = blocks_per_s, burst
        self._read_rate, self._read_burst = reads_per_s, read_burst
        self._plan_rate, self._plan_burst = plans_per_s, plan_burst
        self._run_rate, self._run_burst = runs_per_s, run_burst
        self._clock = clock
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def check(self, kid_id: str, level_number: int, block_id: str, args: dict[str, Any],
              action: Action | None = None, arena: Arena | None = None) -> Refusal | None:
        """The rate limit first, then the level's rules (what the classroom does in two steps)."""
        if block_id == "stop" or isinstance(action, StopAction):
            return None  # never gated, never rate limited
        return self.admit(kid_id, block_id) or self.rules(level_number, block_id, args, action, arena)

    def rules(self, level_number: int, block_id: str, args: dict[str, Any], action: Action | None = None,
              arena: Arena | None = None) -> Refusal | None:
        """The level's rules for one translated block call (no token spent)."""
        if block_id == "stop" or isinstance(action, StopAction):
            return None
        return rule_refusal(LEVELS[level_number], block_id, args, action, arena)

    def admit(self, kid_id: str, block_id: Any) -> Refusal | None:
        """Spend one of the kid's tokens for a block call, before anything else looks at it: unknown, locked
        and malformed calls pay too. Reporters have their own, larger bucket; ``stop`` never pays."""
        if block_id == "stop":
            return None
        row = BLOCKS_BY_ID.get(block_id) if isinstance(block_id, str) else None
        reading = row is not None and row.kind == "reporter"
        key = (kid_id, "read" if reading else "block")
        bucket = self._buckets.get(key)
        if bucket is None:
            rate, burst = (self._read_rate, self._read_burst) if reading else (self._rate, self._burst)
            bucket = self._buckets[key] = TokenBucket(rate, burst, self._clock)
        if bucket.take():
            return None
        return Refusal("rate_limit", f"more than {bucket.rate:g} blocks/s (burst {bucket.burst:g}) from one kid",
                       kid_text="Whoa, that's a lot of blocks at once — wait a moment and try again.", limit=bucket.rate)

    def admit_run(self, kid_id: str) -> Refusal | None:
        """May this kid start a run (the green flag) now? A bucket of its own: every run may be graded."""
        bucket = self._buckets.get((kid_id, "run"))
        if bucket is None:
            bucket = self._buckets[(kid_id, "run")] = TokenBucket(self._run_rate, self._run_burst, self._clock)
        if bucket.take():
            return None
        return Refusal("run_rate", f"more than {self._run_burst} program starts at once, then one every "
                                   f"{1 / self._run_rate:g} s", limit=self._run_rate,
                       kid_text="Wait a moment, then press the green flag again.")

    def plan_check(self, kid_id: str, *, class_allows: bool, lesson: Lesson | None) -> Refusal | None:
        """May this kid turn a sentence into blocks now? The teacher's switch for the class, the picked
        lesson's ``planning``, then the kid's own plan bucket (only asks that get this far spend a token)."""
        if not class_allows:
            return Refusal("planning_off", "the teacher switched Tell the car off for this class",
                           kid_text="Tell the car is switched off right now — build it with the blocks!")
        if lesson is not None and not lesson.planning:
            return Refusal("lesson_planning", f"lesson {lesson.id} says planning: false",
                           kid_text=f"In “{lesson.title}” you build the blocks yourself — Tell the car is off "
                                    "for this lesson.", value=lesson.id)
        bucket = self._buckets.get((kid_id, "plan"))
        if bucket is None:
            bucket = self._buckets[(kid_id, "plan")] = TokenBucket(self._plan_rate, self._plan_burst, self._clock)
        if bucket.take():
            return None
        return Refusal("plan_rate", f"more than {self._plan_burst} sentences at once, then one every "
                                    f"{1 / self._plan_rate:g} s", limit=self._plan_rate,
                       kid_text="Try the blocks you have first! You can tell the car something new in a few seconds.")

    def forget(self, kid_id: str) -> None:
        for key in [k for k in self._buckets if k[0] == kid_id]:
            del self._buckets[key]


# --- a whole program, a lesson ------------------------------------------------------------------------


def program_refusal(level_number: int, program: Any) -> Refusal | None:
    """The first block (in reading order) of a Blockly program this level may not run; None if all fine.

    The toolbox alone does not stop a hand-edited file, so this runs at every green flag. Scratch
    projects and Python text pass here: their blocks meet the gate one call at a time."""
    try:
        if detect_format(program) != "blockly":
            return None
        tops = blockly_top_blocks(program)
    except ProgramError as exc:
        return Refusal("program_unreadable", str(exc), kid_text="I can't read this program file — try saving it again.")
    level = LEVELS[level_number]
    for count, (block, _shadow) in enumerate(walk_blockly(tops), start=1):
        if count > MAX_PROGRAM_BLOCKS:
            return Refusal("program_too_big", f"over {MAX_PROGRAM_BLOCKS} blocks", value=count, limit=MAX_PROGRAM_BLOCKS,
                           kid_text=f"This program has more than {MAX_PROGRAM_BLOCKS} blocks — try a smaller one.")
        kind = block.get("type")
        if kind in BLOCKLY_STANDARD_TYPES:
            continue
        where = f" (block {block.get('id')})" if isinstance(block.get("id"), str) else ""
        block_id = BLOCKLY_TYPES.get(kind) if isinstance(kind, str) else None
        if block_id is None:
            shown = str(kind)[:40]
            return Refusal("program_unknown_block", f"{shown!r} is not in the catalog or the toolbox{where}", value=shown,
                           kid_text=f"I don't know the block '{shown}' — it isn't a MIKRO-DOJO block.")
        if not level.allows_block(block_id):
            return block_locked(level, block_id, where)
        skill_param = BLOCKS_BY_ID[block_id].skill_param
        if skill_param is not None:
            fields = block.get("fields") if isinstance(block.get("fields"), dict) else {}
            skill = str(fields.get(skill_param.name.upper(), ""))
            if not level.allows_skill(skill):
                return skill_locked(level, skill, where)
    return None


def lesson_refusal(lesson: Lesson, program: Any) -> Refusal | None:
    """During a lesson only the lesson's blocks may be used (stop always may), and no blocks from a sentence
    when the lesson says ``planning: false``; the level is checked apart."""
    try:
        info = analyse(program)
    except ProgramError:
        return None  # an unreadable program is program_refusal's business
    if info.plans and not lesson.planning:
        return Refusal("lesson_planned_blocks", f"{lesson.id} says planning: false; program has blocks from "
                                                f"plan(s) {', '.join(info.plans)}", value=info.plans,
                       kid_text=f"In “{lesson.title}” you build the blocks yourself — take out the blocks from "
                                "Tell the car and try again!")
    used = set(info.dojo_blocks)
    extra = sorted(used - set(lesson.allowed_blocks) - {"stop"})
    if not extra:
        return None
    names = ", ".join(f"“{block_words(b)}”" for b in extra if b in BLOCKS_BY_ID)
    return Refusal("lesson_blocks", f"{lesson.id} allows {', '.join(lesson.allowed_blocks)}; program uses {', '.join(extra)}",
                   kid_text=f"“{lesson.title}” is done without: {names}. Take them out and try again!",
                   value=extra, limit=lesson.allowed_blocks)


# --- the level's caps on the car ------------------------------------------------------------------------


def capped_speed(level_number: int, speed_pct: float) -> float:
    """The speed a kid's moves use: what the kid set, never above the level's top speed."""
    return min(speed_pct, LEVELS[level_number].max_speed_pct)


def session_limits(level_number: int, arena: Arena | None = None) -> SessionLimits:
    """What the car enforces for this level: its top speed, its skills, and the arena's zones that
    open only at a higher level (walls on the car)."""
    lv = LEVELS[level_number]
    closed = [] if arena is None else [z.rect for z in arena.zones if z.min_level is not None and z.min_level > level_number]
    return SessionLimits(max_speed_pct=lv.max_speed_pct, allowed_skills=sorted(lv.skills), level=level_number,
                         keep_out=closed)
