// Registration: the only module that changes Blockly's global registries. Call it once per page
// (or once per Node process in tests) with the Blockly modules:
//
//   const dojo = registerDojo({ Blockly, python, javascript });   // browser: the UMD globals
//   dojo.exportPython(workspace, {server, classCode, name, car}, title, fileName)  -> readable Python
//   dojo.programCode(workspace)                                    -> JS for runner.js
//   dojo.skills.available = ['slalom']                             -> what the skill menu offers
import { allDefinitions, NUMBER_INPUTS } from './blocks.js';
import { createSkillContext, defineSkillField } from './skill_field.js';
import { createPythonExporter, exportPython } from './generators/python.js';
import { createJavascriptRunner, programCode } from './generators/javascript.js';

let registered = null;

/**
 * Give the number typed into a move's input the catalog's range (0-500 cm...), as the kid types.
 * A number that is already outside the range (a hand-edited file) is left as it is: clamping it would
 * silently change the program; the server refuses it with a reason instead.
 */
function rangeNumberInputs(block) {
  for (const [inputName, range] of Object.entries(NUMBER_INPUTS[block.type] || {})) {
    const target = block.getInputTargetBlock(inputName);
    const field = target && target.type === 'math_number' ? target.getField('NUM') : null;
    if (!field || field.dojoRange === range) continue;
    const value = Number(field.getValue());
    if (value >= range.min && value <= range.max) {
      field.setConstraints(range.min, range.max);
      field.dojoRange = range;
    }
  }
}

export function registerDojo({ Blockly, python, javascript }, skillOptions = {}) {
  if (registered) {
    Object.assign(registered.skills, createSkillContext(skillOptions));
    return registered;
  }
  const skills = createSkillContext(skillOptions);
  const FieldSkill = defineSkillField(Blockly, skills);
  Blockly.fieldRegistry.register('field_dojo_skill', FieldSkill);
  Blockly.Extensions.register('dojo_number_ranges', function dojoNumberRanges() {
    this.setOnChange(() => rangeNumberInputs(this));
  });
  Blockly.common.defineBlocksWithJsonArray(allDefinitions());

  const pythonExporter = createPythonExporter(python);
  const jsRunner = createJavascriptRunner(javascript);
  registered = {
    skills,
    FieldSkill,
    rangeNumberInputs,
    pythonGenerator: pythonExporter,
    javascriptGenerator: jsRunner,
    exportPython: (workspace, connection, title, fileName) => exportPython(pythonExporter, workspace, connection, title, fileName),
    programCode: (workspace) => programCode(jsRunner, workspace),
  };
  return registered;
}
