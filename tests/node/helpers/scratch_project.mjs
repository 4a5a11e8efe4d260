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
