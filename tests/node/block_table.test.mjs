// The block table, one row per catalog block, through every front end and the car:
//
//   Scratch  the extension exactly as the server serves it, in a real scratch-vm: the VM has the block
//            (each Scratch opcode of the row), and a command's opcode sends the row's block call;
//   Blockly  the real Blockly with our registration: the level's toolbox offers the block from its level
//            on (greyed before), and the generated code makes the row's block call / reading / handler,
//            spelled in the Python export the way the SDK spells it (each SDK form of the row);
//   SDK      the dojo SDK offers each spelling, and the program reader reads it back as the row;
//   car      the block call becomes a skill request a real (simulated, headless) car runtime finishes.
//
// Nothing here lists blocks: the rows come from curriculum/catalog.py, so a new row is tested as it lands.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { compileProgram } from '../../blockly_app/src/runner.js';
import { buildToolbox, levelCatalog } from '../../blockly_app/src/toolbox.js';
import { compilePython, dojo, pythonPath, workspaceFrom } from './helpers/blockly_headless.mjs';
import { REPO_ROOT } from './helpers/demo_server.mjs';
import './helpers/scratch_vm.mjs'; // a DOM and WebSocket for scratch-vm in Node

const require = createRequire(import.meta.url);
const VirtualMachine = require('scratch-vm');
const shim = require(path.join(REPO_ROOT, 'scratch_extension/editor/scratch_shim.js'));

const res = spawnSync(pythonPath(), [path.join(REPO_ROOT, 'tests/node/helpers/block_table.py')], { cwd: REPO_ROOT, encoding: 'utf8' });
if (res.status !== 0) throw new Error(`tests/node/helpers/block_table.py failed:\n${res.stderr}`);
const table = JSON.parse(res.stdout);

const vm = new VirtualMachine();
const ext = shim.loadExtensionSource(vm, {}, table.extension);
const scratchBlocks = new Map(vm.runtime._blockInfo.find((c) => c.id === 'mikrodojo').blocks
  .filter((b) => b.info && b.info.opcode).map((b) => [b.info.opcode, b.info]));

/** The toolbox item for a block at a level: {item, locked} (the app's own toolbox builder). */
function toolboxItem(type, level) {
  const contents = buildToolbox(levelCatalog(table.levels[level])).contents.slice(0, 2).flatMap((c) => c.contents);
  const item = contents.find((i) => i.kind === 'block' && i.type === type);
  return item && { item: structuredClone(item), locked: Boolean(item.disabledReasons) };
}

/** Python and JavaScript for one placed block (a reporter is read into a variable, as a kid would). */
function generated(row, item) {
  delete item.disabledReasons;
  const block = row.kind === 'reporter'
    ? { type: 'variables_set', id: 'set', fields: { VAR: { id: 'v' } }, inputs: { VALUE: { block: { ...item, id: 'b1' } } } }
    : { ...item, id: 'b1' };
  const ws = workspaceFrom([block], [{ name: 'value', id: 'v' }]);
  return { py: dojo.exportPython(ws, { server: 'http://x', classCode: 'DEMO', name: 'Mia' }), js: dojo.programCode(ws) };
}

const exportedPython = {}; // every export made here: compiled by Python at the end
const literal = (args) => `{${Object.entries(args).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ')}}`;
const camel = (name) => name.replace(/_([a-z])/g, (_, c) => c.toUpperCase());

for (const row of table.rows) {
  test(`${row.id}: Scratch, Blockly, the SDK and the car agree`, () => {
    // Scratch
    for (const shape of row.scratch) {
      const info = scratchBlocks.get(shape.opcode);
      assert.ok(info, `scratch-vm has mikrodojo_${shape.opcode}`);
      assert.equal(typeof vm.runtime._primitives[`mikrodojo_${shape.opcode}`], 'function');
      if (row.kind === 'command' || row.kind === 'setting') {
        const args = Object.fromEntries(Object.entries(info.arguments || {}).map(([k, a]) => [k, a.defaultValue]));
        assert.deepEqual(ext.blockCall(shape.opcode, args), { block: row.id, args: { ...shape.fixed, ...row.defaults } });
      }
    }
    // Blockly: from its level on, and greyed before it
    assert.equal(toolboxItem(row.type, row.level)?.locked, false, `level ${row.level} offers ${row.type}`);
    if (row.level > 1) assert.equal(toolboxItem(row.type, row.level - 1)?.locked, true, `level ${row.level - 1} greys it`);
    for (const form of row.forms) {
      const { item } = toolboxItem(row.type, 4);
      for (const [param, value] of Object.entries(form.fixed)) item.fields = { ...item.fields, [param.toUpperCase()]: value };
      const { py, js } = generated(row, item);
      exportedPython[`${row.id}_${form.name}`] = py;
      assert.doesNotThrow(() => compileProgram(js), 'the JavaScript parses as an async function body');
      const line = row.kind === 'reporter' ? `value = ${form.spelling}` : form.spelling;
      assert.ok(py.includes(`\n${line}\n`), `Python export:\n${py}\nshould spell it as the SDK does: ${line}`);
      if (row.kind === 'reporter') assert.ok(js.includes(`(await dojo.read(${JSON.stringify(form.name)}))`), js);
      else if (row.kind === 'hat') assert.ok(js.includes(`dojo.${camel(form.name)}(${Object.values(row.defaults).join(', ')}, async () =>`), js);
      else assert.ok(js.includes(`await dojo.block(${JSON.stringify(row.id)}, ${literal({ ...row.defaults, ...form.fixed })}, "b1");`), js);
      // SDK
      assert.ok(form.sdk_has_it, `the SDK offers ${form.spelling}`);
      assert.deepEqual(form.reads_as, [row.id], `the program reader reads ${form.spelling} as ${row.id}`);
    }
    // the car: commands become a skill request the car finishes; the rest the classroom answers itself
    if (row.car.action) assert.ok(['done', 'stopped'].includes(row.car.status), JSON.stringify(row.car));
    else assert.ok(['setting', 'reporter', 'hat'].includes(row.kind), `${row.id} has no skill request`);
  });
}

test('getInfo has exactly the table\'s blocks, and Blockly\'s toolbox exactly the table\'s types', () => {
  assert.deepEqual([...scratchBlocks.keys()].sort(), table.rows.flatMap((r) => r.scratch.map((s) => s.opcode)).sort());
  const level4 = buildToolbox(levelCatalog(table.levels[4])).contents.slice(0, 2).flatMap((c) => c.contents);
  assert.deepEqual(level4.filter((i) => i.kind === 'block').map((i) => i.type).sort(), table.rows.map((r) => r.type).sort());
});

test('every Python export above compiles', () => {
  const results = compilePython(exportedPython);
  assert.ok(Object.keys(results).length >= table.rows.length);
  for (const [name, error] of Object.entries(results)) assert.equal(error, '', `${name} does not compile: ${error}`);
});
