// The MIKRO-DOJO vocabulary as Blockly block definitions: plain data, no side effects.
//
// Everything here is read from catalog.gen.js, which `python -m curriculum.front_ends` writes from the
// block table (curriculum/catalog.py): a new catalog row shows up here without an edit.
//
// Numbers are value inputs (a variable or a sum can go in) holding Blockly's own math_number shadow, so
// every tool that reads programs (judge, coach, teacher view) sees plain numbers. The extension
// `dojo_number_ranges` (register.js) gives those number fields the catalog's range while the kid types.
import { COLOURS, ROWS } from './catalog.gen.js';

export { COLOURS, ROWS };

// Blockly type -> catalog id. Also the list of vocabulary blocks the server checks programs against.
export const CATALOG_IDS = Object.freeze(Object.fromEntries(ROWS.map((r) => [r.type, r.id])));

// Number inputs: input name -> the catalog parameter's name, range and default.
export const NUMBER_INPUTS = Object.freeze(Object.fromEntries(
  ROWS.filter((r) => r.kind !== 'hat' && Object.keys(r.ranges).length).map((r) => [r.type, r.ranges])));

// A hat's number is a field, not an input: the Python export writes it into a decorator.
export const FIELD_RANGES = Object.freeze(Object.fromEntries(
  ROWS.filter((r) => r.kind === 'hat' && Object.keys(r.ranges).length).map((r) => [r.type, r.ranges])));

export const BLOCK_DEFINITIONS = Object.freeze(ROWS.map((r) => r.definition));

/**
 * How the SDK spells a placed block (catalog SdkForm): the form whose fixed menu choices the block has
 * (`turn` with DIRECTION right -> turn_right, `position` with AXIS y -> y), else the row's first form.
 */
export function sdkForm(row, block) {
  const matches = (form) => Object.entries(form.fixed).every(([name, value]) => block.getFieldValue(name.toUpperCase()) === value);
  return row.sdk.find(matches) || row.sdk[0];
}

/**
 * The block's arguments as code: numbers from value inputs (`numberCode(inputName, default)`), a hat's
 * numbers from its fields, menus as string literals. Keyed by parameter name.
 */
export function argumentCode(row, block, numberCode, str) {
  const out = {};
  for (const p of row.params) {
    const name = p.name.toUpperCase();
    if (p.kind !== 'number') out[p.name] = str(block.getFieldValue(name));
    else if (row.kind === 'hat') out[p.name] = numberText(block.getFieldValue(name));
    else out[p.name] = numberCode(name, p.default);
  }
  return out;
}

/** A number from a field, written the way a person would (20, not 20.0). */
export function numberText(value) {
  const n = Number(value);
  return Number.isFinite(n) ? String(n) : '0';
}

/** Every definition to register. */
export function allDefinitions() {
  return [...BLOCK_DEFINITIONS];
}
