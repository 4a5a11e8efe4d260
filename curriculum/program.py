"""Reading a kid's program without running it: which blocks, loops, sensors and conditions it uses.

Three shapes arrive from the front ends: Blockly's JSON serialization
(``Blockly.serialization.workspaces.save``), a Scratch 3 project JSON (our extension's opcodes are
``mikrodojo_<opcode>``) and Python text written with the dojo SDK. The concept checks and the coach's
prompt both use the :class:`ProgramInfo` made here, so a program reads the same to the judge and the coach.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from curriculum.catalog import BLOCKLY_TYPES, BLOCKS, BLOCKS_BY_ID, SCRATCH_OPCODES

SCRATCH_EXTENSION = "mikrodojo"

BLOCKLY_LOOPS = {"controls_repeat_ext", "controls_repeat", "controls_whileUntil", "controls_for", "controls_forEach"}
BLOCKLY_CONDITIONS = {"controls_if", "controls_ifelse", "logic_compare", "logic_operation", "controls_whileUntil"}
BLOCKLY_VARIABLES = {"variables_set", "variables_get", "math_change"}
SCRATCH_LOOPS = {"control_repeat", "control_forever", "control_repeat_until", "control_while", "control_for_each"}
SCRATCH_CONDITIONS = {"control_if", "control_if_else", "control_wait_until", "control_repeat_until", "control_while",
                      "operator_lt", "operator_gt", "operator_equals"}
SCRATCH_VARIABLES = {"data_setvariableto", "data_changevariableby", "data_variable"}
# value blocks that only carry a typed-in number or a menu choice: not "blocks" a kid placed
BLOCKLY_LITERALS = {"math_number", "text", "logic_boolean"}
SCRATCH_LITERALS = {"math_number", "math_positive_number", "math_whole_number", "math_angle", "text"}
SENSOR_BLOCKS = {"distance", "when_obstacle"}

# Blocks that came from a sentence ("Tell the car", curriculum.plan) carry their plan id: Blockly blocks in
# their `data`, a Scratch script in a comment on its hat, a Python program in a comment line. Attempts
# then show that the program came from a sentence, and a lesson without planning can say no.
PLAN_DATA_PREFIX = "tell:"
PLAN_ID = re.compile(r"^p[0-9a-f]{8}$")
PLAN_COMMENT = re.compile(r"You told the car: .*?\(plan (p[0-9a-f]{8})\)", re.S)


def plan_comment(plan_id: str, sentence: str) -> str:
    """The note a planned Scratch script or Python program carries (PLAN_COMMENT reads it back). One line of
    printable text: a sentence with a line break must not step out of a Python comment or break the XML."""
    one_line = "".join(ch for ch in " ".join(sentence.split()) if ch.isprintable())
    return f"You told the car: “{one_line}” (plan {plan_id})"


class ProgramError(ValueError):
    """A program we cannot read: names what is wrong and how to fix it."""


@dataclass
class ProgramInfo:
    format: str  # blockly | scratch | python | empty
    block_count: int = 0  # blocks the kid placed (typed-in numbers do not count)
    dojo_blocks: list[str] = field(default_factory=list)  # catalog ids, in reading order, with repeats
    uses_loop: bool = False
    uses_condition: bool = False
    uses_variable: bool = False
    skills: list[str] = field(default_factory=list)
    plans: list[str] = field(default_factory=list)  # ids of the "Tell the car" plans its blocks came from
    text: str = ""  # the program as short indented lines (for the coach and the teacher)

    @property
    def uses_distance_sensor(self) -> bool:
        return any(b in SENSOR_BLOCKS for b in self.dojo_blocks)

    def as_dict(self) -> dict[str, Any]:
        return {"format": self.format, "block_count": self.block_count, "dojo_blocks": self.dojo_blocks,
                "uses_loop": self.uses_loop, "uses_condition": self.uses_condition,
                "uses_variable": self.uses_variable, "uses_distance_sensor": self.uses_distance_sensor,
                "skills": self.skills, "from_sentence": bool(self.plans), "plans": self.plans, "text": self.text}


def detect_format(program: Any) -> str:
    if program is None or program == {} or program == "":
        return "empty"
    if isinstance(program, str):
        return "python"
    if isinstance(program, dict) and "targets" in program:
        return "scratch"
    if isinstance(program, dict) and ("blocks" in program or "variables" in program):
        return "blockly"
    raise ProgramError("program must be Blockly JSON ({\"blocks\": ...}), a Scratch project ({\"targets\": ...}) "
                       f"or Python text (got {type(program).__name__}) — save the workspace and send that")


def analyse(program: Any) -> ProgramInfo:
    """Read a program; anything that is not a well-formed save raises ProgramError (never another error)."""
    fmt = detect_format(program)
    if fmt == "empty":
        return ProgramInfo("empty", text="(empty program)")
    if fmt == "python":
        return _analyse_python(program)
    try:
        return _analyse_blockly(program) if fmt == "blockly" else _analyse_scratch(program)
    except (TypeError, AttributeError, KeyError, ValueError, IndexError, RecursionError) as e:
        raise ProgramError(f"this {fmt} program is not a well-formed save ({e.__class__.__name__}: {e}) — "
                           "save it again from the editor") from None


# --- Blockly ------------------------------------------------------------------------------------


def blockly_top_blocks(program: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = program.get("blocks") or {}
    tops = blocks.get("blocks", []) if isinstance(blocks, dict) else []
    if not isinstance(tops, list):
        raise ProgramError("Blockly program: blocks.blocks must be a list of top blocks")
    return [b for b in tops if isinstance(b, dict)]


def blockly_chain(first: dict[str, Any] | None) -> Iterator[dict[str, Any]]:
    """A stack: the block and every block hanging below it through `next`."""
    node = first
    while isinstance(node, dict):
        yield node
        node = (node.get("next") or {}).get("block")


def blockly_input(block: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The block plugged into an input (a real block wins over its shadow); names compare case-blind."""
    for key, slot in (block.get("inputs") or {}).items():
        if key.lower() == name.lower() and isinstance(slot, dict):
            return slot.get("block") or slot.get("shadow")
    return None


def blockly_field(block: dict[str, Any], name: str) -> Any:
    for key, value in (block.get("fields") or {}).items():
        if key.lower() == name.lower():
            return value
    return None


def blockly_disabled(block: dict[str, Any]) -> bool:
    """A block the kid switched off ("Disable block"): Blockly writes no code for it or its inputs."""
    reasons = block.get("disabledReasons")
    return bool(reasons) if isinstance(reasons, list) else block.get("enabled") is False


def walk_blockly(tops: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], bool]]:
    """Every block of a Blockly program that can run, in reading order, with whether it is a shadow.

    The one walker: the gate, the lesson check and the judge's block counts all read programs through
    it. A block's inputs come before the block under it; a disabled block is skipped with its inputs
    (it never runs), the blocks under it still run. Without recursion: a deeply nested file cannot
    blow the stack."""
    stack: list[tuple[dict[str, Any], bool]] = [(top, False) for top in reversed(tops) if isinstance(top, dict)]
    while stack:
        block, shadow = stack.pop()
        nxt = block.get("next")
        if isinstance(nxt, dict) and isinstance(nxt.get("block"), dict):
            stack.append((nxt["block"], shadow))  # popped after this block's inputs
        if blockly_disabled(block):
            continue
        yield block, shadow
        inputs = block.get("inputs")
        if isinstance(inputs, dict):
            for slot in reversed(list(inputs.values())):
                if isinstance(slot, dict):
                    if isinstance(slot.get("shadow"), dict):
                        stack.append((slot["shadow"], True))
                    if isinstance(slot.get("block"), dict):
                        stack.append((slot["block"], shadow))


def _analyse_blockly(program: dict[str, Any]) -> ProgramInfo:
    info = ProgramInfo("blockly")
    lines: list[str] = []
    tops = blockly_top_blocks(program)
    for b, is_shadow in walk_blockly(tops):
        kind = str(b.get("type", ""))
        if is_shadow or kind in BLOCKLY_LITERALS:
            continue
        data = b.get("data")
        if isinstance(data, str) and data.startswith(PLAN_DATA_PREFIX):
            _note_plan(info, data[len(PLAN_DATA_PREFIX):])
        info.block_count += 1
        if kind in BLOCKLY_TYPES:
            row = BLOCKS_BY_ID[BLOCKLY_TYPES[kind]]
            info.dojo_blocks.append(row.id)
            if row.skill_param:
                info.skills.append(str(blockly_field(b, row.skill_param.name) or ""))
        info.uses_loop |= kind in BLOCKLY_LOOPS
        info.uses_condition |= kind in BLOCKLY_CONDITIONS
        info.uses_variable |= kind in BLOCKLY_VARIABLES
    for top in tops:
        lines += _blockly_lines(top, 0)
    info.text = "\n".join(lines) or "(empty program)"
    return info


def _note_plan(info: ProgramInfo, plan_id: str) -> None:
    if PLAN_ID.match(plan_id) and plan_id not in info.plans:
        info.plans.append(plan_id)


def blockly_value_text(b: dict[str, Any] | None) -> str:
    if b is None:
        return "?"
    kind = b.get("type", "")
    if kind == "math_number":
        return _num(blockly_field(b, "NUM"))
    if kind == "logic_boolean":
        return str(blockly_field(b, "BOOL")).lower()
    if kind == "variables_get":
        return _var_name(blockly_field(b, "VAR"))
    if kind == "logic_compare":
        ops = {"EQ": "=", "NEQ": "≠", "LT": "<", "LTE": "≤", "GT": ">", "GTE": "≥"}
        return (f"{blockly_value_text(blockly_input(b, 'A'))} {ops.get(str(blockly_field(b, 'OP')), '?')} "
                f"{blockly_value_text(blockly_input(b, 'B'))}")
    if kind == "dojo_distance":
        return "distance ahead"
    if kind == "dojo_position":
        return str(blockly_field(b, "axis") or "x")
    return kind


def _num(v: Any) -> str:
    try:
        return f"{float(v):g}"
    except (TypeError, ValueError):
        return str(v)


def _var_name(v: Any) -> str:
    if isinstance(v, dict):
        return str(v.get("name") or v.get("id") or "variable")
    return str(v)


def blockly_args(b: dict[str, Any]) -> dict[str, str]:
    """Every field and input of a block as text, keyed lower-case (for the program's text view)."""
    out = {k.lower(): _num(v) for k, v in (b.get("fields") or {}).items() if not isinstance(v, dict)}
    for k, slot in (b.get("inputs") or {}).items():
        if isinstance(slot, dict) and k.upper() not in ("DO", "DO0", "ELSE", "STACK"):
            out[k.lower()] = blockly_value_text(slot.get("block") or slot.get("shadow"))
    return out


def _blockly_lines(top: dict[str, Any], depth: int) -> list[str]:
    pad = "  " * depth
    lines: list[str] = []
    for b in blockly_chain(top):
        kind = b.get("type", "")
        args = blockly_args(b)
        if kind in BLOCKLY_TYPES:
            text = BLOCKS_BY_ID[BLOCKLY_TYPES[kind]].text
            for name, value in args.items():
                text = text.replace(f"[{name}]", value)
            lines.append(pad + text)
        elif kind in ("controls_repeat_ext", "controls_repeat"):
            times = args.get("times", "?")
            lines.append(f"{pad}repeat {times} times:")
            lines += _blockly_lines(blockly_input(b, "DO") or {}, depth + 1) if blockly_input(b, "DO") else [pad + "  (nothing)"]
        elif kind == "controls_whileUntil":
            mode = "until" if str(blockly_field(b, "MODE")) == "UNTIL" else "while"
            lines.append(f"{pad}repeat {mode} {args.get('bool', '?')}:")
            lines += _blockly_lines(blockly_input(b, "DO") or {}, depth + 1) if blockly_input(b, "DO") else []
        elif kind in ("controls_if", "controls_ifelse"):
            lines.append(f"{pad}if {args.get('if0', '?')}:")
            if blockly_input(b, "DO0"):
                lines += _blockly_lines(blockly_input(b, "DO0"), depth + 1)  # type: ignore[arg-type]
            if blockly_input(b, "ELSE"):
                lines.append(f"{pad}else:")
                lines += _blockly_lines(blockly_input(b, "ELSE"), depth + 1)  # type: ignore[arg-type]
        elif kind == "variables_set":
            lines.append(f"{pad}set {_var_name(blockly_field(b, 'VAR'))} to {args.get('value', '?')}")
        elif kind == "math_change":
            lines.append(f"{pad}change {_var_name(blockly_field(b, 'VAR'))} by {args.get('delta', '?')}")
        elif kind:
            lines.append(f"{pad}{kind}")
    return lines


# --- Scratch ------------------------------------------------------------------------------------


# The green flag starts a Scratch program the way Blockly's top of the workspace does: not a block the
# kid placed for the car. Other hats ("when obstacle closer than") are blocks in both editors.
SCRATCH_START_HAT = "event_whenflagclicked"


def _scratch_hat(opcode: str) -> bool:
    """A hat starts a script; a stack without one never runs in a green-flag run."""
    return opcode.startswith("event_when") or opcode in ("control_start_as_clone", "procedures_definition",
                                                         f"{SCRATCH_EXTENSION}_whenObstacle")


def _scratch_runnable(blocks: dict[str, Any]) -> set[str]:
    """Ids of the blocks in scripts under a hat (inputs and substacks included)."""
    keep: set[str] = set()
    todo = [bid for bid, b in blocks.items() if isinstance(b, dict) and b.get("topLevel")
            and _scratch_hat(str(b.get("opcode", "")))]
    while todo:
        bid = todo.pop()
        b = blocks.get(bid)
        if bid in keep or not isinstance(b, dict):
            continue
        keep.add(bid)
        if isinstance(b.get("next"), str):
            todo.append(b["next"])
        for slot in (b.get("inputs") or {}).values():
            if isinstance(slot, list):
                todo += [ref for ref in slot[1:] if isinstance(ref, str)]
    return keep


def _analyse_scratch(project: dict[str, Any]) -> ProgramInfo:
    info = ProgramInfo("scratch")
    lines: list[str] = []
    for target in project.get("targets") or []:
        blocks = (target or {}).get("blocks") or {}
        comments = (target or {}).get("comments") or {}
        for comment in comments.values() if isinstance(comments, dict) else ():
            if isinstance(comment, dict) and comment.get("blockId") in blocks:  # on a block that is still there
                for m in PLAN_COMMENT.finditer(str(comment.get("text", ""))[:1000]):
                    _note_plan(info, m.group(1))
        runnable = _scratch_runnable(blocks)
        for bid, b in blocks.items():
            if not isinstance(b, dict) or b.get("shadow") or bid not in runnable:
                continue
            opcode = str(b.get("opcode", ""))
            if opcode in SCRATCH_LITERALS or opcode.endswith("_menu") or "_menu_" in opcode:
                continue
            if b.get("topLevel"):
                lines += _scratch_lines(blocks, bid, 0)
            if opcode == SCRATCH_START_HAT:
                continue
            info.block_count += 1
            if opcode.startswith(SCRATCH_EXTENSION + "_"):
                short = opcode[len(SCRATCH_EXTENSION) + 1:]
                if short in SCRATCH_OPCODES:
                    row = BLOCKS_BY_ID[SCRATCH_OPCODES[short]]
                    info.dojo_blocks.append(row.id)
                    if row.skill_param:
                        info.skills.append(_scratch_menu_value(blocks, b, row.skill_param.name.upper()))
            info.uses_loop |= opcode in SCRATCH_LOOPS
            info.uses_condition |= opcode in SCRATCH_CONDITIONS
            info.uses_variable |= opcode in SCRATCH_VARIABLES
    info.text = "\n".join(lines) or "(empty program)"
    return info


def _scratch_menu_value(blocks: dict[str, Any], b: dict[str, Any], name: str) -> str:
    for key, value in (b.get("inputs") or {}).items():
        if key.upper() == name and isinstance(value, list) and len(value) > 1:
            ref = value[1]
            if isinstance(ref, str) and ref in blocks:
                fields = blocks[ref].get("fields") or {}
                for f in fields.values():
                    if isinstance(f, list) and f:
                        return str(f[0])
            if isinstance(ref, list) and len(ref) > 1:
                return str(ref[1])
    for key, value in (b.get("fields") or {}).items():
        if key.upper() == name and isinstance(value, list) and value:
            return str(value[0])
    return ""


def _scratch_lines(blocks: dict[str, Any], bid: str | None, depth: int) -> list[str]:
    lines: list[str] = []
    guard = 0
    while bid and bid in blocks and guard < 1000:
        guard += 1
        b = blocks[bid]
        opcode = str(b.get("opcode", ""))
        lines.append("  " * depth + opcode.replace(SCRATCH_EXTENSION + "_", ""))
        for key in ("SUBSTACK", "SUBSTACK2"):
            slot = (b.get("inputs") or {}).get(key)
            if isinstance(slot, list) and len(slot) > 1 and isinstance(slot[1], str):
                lines += _scratch_lines(blocks, slot[1], depth + 1)
        bid = b.get("next")
    return lines


# --- Python -------------------------------------------------------------------------------------


# How the SDK spells each block (curriculum/catalog.py SdkForm): `car.forward(...)` and `@car.on_obstacle(...)`
# are calls, `car.speed = ...` a setting, `car.x` a reading.
_PY_CALLS = {f.name: b.id for b in BLOCKS for f in b.sdk if f.style in ("call", "decorator")}
_PY_SETS = {f.name: b.id for b in BLOCKS for f in b.sdk if f.style == "set"}
_PY_GETS = {f.name: b.id for b in BLOCKS for f in b.sdk if f.style == "get"}


def _is_car_call(node: ast.AST, name: str) -> bool:
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and not node.value.args
            and isinstance(node.value.func, ast.Attribute) and node.value.func.attr == name
            and isinstance(node.value.func.value, ast.Name) and node.value.func.value.id == "car")


def _is_keep_alive(node: ast.AST) -> bool:
    """`while True: time.sleep(0.1)`: how the export keeps an event program listening."""
    return (isinstance(node, ast.While) and isinstance(node.test, ast.Constant) and node.test.value is True
            and all(isinstance(s, ast.Expr) and isinstance(s.value, ast.Call) and isinstance(s.value.func, ast.Attribute)
                    and s.value.func.attr == "sleep" for s in node.body))


# The first line both exporters write (the Blockly app's, curriculum.blockly_json.to_python).
EXPORT_HEADER = re.compile(r"\A#[^\n]*made with (blocks in )?MIKRO-DOJO")


def _not_blocks(tree: ast.Module, exported: bool) -> set[int]:
    """Nodes the Python export adds around the blocks: its final `car.stop()` (the car stops when the
    program ends) and the keep-alive loop of an event program. The kid placed neither as a block; a
    `car.stop()` a kid writes at the end of their own script is one."""
    skip: set[int] = set()
    if exported and tree.body and _is_car_call(tree.body[-1], "stop"):
        skip.add(id(tree.body[-1]))
    for node in ast.walk(tree):
        if _is_keep_alive(node):
            skip.add(id(node))
        if isinstance(node, ast.While) and isinstance(node.test, ast.UnaryOp) and isinstance(node.test.op, ast.Not):
            skip.add(id(node.test))  # `while not (...)` is Blockly's "repeat until": one block, not two
    return skip


def _walk_blocks(tree: ast.AST, skip: set[int]) -> Iterator[ast.AST]:
    todo = [tree]
    while todo:
        node = todo.pop()
        if id(node) in skip and not isinstance(node, ast.UnaryOp):
            continue
        yield node
        todo.extend(reversed(list(ast.iter_child_nodes(node))))


def _analyse_python(source: str) -> ProgramInfo:
    """Counted like the blocks the program was exported from: a loop, an if, a comparison, an and/or,
    a sum, a `not`, each car call and each car reading is one block."""
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        raise ProgramError(f"Python program has a syntax error on line {e.lineno}: {e.msg} — fix that line") from None
    except (ValueError, RecursionError) as e:
        raise ProgramError(f"Python program cannot be read ({e.__class__.__name__}) — save it as plain text") from None
    info = ProgramInfo("python", text=source.strip()[:4000])
    for m in PLAN_COMMENT.finditer("\n".join(l for l in source.splitlines() if l.lstrip().startswith("#"))):
        _note_plan(info, m.group(1))
    skip = _not_blocks(tree, bool(EXPORT_HEADER.match(source)))
    for node in _walk_blocks(tree, skip):
        if isinstance(node, (ast.For, ast.While)):
            info.uses_loop = True
            info.block_count += 1
        if isinstance(node, (ast.If, ast.While, ast.Compare, ast.IfExp)):
            info.uses_condition = True
            info.block_count += isinstance(node, ast.If)
        if isinstance(node, ast.Compare):
            info.block_count += len(node.ops)
        elif isinstance(node, ast.BoolOp):
            info.block_count += len(node.values) - 1
        elif isinstance(node, ast.BinOp):
            info.block_count += 1
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not) and id(node) not in skip:
            info.block_count += 1
        if isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id != "car" for t in targets):
                info.uses_variable = True
            for t in targets:
                if isinstance(t, ast.Attribute) and t.attr in _PY_SETS:
                    info.dojo_blocks.append(_PY_SETS[t.attr])
                    info.block_count += 1
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = node.func.attr
            if name in _PY_CALLS and isinstance(node.func.value, ast.Name) and node.func.value.id == "car":
                info.dojo_blocks.append(_PY_CALLS[name])
                info.block_count += 1
                if BLOCKS_BY_ID[_PY_CALLS[name]].skill_param and node.args and isinstance(node.args[0], ast.Constant):
                    info.skills.append(str(node.args[0].value))
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load) and node.attr in _PY_GETS and \
                isinstance(node.value, ast.Name) and node.value.id == "car":
            info.dojo_blocks.append(_PY_GETS[node.attr])
            info.block_count += 1
    return info
