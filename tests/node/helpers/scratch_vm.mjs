// Headless scratch-vm in Node with the MIKRO-DOJO extension, for tests and the latency benchmark.
//
//   const kid = await joinKid(demo.url, 'Mia');
//   const {vm, ext} = await createVm(demo.url, kid.token);     // the served /scratch/extension.js
//   await connectCar(vm, kid.car_id);                           // the device dialog's calls
//   await loadProject(vm, buildProject([[flag(), moveForward(30), setVar('done', 1)]], {variables: ['done']}));
//   vm.greenFlag(); await waitFor(() => varValue(vm, 'done') == 1, 20_000, 'the script ran');
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

// scratch-vm expects a browser: a DOM window (its SVG sanitiser, DOMPurify, needs a real document),
// window.setTimeout for its BLE class, self, and WebSocket for Scratch Link (the `ws` package).
if (!globalThis.window) {
  const { JSDOM } = require('jsdom');
  globalThis.window = new JSDOM('<!doctype html><html><body></body></html>').window;
}
globalThis.self = globalThis.self || globalThis;
// `ws` comes with jsdom (a declared devDependency), so resolve it from there.
globalThis.WebSocket = globalThis.WebSocket || require(require.resolve('ws', { paths: [path.dirname(require.resolve('jsdom'))] }));

const VirtualMachine = require('scratch-vm');
// The VM logs "No storage module present" for each costume of our asset-free test projects: noise.
require(require.resolve('minilog', { paths: [path.dirname(require.resolve('scratch-vm'))] })).disable();
const shim = require(path.join(REPO_ROOT, 'scratch_extension/editor/scratch_shim.js'));

export { joinKid, teacherSession } from './classroom_http.mjs';

export const EXTENSION_ID = 'mikrodojo';
export const PERIPHERAL_TIMEOUT_MS = 10_000; // discover + connect on loopback take milliseconds

/**
 * A started VM with the extension as the server serves it (GET /scratch/extension.js). Without a
 * token the extension joins by itself, like in TurboWarp: pass `query` = '?class=DEMO&name=Zed'.
 */
export async function createVm(url, token, { query = '' } = {}) {
  const vm = new VirtualMachine();
  const source = await (await fetch(`${url}/scratch/extension.js${query}`)).text();
  const ext = shim.loadExtensionSource(vm, token ? { token } : {}, source);
  vm.start();
  return { vm, ext };
}

export function once(emitter, event, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.removeListener(event, handler);
      reject(new Error(`no ${event} within ${timeoutMs} ms (${what})`));
    }, timeoutMs);
    function handler(data) {
      clearTimeout(timer);
      emitter.removeListener(event, handler);
      resolve(data);
    }
    emitter.on(event, handler);
  });
}

/** What Scratch's device dialog does: scan, wait for the list, connect to one car. */
export async function connectCar(vm, carId) {
  const listed = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${carId} was not listed within ${PERIPHERAL_TIMEOUT_MS} ms`)),
      PERIPHERAL_TIMEOUT_MS);
    const onList = (list) => {
      if (list[carId]) { clearTimeout(timer); vm.removeListener('PERIPHERAL_LIST_UPDATE', onList); resolve(list); }
    };
    vm.on('PERIPHERAL_LIST_UPDATE', onList);
  });
  vm.scanForPeripheral(EXTENSION_ID);
  const list = await listed;
  const connected = once(vm, 'PERIPHERAL_CONNECTED', PERIPHERAL_TIMEOUT_MS, `connect ${carId}`);
  vm.connectPeripheral(EXTENSION_ID, carId);
  await connected;
  return list;
}

export async function waitFor(predicate, timeoutMs, what, pollMs = 20) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function shutdown(vm, ext) {
  try { if (ext) ext.disconnect(); } catch { /* already closed */ }
  vm.stopAll();
  vm.quit();
}

// --- project JSON from a few lines of JS ------------------------------------------------------

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

export async function loadProject(vm, project) {
  await vm.loadProject(JSON.stringify(project));
}

export function varValue(vm, name) {
  const stage = vm.runtime.getTargetForStage();
  const variable = Object.values(stage.variables).find((v) => v.name === name);
  return variable ? variable.value : undefined;
}

export function spriteTarget(vm) {
  return vm.runtime.targets.find((t) => !t.isStage);
}

/** Every speech bubble the VM shows: [{target, text}] (Scratch's own SAY event). */
export function recordSays(vm) {
  const says = [];
  vm.runtime.on('SAY', (target, type, text) => says.push({ target: target.getName(), type, text }));
  return says;
}
