"""The recipe "adding a block" (docs/architecture.md), done for real: one new row in a copy of the repo's
curriculum/catalog.py, the Blockly module regenerated, and the new block is in every front end.

The row is ``spin around [turns] times`` (a whole-turn spin: its skill is the car's own turn). In the
copy, with no other edit: /api/catalog opens it at its level and greys it below with the gate's
sentence; the served Scratch extension has the block and sends its call; Blockly defines it, offers it
in the level's toolbox and exports it as the SDK spells it; the SDK's ``car.spin(1)`` drives a real
simulated car through the real server, and the car answers done.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COPIED = ("curriculum", "server", "robot_runtime", "dojo", "blockly_app", "kid_ui", "scratch_extension", "lessons")
RUN_TIMEOUT_S = 120.0  # a server, a car and a 360° turn take seconds; this is a hang

NEW_ROW = '''
    Block(id="spin", kind="command", level=3, text="spin around [turns] times",
          params=(Param("turns", "number", 1, 1, 3, "turns"),),
          to_action=lambda a, speed: TurnAction(degrees=360 * a["turns"], speed_pct=speed),
          doc="Spin on the spot, whole turns.",
          scratch=(ScratchShape("spin"),), blockly=BlocklyShape("dojo_spin"),
          sdk=(SdkForm("spin", args=("turns",)),)),'''

SERVER_SIDE = '''
import asyncio, json, sys
sys.path.append(sys.argv[2])  # the repo's tests/server, after this copy: core_harness runs the copy's code
from core_harness import classroom_server
import dojo

async def main(data_dir, out_dir):
    async with classroom_server(data_dir, cars=["car-1"]) as srv:
        kid = await srv.join("Mia")
        srv.classroom.set_level(kid["kid_id"], 3)
        pages = {}
        for name, path in (("level3", "/api/catalog?level=3"), ("level2", "/api/catalog?level=2"),
                           ("extension", "/scratch/extension.js")):
            async with srv.http.get(srv.url + path) as resp:
                pages[name] = await resp.text()
                (out_dir / name).write_text(pages[name])

        def kid_script():
            car = dojo.connect(srv.url, token=kid["token"])
            try:
                car.spin(1)
                return car.heading
            finally:
                car.close()

        heading = await asyncio.to_thread(kid_script)
        await srv.classroom.flush_request_log()
        log = [{"block": e.block, "status": e.status, "args": e.args} for e in srv.classroom.storage.recent_requests(10)]
        print(json.dumps({"level3": json.loads(pages["level3"]), "level2": json.loads(pages["level2"]),
                          "heading": heading, "log": log}))

from pathlib import Path
asyncio.run(main(Path(sys.argv[1]) / "data", Path(sys.argv[1])))
'''

FRONT_ENDS = '''
import fs from 'node:fs';
import { createRequire } from 'node:module';
import * as Blockly from 'blockly';
import * as python from 'blockly/python';
import * as javascript from 'blockly/javascript';
import { registerDojo } from './blockly_app/src/register.js';
import { buildToolbox, levelCatalog } from './blockly_app/src/toolbox.js';
await import(process.argv[3] + '/tests/node/helpers/scratch_vm.mjs'); // a DOM and WebSocket for scratch-vm

const out = process.argv[2];
const dojo = registerDojo({ Blockly, python, javascript });
const toolbox = buildToolbox(levelCatalog(JSON.parse(fs.readFileSync(out + '/level3', 'utf8'))));
const item = toolbox.contents.flatMap((c) => c.contents || []).find((i) => i.type === 'dojo_spin');
const ws = new Blockly.Workspace();
Blockly.serialization.workspaces.load({ blocks: { languageVersion: 0, blocks: [{ ...item, id: 'b1', x: 0, y: 0 }] } }, ws);

const require = createRequire(process.argv[3] + '/package.json');
const VirtualMachine = require('scratch-vm');
const shim = require(process.argv[3] + '/scratch_extension/editor/scratch_shim.js');
const vm = new VirtualMachine();
const ext = shim.loadExtensionSource(vm, {}, fs.readFileSync(out + '/extension', 'utf8'));
const info = vm.runtime._blockInfo.find((c) => c.id === 'mikrodojo').blocks.find((b) => b.info?.opcode === 'spin');
console.log(JSON.stringify({
  blockly: { defined: Boolean(Blockly.Blocks.dojo_spin), toolbox: item, python: dojo.exportPython(ws, {}), js: dojo.programCode(ws) },
  scratch: { text: info?.info.text, primitive: typeof vm.runtime._primitives.mikrodojo_spin,
             call: ext.blockCall('spin', { TURNS: info?.info.arguments.TURNS.defaultValue }) },
}));
'''


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> dict:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert done.returncode == 0, f"{' '.join(cmd[:2])} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> dict:
    """The repo's code in a temporary folder with the recipe applied (one row, one regeneration), then
    the server side and the front ends run there; what they saw, keyed by side."""
    root, out = tmp_path_factory.mktemp("repo"), tmp_path_factory.mktemp("out")
    for name in COPIED:
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (root / "node_modules").symlink_to(REPO / "node_modules")
    catalog = root / "curriculum" / "catalog.py"
    text = catalog.read_text(encoding="utf-8")
    anchor = "\n)\n\nSKILLS: tuple[Skill, ...] = ("
    assert anchor in text, "the recipe needs the end of the BLOCKS table; update NEW_ROW's anchor"
    catalog.write_text(text.replace(anchor, NEW_ROW + anchor, 1), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(root)}
    _run([sys.executable, "-c", "from curriculum.front_ends import main; main(); print('{}')"], root, env)
    (root / "server_side.py").write_text(SERVER_SIDE)
    (root / "front_ends.mjs").write_text(FRONT_ENDS)
    server = _run([sys.executable, "server_side.py", str(out), str(REPO / "tests" / "server")], root, env)
    return {"server": server, "front_ends": _run(["node", "front_ends.mjs", str(out), str(REPO)], root, dict(os.environ))}


def test_a_new_row_reaches_the_api_the_gate_the_sdk_and_the_car(recipe):
    got = recipe["server"]
    spin3 = next(b for b in got["level3"]["blocks"] if b["id"] == "spin")
    spin2 = next(b for b in got["level2"]["blocks"] if b["id"] == "spin")
    assert not spin3["locked"] and spin3["python"] == "car.spin(1)" and spin3["blockly_type"] == "dojo_spin"
    assert spin2["locked"] and spin2["locked_text"] == "The “spin around … times” block unlocks at level 3 — keep going!"
    spins = [e for e in got["log"] if e["block"] == "spin"]
    assert spins and spins[0]["status"] == "done", got["log"]
    assert spins[0]["args"]["kind"] == "turn" and spins[0]["args"]["degrees"] == 360
    assert min(abs(got["heading"]), 360 - abs(got["heading"])) < 20  # one whole turn: facing the start heading


def test_a_new_row_is_in_blockly_and_scratch_without_touching_them(recipe):
    got = recipe["front_ends"]
    assert got["blockly"]["defined"] and not got["blockly"]["toolbox"].get("disabledReasons")
    assert "\ncar.spin(1)\n" in got["blockly"]["python"]
    assert 'await dojo.block("spin", {turns: 1}, "b1");' in got["blockly"]["js"]
    assert got["scratch"]["text"] == "spin around [TURNS] times" and got["scratch"]["primitive"] == "function"
    assert got["scratch"]["call"] == {"block": "spin", "args": {"turns": 1}}
