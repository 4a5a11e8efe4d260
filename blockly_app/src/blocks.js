// The MIKRO-DOJO vocabulary as Blockly block definitions: plain data, no side effects.
//
// Blockly types, kid text, parameter names, ranges and defaults follow curriculum/catalog.py (the one
// table for every front end). tests/node/blockly_catalog.test.mjs compares every entry here with the
// catalog, so a change there that is not made here fails a test instead of drifting silently.
//
// Numbers are value inputs (a variable or a sum can go in) holding Blockly's own math_number shadow, so
// every tool that reads programs (judge, coach, teacher view) sees plain numbers. The extension
// `dojo_number_ranges` (register.js) gives those number fields the catalog's range while the kid types.

export const COLOURS = Object.freeze({
  motion: '#4C97FF', // Scratch's motion blue: kids who know Scratch find the car blocks at once
  sensing: '#2CB5C9',
  events: '#FFAB19',
  skills: '#9966FF',
});

// Blockly type -> catalog id. Also the list of vocabulary blocks the server checks programs against.
export const CATALOG_IDS = Object.freeze({
  dojo_move_forward: 'move_forward',
  dojo_move_backward: 'move_backward',
  dojo_turn: 'turn',
  dojo_drive_for: 'drive_for',
  dojo_set_speed: 'set_speed',
  dojo_go_to: 'go_to',
  dojo_do_skill: 'do_skill',
  dojo_stop: 'stop',
  dojo_distance: 'distance',
  dojo_position: 'position',
  dojo_when_obstacle: 'when_obstacle',
});

// Number inputs: input name -> the catalog parameter's name, range and default.
export const NUMBER_INPUTS = Object.freeze({
  dojo_move_forward: { DISTANCE: { param: 'distance', min: 0, max: 500, default: 20 } },
  dojo_move_backward: { DISTANCE: { param: 'distance', min: 0, max: 500, default: 20 } },
  dojo_turn: { DEGREES: { param: 'degrees', min: 0, max: 1080, default: 90 } },
  dojo_drive_for: {
    SPEED: { param: 'speed', min: 1, max: 100, default: 50 },
    SECONDS: { param: 'seconds', min: 0.1, max: 30, default: 2 },
  },
  dojo_set_speed: { SPEED: { param: 'speed', min: 1, max: 100, default: 40 } },
  dojo_go_to: {
    X: { param: 'x', min: 0, max: 5000, default: 100 },
    Y: { param: 'y', min: 0, max: 5000, default: 50 },
  },
});

const command = { previousStatement: null, nextStatement: null, inputsInline: true, colour: COLOURS.motion };
const ranged = { extensions: ['dojo_number_ranges'] };
const numberInput = (name) => ({ type: 'input_value', name, check: 'Number' });

export const BLOCK_DEFINITIONS = Object.freeze([
  {
    type: 'dojo_move_forward', ...command, ...ranged,
    message0: 'move forward %1 cm', args0: [numberInput('DISTANCE')],
    tooltip: 'Drive straight ahead.',
  },
  {
    type: 'dojo_move_backward', ...command, ...ranged,
    message0: 'move backward %1 cm', args0: [numberInput('DISTANCE')],
    tooltip: 'Drive straight back.',
  },
  {
    type: 'dojo_turn', ...command, ...ranged,
    message0: 'turn %1 %2 degrees',
    args0: [
      { type: 'field_dropdown', name: 'DIRECTION', options: [['left ↺', 'left'], ['right ↻', 'right']] },
      numberInput('DEGREES'),
    ],
    tooltip: 'Turn on the spot. Left turns counter-clockwise.',
  },
  {
    type: 'dojo_drive_for', ...command, ...ranged,
    message0: 'drive at %1% for %2 seconds', args0: [numberInput('SPEED'), numberInput('SECONDS')],
    tooltip: 'Drive straight at a speed for a time.',
  },
  {
    type: 'dojo_set_speed', ...command, ...ranged,
    message0: 'set speed to %1%', args0: [numberInput('SPEED')],
    tooltip: 'Sets the speed that later moves use.',
  },
  {
    type: 'dojo_go_to', ...command, ...ranged,
    message0: 'go to x %1 y %2', args0: [numberInput('X'), numberInput('Y')],
    tooltip: 'Drive to a point in the arena (centimetres from the lower-left corner).',
  },
  {
    type: 'dojo_do_skill', ...command, colour: COLOURS.skills,
    message0: 'do skill %1', args0: [{ type: 'field_dojo_skill', name: 'SKILL' }],
    tooltip: 'Run a trick the car knows.',
  },
  {
    type: 'dojo_stop', ...command, colour: '#E6453C',
    message0: 'stop', args0: [],
    tooltip: 'Stop at once.',
  },
  {
    type: 'dojo_distance', output: 'Number', colour: COLOURS.sensing,
    message0: 'distance ahead (cm)', args0: [],
    tooltip: 'What the distance sensor sees ahead, in cm (a huge number when nothing is in range).',
  },
  {
    type: 'dojo_position', output: 'Number', colour: COLOURS.sensing,
    message0: '%1',
    args0: [{ type: 'field_dropdown', name: 'AXIS', options: [['x position', 'x'], ['y position', 'y'], ['heading', 'heading']] }],
    tooltip: 'Where the car is: x and y in cm, heading in degrees (0 points right, left turns add).',
  },
  {
    type: 'dojo_when_obstacle', colour: COLOURS.events, nextStatement: null,
    message0: 'when obstacle closer than %1 cm', args0: [{ type: 'field_number', name: 'DISTANCE', value: 20, min: 1, max: 200 }],
    message1: '%1', args1: [{ type: 'input_statement', name: 'DO' }],
    tooltip: 'Runs the blocks inside when something comes closer than the distance.',
  },
]);

// when_obstacle's distance is a field, not an input: the Python export writes it into a decorator.
export const FIELD_RANGES = Object.freeze({
  dojo_when_obstacle: { DISTANCE: { param: 'distance', min: 1, max: 200, default: 20 } },
});

/** Every definition to register. */
export function allDefinitions() {
  return [...BLOCK_DEFINITIONS];
}
