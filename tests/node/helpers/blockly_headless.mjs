// Headless Blockly 12 in Node with the MIKRO-DOJO blocks registered: the same modules the app loads.
//
//   import { dojo, Blockly, workspaceFrom, stackOf, num } from './helpers/blockly_headless.mjs';
//   const ws = workspaceFrom([stackOf({type: 'dojo_move_forward', inputs: {DISTANCE: num(20)}})]);
//   dojo.exportPython(ws, {server, classCode, name}) / dojo.programCode(ws)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as Blockly from 'blockly';
import * as python from 'blockly/python';
import * as javascript from 'blockly/javascript';
import { registerDojo } from '../../../blockly_app/src/register.js';
import { REPO_ROOT } from './demo_server.mjs';

export { Blockly };
export const dojo = registerDojo({ Blockly, python, javascript }, {
  available: ['slalom', 'figure_eight'], all: ['slalom', 'figure_eight', 'parallel_park', 'donut', 'drift'],
  unlockLevel: { slalom: 3, figure_eight: 3, parallel_park: 4, donut: 4, drift: 4 },
});

export const num = (n) => ({ shadow: { type: 'math_number', fields: { NUM: n } } });

/** Chain blocks into one stack (Blockly's `next`). */
export function stackOf(...blocks) {
  const copies = blocks.map((b) => structuredClone(b));
  for (let i = 0; i < copies.length - 1; i += 1) copies[i].next = { block: copies[i + 1] };
  return copies[0];
}

/** A headless workspace loaded from top blocks (and variables). */
export function workspaceFrom(tops, variables = []) {
  const ws = new Blockly.Workspace();
  const blocks = tops.map((b, i) => ({ x: 0, y: i * 200, ...b }));
  Blockly.serialization.workspaces.load({ blocks: { languageVersion: 0, blocks }, variables }, ws);
  return ws;
}

export function pythonPath() {
  const venv = path.join(REPO_ROOT, '.venv', 'bin', 'python');
  return fs.existsSync(venv) ? venv : 'python3';
}

/** Compile Python sources with the real interpreter; returns [{name, ok, error}]. */
export function compilePython(sources) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dojo-py-'));
  try {
    const files = Object.entries(sources).map(([name, code]) => {
      const file = path.join(dir, `${name.replace(/[^a-z0-9_]+/gi, '_')}.py`);
      fs.writeFileSync(file, code);
      return [name, file];
    });
    const script = 'import ast, json, sys\nout = {}\nfor name, file in json.load(sys.stdin):\n'
      + '    try:\n        compile(open(file).read(), file, "exec"); out[name] = ""\n'
      + '    except SyntaxError as e:\n        out[name] = f"{e.msg} (line {e.lineno}): {e.text}"\n'
      + 'print(json.dumps(out))\n';
    const res = spawnSync(pythonPath(), ['-c', script], { input: JSON.stringify(files), encoding: 'utf8' });
    if (res.status !== 0) throw new Error(`python failed: ${res.stderr}`);
    return JSON.parse(res.stdout);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Run a small Python snippet in the repo and return its JSON output. */
export function pythonJson(code) {
  const res = spawnSync(pythonPath(), ['-c', code], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`python failed: ${res.stderr}`);
  return JSON.parse(res.stdout);
}
