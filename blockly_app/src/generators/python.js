// Python export: the program as a script a 12-year-old can read and run with `python <its file name>`.
//
// Shape (MakeCode/Open Roberta style): a short header comment, `import dojo`, one `car = dojo.connect(...)`
// line, then the kid's functions and event handlers (`@car.on_obstacle(20)` + def), then the program
// as plain top-level Python, and `car.stop()` at the end. The names `car` and `dojo` are reserved, so
// a kid's variable called car becomes car2 and never replaces the car.
//
// Blockly is passed in (the module `blockly/python` or the browser global `python`): no side effects.

import { ROWS, argumentCode, sdkForm } from '../blocks.js';

export const SDK_NAMES = ['car', 'dojo'];
// Names the SDK or the standard blocks use at module level; never handed to a kid's variable.
export const PYTHON_RESERVED = [...SDK_NAMES, 'math', 'random', 'Number', 'time', 'sys'];

const str = (value) => JSON.stringify(String(value)); // a Python string literal (ASCII-safe JSON is valid Python)

/** "when obstacle closer than [distance] cm" with 20 -> when_obstacle_closer_than_20 (a handler's name). */
function handlerName(row, args) {
  const upToLast = row.text.slice(0, row.text.lastIndexOf(']') + 1);
  return upToLast.replace(/\[(\w+)\]/g, (_, name) => args[name]).replace(/[^A-Za-z0-9]+/g, '_');
}

/** forBlock entries for the vocabulary, one per catalog row, spelled as the SDK's forms. */
export function pythonForBlock(Order, rows = ROWS) {
  const forBlock = {
    // "change side by 5" reads as `side += 5` (Blockly's stock line checks the type first)
    math_change: (b, g) => {
      const name = g.getVariableName(b.getFieldValue('VAR'));
      const delta = g.valueToCode(b, 'DELTA', Order.ADDITIVE) || '0';
      return /^-\d/.test(delta) ? `${name} -= ${delta.slice(1)}\n` : `${name} += ${delta}\n`;
    },
  };
  for (const row of rows) {
    forBlock[row.type] = (b, g) => {
      const args = argumentCode(row, b, (input, fallback) => g.valueToCode(b, input, Order.NONE) || String(fallback), str);
      const form = sdkForm(row, b);
      const list = form.args.map((a) => args[a]).join(', ');
      if (form.style === 'get') return [`car.${form.name}`, Order.MEMBER];
      if (form.style === 'set') return `car.${form.name} = ${list}\n`;
      if (form.style === 'decorator') {
        const name = g.nameDB_.getDistinctName(handlerName(row, args), 'PROCEDURE');
        const body = g.statementToCode(b, 'DO') || g.PASS;
        const globals = g.globalsFor ? g.globalsFor(b) : '';
        g.definitions_[`%event_${b.id}`] = `@car.${form.name}(${list})\ndef ${name}():\n${globals}${body}`;
        return null;
      }
      const call = `car.${form.name}(${list})`;
      return row.kind === 'reporter' ? [call, Order.FUNCTION_CALL] : `${call}\n`;
    };
  }
  return forBlock;
}

/**
 * Make the export generator: a PythonGenerator with the standard blocks and ours.
 * python: {PythonGenerator, pythonGenerator, Order}.
 */
export function createPythonExporter(python) {
  const { PythonGenerator, pythonGenerator, Order } = python;

  class DojoPythonGenerator extends PythonGenerator {
    constructor() {
      super('DojoPython');
      this.addReservedWords(PYTHON_RESERVED.join(','));
      this.INDENT = '    '; // PEP 8: what every Python book a kid opens next uses
      this.connection = { server: 'http://127.0.0.1:8080', classCode: 'DEMO', name: 'Kid', car: null };
      this.title = 'My car program';
      this.fileName = 'program.py'; // the name the file is saved under: the header says to run exactly that
    }

    /** Variables start at 0, not None: `side += 5` then just works (the run generator does the same). */
    init(workspace) {
      super.init(workspace);
      const vars = this.definitions_.variables;
      if (vars) this.definitions_.variables = vars.replace(/ = None$/gm, ' = 0');
    }

    /** `global x, y` for the program's variables an event handler uses (so it can change them). */
    globalsFor(block) {
      const ids = new Set();
      for (const b of block.getDescendants(false)) for (const v of b.getVarModels()) ids.add(v.getId());
      const names = [...ids].map((id) => this.getVariableName(id));
      return names.length ? `${this.INDENT}global ${names.join(', ')}\n` : '';
    }

    finish(code) {
      const imports = [];
      const definitions = [];
      for (const [key, def] of Object.entries(this.definitions_)) {
        if (/^(from\s+\S+\s+)?import\s+\S+/.test(def)) imports.push(def);
        else if (key !== 'variables') definitions.push(def);
      }
      const variables = this.definitions_.variables;
      const hasEvents = Object.keys(this.definitions_).some((k) => k.startsWith('%event_'));
      super.finish(code); // resets the name database for the next export; `code` is already scrubbed
      const c = this.connection;
      const connect = `car = dojo.connect(${str(c.server)}, class_code=${str(c.classCode)}, name=${str(c.name)})`;
      const parts = [
        `# ${this.title.replace(/\n/g, ' ')} - made with blocks in MIKRO-DOJO.\n` +
        `# Run it with:  python ${this.fileName}   (it needs the dojo package: pip install mikro-dojo)\n` +
        '# The car does one line after the other, just like the blocks did, and says each one as it goes.',
        ['import dojo', ...(hasEvents ? ['import time'] : []), ...imports].join('\n'),
        c.car ? `${connect}  # your car: ${c.car}` : connect,
      ];
      if (variables) parts.push(variables);
      parts.push(...definitions);
      const main = code.replace(/\n+$/, '');
      if (hasEvents) {
        // Like the blocks: event blocks keep listening until you press Ctrl+C (which stops the car); an
        // event's stop ends the program quietly, as Stop ends it in the app.
        const listen = `# Keep watching for obstacles until you press Ctrl+C.\nwhile True:\n${this.INDENT}time.sleep(0.1)`;
        const body = main ? `${main}\n${listen}` : listen;
        parts.push(`try:\n${this.prefixLines(body, this.INDENT)}\nexcept dojo.Stopped:\n${this.INDENT}print("The car was stopped.")`);
      } else if (main) {
        parts.push(main);
      }
      parts.push('car.stop()');
      return parts.map((p) => p.replace(/\n+$/, '')).join('\n\n') + '\n';
    }
  }

  const generator = new DojoPythonGenerator();
  Object.assign(generator.forBlock, pythonGenerator.forBlock, pythonForBlock(Order));
  return generator;
}

/** The readable script for a workspace. connection: {server, classCode, name, car}; fileName: what it is saved as. */
export function exportPython(generator, workspace, connection, title, fileName) {
  generator.connection = { ...generator.connection, ...connection };
  if (title) generator.title = title;
  if (fileName) generator.fileName = fileName;
  return generator.workspaceToCode(workspace);
}
