"""The block table in each front end's shape, derived from the catalog rows (curriculum/catalog.py),
so a new row shows up in every front end without another edit:

- :func:`level_catalog` — what GET /api/catalog?level=N answers (every front end and the SDK read it);
  :func:`level_payload` — the short view of a level the /kid socket pushes;
- :func:`scratch_table` — the extension's getInfo blocks and menus, and how each opcode becomes a block
  call; the server fills it into /scratch/extension.js when it serves the file;
- :func:`blockly_module` — blockly_app/src/catalog.gen.js: Blockly definitions, number ranges and the
  SDK spellings the generators use. ``python -m curriculum.front_ends`` writes it; a test keeps it fresh.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from curriculum.catalog import BLOCKLY_COLOURS, BLOCKLY_STANDARD_TYPES, CATALOG, Block, Catalog, Param
from curriculum.gate import block_locked, skill_locked
from curriculum.levels import LEVELS, Level

REPO_ROOT = Path(__file__).resolve().parent.parent
BLOCKLY_MODULE = REPO_ROOT / "blockly_app" / "src" / "catalog.gen.js"
_PLACEHOLDER = re.compile(r"\[(\w+)\]")
_KIND_COLOUR = {"command": "motion", "setting": "motion", "reporter": "sensing", "hat": "events"}


# --- /api/catalog ---------------------------------------------------------------------------------


def _param_json(p: Param, level: Level, skills: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": p.name, "kind": "menu" if p.kind == "skill" else p.kind, "default": p.default,
                           "min": p.minimum, "max": p.maximum, "unit": p.unit}
    if p.kind != "number":
        out["options"] = skills if p.kind == "skill" else list(p.options)
    if p.name == "speed":  # the level's cap is the real maximum for this kid
        top = level.max_speed_pct
        out["max"] = min(p.maximum or top, top)
        out["default"] = min(p.default, top)
    return out


def _sdk_json(b: Block) -> list[dict[str, Any]]:
    return [{"name": f.name, "style": f.style, "args": list(f.args), "fixed": dict(f.fixed)} for f in b.sdk]


def level_catalog(level_number: int) -> dict[str, Any]:
    """Blocks and skills as one level sees them: locked ones stay, as teasers ("unlocks at level N"), with
    the gate's own sentence (``locked_text``) so every front end says what the gate would say."""
    lv = LEVELS[level_number]
    skills = CATALOG.skills()
    open_skills = sorted(s.name for s in skills if s.level <= level_number)
    blocks = []
    for b in CATALOG.blocks:
        locked = b.level > level_number
        blocks.append({
            "id": b.id, "kind": b.kind, "text": b.text, "scratch_opcode": b.scratch_opcode,
            "blockly_type": b.blockly_type, "python": b.python, "sdk": _sdk_json(b), "doc": b.doc,
            "params": [_param_json(p, lv, open_skills) for p in b.params],
            "locked": locked, "unlocks_at": b.level, "teaser": f"unlocks at level {b.level}" if locked else "",
            "locked_text": block_locked(lv, b.id).kid_text if locked else "",
        })
    skill_rows = [{"name": s.name, "text": s.text, "locked": s.level > level_number, "unlocks_at": s.level,
                   "teaser": f"unlocks at level {s.level}" if s.level > level_number else "", "learned": s.learned,
                   "locked_text": skill_locked(lv, s.name).kid_text if s.level > level_number else ""}
                  for s in skills]
    return {"level": level_number, "title": lv.title, "max_speed_pct": lv.max_speed_pct, "blocks": blocks,
            "skills": skill_rows,
            "levels": [{"level": n, "title": x.title, "max_speed_pct": x.max_speed_pct} for n, x in LEVELS.items()]}


def level_payload(level_number: int) -> dict[str, Any]:
    """The short view of a level the /kid socket pushes when a kid's level changes."""
    lv = LEVELS[level_number]
    return {"level": level_number, "title": lv.title, "max_speed_pct": lv.max_speed_pct,
            "blocks": sorted(lv.blocks), "skills": sorted(lv.skills)}


# --- Scratch ----------------------------------------------------------------------------------------


def _scratch_argument(p: Param) -> dict[str, Any]:
    if p.kind == "number":
        return {"type": "number", "defaultValue": p.default}
    # Menu names end up in saved projects (the menu's shadow opcode): "directions", "skills" stay as they are.
    return {"type": "string", "menu": f"{p.name}s", "defaultValue": p.default}


def scratch_table(catalog: Catalog = CATALOG) -> dict[str, Any]:
    """getInfo's blocks and menus, plus ``calls``: opcode -> {block, args (ARG -> [param, kind]), fixed}.

    Commands become block calls in the extension without any per-block code; reporters and hats read
    telemetry in the extension (one method per opcode there)."""
    blocks: list[Any] = []
    menus: dict[str, Any] = {}
    calls: dict[str, Any] = {}
    group = None
    for b in catalog.blocks:
        kind_group = {"setting": "command"}.get(b.kind, b.kind)
        if group is not None and kind_group != group:
            blocks.append("---")
        group = kind_group
        for shape in b.scratch:
            params = [p for p in b.params if p.name not in shape.fixed]
            info: dict[str, Any] = {
                "opcode": shape.opcode, "blockType": kind_group,
                "text": shape.text or _PLACEHOLDER.sub(lambda m: f"[{m.group(1).upper()}]", b.text),
                "arguments": {p.name.upper(): _scratch_argument(p) for p in params},
            }
            if b.kind == "reporter":
                info["disableMonitor"] = False
            if b.kind == "hat":
                info["isEdgeActivated"] = True
            blocks.append(info)
            calls[shape.opcode] = {"block": b.id, "args": {p.name.upper(): [p.name, p.kind] for p in params},
                                   "fixed": dict(shape.fixed)}
            for p in params:
                if p.kind == "skill":
                    menus[f"{p.name}s"] = {"acceptReporters": True, "items": "skillMenu"}
                elif p.kind == "menu":
                    menus[f"{p.name}s"] = {"acceptReporters": True, "items": [{"text": o, "value": o} for o in p.options]}
    return {"blocks": blocks, "menus": menus, "calls": calls}


# --- Blockly ----------------------------------------------------------------------------------------


def _blockly_arg(b: Block, p: Param) -> dict[str, Any]:
    name = p.name.upper()
    if p.kind == "skill":
        return {"type": "field_dojo_skill", "name": name}
    if p.kind == "menu":
        return {"type": "field_dropdown", "name": name,
                "options": [[b.blockly.labels.get(o, o), o] for o in p.options]}
    if b.kind == "hat":  # a hat's number is a field: the Python export writes it into a decorator
        return {"type": "field_number", "name": name, "value": p.default, "min": p.minimum, "max": p.maximum}
    return {"type": "input_value", "name": name, "check": "Number"}


def blockly_definition(b: Block) -> dict[str, Any]:
    """The block's Blockly JSON definition (Blockly.common.defineBlocksWithJsonArray)."""
    order = _PLACEHOLDER.findall(b.text)
    d: dict[str, Any] = {"type": b.blockly_type}
    if b.kind in ("command", "setting"):
        d.update(previousStatement=None, nextStatement=None, inputsInline=True)
    elif b.kind == "reporter":
        d["output"] = "Number"
    else:
        d["nextStatement"] = None
    d["colour"] = BLOCKLY_COLOURS[b.blockly.colour or _KIND_COLOUR[b.kind]]
    if b.kind != "hat" and any(p.kind == "number" for p in b.params):
        d["extensions"] = ["dojo_number_ranges"]  # the catalog's range while the kid types (register.js)
    d["message0"] = _PLACEHOLDER.sub(lambda m: f"%{order.index(m.group(1)) + 1}", b.text)
    d["args0"] = [_blockly_arg(b, b.param(name)) for name in order]
    if b.kind == "hat":
        d.update(message1="%1", args1=[{"type": "input_statement", "name": "DO"}])
    d["tooltip"] = b.doc
    return d


def blockly_rows(catalog: Catalog = CATALOG) -> list[dict[str, Any]]:
    """One entry per row: its id, kind, Blockly definition, number ranges and SDK spellings."""
    rows = []
    for b in catalog.blocks:
        ranges = {p.name.upper(): {"param": p.name, "min": p.minimum, "max": p.maximum, "default": p.default}
                  for p in b.params if p.kind == "number"}
        rows.append({"id": b.id, "kind": b.kind, "type": b.blockly_type, "level": b.level, "text": b.text,
                     "category": "Sensors" if b.kind in ("reporter", "hat") else "Car",
                     "params": [{"name": p.name, "kind": p.kind, "default": p.default} for p in b.params],
                     "definition": blockly_definition(b), "ranges": ranges, "sdk": _sdk_json(b)})
    return rows


def blockly_module(catalog: Catalog = CATALOG) -> str:
    """The text of blockly_app/src/catalog.gen.js."""
    data = {"COLOURS": {k: v for k, v in BLOCKLY_COLOURS.items() if k != "stop"}, "ROWS": blockly_rows(catalog),
            "STANDARD_TYPES": sorted(BLOCKLY_STANDARD_TYPES)}
    body = "\n".join(f"export const {name} = Object.freeze({json.dumps(value, indent=2, ensure_ascii=False)});\n"
                     for name, value in data.items())
    return ("// GENERATED from curriculum/catalog.py by `python -m curriculum.front_ends` — do not edit by hand.\n"
            "// The block table as Blockly needs it: definitions, number ranges, SDK spellings (for the\n"
            "// Python export and the run-time calls), and Blockly's own blocks every level has.\n\n" + body)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = blockly_module()
    if argv == ["--check"]:
        fresh = BLOCKLY_MODULE.is_file() and BLOCKLY_MODULE.read_text(encoding="utf-8") == text
        print(f"{BLOCKLY_MODULE}: {'up to date' if fresh else 'stale — run `python -m curriculum.front_ends`'}")
        return 0 if fresh else 1
    BLOCKLY_MODULE.write_text(text, encoding="utf-8")
    print(f"wrote {BLOCKLY_MODULE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
