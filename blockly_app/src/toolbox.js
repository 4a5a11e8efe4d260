// The toolbox for one kid's level, built from GET /api/catalog?level=N: exactly the level's car blocks
// (in catalog order, with the catalog's default numbers), the locked ones greyed with "unlocks at
// level N", plus Blockly's loops, logic, math, variables and functions. Pure data in, data out.
import { COLOURS, CATALOG_IDS, FIELD_RANGES, NUMBER_INPUTS, ROWS } from './blocks.js';
import { STANDARD_TYPES } from './catalog.gen.js';

// Blockly's own blocks a kid gets at every level. The server's program check allows exactly these
// (server/kids/programs.py STANDARD_BLOCKLY_TYPES; a Node test keeps the two lists equal).
export const STANDARD_CATEGORIES = Object.freeze([
  {
    name: 'Loops', colour: '#FFAB19', blocks: [
      { type: 'controls_repeat_ext', inputs: { TIMES: { shadow: { type: 'math_number', fields: { NUM: 4 } } } } },
      { type: 'controls_whileUntil' },
      { type: 'controls_for', fields: { VAR: { name: 'i' } },
        inputs: {
          FROM: { shadow: { type: 'math_number', fields: { NUM: 1 } } },
          TO: { shadow: { type: 'math_number', fields: { NUM: 10 } } },
          BY: { shadow: { type: 'math_number', fields: { NUM: 1 } } },
        } },
      { type: 'controls_flow_statements' },
    ],
  },
  {
    name: 'Logic', colour: '#59C059', blocks: [
      { type: 'controls_if' },
      { type: 'controls_if', extraState: { hasElse: true } },
      { type: 'logic_compare' },
      { type: 'logic_operation' },
      { type: 'logic_negate' },
      { type: 'logic_boolean' },
    ],
  },
  {
    name: 'Math', colour: '#40BF4A', blocks: [
      { type: 'math_number', fields: { NUM: 10 } },
      { type: 'math_arithmetic',
        inputs: { A: { shadow: { type: 'math_number', fields: { NUM: 1 } } }, B: { shadow: { type: 'math_number', fields: { NUM: 1 } } } } },
      { type: 'math_random_int',
        inputs: { FROM: { shadow: { type: 'math_number', fields: { NUM: 1 } } }, TO: { shadow: { type: 'math_number', fields: { NUM: 10 } } } } },
      { type: 'math_modulo',
        inputs: { DIVIDEND: { shadow: { type: 'math_number', fields: { NUM: 10 } } }, DIVISOR: { shadow: { type: 'math_number', fields: { NUM: 3 } } } } },
      { type: 'math_round', inputs: { NUM: { shadow: { type: 'math_number', fields: { NUM: 3.1 } } } } },
    ],
  },
]);

// The dynamic categories add these (variables: set/get/change; functions: define/call/return).
export const DYNAMIC_CATEGORY_TYPES = Object.freeze([
  'variables_get', 'variables_set', 'math_change',
  'procedures_defnoreturn', 'procedures_defreturn', 'procedures_callnoreturn', 'procedures_callreturn',
  'procedures_ifreturn',
]);

export function standardBlockTypes() {
  const types = new Set(DYNAMIC_CATEGORY_TYPES);
  for (const c of STANDARD_CATEGORIES) for (const b of c.blocks) types.add(b.type);
  types.add('math_number');
  return [...types].sort();
}

// Which of our categories (Car, Sensors) a vocabulary block goes in: the catalog row says.
const CATEGORY_OF = Object.fromEntries(ROWS.map((r) => [r.type, r.category]));
export { STANDARD_TYPES };

/**
 * The catalog of one level (GET /api/catalog?level=N) in the shape the app uses:
 * {level, title, maxSpeed, blocks: [{id, type, text, kind, params, allowed, unlockLevel, lockedText}],
 *  skills: [names the kid has], allSkills: [every skill], skillUnlock: {name: level},
 *  skillLockedText: {name: the gate's sentence}}.
 */
export function levelCatalog(json) {
  const blocks = (json.blocks || []).map((b) => ({
    id: b.id,
    type: b.blockly_type,
    text: b.text,
    kind: b.kind,
    params: b.params || [],
    allowed: !b.locked,
    unlockLevel: b.unlocks_at ?? null,
    lockedText: b.locked_text || '',
  }));
  const skills = json.skills || [];
  return {
    level: Number(json.level),
    title: json.title || '',
    maxSpeed: json.max_speed_pct,
    blocks,
    skills: skills.filter((s) => !s.locked).map((s) => s.name),
    allSkills: skills.map((s) => s.name),
    skillUnlock: Object.fromEntries(skills.map((s) => [s.name, s.unlocks_at])),
    skillLockedText: Object.fromEntries(skills.filter((s) => s.locked_text).map((s) => [s.name, s.locked_text])),
  };
}

function blockEntry(entry) {
  const item = { kind: 'block', type: entry.type };
  const ranges = NUMBER_INPUTS[entry.type] || {};
  const inputs = {};
  for (const [inputName, range] of Object.entries(ranges)) {
    const param = entry.params.find((p) => p.name === range.param);
    inputs[inputName] = { shadow: { type: 'math_number', fields: { NUM: param ? param.default : range.default } } };
  }
  if (Object.keys(inputs).length) item.inputs = inputs;
  for (const [fieldName, range] of Object.entries(FIELD_RANGES[entry.type] || {})) {
    const param = entry.params.find((p) => p.name === range.param);
    item.fields = { ...item.fields, [fieldName]: param ? param.default : range.default };
  }
  if (!entry.allowed) {
    item.disabledReasons = ['dojo_locked'];
  }
  return item;
}

function lockedLabel(entry) {
  return { kind: 'label', text: `★ unlocks at level ${entry.unlockLevel ?? '?'}`, 'web-class': 'dojo-locked-label' };
}

/** The category toolbox JSON for a level catalog (from levelCatalog). */
export function buildToolbox(catalog) {
  const car = [];
  const sensing = [];
  const known = catalog.blocks.filter((b) => CATALOG_IDS[b.type]);
  // Unlocked blocks first, then the teasers for later levels.
  for (const entry of [...known.filter((b) => b.allowed), ...known.filter((b) => !b.allowed)]) {
    const target = CATEGORY_OF[entry.type] === 'Sensors' ? sensing : car;
    target.push(blockEntry(entry));
    if (!entry.allowed) target.push(lockedLabel(entry));
  }
  const contents = [
    { kind: 'category', name: 'Car', colour: COLOURS.motion, contents: car },
    { kind: 'category', name: 'Sensors', colour: COLOURS.sensing, contents: sensing },
    { kind: 'sep' },
    ...STANDARD_CATEGORIES.map((c) => ({
      kind: 'category', name: c.name, colour: c.colour,
      contents: c.blocks.map((b) => ({ kind: 'block', ...b })),
    })),
    { kind: 'category', name: 'Variables', colour: '#FF8C1A', custom: 'VARIABLE' },
    { kind: 'category', name: 'Functions', colour: '#FF6680', custom: 'PROCEDURE' },
  ];
  return { kind: 'categoryToolbox', contents };
}

/** The Blockly types a kid of this level may place (vocabulary + standard blocks). */
export function allowedTypes(catalog) {
  return new Set([...catalog.blocks.filter((b) => b.allowed).map((b) => b.type), ...standardBlockTypes()]);
}

/**
 * A level catalog narrowed to one lesson: only the car blocks the lesson allows (catalog ids from
 * GET /api/lessons `allowed_blocks`), no teasers — the lesson is about these blocks. Blockly's loops,
 * logic and math stay (the server's lesson check only counts car blocks). No list: the catalog as is.
 */
export function lessonCatalog(catalog, allowedBlocks) {
  if (!Array.isArray(allowedBlocks) || !allowedBlocks.length) return catalog;
  const allowed = new Set(allowedBlocks);
  return { ...catalog, blocks: catalog.blocks.filter((b) => b.allowed && allowed.has(b.id)) };
}
