// Scratch project JSON from a few lines of JS, using the MIKRO-DOJO blocks (no browser globals here).
//
//   buildProject([[flag(), repeat(4, [moveForward(30), turn('left', 90)]), setVar('done', 1)]], { variables: ['done'] })

const EXTENSION_ID = 'mikrodojo';

const COSTUME = {
  assetId: 'cd21514d0531fdffb22204e0ec5ed84a', name: 'car', md5ext: 'cd21514d0531fdffb22204e0ec5ed84a.svg',
  dataFormat: 'svg', rotationCenterX: 0, rotationCenterY: 0,
};

/** A block node: {opcode, inputs, fields}. Inputs: number, string, {menu}, {stack}, {bool} or a reporter node. */
export const blk = (opcode, inputs = {}, fields = {}) => ({ opcode, inputs, fields });
const menu = (name, value) => ({ menu: `${EXTENSION_ID}_menu_${name}`, field: name, value });
export const flag = () => blk('event_whenflagclicked');
export const moveForward = (cm) => blk('mikrodojo_moveForward', { DISTANCE: cm });
export const moveBackward = (cm) => blk('mikrodojo_moveBackward', { DISTANCE: cm });
export const turn = (direction, degrees) => blk('mikrodojo_turn', { DIRECTION: menu('directions', direction), DEGREES: degrees });
export const driveFor = (speed, seconds) => blk('mikrodojo_driveFor', { SPEED: speed, SECONDS: seconds });
export const setSpeed = (speed) => blk('mikrodojo_setSpeed', { SPEED: speed });
export const doSkill = (skill) => blk('mikrodojo_doSkill', { SKILL: menu('skills', skill) });
export const stopCar = () => blk('mikrodojo_stop');
export const reporter = (opcode) => blk(`mikrodojo_${opcode}`);
export const whenObstacle = (cm) => blk('mikrodojo_whenObstacle', { DISTANCE: cm });
export const repeat = (times, stack) => blk('control_repeat', { TIMES: times, SUBSTACK: { stack } });
export const ifThen = (condition, stack) => blk('control_if', { CONDITION: { bool: condition }, SUBSTACK: { stack } });
export const lessThan = (a, b) => blk('operator_lt', { OPERAND1: a, OPERAND2: b });
export const greaterThan = (a, b) => blk('operator_gt', { OPERAND1: a, OPERAND2: b });
export const setVar = (name, value) => ({ ...blk('data_setvariableto', { VALUE: value }), variable: name });
export const changeVar = (name, by) => ({ ...blk('data_changevariableby', { VALUE: by }), variable: name });
export const wait = (seconds) => blk('control_wait', { DURATION: seconds });

/** scripts: arrays of block nodes (the first is the hat). Variables live on the stage. */
export function buildProject(scripts, { variables = [] } = {}) {
  const blocks = {};
  const varIds = Object.fromEntries(variables.map((name) => [name, `var-${name}`]));
  let n = 0;

  function add(node, parent) {
    const id = `b${++n}`;
    const b = { opcode: node.opcode, next: null, parent: parent || null, inputs: {}, fields: {},
      shadow: !!node.shadow, topLevel: !parent };
    if (b.topLevel) Object.assign(b, { x: 0, y: n * 10 });
    blocks[id] = b;
    for (const [name, v] of Object.entries(node.fields || {})) b.fields[name] = [v, null];
    if (node.variable) b.fields.VARIABLE = [node.variable, varIds[node.variable]];
    for (const [name, v] of Object.entries(node.inputs || {})) {
      if (typeof v === 'number') b.inputs[name] = [1, [4, String(v)]];
      else if (typeof v === 'string') b.inputs[name] = [1, [10, v]];
      else if (v.menu) b.inputs[name] = [1, add({ opcode: v.menu, fields: { [v.field]: v.value }, shadow: true }, id)];
      else if (v.stack) b.inputs[name] = [2, addStack(v.stack, id)];
      else if (v.bool) b.inputs[name] = [2, add(v.bool, id)];
      else b.inputs[name] = [3, add(v, id), [10, '']];
    }
    return id;
  }

  function addStack(nodes, parent) {
    let first = null;
    let prev = null;
    for (const node of nodes) {
      const id = add(node, prev || parent);
      if (prev) blocks[prev].next = id;
      else first = id;
      prev = id;
    }
    return first;
  }

  for (const script of scripts) addStack(script, null);
  const target = (extra) => ({
    variables: {}, lists: {}, broadcasts: {}, blocks: {}, comments: {}, currentCostume: 0,
    costumes: [COSTUME], sounds: [], volume: 100, ...extra,
  });
  return {
    targets: [
      target({ isStage: true, name: 'Stage', layerOrder: 0, tempo: 60, videoTransparency: 50, videoState: 'on',
        textToSpeechLanguage: null,
        variables: Object.fromEntries(variables.map((name) => [varIds[name], [name, 0]])) }),
      target({ isStage: false, name: 'Car', blocks, layerOrder: 1, visible: true, x: 0, y: 0, size: 100,
        direction: 90, draggable: false, rotationStyle: 'all around' }),
    ],
    monitors: [],
    extensions: [EXTENSION_ID],
    meta: { semver: '3.0.0', vm: '4.8.115', agent: 'mikro-dojo tests' },
  };
}
export const goTo = (x, y) => blk('mikrodojo_goTo', { X: x, Y: y });
export const repeatUntil = (condition, stack) => blk('control_repeat_until', { CONDITION: { bool: condition }, SUBSTACK: { stack } });
export const whileLoop = (condition, stack) => blk('control_while', { CONDITION: { bool: condition }, SUBSTACK: { stack } });

const SCRATCH_AXIS = { x: 'positionX', y: 'positionY', heading: 'heading' };

/**
 * A Blockly program (the Blockly app's JSON save) as the Scratch script a kid builds for it: the green flag,
 * then block for block the same program (the car blocks, repeat, repeat until / while, comparisons,
 * the sensor reporters). Throws on a Blockly block it has no Scratch twin for.
 */
export function scriptsFromBlockly(program) {
  const value = (slot) => {
    const b = slot && (slot.block || slot.shadow);
    if (!b) return 0;
    if (b.type === 'math_number') return Number(b.fields.NUM);
    if (b.type === 'dojo_distance') return reporter('distance');
    if (b.type === 'dojo_position') return reporter(SCRATCH_AXIS[b.fields.AXIS || b.fields.axis || 'x']);
    if (b.type === 'logic_compare') {
      const op = { GT: greaterThan, LT: lessThan }[b.fields.OP];
      if (!op) throw new Error(`no Scratch comparison for ${b.fields.OP}`);
      return op(value(b.inputs.A), value(b.inputs.B));
    }
    throw new Error(`no Scratch twin for the value block ${b.type}`);
  };
  const stack = (first) => {
    const out = [];
    for (let b = first; b; b = b.next && b.next.block) {
      const i = b.inputs || {};
      const f = b.fields || {};
      if (b.type === 'dojo_move_forward') out.push(moveForward(value(i.DISTANCE)));
      else if (b.type === 'dojo_move_backward') out.push(moveBackward(value(i.DISTANCE)));
      else if (b.type === 'dojo_turn') out.push(turn(f.DIRECTION, value(i.DEGREES)));
      else if (b.type === 'dojo_set_speed') out.push(setSpeed(value(i.SPEED)));
      else if (b.type === 'dojo_drive_for') out.push(driveFor(value(i.SPEED), value(i.SECONDS)));
      else if (b.type === 'dojo_go_to') out.push(goTo(value(i.X), value(i.Y)));
      else if (b.type === 'dojo_do_skill') out.push(doSkill(f.SKILL));
      else if (b.type === 'dojo_stop') out.push(stopCar());
      else if (b.type === 'controls_repeat_ext') out.push(repeat(value(i.TIMES), stack(i.DO && i.DO.block)));
      else if (b.type === 'controls_whileUntil') {
        const loop = f.MODE === 'UNTIL' ? repeatUntil : whileLoop;
        out.push(loop(value(i.BOOL), stack(i.DO && i.DO.block)));
      } else throw new Error(`no Scratch twin for the Blockly block ${b.type}`);
    }
    return out;
  };
  return program.blocks.blocks.map((top) => [flag(), ...stack(top)]);
}
