// JavaScript the app runs: every car block is an awaited call to the run-time API (runner.js), with
// the Blockly block id, so the app can light the block up and put a refusal next to it.
//
//   await dojo.highlight('blockId');                              before every statement
//   await dojo.block('move_forward', {distance: 20}, 'blockId');  one server call, waits for the car
//   (await dojo.read('distance')) / (await dojo.read('x'))        fresh telemetry (as the SDK reads it)
//   dojo.onObstacle(20, async () => {...}, 'hatId');              registered before the program starts
//   await dojo.tick('blockId');                                   in every loop: Stop ends even `repeat forever`
//
// Functions become `async function` and their calls are awaited, so a kid's function can drive.
// Blockly is passed in (the module `blockly/javascript` or the browser global `javascript`).

export const JS_RESERVED = ['dojo'];

const str = (value) => JSON.stringify(String(value));

function numberText(value) {
  const n = Number(value);
  return Number.isFinite(n) ? String(n) : '0';
}

/** forBlock entries for the vocabulary: one per Blockly type. */
export function javascriptForBlock(Order) {
  const arg = (block, gen, name, fallback) => gen.valueToCode(block, name, Order.NONE) || String(fallback);
  const call = (block, id, args) => {
    const fields = Object.entries(args).map(([k, v]) => `${k}: ${v}`).join(', ');
    return `await dojo.block(${str(id)}, {${fields}}, ${str(block.id)});\n`;
  };
  return {
    dojo_move_forward: (b, g) => call(b, 'move_forward', { distance: arg(b, g, 'DISTANCE', 20) }),
    dojo_move_backward: (b, g) => call(b, 'move_backward', { distance: arg(b, g, 'DISTANCE', 20) }),
    dojo_turn: (b, g) => call(b, 'turn', {
      direction: str(b.getFieldValue('DIRECTION') === 'right' ? 'right' : 'left'),
      degrees: arg(b, g, 'DEGREES', 90),
    }),
    dojo_drive_for: (b, g) => call(b, 'drive_for', { speed: arg(b, g, 'SPEED', 50), seconds: arg(b, g, 'SECONDS', 2) }),
    dojo_set_speed: (b, g) => call(b, 'set_speed', { speed: arg(b, g, 'SPEED', 40) }),
    dojo_go_to: (b, g) => call(b, 'go_to', { x: arg(b, g, 'X', 100), y: arg(b, g, 'Y', 50) }),
    dojo_do_skill: (b) => call(b, 'do_skill', { skill: str(b.getFieldValue('SKILL')) }),
    dojo_stop: (b) => call(b, 'stop', {}),
    dojo_distance: () => ['(await dojo.read("distance"))', Order.ATOMIC],
    dojo_position: (b) => [`(await dojo.read(${str(b.getFieldValue('AXIS') || 'x')}))`, Order.ATOMIC],
    dojo_when_obstacle: (b, g) => {
      const body = g.statementToCode(b, 'DO');
      g.definitions_[`%event_${b.id}`] =
        `dojo.onObstacle(${numberText(b.getFieldValue('DISTANCE'))}, async () => {\n${body}}, ${str(b.id)});`;
      return null;
    },
  };
}

/** Blockly's procedures, made async: a kid's function may contain blocks that wait for the car. */
function asyncProcedures(forBlock, stock) {
  const define = (block, gen) => {
    stock.procedures_defreturn(block, gen);
    const key = '%' + gen.getProcedureName(block.getFieldValue('NAME'));
    gen.definitions_[key] = gen.definitions_[key].replace(/^function /m, 'async function ');
    return null;
  };
  forBlock.procedures_defreturn = define;
  forBlock.procedures_defnoreturn = define;
  forBlock.procedures_callreturn = (block, gen) => {
    const [code] = stock.procedures_callreturn(block, gen);
    return [`(await ${code})`, 0 /* Order.ATOMIC: the parentheses make it one value */];
  };
  forBlock.procedures_callnoreturn = (block, gen) => `await ${stock.procedures_callreturn(block, gen)[0]};\n`;
}

/** Make the run generator: a JavascriptGenerator with the standard blocks and ours. */
export function createJavascriptRunner(javascript) {
  const { JavascriptGenerator, javascriptGenerator, Order } = javascript;
  const generator = new JavascriptGenerator('DojoJavaScript');
  // Variables start at 0, as in the Python export (same program, same behaviour).
  const stockInit = generator.init.bind(generator);
  generator.init = (workspace) => {
    stockInit(workspace);
    const vars = generator.definitions_.variables;
    if (vars) generator.definitions_.variables = vars.replace(/^var (.*);$/, (_, names) => `var ${names.split(', ').map((n) => `${n} = 0`).join(', ')};`);
  };
  generator.addReservedWords(JS_RESERVED.join(','));
  generator.STATEMENT_PREFIX = 'await dojo.highlight(%1);\n';
  generator.INFINITE_LOOP_TRAP = 'await dojo.tick(%1);\n';
  Object.assign(generator.forBlock, javascriptGenerator.forBlock, javascriptForBlock(Order));
  asyncProcedures(generator.forBlock, javascriptGenerator.forBlock);
  return generator;
}

/** The code of a workspace, ready for `new AsyncFunction('dojo', code)` (see runner.js). */
export function programCode(generator, workspace) {
  return generator.workspaceToCode(workspace);
}
