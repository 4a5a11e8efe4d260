"""The block table in each front end's shape, derived from the catalog rows (curriculum/catalog.py).

- :func:`level_catalog` — what GET /api/catalog?level=N answers (every front end and the SDK read it);
- :func:`level_payload` — the short view of a level the /kid socket pushes.
"""

from __future__ import annotations

from typing import Any

from curriculum.catalog import CATALOG, Block, Param
from curriculum.gate import block_locked, skill_locked
from curriculum.levels import LEVELS, Level


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
