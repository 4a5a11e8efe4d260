// The Blockly definitions are data written next to curriculum/catalog.py; this test makes any drift between
// the two fail loudly: types, kid text, parameter names, ranges, defaults, menu options; and the
// toolbox's standard blocks equal what the server's program check allows.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BLOCK_DEFINITIONS, CATALOG_IDS, FIELD_RANGES, NUMBER_INPUTS } from '../../blockly_app/src/blocks.js';
import { buildToolbox, levelCatalog, standardBlockTypes } from '../../blockly_app/src/toolbox.js';
import { pythonJson } from './helpers/blockly_headless.mjs';

// The catalog exactly as the server builds it (curriculum/catalog.py via api.catalog_for_level, level 4 =
// every block unlocked and speed ranges not capped), and the program check's allow-list.
const server = pythonJson(`
import json
from curriculum.front_ends import level_catalog
from curriculum.catalog import BLOCKS, BLOCKLY_STANDARD_TYPES
print(json.dumps({"levels": {n: level_catalog(n) for n in (1, 2, 3, 4)},
                  "python": {b.id: b.python for b in BLOCKS},
                  "standard": sorted(BLOCKLY_STANDARD_TYPES)}))
`);
const catalog = server.levels[4];
const defs = Object.fromEntries(BLOCK_DEFINITIONS.map((d) => [d.type, d]));

/** "move forward %1 cm" + arg names -> "move forward [distance] cm" (the catalog's kid text shape). */
function kidText(def) {
  const names = (def.args0 || []).map((a) => {
    const key = a.name;
    return (NUMBER_INPUTS[def.type]?.[key] || FIELD_RANGES[def.type]?.[key])?.param || key.toLowerCase();
  });
  return def.message0.replace(/%(\d+)/g, (_, i) => `[${names[Number(i) - 1]}]`);
}

test('every catalog block has a Blockly definition with the same type, and no extra ones', () => {
  assert.deepEqual(Object.keys(defs).sort(), catalog.blocks.map((b) => b.blockly_type).sort());
  for (const b of catalog.blocks) assert.equal(CATALOG_IDS[b.blockly_type], b.id);
});

for (const b of catalog.blocks) {
  test(`${b.blockly_type}: kid text, parameters, ranges and defaults match the catalog`, () => {
    const def = defs[b.blockly_type];
    assert.equal(kidText(def), b.text);
    const ranged = { ...(NUMBER_INPUTS[b.blockly_type] || {}), ...(FIELD_RANGES[b.blockly_type] || {}) };
    for (const p of b.params) {
      if (p.kind === 'number') {
        const range = Object.values(ranged).find((r) => r.param === p.name);
        assert.ok(range, `${p.name} has a range in blocks.js`);
        assert.deepEqual([range.min, range.max, range.default], [p.min, p.max, p.default], `${b.id}.${p.name}`);
      } else {
        const arg = def.args0.find((a) => a.name.toLowerCase() === p.name);
        assert.ok(arg, `${p.name} is a field of ${b.blockly_type}`);
        if (arg.type === 'field_dropdown') assert.deepEqual(arg.options.map((o) => o[1]), p.options);
        else assert.equal(arg.type, 'field_dojo_skill', 'the skill menu comes from the catalog per level');
      }
    }
    const shape = b.kind === 'reporter' ? 'output' : b.kind === 'hat' ? 'hat' : 'statement';
    if (shape === 'output') assert.ok('output' in def && !('previousStatement' in def));
    if (shape === 'statement') assert.ok('previousStatement' in def && 'nextStatement' in def);
    if (shape === 'hat') assert.ok(!('previousStatement' in def) && !('output' in def));
  });
}

test('the toolbox of each level holds exactly that level\'s blocks; locked ones are greyed with "unlocks at level N"', () => {
  for (const [level, json] of Object.entries(server.levels)) {
    const cat = levelCatalog(json);
    const toolbox = buildToolbox(cat);
    const dojoItems = toolbox.contents.slice(0, 2).flatMap((c) => c.contents);
    const enabled = dojoItems.filter((i) => i.kind === 'block' && !i.disabledReasons).map((i) => i.type).sort();
    const locked = dojoItems.filter((i) => i.kind === 'block' && i.disabledReasons).map((i) => i.type).sort();
    assert.deepEqual(enabled, json.blocks.filter((b) => !b.locked).map((b) => b.blockly_type).sort(), `level ${level}`);
    assert.deepEqual(locked, json.blocks.filter((b) => b.locked).map((b) => b.blockly_type).sort(), `level ${level}`);
    const labels = dojoItems.filter((i) => i.kind === 'label').map((i) => i.text);
    for (const b of json.blocks.filter((x) => x.locked)) assert.ok(labels.includes(`★ unlocks at level ${b.unlocks_at}`));
    const names = toolbox.contents.filter((c) => c.kind === 'category').map((c) => c.name);
    assert.deepEqual(names, ['Car', 'Sensors', 'Loops', 'Logic', 'Math', 'Variables', 'Functions']);
    assert.deepEqual(cat.skills, json.skills.filter((s) => !s.locked).map((s) => s.name));
  }
});

test('the toolbox\'s standard blocks are exactly what the server\'s program check allows', () => {
  assert.deepEqual(standardBlockTypes(), server.standard);
});
