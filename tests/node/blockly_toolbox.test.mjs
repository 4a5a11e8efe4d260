// The Blockly toolbox per level, from /api/catalog as the server builds it: exactly the level's blocks,
// the locked ones greyed with "unlocks at level N" and the gate's own sentence; and the standard
// Blockly blocks of the toolbox are exactly the ones the gate lets a program use.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { STANDARD_TYPES, buildToolbox, levelCatalog, standardBlockTypes } from '../../blockly_app/src/toolbox.js';
import { pythonJson } from './helpers/blockly_headless.mjs';

const server = pythonJson(`
import json
from curriculum.catalog import BLOCKLY_STANDARD_TYPES
from curriculum.front_ends import level_catalog
print(json.dumps({"levels": {n: level_catalog(n) for n in (1, 2, 3, 4)}, "standard": sorted(BLOCKLY_STANDARD_TYPES)}))
`);

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
    for (const b of json.blocks.filter((x) => x.locked)) {
      assert.ok(labels.includes(`★ unlocks at level ${b.unlocks_at}`));
      assert.equal(cat.blocks.find((e) => e.id === b.id).lockedText, b.locked_text, 'the gate\'s sentence for the warning');
    }
    const names = toolbox.contents.filter((c) => c.kind === 'category').map((c) => c.name);
    assert.deepEqual(names, ['Car', 'Sensors', 'Loops', 'Logic', 'Math', 'Variables', 'Functions']);
    assert.deepEqual(cat.skills, json.skills.filter((s) => !s.locked).map((s) => s.name));
  }
});

test('the toolbox\'s standard blocks are exactly what the gate allows in a program', () => {
  assert.deepEqual(standardBlockTypes(), server.standard);
  assert.deepEqual([...STANDARD_TYPES], server.standard, 'catalog.gen.js carries the gate\'s list');
});
