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

import { ROWS, argumentCode, sdkForm } from '../blocks.js';

export const JS_RESERVED = ['dojo'];

const str = (value) => JSON.stringify(String(value));
const camel = (name) => name.replace(/_([a-z])/g, (_, c) => c.toUpperCase());

/**
 * forBlock entries for the vocabulary, one per catalog row: commands and settings are block calls;
 * reporters read telemetry by the SDK's name for them (distance, x, y, heading); hats register an
 * event handler named like the SDK's decorator (on_obstacle -> dojo.onObstacle).
 */
export function javascriptForBlock(Order, rows = ROWS) {
  const forBlock = {};
  for (const row of rows) {
    forBlock[row.type] = (b, g) => {
      const args = argumentCode(row, b, (input, fallback) => g.valueToCode(b, input, Order.NONE) || String(fallback), str);
      const form = sdkForm(row, b);
      if (row.kind === 'reporter') return [`(await dojo.read(${str(form.name)}))`, Order.ATOMIC];
      if (row.kind === 'hat') {
        const body = g.statementToCode(b, 'DO');
        g.definitions_[`%event_${b.id}`] =
          `dojo.${camel(form.name)}(${form.args.map((a) => args[a]).join(', ')}, async () => {\n${body}}, ${str(b.id)});`;
        return null;
      }
      const fields = Object.entries(args).map(([k, v]) => `${k}: ${v}`).join(', ');
      return `await dojo.block(${str(row.id)}, {${fields}}, ${str(b.id)});\n`;
    };
  }
  return forBlock;
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
