// The Blockly generators, headless: whole programs (loops, conditions, variables, functions, events)
// generate Python that compiles and JavaScript that parses; reserved names never break the export; a
// skill the kid does not have stays in the program. (Each vocabulary block alone, in every front end,
// is block_table.test.mjs.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileProgram } from '../../blockly_app/src/runner.js';
import { LOCKED } from '../../blockly_app/src/skill_field.js';
import { Blockly, compilePython, dojo, num, stackOf, workspaceFrom } from './helpers/blockly_headless.mjs';

const CONNECTION = { server: 'http://127.0.0.1:8080', classCode: 'DEMO', name: 'Mia', car: 'car-1' };
const setVar = (id, value) => ({ type: 'variables_set', fields: { VAR: { id } }, inputs: { VALUE: { block: value } } });

const FORWARD = { type: 'dojo_move_forward', id: 'b1', inputs: { DISTANCE: num(20) } };
const STOP = { type: 'dojo_stop', id: 'b9' };

const pythonOf = (ws) => dojo.exportPython(ws, CONNECTION);
const jsOf = (ws) => dojo.programCode(ws);
const generatedPython = {}; // every Python file made in this test file: compiled at the end

test('the exported script reads like a short Python program: header, import, connect, program, stop', () => {
  const py = pythonOf(workspaceFrom([FORWARD]));
  generatedPython.one_block = py;
  assert.equal(py, [
    '# My car program - made with blocks in MIKRO-DOJO.',
    '# Run it with:  python program.py   (it needs the dojo package: pip install mikro-dojo)',
    '# The car does one line after the other, just like the blocks did, and says each one as it goes.',
    '',
    'import dojo',
    '',
    'car = dojo.connect("http://127.0.0.1:8080", class_code="DEMO", name="Mia")  # your car: car-1',
    '',
    'car.forward(20)',
    '',
    'car.stop()',
    '',
  ].join('\n'));
});

test('every statement lights its block up before it runs', () => {
  const js = jsOf(workspaceFrom([stackOf(FORWARD, STOP)]));
  assert.ok(js.indexOf("await dojo.highlight('b1');") < js.indexOf('"move_forward"'));
  assert.ok(js.indexOf("await dojo.highlight('b9');") < js.indexOf('"stop"'));
});

// A program with everything a kid can use besides the car blocks.
const BIG_PROGRAM = {
  variables: [{ name: 'side', id: 'side' }, { name: 'i', id: 'i' }],
  tops: [
    { type: 'procedures_defnoreturn', id: 'def1', fields: { NAME: 'square' }, inputs: { STACK: { block: {
      type: 'controls_repeat_ext', inputs: { TIMES: num(4), DO: { block: stackOf(
        { type: 'dojo_move_forward', inputs: { DISTANCE: { shadow: { type: 'math_number', fields: { NUM: 20 } } ,
          block: { type: 'variables_get', fields: { VAR: { id: 'side' } } } } } },
        { type: 'dojo_turn', fields: { DIRECTION: 'left' }, inputs: { DEGREES: num(90) } },
      ) } } } } } },
    { type: 'procedures_defreturn', id: 'def2', fields: { NAME: 'is near' }, inputs: {
      RETURN: { block: { type: 'logic_compare', fields: { OP: 'LT' }, inputs: {
        A: { block: { type: 'dojo_distance' } }, B: num(30) } } } } },
    stackOf(
      { type: 'dojo_set_speed', inputs: { SPEED: num(30) } },
      setVar('side', { type: 'math_number', fields: { NUM: 15 } }),
      { type: 'controls_for', fields: { VAR: { id: 'i' } }, inputs: { FROM: num(1), TO: num(3), BY: num(1), DO: { block: stackOf(
        { type: 'procedures_callnoreturn', extraState: { name: 'square' } },
        { type: 'math_change', fields: { VAR: { id: 'side' } }, inputs: { DELTA: num(5) } },
      ) } } },
      { type: 'controls_if', extraState: { hasElse: true }, inputs: {
        IF0: { block: { type: 'procedures_callreturn', extraState: { name: 'is near' } } },
        DO0: { block: { type: 'dojo_move_backward', inputs: { DISTANCE: num(10) } } },
        ELSE: { block: { type: 'dojo_go_to', inputs: { X: num(100), Y: { block: { type: 'math_arithmetic', fields: { OP: 'ADD' },
          inputs: { A: { block: { type: 'dojo_position', fields: { AXIS: 'y' } } }, B: num(10) } } } } } } } },
      { type: 'controls_whileUntil', fields: { MODE: 'WHILE' }, inputs: {
        BOOL: { block: { type: 'logic_operation', fields: { OP: 'AND' }, inputs: {
          A: { block: { type: 'logic_compare', fields: { OP: 'GT' }, inputs: { A: { block: { type: 'dojo_distance' } }, B: num(25) } } },
          B: { block: { type: 'logic_negate', inputs: { BOOL: { block: { type: 'logic_boolean', fields: { BOOL: 'FALSE' } } } } } } } } },
        DO: { block: stackOf({ type: 'dojo_move_forward', inputs: { DISTANCE: num(5) } }, { type: 'controls_flow_statements', fields: { FLOW: 'BREAK' } }) } } },
      { type: 'dojo_do_skill', fields: { SKILL: 'figure_eight' } },
    ),
    { type: 'dojo_when_obstacle', fields: { DISTANCE: 15 }, inputs: { DO: { block: stackOf(
      { type: 'dojo_stop' }, { type: 'math_change', fields: { VAR: { id: 'side' } }, inputs: { DELTA: num(-5) } }) } } },
  ],
};

test('loops, conditions, variables, functions and events make Python that compiles and JavaScript that parses', () => {
  const ws = workspaceFrom(BIG_PROGRAM.tops, BIG_PROGRAM.variables);
  const py = pythonOf(ws);
  generatedPython.big_program = py;
  for (const line of ['def square():', 'def is_near():', '    global side', 'for count in range(4):', 'car.forward(side)',
    'for i in range(1, 4):', 'square()', 'if is_near():', 'car.go_to(100, car.y + 10)', 'while car.distance() > 25 and not False:', 'side += 5', 'side -= 5', 'side = 0',
    'break', 'car.do("figure_eight")', '@car.on_obstacle(15)', 'try:', '    while True:', '        time.sleep(0.1)', 'except dojo.Stopped:']) {
    assert.ok(py.includes(line), `Python should contain ${JSON.stringify(line)}:\n${py}`);
  }
  const js = jsOf(ws);
  assert.ok(js.includes('async function square()'), js);
  assert.ok(js.includes('await square();'), js);
  assert.ok(js.includes('(await is_near())'), js);
  assert.ok(js.includes('await dojo.tick('), 'every loop has the Stop check');
  assert.ok(js.includes('var side = 0, i = 0;'), 'variables start at 0 as in Python');
  assert.doesNotThrow(() => compileProgram(js));
});

test('a kid variable or function named car, dojo, class or import never breaks the export', () => {
  const names = ['car', 'dojo', 'class', 'import', 'time'];
  const variables = names.map((name) => ({ name, id: `var_${name}` }));
  const tops = [
    stackOf(
      ...names.map((name, i) => setVar(`var_${name}`, { type: 'math_number', fields: { NUM: i + 1 } })),
      { type: 'dojo_move_forward', inputs: { DISTANCE: { block: { type: 'variables_get', fields: { VAR: { id: 'var_car' } } } } } },
      { type: 'procedures_callnoreturn', extraState: { name: 'car' } },
    ),
    { type: 'procedures_defnoreturn', fields: { NAME: 'car' }, inputs: { STACK: { block: { type: 'dojo_stop' } } } },
    { type: 'dojo_when_obstacle', fields: { DISTANCE: 20 }, inputs: { DO: { block: setVar('var_dojo', { type: 'math_number', fields: { NUM: 0 } }) } } },
  ];
  const ws = workspaceFrom(tops, variables);
  const py = pythonOf(ws);
  generatedPython.reserved_names = py;
  const assigned = py.split('\n').filter((l) => /^\s*(car|dojo|time)\s*=/.test(l));
  assert.deepEqual(assigned, ['car = dojo.connect("http://127.0.0.1:8080", class_code="DEMO", name="Mia")  # your car: car-1'],
    `only the connect line may set car:\n${py}`);
  assert.ok(!/^def car\(/m.test(py), 'a kid function called car gets another name');
  assert.match(py, /^ *car2 = 1$/m);
  assert.match(py, /^ *class2 = 3$/m);
  assert.match(py, /car\.forward\(car2\)/);
  const js = jsOf(ws);
  assert.ok(!/\bvar dojo\b|^\s*dojo = /m.test(js), `the run-time API is never overwritten:\n${js}`);
  assert.doesNotThrow(() => compileProgram(js));
});

test('a saved program with a skill the kid does not have keeps that skill, shown locked', () => {
  const saved = { type: 'dojo_do_skill', id: 'sk', fields: { SKILL: 'drift' } };
  const ws = workspaceFrom([saved]);
  const field = ws.getBlockById('sk').getField('SKILL');
  assert.equal(field.getValue(), 'drift', 'the stock dropdown would have turned this into slalom');
  assert.equal(field.isAvailable(), false);
  assert.equal(field.getText(), `drift ${LOCKED}`);
  const options = field.getOptions(false).map((o) => o[1]);
  assert.deepEqual(options, ['slalom', 'figure_eight', 'drift']);
  assert.equal(Blockly.serialization.workspaces.save(ws).blocks.blocks[0].fields.SKILL, 'drift', 'saving keeps it');
  assert.ok(pythonOf(ws).includes('car.do("drift")'));
  assert.ok(jsOf(ws).includes('{skill: "drift"}'));
  // The kid picks another skill from the menu: that works as usual.
  field.setValue('slalom');
  assert.equal(field.getValue(), 'slalom');
  assert.equal(field.getText(), 'slalom');
  // A value that is not a skill name at all is refused (kept at the previous value), never run.
  field.setValue('not a skill!');
  assert.equal(field.getValue(), 'slalom');
});

test('a number outside the catalog range in a loaded program is kept, not silently clamped', () => {
  const ws = workspaceFrom([{ type: 'dojo_move_forward', id: 'far', inputs: { DISTANCE: num(900) } }]);
  dojo.rangeNumberInputs(ws.getBlockById('far'));
  assert.ok(pythonOf(ws).includes('car.forward(900)'), 'the server refuses it with a reason instead');
  const ok = workspaceFrom([{ type: 'dojo_move_forward', id: 'near', inputs: { DISTANCE: num(50) } }]);
  const block = ok.getBlockById('near');
  dojo.rangeNumberInputs(block);
  const field = block.getInputTargetBlock('DISTANCE').getField('NUM');
  field.setValue(9000);
  assert.equal(field.getValue(), 500, 'while typing, the field keeps to 0-500 cm');
});

test('every generated Python file compiles', () => {
  const results = compilePython(generatedPython);
  assert.ok(Object.keys(results).length >= 3, 'the programs above ran first');
  for (const [name, error] of Object.entries(results)) assert.equal(error, '', `${name} does not compile: ${error}`);
});

test('a block the kid disabled generates nothing, and the blocks under it still run (as the server check assumes)', () => {
  const ws = workspaceFrom([stackOf(
    { type: 'dojo_move_forward', inputs: { DISTANCE: num(20) } },
    { type: 'dojo_do_skill', fields: { SKILL: 'slalom' }, disabledReasons: ['MANUALLY_DISABLED'] },
    { type: 'dojo_turn', fields: { DIRECTION: 'left' }, inputs: { DEGREES: num(90) } },
  )]);
  const py = pythonOf(ws);
  assert.ok(py.includes('car.forward(20)\ncar.turn_left(90)\n'), py);
  assert.ok(!py.includes('car.do('), py);
  assert.ok(!jsOf(ws).includes('do_skill'));
});
