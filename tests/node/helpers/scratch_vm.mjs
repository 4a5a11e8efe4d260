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
export * from './scratch_project.mjs';

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
