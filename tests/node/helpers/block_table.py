"""The Python half of tests/node/block_table.test.mjs: every catalog row through the SDK and the car.

Prints JSON: per row its defaults and SDK spellings (with what the SDK and the program reader make of
them), the skill request it becomes and how a simulated car (the real runtime, headless) answered it;
the /api/catalog of each level; and the Scratch extension exactly as the server serves it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "curriculum"))
from curriculum_helpers import fixture_lesson  # noqa: E402

import dojo  # noqa: E402
from curriculum.blockly_json import dojo as dojo_block, program  # noqa: E402
from curriculum.catalog import BLOCKS, translate  # noqa: E402
from curriculum.front_ends import level_catalog  # noqa: E402
from curriculum.levels import LEVELS  # noqa: E402
from curriculum.program import analyse  # noqa: E402
from curriculum.simrun import run_program  # noqa: E402
from robot_runtime.arena import Arena  # noqa: E402
from robot_runtime.protocol import Pose  # noqa: E402
from server.scratch.extension import extension_source  # noqa: E402

# Open floor, big enough for every skill's lane (the slalom wants 130 cm past its last cone).
OPEN_FLOOR = Arena(name="open floor", width_cm=1000, height_cm=800, start=Pose(x_cm=150, y_cm=400, heading_deg=0))
LESSON = fixture_lesson().model_copy(update={"level": max(LEVELS), "allowed_blocks": [b.id for b in BLOCKS],
                                             "time_limit_s": 120, "arena": OPEN_FLOOR})


SDK_CAR = dojo.Car("http://127.0.0.1:9", "no-token", {}, block_timeout=1)  # never connected: only its methods
SDK_CAR._use_catalog(level_catalog(max(LEVELS)))


def sdk_has(name: str) -> bool:
    """The SDK offers the spelling: a method or property of its own, or one made from the catalog."""
    return isinstance(getattr(dojo.Car, name, None), property) or callable(getattr(SDK_CAR, name, None))


def sdk_reads(spelling: str, style: str) -> list[str]:
    """What the program reader (judge, coach) makes of the spelling in a kid's script."""
    source = spelling + ("\ndef handler():\n    pass\n" if style == "decorator" else "\n")
    return analyse(source).dojo_blocks


def car_leg(block_id: str, defaults: dict) -> dict:
    action = translate(block_id, defaults, 50).action
    if action is None:
        return {"action": None, "status": None}
    sim = run_program(LESSON, program(dojo_block(block_id, **defaults)))
    status = sim.results[-1].status if sim.results else ("stopped" if action.kind == "stop" else "no answer")
    return {"action": action.model_dump(mode="json"), "status": status, "refusals": sim.refusals}


rows = []
for b in BLOCKS:
    defaults = {p.name: p.default for p in b.params}
    forms = []
    for f in b.sdk:
        values = {p.name: json.dumps(f.fixed.get(p.name, p.default)) if p.kind != "number" else str(p.default)
                  for p in b.params}
        spelling = f.spell(values)
        forms.append({"name": f.name, "style": f.style, "fixed": f.fixed, "spelling": spelling,
                      "sdk_has_it": sdk_has(f.name),
                      "reads_as": sdk_reads(spelling, f.style)})
    rows.append({"id": b.id, "kind": b.kind, "level": b.level, "type": b.blockly_type, "defaults": defaults,
                 "scratch": [{"opcode": s.opcode, "fixed": s.fixed} for s in b.scratch], "forms": forms,
                 "car": car_leg(b.id, defaults)})

print(json.dumps({"rows": rows, "levels": {n: level_catalog(n) for n in LEVELS},
                  "extension": extension_source("http://127.0.0.1:9")}))
