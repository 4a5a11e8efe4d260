"""A plan: the program a kid's sentence became ("Tell the car"), in our block vocabulary, before an editor shows it.

One small tree — block calls and ``repeat`` loops, two deep at most — that every front end can take:

- :func:`plan_schema` — the JSON schema a language model must answer in, generated from the block table for one
  kid: only the command blocks and skills of the kid's level (and of the picked lesson), numbers within their
  ranges (speed within the level's top speed, ``go to`` within the arena), loops allowed;
- :func:`from_json` — a model's answer (or a client's) as a :class:`Plan`, or :class:`PlanError` naming what is
  wrong with its shape;
- :func:`check` — the gate's verdict, exactly as for a typed program: the catalog's ranges, every block's level
  rules (:func:`curriculum.gate.rule_refusal`), then the whole program (:func:`~curriculum.gate.program_refusal`,
  :func:`~curriculum.gate.lesson_refusal`);
- :func:`to_blockly`, :func:`to_scratch_xml`, :func:`to_python`, :meth:`Plan.lines` — the plan in each front end's
  shape, marked with its plan id (:mod:`curriculum.program` reads the mark back, so an attempt shows that its
  program came from a sentence).

Data and pure functions: no model and no server here (curriculum.planner asks the model).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Union
from xml.sax.saxutils import escape, quoteattr

from curriculum import blockly_json
from curriculum.catalog import CATALOG, Block, Catalog, ScratchShape
from curriculum.errors import BlockError, Problem
from curriculum.gate import capped_speed, lesson_refusal, program_refusal, rule_refusal, skill_locked
from curriculum.lesson import Lesson
from curriculum.levels import LEVELS
from curriculum.program import PLAN_DATA_PREFIX, SCRATCH_EXTENSION, plan_comment
from robot_runtime.arena import Arena

REPEAT = "repeat"  # the loop's name in a plan (Blockly's controls_repeat_ext, Scratch's control_repeat, a for loop)
MAX_STEPS = 12  # top-level steps: a kid reads every block of a plan, so it stays a screenful
MAX_BODY = 8  # blocks inside one loop
MAX_DEPTH = 2  # a loop inside a loop at most ("repeat 3 times: forward, then turn twice")
MAX_REPEAT = 20  # "do it 20 times" already fills the arena; more is a typo or a joke
MAX_PLAN_BLOCKS = 30  # every block, loops included
NOTE_MAX = 120  # the model's one sentence for the kid about what it made
PLAN_KINDS = ("command", "setting")  # a plan drives: no reporters, no hats (no conditions yet)
PLANNING_SPEED_PCT = 50.0  # the speed a plan's moves are checked at (the kid's moves never go above the level's cap)

assert REPEAT not in CATALOG.by_id, "a catalog block may not be called 'repeat': plans use that name for loops"


class PlanError(Problem, ValueError):
    """A plan whose shape is wrong (not our JSON, a block we do not have, a loop too deep): rule, message, fix."""

    kid_text_default = "I got mixed up making those blocks — try saying it a different way."


@dataclass(frozen=True)
class Call:
    """One block call: a catalog id and its arguments (parameter name -> value)."""

    block: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Loop:
    times: int
    body: tuple["Node", ...]


Node = Union[Call, Loop]


@dataclass(frozen=True)
class Plan:
    steps: tuple[Node, ...]

    def calls(self) -> Iterator[Call]:
        """Every block call in reading order (a loop's body once)."""
        stack = list(reversed(self.steps))
        while stack:
            node = stack.pop()
            if isinstance(node, Loop):
                stack.extend(reversed(node.body))
            else:
                yield node

    @property
    def block_count(self) -> int:
        def count(nodes: Iterable[Node]) -> int:
            return sum(1 + count(n.body) if isinstance(n, Loop) else 1 for n in nodes)
        return count(self.steps)

    def short(self, catalog: Catalog = CATALOG) -> str:
        """One line, the way the sentence table writes programs: 'repeat 4 [move_forward 50; turn left 90]'."""
        def one(node: Node) -> str:
            if isinstance(node, Loop):
                return f"{REPEAT} {node.times} [{'; '.join(one(n) for n in node.body)}]"
            values = [_text(node.args[p.name]) for p in catalog.block(node.block).params if p.name in node.args]
            return " ".join([node.block, *values])
        return "; ".join(one(n) for n in self.steps)

    def lines(self, catalog: Catalog = CATALOG) -> list[str]:
        """The plan as the blocks read, indented: ['repeat 4 times:', '  move forward 50 cm', ...]."""
        out: list[str] = []

        def walk(nodes: Iterable[Node], depth: int) -> None:
            for node in nodes:
                if isinstance(node, Loop):
                    out.append("  " * depth + f"repeat {node.times} times:")
                    walk(node.body, depth + 1)
                else:
                    text = catalog.block(node.block).text
                    for name, value in node.args.items():
                        text = text.replace(f"[{name}]", _text(value))
                    out.append("  " * depth + text)
        walk(self.steps, 0)
        return out

    def as_json(self) -> dict[str, Any]:
        """The plan's wire form (what plan_schema describes and from_json reads)."""
        def one(node: Node) -> dict[str, Any]:
            if isinstance(node, Loop):
                return {"block": REPEAT, "times": node.times, "do": [one(n) for n in node.body]}
            return {"block": node.block, **node.args}
        return {"steps": [one(n) for n in self.steps]}


def _text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _plain_number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(float(value), 2)


# --- the schema a model answers in ------------------------------------------------------------------


def open_blocks(level: int, allowed_blocks: Iterable[str] | None = None, catalog: Catalog = CATALOG) -> list[Block]:
    """The command blocks a plan may use for this kid: open at the level and, in a lesson, allowed by it."""
    allowed = None if allowed_blocks is None else {*allowed_blocks, "stop"}
    lv = LEVELS[level]
    return [b for b in catalog.blocks if b.kind in PLAN_KINDS and lv.allows_block(b.id)
            and (allowed is None or b.id in allowed)]


def closed_names(level: int, allowed_blocks: Iterable[str] | None = None, catalog: Catalog = CATALOG) -> list[str]:
    """Block ids and skill names the kid might ask for that a plan may not use here (for `cannot`)."""
    usable = {b.id for b in open_blocks(level, allowed_blocks, catalog)}
    blocks = [b.id for b in catalog.blocks if b.kind in PLAN_KINDS and b.id not in usable]
    skills = [s.name for s in catalog.skills() if "do_skill" not in usable or not LEVELS[level].allows_skill(s.name)]
    return blocks + skills


def _number_schema(block: Block, name: str, level: int, arena: Arena | None) -> dict[str, Any]:
    p = block.param(name)
    low, high = p.minimum, p.maximum
    if name == "speed":
        high = min(high if high is not None else 100.0, LEVELS[level].max_speed_pct)
    if block.id == "go_to" and arena is not None:
        high = min(high if high is not None else 1e9, arena.width_cm if name == "x" else arena.height_cm)
    out: dict[str, Any] = {"type": "number", "description": p.unit or name}
    if low is not None:
        out["minimum"] = low
    if high is not None:
        out["maximum"] = high
    return out


def _block_schema(block: Block, level: int, arena: Arena | None, skills: list[str]) -> dict[str, Any]:
    props: dict[str, Any] = {"block": {"const": block.id}}
    for p in block.params:
        if p.kind == "number":
            props[p.name] = _number_schema(block, p.name, level, arena)
        else:
            props[p.name] = {"enum": skills if p.kind == "skill" else list(p.options)}
    return {"type": "object", "description": block.doc, "properties": props,
            "required": ["block", *(p.name for p in block.params)], "additionalProperties": False}


def _loop_schema(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "object", "description": "repeat the blocks in `do` a number of times",
            "properties": {"block": {"const": REPEAT}, "times": {"type": "integer", "minimum": 1, "maximum": MAX_REPEAT},
                           "do": {"type": "array", "items": {"anyOf": items}, "minItems": 1, "maxItems": MAX_BODY}},
            "required": ["block", "times", "do"], "additionalProperties": False}


def plan_schema(level: int, *, allowed_blocks: Iterable[str] | None = None, arena: Arena | None = None,
                catalog: Catalog = CATALOG) -> dict[str, Any]:
    """The JSON schema of a plan for one kid (Ollama's structured output ``format``), from the block table:
    only the level's (and the lesson's) command blocks and open skills, numbers within their ranges, loops two
    deep. ``cannot`` lists what the kid asked for that is not open here; ``note`` is one sentence for the kid."""
    blocks = open_blocks(level, allowed_blocks, catalog)
    skills = sorted(s.name for s in catalog.skills() if LEVELS[level].allows_skill(s.name))
    defs: dict[str, Any] = {b.id: _block_schema(b, level, arena, skills) for b in blocks
                            if not (b.id == "do_skill" and not skills)}
    commands = [{"$ref": f"#/$defs/{name}"} for name in defs]
    defs["inner_loop"] = _loop_schema(commands)
    defs["loop"] = _loop_schema([*commands, {"$ref": "#/$defs/inner_loop"}])
    props: dict[str, Any] = {
        "steps": {"type": "array", "items": {"anyOf": [*commands, {"$ref": "#/$defs/loop"}]}, "maxItems": MAX_STEPS},
        "note": {"type": "string", "maxLength": NOTE_MAX,
                 "description": "one short friendly sentence for the kid about what the blocks do"},
    }
    closed = closed_names(level, allowed_blocks, catalog)
    if closed:
        props["cannot"] = {"type": "array", "items": {"enum": closed}, "maxItems": 3,
                           "description": "what the kid asked for that these blocks cannot do yet"}
    return {"type": "object", "properties": props, "required": ["steps"], "additionalProperties": False,
            "$defs": defs}


# --- reading a plan -----------------------------------------------------------------------------------


def from_json(data: Any, catalog: Catalog = CATALOG) -> Plan:
    """A plan's wire form as a Plan. Checks the shape only (our blocks, loops, sizes); values and the kid's
    level are :func:`check`'s. Raises PlanError naming the place, the value and the fix."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise PlanError("plan_json", f"not JSON ({exc.msg} at character {exc.pos})", value=data[:80],
                            fix="answer with one JSON object like {\"steps\": [...]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        raise PlanError("plan_shape", "a plan is an object with a list called steps", value=str(data)[:80],
                        fix='answer like {"steps": [{"block": "move_forward", "distance": 30}]}')
    plan = Plan(tuple(_node(s, f"steps[{i}]", 1, catalog) for i, s in enumerate(data["steps"])))
    if len(plan.steps) > MAX_STEPS or plan.block_count > MAX_PLAN_BLOCKS:
        raise PlanError("plan_too_big", f"{plan.block_count} blocks in {len(plan.steps)} steps", value=plan.block_count,
                        fix=f"use at most {MAX_STEPS} steps and {MAX_PLAN_BLOCKS} blocks: a loop saves blocks")
    return plan


def _node(raw: Any, where: str, depth: int, catalog: Catalog) -> Node:
    if not isinstance(raw, dict) or not isinstance(raw.get("block"), str):
        raise PlanError("plan_step", f"{where} is not a block", value=str(raw)[:80],
                        fix='write each step like {"block": "turn", "direction": "left", "degrees": 90}')
    name = raw["block"]
    if name == REPEAT:
        times, body = raw.get("times"), raw.get("do")
        if isinstance(times, float) and times.is_integer():
            times = int(times)
        if isinstance(times, bool) or not isinstance(times, int) or not 1 <= times <= MAX_REPEAT:
            raise PlanError("plan_repeat_times", f"{where}.times must be a whole number from 1 to {MAX_REPEAT}",
                            value=times, fix=f"repeat 1 to {MAX_REPEAT} times",
                            kid_text=f"I can repeat blocks up to {MAX_REPEAT} times — try a smaller number.")
        if depth > MAX_DEPTH:
            raise PlanError("plan_depth", f"{where}: loops go {MAX_DEPTH} deep at most", value=depth,
                            fix="put the inner blocks one after the other instead")
        if not isinstance(body, list) or not 1 <= len(body) <= MAX_BODY or set(raw) - {"block", "times", "do"}:
            raise PlanError("plan_repeat_body", f"{where}.do must list 1 to {MAX_BODY} steps (and nothing else)",
                            value=str(body)[:80], fix="put the blocks to repeat in do: [...]")
        return Loop(times, tuple(_node(s, f"{where}.do[{i}]", depth + 1, catalog) for i, s in enumerate(body)))
    if name not in catalog.by_id:
        raise PlanError("unknown_block", f"{where}: there is no block called {name!r}", value=name[:40],
                        fix=f"use one of: {', '.join(b.id for b in catalog.blocks if b.kind in PLAN_KINDS)}")
    args = {k: v for k, v in raw.items() if k != "block"}
    return Call(name, args)


# --- the gate's verdict -------------------------------------------------------------------------------


def check(plan: Plan, level: int, *, lesson: Lesson | None = None, arena: Arena | None = None,
          catalog: Catalog = CATALOG) -> tuple[Plan | None, Problem | None]:
    """(the plan with checked arguments, None) or (None, the first problem): the catalog's ranges and menus,
    the level's rules for each block (rule_refusal: locked blocks and skills, speed, go-to zones), then the
    whole program as the green flag checks it (program_refusal, lesson_refusal). Same sentences as a typed
    program, so "Level 1 cars go up to 30% — try 30!" reads the same wherever it comes from."""
    if not plan.steps:
        return None, PlanError("plan_empty", "the plan has no blocks", fix="say what the car should do",
                               kid_text="I didn't find anything for the car to do — try “forward 30 then turn left”.")
    try:
        from_json(plan.as_json(), catalog)  # the same size and loop limits, whoever made the plan
        checked = Plan(tuple(_checked(n, level, arena, catalog) for n in plan.steps))
    except Problem as problem:
        return None, problem
    program = to_blockly(checked, None, "", catalog)
    problem = program_refusal(level, program) or (lesson_refusal(lesson, program) if lesson else None)
    return (None, problem) if problem else (checked, None)


def _checked(node: Node, level: int, arena: Arena | None, catalog: Catalog) -> Node:
    if isinstance(node, Loop):
        return Loop(node.times, tuple(_checked(n, level, arena, catalog) for n in node.body))
    block = catalog.block(node.block)
    if block.kind not in PLAN_KINDS:
        raise PlanError("plan_block_kind", f"{block.id} is a {block.kind} block; a plan only drives",
                        value=block.id, fix="use move, turn, drive, speed, go to, skill or stop blocks")
    translation = catalog.translate(block.id, node.args, capped_speed(level, PLANNING_SPEED_PCT))
    skill = translation.args.get("skill")
    if skill is not None and not LEVELS[level].allows_skill(skill):
        raise skill_locked(LEVELS[level], skill)  # "drift" at level 2: the skill says more than its block
    refusal = rule_refusal(LEVELS[level], block.id, translation.args, translation.action, arena)
    if refusal:
        raise refusal
    args = {k: (_plain_number(v) if isinstance(v, float) else v) for k, v in translation.args.items()}
    return Call(block.id, args)


# --- each front end's shape -----------------------------------------------------------------------------


def to_blockly(plan: Plan, plan_id: str | None, sentence: str, catalog: Catalog = CATALOG) -> dict[str, Any]:
    """Blockly JSON (what the app's workspace saves): one stack; with a plan id every block carries it in its
    `data`, and the first block a comment with the sentence."""
    def one(node: Node) -> dict[str, Any]:
        if isinstance(node, Loop):
            return blockly_json.repeat(node.times, *(one(n) for n in node.body))
        row = catalog.block(node.block)
        return blockly_json.dojo(row.id, **{k: v for k, v in node.args.items() if k in {p.name for p in row.params}})

    program = blockly_json.program(*(one(n) for n in plan.steps))
    if plan_id is not None:
        for block in _blockly_blocks(program["blocks"]["blocks"]):
            block["data"] = PLAN_DATA_PREFIX + plan_id
        top = program["blocks"]["blocks"][0]
        top["icons"] = {"comment": {"text": plan_comment(plan_id, sentence), "pinned": False, "height": 64,
                                    "width": 260}}
    return program


def _blockly_blocks(tops: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every real (non-shadow) block of a program built here."""
    stack = list(tops)
    while stack:
        block = stack.pop()
        yield block
        for slot in (block.get("inputs") or {}).values():
            if "block" in slot:
                stack.append(slot["block"])
        if "next" in block:
            stack.append(block["next"]["block"])


def _scratch_shape(block: Block, args: dict[str, Any]) -> ScratchShape:
    """The row's Scratch block for these arguments (a shape may fix a menu, like Scratch's `car x`)."""
    return next((s for s in block.scratch if all(args.get(k) == v for k, v in s.fixed.items())), block.scratch[0])


def to_scratch_xml(plan: Plan, plan_id: str, sentence: str, catalog: Catalog = CATALOG) -> str:
    """One Scratch script, as scratch-blocks XML: 'when green flag clicked', then the plan (numbers in
    number shadows, menus in our menu shadows, loops as Scratch's repeat), the sentence as a comment on
    the hat. The editor drops it into the workspace, so the kid can undo it like any other change."""
    def stack(nodes: tuple[Node, ...]) -> str:
        out = ""
        for node in reversed(nodes):
            out = _scratch_block(node) + (f"<next>{out}</next>" if out else "") + "</block>"
        return out

    def _scratch_block(node: Node) -> str:
        if isinstance(node, Loop):
            return ('<block type="control_repeat"><value name="TIMES"><shadow type="math_whole_number">'
                    f'<field name="NUM">{node.times}</field></shadow></value>'
                    f'<statement name="SUBSTACK">{stack(node.body)}</statement>')
        row = catalog.block(node.block)
        shape = _scratch_shape(row, node.args)
        xml = f"<block type={quoteattr(f'{SCRATCH_EXTENSION}_{shape.opcode}')}>"
        for p in row.params:
            if p.name in shape.fixed:
                continue
            value = escape(_text(node.args[p.name]))
            if p.kind == "number":
                xml += (f'<value name="{p.name.upper()}"><shadow type="math_number">'
                        f'<field name="NUM">{value}</field></shadow></value>')
            else:  # menus are named like the extension's getInfo menus (curriculum.front_ends)
                menu = f"{p.name}s"
                xml += (f'<value name="{p.name.upper()}"><shadow type="{SCRATCH_EXTENSION}_menu_{menu}">'
                        f'<field name="{menu}">{value}</field></shadow></value>')
        return xml

    note = escape(plan_comment(plan_id, sentence))
    hat = ('<block type="event_whenflagclicked">'
           f'<comment pinned="true" minimized="false" w="260" h="72">{note}</comment>')
    return f'<xml xmlns="http://www.w3.org/1999/xhtml">{hat}<next>{stack(plan.steps)}</next></block></xml>'


def to_python(plan: Plan, plan_id: str, sentence: str, catalog: Catalog = CATALOG) -> str:
    """The plan with the dojo SDK (``car`` is the connected car), under a comment with the sentence."""
    lines = [f"# {plan_comment(plan_id, sentence)}"]

    def walk(nodes: Iterable[Node], depth: int) -> None:
        pad = "    " * depth
        for node in nodes:
            if isinstance(node, Loop):
                lines.append(f"{pad}for {'count' if depth == 0 else f'count{depth + 1}'} in range({node.times}):")
                walk(node.body, depth + 1)
                continue
            row = catalog.block(node.block)
            form = next((f for f in row.sdk if all(node.args.get(k) == v for k, v in f.fixed.items())), row.sdk[0])
            values = {k: json.dumps(v) if isinstance(v, str) else _text(v) for k, v in node.args.items()}
            lines.append(pad + form.spell(values))
    walk(plan.steps, 0)
    return "\n".join(lines) + "\n"
